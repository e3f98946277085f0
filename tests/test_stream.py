"""Streaming inference (`model.stream()`) against full-sequence inference (`model.predict`).

The truth is the model run over the whole sequence at once (the engines' `scan`); the stream
runs it step by step through `gated.engine.step` with carried states, or chunk by chunk.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from gated.cells import GRUCell, LSTMCell
from gated.cells.lstm.cell import VARIANTS
from gated.layers import (
    GRU,
    LSTM,
    RNN,
    Activation,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Input,
    LayerNormalization,
    Masking,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
)
from gated.models import Model, Sequential
from gated.runtime import NotStreamable

B, T, D = 3, 7, 4
TOL = 1e-5


def _x(seed: int = 0, steps: int = T) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((B, steps, D)).astype(np.float32)


def _randomize(model, seed: int = 1) -> None:
    """Non-trivial weights (biases and peepholes are zero or one after init)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32)
                       for w in model.get_weights()])


def _stepwise(stream, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    outs = [stream.step(x[:, t], mask=None if mask is None else mask[:, t])
            for t in range(x.shape[1])]
    return np.stack(outs, axis=1)


def _seq_model(*layers) -> Sequential:
    model = Sequential([Input((None, D)), *layers])
    _randomize(model)
    return model


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_lstm_preset_streams_as_the_full_sequence(variant):
    model = _seq_model(LSTM(5, variant=variant, return_sequences=True), Dense(2))
    x = _x()
    want = model.predict(x, verbose=0)
    np.testing.assert_allclose(_stepwise(model.stream(batch_size=B), x), want,
                               rtol=TOL, atol=TOL)


@pytest.mark.parametrize("kwargs", [{"proj_size": 3}, {"layer_norm": True},
                                    {"zoneout_cell": 0.3, "zoneout_hidden": 0.2},
                                    {"activation": "relu"}],
                         ids=["projection", "layer_norm", "zoneout", "relu"])
def test_lstm_options_stream_as_the_full_sequence(kwargs):
    model = _seq_model(LSTM(5, return_sequences=True, **kwargs))
    x = _x(2)
    np.testing.assert_allclose(_stepwise(model.stream(B), x), model.predict(x, verbose=0),
                               rtol=TOL, atol=TOL)


@pytest.mark.parametrize("layer", [
    lambda: GRU(5, return_sequences=True, reset_after=True),
    lambda: GRU(5, return_sequences=True, reset_after=False),
    lambda: SimpleRNN(5, return_sequences=True),
    lambda: RNN([LSTMCell(5, variant="peephole"), GRUCell(4)], return_sequences=True),
], ids=["gru_reset_after", "gru_reset_before", "simple_rnn", "stacked_cells"])
def test_gru_simple_and_stacked_cells_stream(layer):
    model = _seq_model(layer(), TimeDistributed(Dense(2)))
    x = _x(3)
    np.testing.assert_allclose(_stepwise(model.stream(B), x), model.predict(x, verbose=0),
                               rtol=TOL, atol=TOL)


def test_stacked_layers_with_surrounding_layers_and_chunks():
    model = _seq_model(LSTM(6, return_sequences=True), LayerNormalization(), Dropout(0.5),
                       GRU(5, return_sequences=True), Activation("relu"),
                       TimeDistributed(Dense(3)), Dense(2, activation="tanh"))
    x = _x(4, steps=9)
    want = model.predict(x, verbose=0)
    stream = model.stream(batch_size=B)
    parts = [stream.step(x[:, :4]), stream.step(x[:, 4])[:, None], stream.step(x[:, 5:])]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), want, rtol=TOL, atol=TOL)


def test_last_output_layer_streams_the_prediction_so_far():
    model = _seq_model(LSTM(6, return_sequences=True), LSTM(4), Dense(1))
    x = _x(5)
    stream = model.stream(B)
    for t in range(T):
        got = stream.step(x[:, t])
        np.testing.assert_allclose(got, model.predict(x[:, :t + 1], verbose=0),
                                   rtol=TOL, atol=TOL)


def test_masking_layer_streams_with_padding():
    model = _seq_model(Masking(0.0), LSTM(5, return_sequences=True),
                       GRU(4, return_sequences=True, zero_output_for_mask=True))
    x = _x(6)
    x[0, :2] = 0.0  # leading padding: the output before the first real step is zero
    x[1, 3:5] = 0.0
    x[2, -1] = 0.0
    want = model.predict(x, verbose=0)
    assert np.all(want[0, :2] == 0) and np.all(want[1, 3] == 0) and np.any(want[1, 5] != 0)
    np.testing.assert_allclose(_stepwise(model.stream(B), x), want, rtol=TOL, atol=TOL)
    chunked = model.stream(B)
    got = np.concatenate([chunked.step(x[:, :3]), chunked.step(x[:, 3:])], axis=1)
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


def test_embedding_mask_zero_and_the_mask_argument():
    model = Sequential([Input((None,), dtype="int64"), Embedding(10, 4, mask_zero=True),
                        LSTM(5, return_sequences=True)])
    _randomize(model)
    ids = np.random.default_rng(7).integers(1, 10, (B, T))
    ids[1, 2:4] = 0
    want = model.predict(ids, verbose=0)
    stream = model.stream(B)
    got = np.stack([stream.step(ids[:, t]) for t in range(T)], axis=1)
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    # the mask argument of step() marks padding as a Masking layer would
    plain = _seq_model(LSTM(5, return_sequences=True))
    x = _x(8)
    mask = np.ones((B, T), bool)
    mask[2, 1:3] = False
    with torch.no_grad():
        want = plain.layers[0](torch.from_numpy(x), mask=torch.from_numpy(mask)).numpy()
    np.testing.assert_allclose(_stepwise(plain.stream(B), x, mask), want, rtol=TOL, atol=TOL)


def test_functional_model_with_a_merge_streams():
    inputs = Input((None, D))
    a = LSTM(5, return_sequences=True)(inputs)
    b = GRU(5, return_sequences=True)(inputs)
    from gated.layers import Add

    out = Dense(2)(Add()([a, b]))
    model = Model(inputs, out)
    _randomize(model)
    x = _x(9)
    np.testing.assert_allclose(_stepwise(model.stream(B), x), model.predict(x, verbose=0),
                               rtol=TOL, atol=TOL)


def test_reset_one_stream_restarts_it_alone():
    model = _seq_model(LSTM(5, return_sequences=True))
    x = _x(10)
    stream = model.stream(B)
    stream.step(x[:, :3])
    stream.reset(1)
    got = stream.step(x[:, 3:])
    want = model.predict(x, verbose=0)[:, 3:]
    fresh = model.predict(x[:, 3:], verbose=0)
    np.testing.assert_allclose(got[[0, 2]], want[[0, 2]], rtol=TOL, atol=TOL)
    np.testing.assert_allclose(got[1], fresh[1], rtol=TOL, atol=TOL)
    assert np.abs(got[1] - want[1]).max() > 1e-3
    with pytest.raises(ValueError, match="`i` of reset"):
        stream.reset(B)


def test_state_dict_round_trip_and_wrong_shapes():
    model = _seq_model(LSTM(5, return_sequences=True, name="lstm"),
                       GRU(4, return_sequences=True, name="gru"))
    x = _x(11)
    stream = model.stream(B)
    stream.step(x[:, :4])
    state = stream.state_dict()
    rest = stream.step(x[:, 4:])
    other = model.stream(B)
    other.load_state_dict({k: v.numpy() for k, v in state.items()})
    np.testing.assert_array_equal(other.step(x[:, 4:]), rest)
    bad = dict(state)
    bad["lstm.cell0.state1"] = torch.zeros(B, 6)
    with pytest.raises(ValueError, match=r"'lstm.cell0.state1' must have shape \(3, 5\)"):
        other.load_state_dict(bad)
    with pytest.raises(ValueError, match="missing .'gru.output'"):
        other.load_state_dict({k: v for k, v in state.items() if k != "gru.output"})
    with pytest.raises(ValueError, match=r"received shape \(3, 7, 5\)"):
        other.step(np.zeros((B, T, 5), np.float32))
    with pytest.raises(ValueError, match="batch_size"):
        model.stream(batch_size=0)


@pytest.mark.parametrize("layers, name", [
    (lambda: [Bidirectional(LSTM(4, return_sequences=True), name="bi")], "bi"),
    (lambda: [LSTM(4), RepeatVector(3, name="repeat"), LSTM(3)], "repeat"),
    (lambda: [LSTM(4, go_backwards=True, return_sequences=True, name="back")], "back"),
])
def test_layers_that_cannot_stream_are_named(layers, name):
    model = Sequential([Input((None, D)), *layers()])
    with pytest.raises(NotStreamable, match=f"'{name}'"):
        model.stream()


def test_a_restarted_process_continues_the_stream_exactly(tmp_path):
    model = _seq_model(LSTM(6, variant="peephole", return_sequences=True),
                       GRU(4, return_sequences=True), Dense(2))
    x = _x(12, steps=10)
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "m.gated")
    stream = model.stream(B)
    first = stream.step(x[:, :6])
    stream.save_state(tmp_path / "state.safetensors")
    np.save(tmp_path / "rest.npy", x[:, 6:])
    script = textwrap.dedent(f"""
        import numpy as np
        from gated.models.saving import load_model
        model = load_model({str(tmp_path / 'm.gated')!r})
        stream = model.stream(batch_size={B})
        stream.load_state({str(tmp_path / 'state.safetensors')!r})
        np.save({str(tmp_path / 'out.npy')!r}, stream.step(np.load({str(tmp_path / 'rest.npy')!r})))
    """)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    got = np.concatenate([first, np.load(tmp_path / "out.npy")], axis=1)
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(ValueError, match="bad.safetensors"):
        stream.load_state(tmp_path / "bad.safetensors")


def test_a_layer_called_twice_keeps_one_state_per_call():
    inputs = Input((None, D))
    shared = LSTM(4, return_sequences=True, name="shared")
    first = shared(inputs)
    second = shared(Dense(4)(first))
    model = Model(inputs, second)
    _randomize(model)
    x = _x(13)
    stream = model.stream(B)
    np.testing.assert_allclose(_stepwise(stream, x), model.predict(x, verbose=0),
                               rtol=TOL, atol=TOL)
    assert {"shared.output", "shared@3.output"} <= set(stream.state_dict())
