"""TransformerEncoder and the position layers.

Independent truths: the block's equations written out in plain torch ops in this file (float64,
1e-10); `torch.nn.TransformerEncoderLayer` with the same weights copied in (post-LN and pre-LN);
the sine encoding's formula in NumPy; `torch.autograd.gradcheck`; and behaviour a correct block
must have (causality, padding that leaves unpadded outputs unchanged).
"""

import math

import numpy as np
import pytest
import torch

from gated.layers import (
    Dense,
    Embedding,
    PositionEmbedding,
    SinePositionEncoding,
    TokenAndPositionEmbedding,
    TransformerDecoder,
    TransformerEncoder,
)
from gated.models import Sequential, load_model
from gated.serialization import deserialize, serialize

D, H, M = 8, 2, 12


def block(normalize_first=True, activation="relu", causal=False, seed=0):
    torch.manual_seed(seed)
    layer = TransformerEncoder(M, H, activation=activation, normalize_first=normalize_first,
                               use_causal_mask=causal, dtype="float64")
    layer.build((None, None, D))
    with torch.no_grad():  # non-trivial norms and biases, so that every weight matters
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return layer


def hand_written(layer, x, keep=None):
    """The block's equations in plain torch ops; `keep (batch, T, T)` True = may attend."""
    w = {n: p.detach() for n, p in layer.named_parameters()}
    a = "self_attention_layer."

    def ln(z, name):
        mu = z.mean(-1, keepdim=True)
        var = ((z - mu) ** 2).mean(-1, keepdim=True)
        return (z - mu) / torch.sqrt(var + 1e-5) * w[name + ".gamma"] + w[name + ".beta"]

    def attention(z):
        heads = []
        for h in range(H):
            q = z @ w[a + "query_kernel"][:, h] + w[a + "query_bias"][h]
            k = z @ w[a + "key_kernel"][:, h] + w[a + "key_bias"][h]
            v = z @ w[a + "value_kernel"][:, h] + w[a + "value_bias"][h]
            s = q @ k.transpose(1, 2) / math.sqrt(D // H)
            if keep is not None:
                s = s.masked_fill(~keep, -math.inf)
            heads.append(torch.softmax(s, -1) @ v @ w[a + "output_kernel"][h])
        return sum(heads) + w[a + "output_bias"]

    act = torch.relu if layer.activation_name == "relu" else torch.nn.functional.gelu

    def mlp(z):
        hid = act(z @ w["feedforward_intermediate_dense.kernel"]
                  + w["feedforward_intermediate_dense.bias"])
        return hid @ w["feedforward_output_dense.kernel"] + w["feedforward_output_dense.bias"]

    if layer.normalize_first:
        y = x + attention(ln(x, "self_attention_layer_norm"))
        return y + mlp(ln(y, "feedforward_layer_norm"))
    y = ln(x + attention(x), "self_attention_layer_norm")
    return ln(y + mlp(y), "feedforward_layer_norm")


@pytest.mark.parametrize("normalize_first", [True, False])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("causal", [False, True])
def test_encoder_equals_hand_written_equations(normalize_first, activation, causal):
    layer = block(normalize_first, activation, causal)
    x = torch.randn(3, 5, D, dtype=torch.float64)
    keep = torch.ones(5, 5, dtype=torch.bool).tril().expand(3, 5, 5) if causal else None
    torch.testing.assert_close(layer(x), hand_written(layer, x, keep), rtol=0, atol=1e-10)


def copy_attention(w, prefix, theirs):
    theirs.in_proj_weight.copy_(torch.cat(
        [w[prefix + f"{n}_kernel"].reshape(D, D).T for n in ("query", "key", "value")]))
    theirs.in_proj_bias.copy_(torch.cat(
        [w[prefix + f"{n}_bias"].reshape(D) for n in ("query", "key", "value")]))
    theirs.out_proj.weight.copy_(w[prefix + "output_kernel"].reshape(D, D).T)
    theirs.out_proj.bias.copy_(w[prefix + "output_bias"])


def to_torch_layer(layer):
    """`torch.nn.TransformerEncoderLayer` (or DecoderLayer) holding the weights of `layer`."""
    decoder = isinstance(layer, TransformerDecoder)
    cls = torch.nn.TransformerDecoderLayer if decoder else torch.nn.TransformerEncoderLayer
    ref = cls(D, H, M, dropout=0.0, activation=layer.activation_name, batch_first=True,
              norm_first=layer.normalize_first, dtype=torch.float64).eval()
    w = {n: p.detach() for n, p in layer.named_parameters()}
    norms = [("self_attention_layer_norm", ref.norm1)]
    with torch.no_grad():
        copy_attention(w, "self_attention_layer.", ref.self_attn)
        if decoder:
            copy_attention(w, "cross_attention_layer.", ref.multihead_attn)
            norms += [("cross_attention_layer_norm", ref.norm2),
                      ("feedforward_layer_norm", ref.norm3)]
        else:
            norms += [("feedforward_layer_norm", ref.norm2)]
        for mine, theirs in norms:
            theirs.weight.copy_(w[mine + ".gamma"])
            theirs.bias.copy_(w[mine + ".beta"])
        ref.linear1.weight.copy_(w["feedforward_intermediate_dense.kernel"].T)
        ref.linear1.bias.copy_(w["feedforward_intermediate_dense.bias"])
        ref.linear2.weight.copy_(w["feedforward_output_dense.kernel"].T)
        ref.linear2.bias.copy_(w["feedforward_output_dense.bias"])
    return ref


@pytest.mark.parametrize("normalize_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_equals_torch_transformer_encoder_layer(normalize_first, activation):
    layer = block(normalize_first, activation)
    ref = to_torch_layer(layer)
    x = torch.randn(3, 6, D, dtype=torch.float64)
    torch.testing.assert_close(layer(x), ref(x), rtol=0, atol=1e-10)
    # causal: torch's boolean src_mask is True where attention is NOT allowed
    future = torch.ones(6, 6, dtype=torch.bool).triu(1)
    torch.testing.assert_close(layer(x, use_causal_mask=True), ref(x, src_mask=future),
                               rtol=0, atol=1e-10)
    # padding: torch's src_key_padding_mask is True at padding; compare unpadded positions
    keep = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4], dtype=torch.bool)
    ours = layer(x, padding_mask=keep)
    theirs = ref(x, src_key_padding_mask=~keep)
    torch.testing.assert_close(ours[keep], theirs[keep], rtol=0, atol=1e-10)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_decoder_equals_torch_transformer_decoder_layer(normalize_first):
    torch.manual_seed(2)
    layer = TransformerDecoder(M, H, activation="gelu", normalize_first=normalize_first,
                               dtype="float64")
    x = torch.randn(3, 6, D, dtype=torch.float64)
    memory = torch.randn(3, 4, D, dtype=torch.float64)
    layer(x, memory)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ref = to_torch_layer(layer)
    future = torch.ones(6, 6, dtype=torch.bool).triu(1)
    torch.testing.assert_close(layer(x, memory), ref(x, memory, tgt_mask=future),
                               rtol=0, atol=1e-10)
    keep = torch.tensor([[1] * 4, [1] * 3 + [0], [1] * 2 + [0] * 2], dtype=torch.bool)
    torch.testing.assert_close(
        layer(x, memory, encoder_padding_mask=keep, use_causal_mask=False),
        ref(x, memory, memory_key_padding_mask=~keep), rtol=0, atol=1e-10)
    names = [n for n, _ in layer.named_parameters()]
    assert names.index("cross_attention_layer.query_kernel") < names.index(
        "feedforward_intermediate_dense.kernel") < names.index("feedforward_layer_norm.gamma")
    with pytest.raises(ValueError, match="with cross-attention"):
        layer(x)
    alone = TransformerDecoder(M, H)  # decoder-only: no cross-attention weights
    alone(x.float())
    assert not any(n.startswith("cross") for n, _ in alone.named_parameters())
    clone = deserialize(serialize(layer))
    clone(x, memory)
    assert [p.shape for p in clone.parameters()] == [p.shape for p in layer.parameters()]


def test_causality_future_inputs_leave_earlier_outputs_unchanged():
    layer = block(causal=True)
    x = torch.randn(2, 7, D, dtype=torch.float64)
    changed = x.clone()
    changed[:, 4:] = torch.randn(2, 3, D, dtype=torch.float64) * 5
    a, b = layer(x), layer(changed)
    torch.testing.assert_close(a[:, :4], b[:, :4], rtol=0, atol=1e-12)
    assert (a[:, 4:] - b[:, 4:]).abs().max() > 1e-3  # the later ones do change
    # without the causal mask, earlier outputs see the future
    free = layer(x, use_causal_mask=False) - layer(changed, use_causal_mask=False)
    assert free[:, :4].abs().max() > 1e-3


@pytest.mark.parametrize("normalize_first", [True, False])
def test_embedding_padding_mask_leaves_unpadded_outputs_unchanged(normalize_first):
    torch.manual_seed(1)
    embedding = Embedding(10, D, mask_zero=True)
    encoder = TransformerEncoder(M, H, normalize_first=normalize_first)

    def model(ids):
        return encoder(embedding(ids))

    ids = torch.tensor([[3, 5, 7, 2, 0, 0], [4, 4, 9, 1, 6, 8]])
    out = model(ids)
    assert torch.equal(out._keras_mask, ids != 0)  # the mask is passed on
    alone = model(ids[:1, :4])  # the same sentence without its padding
    torch.testing.assert_close(out[:1, :4], alone, rtol=0, atol=1e-5)
    other = model(torch.tensor([[3, 5, 7, 2, 0, 0, 0, 0, 0]]))  # more padding
    torch.testing.assert_close(other[:, :4], alone, rtol=0, atol=1e-5)
    # without the mask the padding changes the outputs: the test above can fail
    embedding.mask_zero = False
    assert (model(ids[:1])[:, :4] - model(ids[:1, :4])).abs().max() > 1e-3


def test_gradcheck_inputs_and_weights():
    layer = TransformerEncoder(3, 2, activation="gelu", dtype="float64")
    layer.build((None, None, 4))
    names = [n for n, _ in layer.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)

    def run(x, *weights):
        return torch.func.functional_call(layer, dict(zip(names, weights, strict=True)),
                                          (x,), {"use_causal_mask": True})

    assert torch.autograd.gradcheck(run, (x, *params), eps=1e-6, atol=1e-7)


def test_sine_position_encoding_equals_the_formula_in_numpy():
    length, dim, start = 9, 6, 3
    out = SinePositionEncoding()(torch.zeros(2, length, dim, dtype=torch.float64),
                                 start_index=start).numpy()
    expected = np.zeros((length, dim))
    for p in range(length):
        for k in range(dim // 2):
            angle = (p + start) / 10000.0 ** (2 * k / dim)
            expected[p, 2 * k], expected[p, 2 * k + 1] = np.sin(angle), np.cos(angle)
    np.testing.assert_allclose(out[0], expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(out[0], out[1])
    odd = SinePositionEncoding(max_wavelength=100)(torch.zeros(1, 2, 3, dtype=torch.float64))
    np.testing.assert_allclose(odd[0, 1].numpy(), [np.sin(1), np.cos(1),
                                                   np.sin(1 / 100 ** (2 / 3))], atol=1e-12)


def test_position_embedding_and_token_and_position_embedding():
    pos = PositionEmbedding(sequence_length=5)
    x = torch.zeros(2, 3, 4)
    table = pos(x).detach()
    assert pos.embeddings.shape == (5, 4)
    torch.testing.assert_close(table[1], pos.embeddings[:3].detach())
    torch.testing.assert_close(pos(x, start_index=2)[0], pos.embeddings[2:5].detach())
    with pytest.raises(ValueError, match="sequence_length=5"):
        pos(torch.zeros(1, 6, 4))
    layer = TokenAndPositionEmbedding(7, sequence_length=5, embedding_dim=4, mask_zero=True)
    ids = torch.tensor([[1, 6, 0], [2, 0, 0]])
    out = layer(ids)
    expected = layer.token_embedding.embeddings[ids] + layer.position_embedding.embeddings[:3]
    torch.testing.assert_close(out, expected)
    assert torch.equal(out._keras_mask, ids != 0)
    assert [w.shape for w in layer.get_weights()] == [(7, 4), (5, 4)]


def test_config_round_trip_and_bad_arguments():
    layer = TransformerEncoder(16, 4, dropout=0.1, activation="gelu", normalize_first=False,
                               use_causal_mask=True, layer_norm_epsilon=1e-6)
    clone = deserialize(serialize(layer))
    assert clone.get_config() == layer.get_config()
    for cls, kwargs in ((TokenAndPositionEmbedding, {"vocabulary_size": 9,
                                                     "sequence_length": 4, "embedding_dim": 3}),
                        (PositionEmbedding, {"sequence_length": 4}),
                        (SinePositionEncoding, {"max_wavelength": 50})):
        one = cls(**kwargs)
        assert deserialize(serialize(one)).get_config() == one.get_config()
    with pytest.raises(ValueError, match="num_heads"):
        TransformerEncoder(16, 0)
    with pytest.raises(ValueError, match="dropout"):
        TransformerEncoder(16, 2, dropout=1.5)
    with pytest.raises(ValueError, match="at least num_heads=4"):
        TransformerEncoder(8, 4)(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="ndim=3"):
        TransformerEncoder(8, 2)(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="padding_mask"):
        TransformerEncoder(8, 2)(torch.zeros(2, 4, 4), padding_mask=torch.ones(2, 5))


def test_save_and_load_a_model_with_these_layers(tmp_path):
    torch.manual_seed(0)
    model = Sequential([TokenAndPositionEmbedding(11, 8, 6, mask_zero=True),
                        TransformerEncoder(10, 2, use_causal_mask=True),
                        TransformerEncoder(10, 3, normalize_first=False), Dense(11)])
    ids = np.array([[1, 2, 3, 4, 0, 0], [5, 6, 7, 8, 9, 10]])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(ids, ids, epochs=1, verbose=0)
    path = tmp_path / "transformer.gated"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(ids), model.predict(ids))
    assert loaded.get_config() == model.get_config()


def test_encoder_decoder_in_the_functional_api_saves_and_loads(tmp_path):
    from gated.layers import Input
    from gated.models import Model

    torch.manual_seed(0)
    source, target = Input(shape=(5,)), Input(shape=(4,))
    memory = TransformerEncoder(16, 2)(Embedding(10, 8, mask_zero=True)(source))
    decoded = TransformerDecoder(16, 2)(Embedding(10, 8)(target), encoder_sequence=memory)
    model = Model([source, target], Dense(10)(decoded))
    x = [np.array([[1, 2, 3, 0, 0], [4, 4, 4, 4, 4]]), np.array([[4, 5, 6, 7], [1, 2, 3, 4]])]
    model.save(tmp_path / "seq2seq.gated")
    np.testing.assert_array_equal(load_model(tmp_path / "seq2seq.gated").predict(x),
                                  model.predict(x))


def test_dropout_acts_only_while_training():
    layer = block()
    dropping = TransformerEncoder(M, H, dropout=0.5, dtype="float64")
    dropping.build((None, None, D))
    dropping.set_weights(layer.get_weights())
    x = torch.randn(2, 5, D, dtype=torch.float64)
    torch.testing.assert_close(dropping(x), layer(x), rtol=0, atol=1e-12)
    first, second = dropping(x, training=True), dropping(x, training=True)
    assert torch.isfinite(first).all() and (first - second).abs().max() > 1e-3
    assert (first - layer(x)).abs().max() > 1e-3
