"""TimeDistributed over the convolutional layers, and a small CNN+LSTM model, against Keras 3
(torch backend): outputs, parameter counts, summary, training steps, masks."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras (Keras 3) is not installed")

import gated  # noqa: E402
import gated.layers as gl  # noqa: E402
from gated.models import Sequential  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.skip(f"keras runs the {keras.backend.backend()!r} backend, these tests need torch",
                allow_module_level=True)

TOL = 1e-5
B, T, H, W, C = 3, 4, 8, 8, 2


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else \
        keras.ops.convert_to_numpy(t)


def _clip(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((B, T, H, W, C)).astype("float32")


@pytest.mark.parametrize("make", [
    lambda m: m.Conv2D(3, 3, strides=2, padding="same", activation="relu"),
    lambda m: m.MaxPooling2D(),
    lambda m: m.AveragePooling2D(3, strides=1, padding="same"),
    lambda m: m.GlobalAveragePooling2D(),
    lambda m: m.UpSampling2D(interpolation="bilinear"),
    lambda m: m.ZeroPadding2D(((1, 0), (2, 1))),
    lambda m: m.Cropping2D(1),
    lambda m: m.BatchNormalization(),
], ids=["conv", "maxpool", "avgpool", "gap", "upsample", "zeropad", "crop", "batchnorm"])
def test_time_distributed_equals_keras(make):
    x = _clip()
    k = keras.layers.TimeDistributed(make(keras.layers))
    g = gl.TimeDistributed(make(gl))
    y_keras = _np(k(x))
    g.build(x.shape)
    g.set_weights(k.get_weights())
    np.testing.assert_allclose(_np(g(torch.as_tensor(x))), y_keras, atol=TOL, rtol=0)
    assert tuple(g.compute_output_shape(x.shape)) == tuple(k.compute_output_shape(x.shape))


def test_time_distributed_batch_norm_training_is_per_step_as_keras():
    x = _clip(1) * 2 + 1
    k = keras.layers.TimeDistributed(keras.layers.BatchNormalization(momentum=0.5))
    g = gl.TimeDistributed(gl.BatchNormalization(momentum=0.5))
    g.build(x.shape)
    k.build(x.shape)
    np.testing.assert_allclose(_np(g(torch.as_tensor(x), training=True)),
                               _np(k(x, training=True)), atol=TOL, rtol=0)
    for ours, theirs in zip(g.get_weights(), k.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=TOL, rtol=0)  # T updates, in order


def _models(seed: int = 0):
    def build(m, layers):
        return layers.Sequential([
            m.Input((T, H, W, C)),
            m.TimeDistributed(m.Conv2D(4, 3, activation="relu")),
            m.TimeDistributed(m.MaxPooling2D()),
            m.TimeDistributed(m.Flatten()),
            m.LSTM(6),
            m.Dense(3, activation="softmax"),
        ])

    k = build(keras.layers, keras)
    g = build(gl, gated)
    g.set_weights(k.get_weights())
    return k, g


def test_cnn_lstm_summary_counts_and_outputs_equal_keras(capsys):
    k, g = _models()
    # Conv2D 3*3*2*4 + 4; LSTM on 3*3*4 features: 4*6*(36 + 6 + 1); Dense 6*3 + 3
    assert [layer.count_params() for layer in g.layers] == \
        [layer.count_params() for layer in k.layers] == [76, 0, 0, 1032, 21]
    assert [tuple(layer.output_shape) for layer in g.layers] == \
        [tuple(layer.output.shape) for layer in k.layers]
    g.summary()
    text = capsys.readouterr().out
    assert f"Total params: {k.count_params():,}" in text
    assert "Non-trainable params: 0" in text
    x = _clip(2)
    np.testing.assert_allclose(g.predict(x, verbose=0), k.predict(x, verbose=0),
                               atol=TOL, rtol=0)


def test_cnn_lstm_training_steps_equal_keras():
    k, g = _models()
    k.compile(optimizer=keras.optimizers.SGD(0.5), loss="categorical_crossentropy")
    g.compile(optimizer=gated.optimizers.SGD(0.5), loss="categorical_crossentropy")
    x = _clip(3)
    y = np.eye(3, dtype="float32")[[0, 2, 1]]
    for _ in range(3):
        loss_k = float(k.train_on_batch(x, y))
        loss_g = float(g.train_on_batch(x, y))
        assert abs(loss_k - loss_g) < 1e-5
    for ours, theirs in zip(g.get_weights(), k.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=0)


def test_cnn_lstm_with_batch_norm_fits():
    model = Sequential([
        gl.Input((T, H, W, C)),
        gl.TimeDistributed(gl.Conv2D(4, 3, padding="same")),
        gl.TimeDistributed(gl.BatchNormalization()),
        gl.TimeDistributed(gl.MaxPooling2D()),
        gl.TimeDistributed(gl.GlobalAveragePooling2D()),
        gl.LSTM(5),
        gl.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    x = _clip(4)
    history = model.fit(x, x.mean(axis=(1, 2, 3, 4))[:, None], epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not np.allclose(model.layers[1].get_weights()[2], 0)  # moving mean moved


def test_masks_pass_through_time_distributed_as_keras():
    """Masking -> TimeDistributed(BatchNormalization) (gets each step's mask) -> LSTM (gets the
    sequence mask) in training mode: the same outputs and moving statistics as Keras."""
    x = np.random.default_rng(5).standard_normal((B, T, 3)).astype("float32")
    x[0, 2:] = 0.0
    x[1, 1] = 0.0

    def build(m):
        return [m.Masking(0.0), m.TimeDistributed(m.BatchNormalization(momentum=0.5)),
                m.LSTM(4, return_sequences=True)]

    ks, gs = build(keras.layers), build(gl)
    for k_layer, g_layer, shape in zip(ks, gs, [x.shape, x.shape, x.shape], strict=True):
        k_layer.build(shape)
        g_layer._maybe_build(shape)
        g_layer.set_weights(k_layer.get_weights())
    yk, yg = x, torch.as_tensor(x)
    for k_layer, g_layer in zip(ks, gs, strict=True):
        yk, yg = k_layer(yk, training=True), g_layer(yg, training=True)
    assert yg._keras_mask is not None
    np.testing.assert_allclose(_np(yg), _np(yk), atol=TOL, rtol=0)
    for ours, theirs in zip(gs[1].get_weights(), ks[1].get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=TOL, rtol=0)


def test_time_distributed_checks_inner_input():
    layer = gl.TimeDistributed(gl.Conv2D(2, 3))
    layer(torch.randn(1, 2, 6, 6, 3))
    with pytest.raises(ValueError, match=r"wrong number of channels"):
        layer(torch.randn(1, 2, 6, 6, 4))
    with pytest.raises(ValueError, match=r"`mask` of TimeDistributed.*\(1, 2\)"):
        layer(torch.randn(1, 2, 6, 6, 3), mask=torch.ones(1, 3, dtype=torch.bool))


def test_default_names_are_keras_names():
    import re

    makers = [lambda m: m.Conv1D(2, 3), lambda m: m.Conv2D(2, 3),
              lambda m: m.Conv3DTranspose(2, 3), lambda m: m.SeparableConv2D(2, 3),
              lambda m: m.MaxPooling2D(), lambda m: m.GlobalAveragePooling1D(),
              lambda m: m.BatchNormalization(), lambda m: m.UpSampling2D(),
              lambda m: m.ZeroPadding2D(), lambda m: m.SpatialDropout1D(0.1)]

    def base(name: str) -> str:
        return re.sub(r"_\d+$", "", name)

    assert [base(make(gl).name) for make in makers] == \
        [base(make(keras.layers).name) for make in makers]
    assert base(gl.Conv2D(2, 3).name) == "conv2d"


def test_cnn_model_saves_and_loads(tmp_path):
    inputs = gl.Input((16, 16, 3))
    h = gl.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    h = gl.BatchNormalization()(h)
    h = gl.Conv2DTranspose(4, 3, strides=2, padding="same")(h)
    h = gl.SeparableConv2D(4, 3)(h)
    h = gl.UpSampling2D()(gl.Cropping2D(1)(gl.ZeroPadding2D(1)(h)))
    model = gated.models.Model(inputs, gl.GlobalMaxPooling2D()(h))
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(6).random((4, 16, 16, 3)).astype("float32")
    model.fit(x, np.zeros((4, 4), "float32"), epochs=1, verbose=0)
    path = tmp_path / "cnn.keras"
    model.save(path)
    loaded = gated.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    bn = [layer for layer in loaded.layers if isinstance(layer, gl.BatchNormalization)][0]
    assert [p.requires_grad for p in bn.parameters()] == [True, True, False, False]


def test_cnn_with_batch_norm_summary_and_training_steps_equal_keras(capsys):
    def build(m, top):
        return top.Sequential([
            m.Input((T, H, W, C)),
            m.TimeDistributed(m.Conv2D(4, 3, padding="same", use_bias=False)),
            m.TimeDistributed(m.BatchNormalization(momentum=0.8)),
            m.TimeDistributed(m.Activation("relu")),
            m.TimeDistributed(m.GlobalAveragePooling2D()),
            m.LSTM(5),
            m.Dense(2),
        ])

    k, g = build(keras.layers, keras), build(gl, gated)
    g.set_weights(k.get_weights())
    g.summary()
    text = capsys.readouterr().out
    trainable = sum(int(np.prod(w.shape)) for w in k.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in k.non_trainable_weights)
    assert (trainable, frozen) == (72 + 8 + 4 * 5 * (4 + 5 + 1) + 12, 8)
    assert f"Trainable params: {trainable:,}" in text
    assert f"Non-trainable params: {frozen:,}" in text
    k.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    g.compile(optimizer=gated.optimizers.SGD(0.1), loss="mse")
    x, y = _clip(7), np.random.default_rng(7).standard_normal((B, 2)).astype("float32")
    for _ in range(3):
        assert abs(float(k.train_on_batch(x, y)) - float(g.train_on_batch(x, y))) < 1e-5
    for ours, theirs in zip(g.get_weights(), k.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=0)  # moving statistics too
    np.testing.assert_allclose(g.predict(x, verbose=0), k.predict(x, verbose=0), atol=TOL,
                               rtol=0)
