"""Sequence behaviour of the recurrent layers: masks, statefulness, dropout, directions, states.

The truth for masks and states is the layer itself run on each sequence alone (an independent
run without padding), and for directions an explicit reversal of the data.
"""

import numpy as np
import pytest
import torch

from gated.layer import _NAME_COUNTS
from gated.layers import GRU, LSTM, RNN, Bidirectional, Embedding, Masking, SimpleRNN

LAYERS = [
    lambda **kw: LSTM(6, **kw),
    lambda **kw: LSTM(6, variant="greff", **kw),
    lambda **kw: GRU(6, **kw),
    lambda **kw: GRU(6, reset_after=False, **kw),
    lambda **kw: SimpleRNN(6, **kw),
]


def _seqs(lengths, features=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, features, generator=g, dtype=torch.float64) for n in lengths]


def _pad(seqs, side):
    steps = max(len(s) for s in seqs)
    x = torch.zeros(len(seqs), steps, seqs[0].shape[1], dtype=torch.float64)
    mask = torch.zeros(len(seqs), steps, dtype=torch.bool)
    for k, s in enumerate(seqs):
        if side == "right":
            x[k, : len(s)] = s
            mask[k, : len(s)] = True
        else:
            x[k, steps - len(s):] = s
            mask[k, steps - len(s):] = True
    return x, mask


@pytest.mark.parametrize("make", LAYERS)
@pytest.mark.parametrize("side", ["right", "left"])
def test_padded_batch_equals_each_sequence_alone(make, side):
    layer = make(return_sequences=True, return_state=True, dtype="float64")
    seqs = _seqs([7, 3, 5, 1])
    x, mask = _pad(seqs, side)
    out, *states = layer(x, mask=mask)
    for k, s in enumerate(seqs):
        alone, *alone_states = layer(s[None])
        valid = mask[k]
        torch.testing.assert_close(out[k][valid], alone[0], rtol=0, atol=1e-12)
        for got, want in zip(states, alone_states, strict=True):
            torch.testing.assert_close(got[k], want[0], rtol=0, atol=1e-12)
        # Keras: a masked step repeats the previous output (zeros before the first valid step)
        if side == "right":
            rest = out[k][len(s):]
            torch.testing.assert_close(rest, alone[0][-1].expand(len(rest), -1), rtol=0,
                                       atol=1e-12)
        else:
            assert torch.all(out[k][: len(out[k]) - len(s)] == 0)


def test_masking_layer_and_last_output():
    seqs = _seqs([4, 2])
    x, mask = _pad(seqs, "right")
    lstm = LSTM(5, dtype="float64")
    masked = Masking(0.0)(x)
    assert torch.equal(masked._keras_mask, mask)
    last = lstm(masked)
    for k, s in enumerate(seqs):
        torch.testing.assert_close(last[k], lstm(s[None])[0], rtol=0, atol=1e-12)


def test_embedding_mask_zero_propagates():
    emb = Embedding(10, 4, mask_zero=True, dtype="float64")
    lstm = LSTM(3, dtype="float64")
    ids = torch.tensor([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0]])
    y = lstm(emb(ids))
    for k, n in enumerate([3, 2]):
        torch.testing.assert_close(y[k], lstm(emb(ids[k: k + 1, :n]))[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("make", LAYERS)
def test_stateful_two_halves_equal_one_call(make):
    full = make(return_sequences=True, dtype="float64")
    x = _seqs([100, 100])
    x = torch.stack(x)
    expected = full(x)
    stateful = make(return_sequences=True, stateful=True, dtype="float64")
    stateful.build((2, 100, 3))
    stateful.set_weights(full.get_weights())
    first = stateful(x[:, :50])
    second = stateful(x[:, 50:])
    torch.testing.assert_close(torch.cat([first, second], 1), expected, rtol=0, atol=1e-12)
    stateful.reset_states()
    torch.testing.assert_close(stateful(x[:, :50]), expected[:, :50], rtol=0, atol=1e-12)


def test_stateful_batch_size_change_is_explained():
    layer = LSTM(4, stateful=True)
    layer(torch.randn(3, 5, 2))
    with pytest.raises(ValueError, match="batch size 3.*batch of 2.*reset_states"):
        layer(torch.randn(2, 5, 2))


def test_recurrent_dropout_one_mask_per_sequence_and_none_at_inference(monkeypatch):
    """Observe the recurrent input h_{t-1} that reaches the recurrent product at each step."""
    layer = LSTM(64, recurrent_dropout=0.5, dropout=0.5, engine="reference")
    x = torch.randn(4, 6, 3)
    seen_masks = []
    cell = layer.cell
    original = type(cell).recurrent_step

    def spy(self, xw, states, recurrent_mask=None, training=False):
        seen_masks.append(None if recurrent_mask is None else recurrent_mask.clone())
        return original(self, xw, states, recurrent_mask, training)

    monkeypatch.setattr(type(cell), "recurrent_step", spy)
    layer(x, training=True)
    masks = seen_masks[:]
    assert len(masks) == 6 and all(m is not None for m in masks)
    for m in masks[1:]:
        assert torch.equal(m, masks[0])  # the same mask at every step of the sequence
    values = set(masks[0].unique().tolist())
    assert values <= {0.0, 2.0} and values == {0.0, 2.0}  # dropped / kept and rescaled
    assert not torch.equal(masks[0][0], masks[0][1])  # each sequence draws its own mask
    seen_masks.clear()
    layer(x, training=True)
    assert not torch.equal(seen_masks[0], masks[0])  # a new sequence (call) draws a new mask
    seen_masks.clear()
    y1, y2 = layer(x), layer(x)  # inference: deterministic, no mask at all
    assert all(m is None for m in seen_masks)
    assert torch.equal(y1, y2)


def test_recurrent_dropout_same_numbers_on_every_engine():
    """The fast engines apply the same per-sequence masks: same seed, same training output."""
    ref = LSTM(8, recurrent_dropout=0.3, dropout=0.2, engine="reference", dtype="float64")
    auto = LSTM(8, recurrent_dropout=0.3, dropout=0.2, dtype="float64")
    x = torch.randn(3, 5, 2, dtype=torch.float64)
    ref.build(x.shape)
    auto.build(x.shape)
    auto.set_weights(ref.get_weights())
    torch.manual_seed(7)
    y_ref = ref(x, training=True)
    torch.manual_seed(7)
    y_auto = auto(x, training=True)
    torch.testing.assert_close(y_auto, y_ref, rtol=0, atol=1e-10)
    assert not torch.allclose(y_ref, ref(x))  # dropout did change the training output


@pytest.mark.parametrize("make", LAYERS)
def test_go_backwards_is_reversed_input(make):
    fwd = make(return_sequences=True, dtype="float64")
    bwd = make(return_sequences=True, go_backwards=True, dtype="float64")
    fwd.build((None, 9, 3))
    bwd.build((None, 9, 3))
    bwd.set_weights(fwd.get_weights())
    x = torch.stack(_seqs([9, 9]))
    torch.testing.assert_close(bwd(x), fwd(x.flip(1)), rtol=0, atol=1e-12)


def test_bidirectional_merge_modes_and_states():
    x = torch.stack(_seqs([5, 5, 5]))
    base = Bidirectional(LSTM(4, return_sequences=True, return_state=True, dtype="float64"),
                         merge_mode=None)
    (fw, bw, hf, cf, hb, cb) = base(x)
    assert fw.shape == (3, 5, 4) and hb.shape == (3, 4)
    # backward output at time t belongs to input step t: its last state is at step 0
    torch.testing.assert_close(bw[:, 0], hb)
    torch.testing.assert_close(fw[:, -1], hf)
    for mode, fn in [("concat", lambda a, b: torch.cat([a, b], -1)), ("sum", torch.add),
                     ("mul", torch.mul), ("ave", lambda a, b: (a + b) / 2)]:
        layer = Bidirectional(LSTM(4, return_sequences=True, dtype="float64"), merge_mode=mode)
        layer.build((None, 5, 3))
        layer.set_weights(base.get_weights())
        torch.testing.assert_close(layer(x), fn(fw, bw))
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(LSTM(4), merge_mode="max")


def test_initial_state_is_used_and_checked():
    layer = LSTM(4, return_state=True, dtype="float64")
    x = torch.randn(2, 3, 5, dtype=torch.float64)
    _, h, c = layer(x)
    y_cont, *_ = layer(torch.randn(2, 3, 5, dtype=torch.float64), initial_state=[h, c])
    y_zero, *_ = layer(torch.randn(2, 3, 5, dtype=torch.float64))
    assert not torch.allclose(y_cont, y_zero)
    with pytest.raises(ValueError, match=r"initial_state\[0\] must have shape \(2, 4\)"):
        layer(x, initial_state=[torch.zeros(3, 4), torch.zeros(2, 4)])
    with pytest.raises(ValueError, match="2 tensors"):
        layer(x, initial_state=[h])


def test_rnn_with_cell_list_equals_keras_shapes():
    from gated.cells import LSTMCell

    layer = RNN([LSTMCell(4), LSTMCell(3)], return_sequences=True, return_state=True)
    y, h1, c1, h2, c2 = layer(torch.randn(2, 5, 6))
    assert y.shape == (2, 5, 3) and h1.shape == (2, 4) and h2.shape == (2, 3)


def test_bad_inputs_name_the_problem():
    layer = LSTM(4)
    with pytest.raises(ValueError, match=r"expected ndim=3 \(batch, timesteps, features\).*"
                                         r"received ndim=2 with shape \(5, 3\)"):
        layer(torch.randn(5, 3))
    layer(torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match=r"feature size: expected axis -1 .* size 3 .*"
                                         r"received shape \(2, 5, 7\)"):
        layer(torch.randn(2, 5, 7))
    with pytest.raises(ValueError, match=r"`units`.*positive integer.*units=0"):
        LSTM(0)
    with pytest.raises(ValueError, match=r"`units`.*units=-3"):
        GRU(-3)
    with pytest.raises(TypeError, match=r"Unrecognized keyword arguments passed to LSTM: "
                                        r"\{'return_sequence': True\}"):
        LSTM(4, return_sequence=True)
    with pytest.raises(ValueError, match=r"recurrent_dropout.*\[0, 1\).*1.5"):
        LSTM(4, recurrent_dropout=1.5)
    with pytest.raises(ValueError, match="Unknown LSTM variant='cfig'. Did you mean 'cifg'"):
        LSTM(4, variant="cfig")


def test_keras_auto_names():
    _NAME_COUNTS.pop("simple_rnn", None)
    a, b = SimpleRNN(2), SimpleRNN(2)
    assert (a.name, b.name) == ("simple_rnn", "simple_rnn_1")


def test_numpy_and_list_inputs():
    layer = LSTM(3)
    y = layer(np.random.rand(2, 4, 1))
    assert y.dtype == torch.float32 and y.shape == (2, 3)
    assert layer([[[0.1], [0.2]]]).shape == (1, 3)


def test_dropout_seed_makes_masks_reproducible():
    a = LSTM(6, dropout=0.3, recurrent_dropout=0.3, seed=3, dtype="float64")
    b = LSTM(6, dropout=0.3, recurrent_dropout=0.3, seed=3, dtype="float64")
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    a.build(x.shape)
    b.build(x.shape)
    b.set_weights(a.get_weights())
    torch.testing.assert_close(a(x, training=True), b(x, training=True), rtol=0, atol=0)
    assert LSTM.from_config(a.get_config()).cell.seed == 3
