"""Conv1D/2D/3D against Keras 3 (torch backend) with copied weights, and their input checks.

Keras is the independent truth for outputs, weight shapes, parameter counts, output shapes and
configs; the error tests check that bad input is refused with the argument named.
"""

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
SHAPES = {1: (2, 11, 4), 2: (2, 9, 8, 4), 3: (2, 7, 6, 5, 4)}


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else \
        keras.ops.convert_to_numpy(t)


def _input(rank: int, data_format: str, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(SHAPES[rank]).astype("float32")
    return np.moveaxis(x, -1, 1).copy() if data_format == "channels_first" else x


def _pair(rank: int, **kwargs):
    name = f"Conv{rank}D"
    return getattr(keras.layers, name)(**kwargs), getattr(gl, name)(**kwargs)


def _check_equal(k, g, x: np.ndarray) -> None:
    y_keras = _np(k(x))
    g.build(x.shape)
    g.set_weights(k.get_weights())
    y = _np(g(torch.as_tensor(x)))
    assert y.shape == y_keras.shape
    assert tuple(g.compute_output_shape(x.shape)) == tuple(k.compute_output_shape(x.shape))
    assert [w.shape for w in g.get_weights()] == [tuple(w.shape) for w in k.weights]
    assert g.count_params() == k.count_params()
    np.testing.assert_allclose(y, y_keras, atol=TOL, rtol=0)


CASES = [  # (padding, strides, dilation_rate)
    ("valid", 1, 1), ("same", 1, 1), ("valid", 2, 1), ("same", 2, 1), ("same", 3, 1),
    ("valid", 1, 2), ("same", 1, 2),
]


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("padding,strides,dilation", CASES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv_equals_keras(rank, padding, strides, dilation, data_format):
    kw = dict(filters=6, kernel_size=3, strides=strides, padding=padding,
              dilation_rate=dilation, data_format=data_format)
    _check_equal(*_pair(rank, **kw), _input(rank, data_format))


@pytest.mark.parametrize("strides,dilation", [(1, 1), (2, 1), (1, 3)])
def test_conv1d_causal_equals_keras(strides, dilation):
    kw = dict(filters=5, kernel_size=4, padding="causal", strides=strides,
              dilation_rate=dilation, activation="relu")
    _check_equal(*_pair(1, **kw), _input(1, "channels_last"))


def test_conv1d_causal_sees_no_future():
    layer = gl.Conv1D(3, 4, padding="causal", dilation_rate=2)
    x = torch.randn(1, 12, 2)
    y = layer(x)
    x2 = x.clone()
    x2[:, 7:] = torch.randn(1, 5, 2)  # change the future of step 6
    y2 = layer(x2)
    torch.testing.assert_close(y[:, :7], y2[:, :7])
    assert not torch.allclose(y[:, 7:], y2[:, 7:])


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv_options_equal_keras(rank, data_format):
    """groups, rectangular kernels and strides, no bias, an activation over the last axis."""
    ksize = (3, 2, 1)[:rank] if rank > 1 else 2
    strides = (2, 1, 2)[:rank] if rank > 1 else 2
    kw = dict(filters=4, kernel_size=ksize, strides=strides, padding="same", groups=2,
              use_bias=False, activation="softmax", data_format=data_format)
    _check_equal(*_pair(rank, **kw), _input(rank, data_format, seed=1))


def test_conv2d_input_gradient_equals_keras():
    k, g = _pair(2, filters=3, kernel_size=(3, 2), strides=2, padding="same")
    x = _input(2, "channels_last")
    k.build(x.shape)
    g.build(x.shape)
    g.set_weights(k.get_weights())
    xk = torch.tensor(x, requires_grad=True)
    k(xk).square().sum().backward()
    xg = torch.tensor(x, requires_grad=True)
    g(xg).square().sum().backward()
    np.testing.assert_allclose(_np(xg.grad), _np(xk.grad), atol=TOL, rtol=0)
    np.testing.assert_allclose(_np(g.kernel.grad), _np(k.kernel.value.grad), atol=1e-4, rtol=0)


def test_conv_unknown_spatial_size_and_config_round_trip():
    layer = gl.Conv2D(8, (3, 5), strides=(1, 2), padding="same", activation="relu",
                      data_format="channels_first")
    assert layer.compute_output_shape((None, 3, None, 20)) == (None, 8, None, 10)
    config = layer.get_config()
    keras_config = keras.layers.Conv2D(8, (3, 5), strides=(1, 2), padding="same",
                                       activation="relu", data_format="channels_first"
                                       ).get_config()
    assert set(keras_config) <= set(config)
    clone = gl.Conv2D.from_config(config)
    x = torch.randn(2, 3, 7, 20)
    layer(x)
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    torch.testing.assert_close(clone(x), layer(x))


def test_conv_weights_are_keras_layout_and_initializer_fans():
    layer = gl.Conv2D(16, (3, 5), groups=2)
    layer.build((None, 10, 10, 6))
    assert [w.shape for w in layer.get_weights()] == [(3, 5, 3, 16), (16,)]
    # glorot_uniform over the receptive field: limit sqrt(6 / (15*3 + 15*16))
    limit = np.sqrt(6 / (15 * 3 + 15 * 16))
    kernel = layer.get_weights()[0]
    assert kernel.max() <= limit and kernel.min() >= -limit and kernel.std() > limit / 3


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "torch_adam"])
def test_kernel_constraint_applied_after_each_step(optimizer):
    from gated.models import Sequential
    from gated.optimizers import TorchOptimizer

    model = Sequential([gl.Input((6, 2)),
                        gl.Conv1D(2, 3, kernel_constraint=lambda w: w.clamp(-0.05, 0.05),
                                  bias_constraint=lambda b: b.clamp(min=0.0)),
                        gl.GlobalAveragePooling1D(), gl.Dense(1)])
    if optimizer == "torch_adam":
        optimizer = TorchOptimizer(torch.optim.Adam(
            [p for p in model.parameters() if p.requires_grad], lr=0.1))
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(np.random.rand(8, 6, 2), np.random.rand(8, 1) * 10 - 20, epochs=3, verbose=0)
    kernel, bias = model.layers[0].get_weights()
    assert np.abs(kernel).max() <= 0.05 + 1e-7
    assert np.isclose(np.abs(kernel).max(), 0.05)  # the constraint was active
    assert bias.min() >= 0.0


# ---------------------------------------------------------------- errors


def test_wrong_rank_names_the_layout():
    with pytest.raises(ValueError, match=r"expected ndim=4 \(batch, dim, dim, channels\)"):
        gl.Conv2D(4, 3)(torch.randn(2, 8, 3))


def test_channels_mismatch_after_build():
    layer = gl.Conv2D(4, 3)
    layer(torch.randn(1, 8, 8, 3))
    with pytest.raises(ValueError, match=r"wrong number of channels.*expected axis -1 to have "
                                         r"size 3.*received shape \(1, 8, 8, 5\)"):
        layer(torch.randn(1, 8, 8, 5))
    first = gl.Conv1D(4, 3, data_format="channels_first")
    first(torch.randn(1, 3, 8))
    with pytest.raises(ValueError, match=r"expected axis 1 to have size 3"):
        first(torch.randn(1, 2, 8))


@pytest.mark.parametrize("cls,padding", [(gl.Conv2D, "causal"), (gl.Conv1D, "full"),
                                         (gl.Conv3D, 1)])
def test_bad_padding(cls, padding):
    with pytest.raises(ValueError, match=r"`padding`.*received padding="):
        cls(2, 3, padding=padding)


def test_kernel_larger_than_input_with_valid():
    with pytest.raises(ValueError, match=r"smaller than its kernel with padding='valid'.*"
                                         r"axis 1 has size 4, the kernel has size 5"):
        gl.Conv2D(2, (3, 5))(torch.randn(1, 6, 4, 1))
    with pytest.raises(ValueError, match=r"dilated by 3 \(effective size 7\)"):
        gl.Conv1D(2, 3, dilation_rate=3)(torch.randn(1, 6, 1))
    assert gl.Conv2D(2, (3, 5), padding="same")(torch.randn(1, 6, 4, 1)).shape == (1, 6, 4, 2)


def test_unknown_data_format():
    with pytest.raises(ValueError, match=r"`data_format`.*received data_format='NHWC'"):
        gl.Conv2D(2, 3, data_format="NHWC")


def test_other_argument_errors():
    with pytest.raises(ValueError, match=r"`filters`.*divisible by `groups`"):
        gl.Conv2D(5, 3, groups=2)
    with pytest.raises(ValueError, match=r"input channels of Conv2D must be divisible"):
        gl.Conv2D(4, 3, groups=2)(torch.randn(1, 5, 5, 3))
    with pytest.raises(ValueError, match=r"`kernel_size`.*tuple of 2 integers"):
        gl.Conv2D(4, (3, 3, 3))
    with pytest.raises(ValueError, match=r"`strides` > 1 together with `dilation_rate` > 1"):
        gl.Conv1D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"`filters`"):
        gl.Conv3D(0, 3)


# ---------------------------------------------------------------- transposed convolutions

TRANSPOSE_CASES = [  # (padding, kernel, strides, dilation, output_padding)
    ("valid", 3, 1, 1, None), ("valid", 3, 2, 1, None), ("valid", 1, 3, 1, None),
    ("valid", 2, 3, 1, 2), ("same", 3, 1, 1, None), ("same", 3, 2, 1, None),
    ("same", 4, 2, 1, None), ("same", 3, 2, 1, 1), ("same", 2, 3, 1, 0), ("valid", 3, 1, 2, 0),
    ("same", 3, 1, 2, None),
]


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("padding,kernel,strides,dilation,output_padding", TRANSPOSE_CASES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv_transpose_equals_keras(rank, padding, kernel, strides, dilation, output_padding,
                                     data_format):
    name = f"Conv{rank}DTranspose"
    kw = dict(filters=4, kernel_size=kernel, strides=strides, padding=padding,
              dilation_rate=dilation, output_padding=output_padding, data_format=data_format,
              bias_initializer="random_normal")
    x = np.random.default_rng(2).standard_normal(((2, 5, 3), (2, 5, 4, 3),
                                                   (2, 3, 4, 3, 3))[rank - 1]).astype("float32")
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1).copy()
    k, g = getattr(keras.layers, name)(**kw), getattr(gl, name)(**kw)
    _check_equal(k, g, x)
    assert set(k.get_config()) <= set(g.get_config())


def test_conv_transpose_errors():
    with pytest.raises(ValueError, match=r"`output_padding`.*axis 0 has output_padding=2, "
                                         r"strides=2"):
        gl.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match=r"`padding`.*received padding='causal'"):
        gl.Conv1DTranspose(2, 3, padding="causal")
    layer = gl.Conv2DTranspose(2, 3)
    layer(torch.randn(1, 4, 4, 3))
    with pytest.raises(ValueError, match=r"wrong number of channels"):
        layer(torch.randn(1, 4, 4, 2))


# ---------------------------------------------------------------- depthwise and separable

@pytest.mark.parametrize("kind", ["Depthwise", "Separable"])
@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("padding,strides,dilation", [("valid", 1, 1), ("same", 2, 1),
                                                      ("same", 1, 2), ("valid", 3, 1)])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_depthwise_and_separable_equal_keras(kind, rank, padding, strides, dilation,
                                             data_format):
    name = f"{kind}Conv{rank}D"
    kw = dict(kernel_size=3, strides=strides, padding=padding, dilation_rate=dilation,
              depth_multiplier=2, data_format=data_format, bias_initializer="random_normal",
              activation="relu")
    if kind == "Separable":
        kw["filters"] = 5
    k, g = getattr(keras.layers, name)(**kw), getattr(gl, name)(**kw)
    _check_equal(k, g, _input(rank, data_format))
    assert set(k.get_config()) <= set(g.get_config())


def test_regularizers_add_keras_penalties():
    k = keras.layers.Conv2D(3, 2, kernel_regularizer=keras.regularizers.L2(0.1),
                            bias_regularizer=keras.regularizers.L1(0.2),
                            bias_initializer="random_normal")
    g = gl.Conv2D(3, 2, kernel_regularizer="l2", bias_regularizer="l1")
    g.kernel_regularizer.l2, g.bias_regularizer.l1 = 0.1, 0.2
    x = _input(2, "channels_last")
    k(x)
    g.build(x.shape)
    g.set_weights(k.get_weights())
    ours = sum(float(p.detach()) for p in g.regularization_losses())
    assert len(k.losses) == 2
    assert ours == pytest.approx(sum(float(_np(v)) for v in k.losses), rel=1e-5)
