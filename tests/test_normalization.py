"""BatchNormalization against Keras 3 (torch backend): inference, a training step (outputs and the
updated moving statistics), masks, `trainable=False`, and inside a model's `fit`."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras (Keras 3) is not installed")

import gated.layers as gl  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.skip(f"keras runs the {keras.backend.backend()!r} backend, these tests need torch",
                allow_module_level=True)

TOL = 1e-5


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else \
        keras.ops.convert_to_numpy(t)


def _pair(shape: tuple, seed: int = 0, **kwargs):
    """A Keras and a gated layer with the same random (non-default) weights."""
    rng = np.random.default_rng(seed)
    k = keras.layers.BatchNormalization(**kwargs)
    k.build(shape)
    weights = [rng.standard_normal(w.shape).astype("float32") for w in k.get_weights()]
    weights[-1] = np.abs(weights[-1]) + 0.5  # a variance
    k.set_weights(weights)
    g = gl.BatchNormalization(**kwargs)
    g.build(shape)
    g.set_weights(weights)
    return k, g


CASES = [((8, 5), -1), ((4, 6, 5), -1), ((4, 6, 5), 1), ((3, 5, 4, 4), 1), ((3, 4, 4, 5), -1),
         ((2, 3, 4, 4, 5), -1)]


@pytest.mark.parametrize("shape,axis", CASES)
@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False)])
def test_batch_norm_equals_keras(shape, axis, center, scale):
    x = (np.random.default_rng(1).standard_normal(shape) * 2 + 1).astype("float32")
    k, g = _pair(shape, axis=axis, momentum=0.9, center=center, scale=scale)
    assert [w.shape for w in g.get_weights()] == [tuple(w.shape) for w in k.weights]
    assert g.count_params() == k.count_params()
    assert len(g.trainable_weights) == len(k.trainable_weights) == center + scale
    assert len(g.non_trainable_weights) == len(k.non_trainable_weights) == 2
    # inference: the moving statistics
    np.testing.assert_allclose(_np(g(torch.as_tensor(x))), _np(k(x, training=False)),
                               atol=TOL, rtol=0)
    # two training steps: batch statistics, then the moving statistics updated each time
    for step in range(2):
        xs = x * (step + 1)
        np.testing.assert_allclose(_np(g(torch.as_tensor(xs), training=True)),
                                   _np(k(xs, training=True)), atol=TOL, rtol=0)
        for ours, theirs in zip(g.get_weights(), k.get_weights(), strict=True):
            np.testing.assert_allclose(ours, theirs, atol=TOL, rtol=0)


def test_batch_norm_moving_update_by_hand():
    """Keras' convention: moving = moving * momentum + batch * (1 - momentum), biased var."""
    x = np.array([[1.0], [2.0], [6.0]], dtype="float32")
    g = gl.BatchNormalization(momentum=0.8, epsilon=1e-3)
    y = g(torch.as_tensor(x), training=True)
    gamma, beta, mean, var = g.get_weights()
    np.testing.assert_allclose(mean, [0.2 * 3.0], rtol=1e-6)
    np.testing.assert_allclose(var, [0.8 + 0.2 * (14 / 3)], rtol=1e-6)  # biased: 14/3
    np.testing.assert_allclose(_np(y).ravel(), (x.ravel() - 3) / np.sqrt(14 / 3 + 1e-3),
                               rtol=1e-5)


def test_batch_norm_mask_equals_keras():
    x = np.random.default_rng(2).standard_normal((4, 6, 5)).astype("float32")
    mask = np.random.default_rng(2).random((4, 6)) > 0.3
    k, g = _pair(x.shape, momentum=0.7)
    np.testing.assert_allclose(_np(g(torch.as_tensor(x), training=True,
                                     mask=torch.as_tensor(mask))),
                               _np(k(x, training=True, mask=mask)), atol=TOL, rtol=0)
    for ours, theirs in zip(g.get_weights(), k.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=TOL, rtol=0)


def test_batch_norm_one_sample_equals_keras():
    x = np.random.default_rng(3).standard_normal((1, 4)).astype("float32")
    k, g = _pair(x.shape)
    np.testing.assert_allclose(_np(g(torch.as_tensor(x), training=True)),
                               _np(k(x, training=True)), atol=TOL, rtol=0)
    np.testing.assert_allclose(g.get_weights()[3], k.get_weights()[3], atol=TOL, rtol=0)


def test_trainable_false_means_inference_mode():
    x = np.random.default_rng(4).standard_normal((6, 3)).astype("float32")
    k, g = _pair(x.shape)
    before = g.get_weights()
    k.trainable = False
    g.trainable = False
    assert all(not p.requires_grad for p in g.parameters())
    np.testing.assert_allclose(_np(g(torch.as_tensor(x), training=True)),
                               _np(k(x, training=True)), atol=TOL, rtol=0)
    for ours, old in zip(g.get_weights(), before, strict=True):
        np.testing.assert_array_equal(ours, old)
    g.trainable = True  # the moving statistics stay non-trainable
    assert [p.requires_grad for p in g.parameters()] == [True, True, False, False]


def test_fit_updates_moving_statistics_not_by_the_optimizer():
    from gated.models import Sequential

    x = np.random.default_rng(5).standard_normal((16, 4)).astype("float32") * 3 + 2
    y = x.sum(axis=1, keepdims=True)
    model = Sequential([gl.Input((4,)), gl.BatchNormalization(momentum=0.5), gl.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    _, _, mean, var = model.layers[0].get_weights()
    # three full-batch updates from (0, 1) with momentum 0.5: 7/8 of the batch statistic
    np.testing.assert_allclose(mean, 0.875 * x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(var, 0.125 + 0.875 * x.var(axis=0), rtol=1e-5)
    assert len(model.optimizer._parameters) == 4  # gamma, beta, kernel, bias


def test_model_trainable_false_freezes_nested_batch_norm():
    from gated.models import Sequential

    model = Sequential([gl.Input((4,)), gl.BatchNormalization(), gl.Dense(1)])
    model.trainable = False
    assert not model.layers[0].trainable
    x = torch.randn(8, 4)
    model.layers[0](x, training=True)
    np.testing.assert_array_equal(model.layers[0].get_weights()[2], np.zeros(4))


def test_batch_norm_config_round_trip_and_keras_keys():
    g = gl.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False)
    assert set(keras.layers.BatchNormalization().get_config()) <= set(g.get_config())
    clone = gl.BatchNormalization.from_config(g.get_config())
    assert (clone.axis, clone.momentum, clone.epsilon, clone.center) == (1, 0.9, 1e-5, False)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"`axis`.*out of bounds.*rank 3.*axis=3"):
        gl.BatchNormalization(axis=3)(torch.randn(2, 4, 5))
    layer = gl.BatchNormalization()
    layer(torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match=r"wrong feature size.*size 5.*\(2, 4, 6\)"):
        layer(torch.randn(2, 4, 6))
    with pytest.raises(ValueError, match=r"wrong rank.*expected ndim=3"):
        layer(torch.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"`renorm`.*not supported"):
        gl.BatchNormalization(renorm=True)
    with pytest.raises(ValueError, match=r"`mask`.*one axis less"):
        layer(torch.randn(2, 4, 5), training=True, mask=torch.ones(2, 4, 5, dtype=bool))


def test_batch_norm_training_gradcheck():
    """Both training paths (torch's batch_norm, and the masked moments written here) against
    finite differences, through the inputs, gamma and beta."""
    from torch.func import functional_call

    layer = gl.BatchNormalization(dtype="float64")
    layer.build((5, 4, 3))
    mask = torch.rand(5, 4, generator=torch.Generator().manual_seed(0)) > 0.3
    x = torch.randn(5, 4, 3, dtype=torch.float64, requires_grad=True)
    gamma = torch.randn(3, dtype=torch.float64, requires_grad=True)
    beta = torch.randn(3, dtype=torch.float64, requires_grad=True)

    def run(t, g, b, m):
        state = {"gamma": g, "beta": b, "moving_mean": torch.zeros(3, dtype=torch.float64),
                 "moving_variance": torch.ones(3, dtype=torch.float64)}
        return functional_call(layer, state, (t,), {"training": True, "mask": m})

    for m in (None, mask):
        assert torch.autograd.gradcheck(lambda t, g, b, m=m: run(t, g, b, m), (x, gamma, beta))
