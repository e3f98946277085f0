"""Keras 3 parity: the same `get_weights()` in a Keras layer and a gated layer give equal outputs.

Needs `keras` (Keras 3) with the torch backend; skipped when keras is not installed.
Weights are copied both ways (Keras -> gated and gated -> Keras), with and without masks.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras (Keras 3) is not installed")

import gated.layers as gl  # noqa: E402

if keras.backend.backend() != "torch":  # keras was imported earlier with another backend
    pytest.skip(f"keras runs the {keras.backend.backend()!r} backend, these tests need torch",
                allow_module_level=True)

B, T, D, U = 3, 7, 4, 5
TOL = 1e-5


LAYERS = {
    "lstm": (lambda **kw: keras.layers.LSTM(U, **kw), lambda **kw: gl.LSTM(U, **kw)),
    "gru_reset_after": (lambda **kw: keras.layers.GRU(U, **kw), lambda **kw: gl.GRU(U, **kw)),
    "gru_reset_before": (lambda **kw: keras.layers.GRU(U, reset_after=False, **kw),
                         lambda **kw: gl.GRU(U, reset_after=False, **kw)),
    "simple_rnn": (lambda **kw: keras.layers.SimpleRNN(U, **kw),
                   lambda **kw: gl.SimpleRNN(U, **kw)),
    "lstm_relu_hard_sigmoid": (
        lambda **kw: keras.layers.LSTM(U, activation="relu",
                                       recurrent_activation="hard_sigmoid", **kw),
        lambda **kw: gl.LSTM(U, activation="relu", recurrent_activation="hard_sigmoid", **kw)),
    "gru_no_bias": (lambda **kw: keras.layers.GRU(U, use_bias=False, **kw),
                    lambda **kw: gl.GRU(U, use_bias=False, **kw)),
    "bidirectional_lstm": (lambda **kw: keras.layers.Bidirectional(keras.layers.LSTM(U, **kw)),
                           lambda **kw: gl.Bidirectional(gl.LSTM(U, **kw))),
    "bidirectional_gru_sum": (
        lambda **kw: keras.layers.Bidirectional(keras.layers.GRU(U, **kw), merge_mode="sum"),
        lambda **kw: gl.Bidirectional(gl.GRU(U, **kw), merge_mode="sum")),
}


def _np(t) -> np.ndarray:
    return keras.ops.convert_to_numpy(t) if not hasattr(t, "detach") else \
        t.detach().cpu().numpy()


def _data(seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    mask = np.ones((B, T), dtype=bool)
    mask[1, 5:] = False  # right padding
    mask[2, :3] = False  # left padding
    return x, mask


def _pair(name: str, seed: int, **kwargs):
    make_keras, make_gated = LAYERS[name]
    k_layer, g_layer = make_keras(**kwargs), make_gated(**kwargs)
    x, _ = _data(seed)
    k_layer(x)
    g_layer(x)
    rng = np.random.default_rng(seed + 1)
    weights = [rng.uniform(-0.7, 0.7, w.shape).astype(np.float32) for w in k_layer.get_weights()]
    assert [w.shape for w in g_layer.get_weights()] == [w.shape for w in weights]
    return k_layer, g_layer, weights


def _compare(k_out, g_out) -> None:
    k_out = k_out if isinstance(k_out, (list, tuple)) else [k_out]
    g_out = g_out if isinstance(g_out, (list, tuple)) else [g_out]
    assert len(k_out) == len(g_out)
    for k, (a, b) in enumerate(zip(k_out, g_out, strict=True)):
        np.testing.assert_allclose(_np(b), _np(a), rtol=TOL, atol=TOL, err_msg=f"output {k}")


@pytest.mark.parametrize("direction", ["keras_to_gated", "gated_to_keras"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_same_weights_same_outputs(name, direction):
    k_layer, g_layer, weights = _pair(name, 0, return_sequences=True, return_state=True)
    src, dst = (k_layer, g_layer) if direction == "keras_to_gated" else (g_layer, k_layer)
    src.set_weights(weights)
    dst.set_weights(src.get_weights())
    x, _ = _data(0)
    _compare(k_layer(x), g_layer(x))


MASK_CASES = [
    pytest.param(name, seq, id=f"{name}-{'sequences' if seq else 'last'}")
    for name in LAYERS for seq in (True, False)
]


@pytest.mark.parametrize(("name", "return_sequences"), MASK_CASES)
def test_same_outputs_with_mask(name, return_sequences):
    k_layer, g_layer, weights = _pair(name, 1, return_sequences=return_sequences)
    k_layer.set_weights(weights)
    g_layer.set_weights(weights)
    x, mask = _data(1)
    _compare(k_layer(x, mask=mask), g_layer(x, mask=mask))


@pytest.mark.parametrize("name", ["lstm", "gru_reset_before", "simple_rnn"])
def test_go_backwards_and_zero_output_for_mask(name):
    for kwargs in ({"go_backwards": True}, {"zero_output_for_mask": True}):
        k_layer, g_layer, weights = _pair(name, 3, return_sequences=True, **kwargs)
        k_layer.set_weights(weights)
        g_layer.set_weights(weights)
        x, mask = _data(3)
        _compare(k_layer(x, mask=mask), g_layer(x, mask=mask))


def test_masking_layer_in_a_sequential_model():
    x, mask = _data(4)
    x = x * mask[..., None]
    k_model = keras.Sequential([keras.Input((T, D)), keras.layers.Masking(0.0),
                                keras.layers.LSTM(U, return_sequences=True),
                                keras.layers.GRU(U)])
    from gated.models import Sequential

    g_model = Sequential([gl.Masking(0.0, input_shape=(T, D)),
                          gl.LSTM(U, return_sequences=True), gl.GRU(U)])
    g_model(x)
    g_model.set_weights(k_model.get_weights())
    _compare(k_model(x), g_model(x))
