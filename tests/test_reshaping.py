"""UpSampling, ZeroPadding, Cropping and SpatialDropout against Keras 3 (torch backend)."""

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

CF = "channels_first"
CASES = [
    ("UpSampling1D", dict(size=3), (2, 5, 3)),
    ("UpSampling2D", dict(size=(2, 3)), (2, 4, 5, 3)),
    ("UpSampling2D", dict(size=(2, 3), interpolation="bilinear"), (2, 4, 5, 3)),
    ("UpSampling2D", dict(size=2, interpolation="bilinear", data_format=CF), (2, 3, 4, 5)),
    ("UpSampling2D", dict(size=2, interpolation="bicubic"), (2, 4, 5, 3)),
    ("UpSampling2D", dict(size=(1, 2), data_format=CF), (2, 3, 4, 5)),
    ("UpSampling3D", dict(size=(1, 2, 3)), (2, 3, 4, 5, 2)),
    ("ZeroPadding1D", dict(padding=(2, 1)), (2, 5, 3)),
    ("ZeroPadding1D", dict(padding=2, data_format=CF), (2, 5, 3)),
    ("ZeroPadding2D", dict(), (2, 4, 5, 3)),
    ("ZeroPadding2D", dict(padding=((1, 2), (0, 3))), (2, 4, 5, 3)),
    ("ZeroPadding2D", dict(padding=(1, 2), data_format=CF), (2, 3, 4, 5)),
    ("ZeroPadding3D", dict(padding=1), (2, 3, 4, 5, 2)),
    ("Cropping1D", dict(), (2, 5, 3)),
    ("Cropping1D", dict(cropping=(0, 2)), (2, 5, 3)),
    ("Cropping2D", dict(cropping=((1, 0), (2, 1))), (2, 4, 5, 3)),
    ("Cropping2D", dict(cropping=1, data_format=CF), (2, 3, 4, 5)),
    ("Cropping3D", dict(cropping=1), (2, 3, 4, 5, 2)),
]


@pytest.mark.parametrize("name,kwargs,shape", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_reshaping_equals_keras(name, kwargs, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    k, g = getattr(keras.layers, name)(**kwargs), getattr(gl, name)(**kwargs)
    y = g(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(y, keras.ops.convert_to_numpy(k(x)), atol=1e-5, rtol=0)
    assert tuple(g.compute_output_shape(shape)) == tuple(k.compute_output_shape(shape))
    assert set(k.get_config()) <= set(g.get_config())
    clone = type(g).from_config(g.get_config())
    np.testing.assert_array_equal(clone(torch.as_tensor(x)).numpy(), y)


@pytest.mark.parametrize("name,data_format,shape,kept_axes", [
    ("SpatialDropout1D", None, (4, 20, 16), (0, 2)),
    ("SpatialDropout2D", "channels_last", (4, 6, 7, 16), (0, 3)),
    ("SpatialDropout2D", CF, (4, 16, 6, 7), (0, 1)),
    ("SpatialDropout3D", "channels_last", (4, 3, 4, 5, 16), (0, 4)),
])
def test_spatial_dropout_drops_whole_channels(name, data_format, shape, kept_axes):
    kwargs = {} if data_format is None else {"data_format": data_format}
    layer = getattr(gl, name)(0.5, seed=1, **kwargs)
    x = torch.ones(shape)
    torch.testing.assert_close(layer(x), x)  # inference: identity
    y = layer(x, training=True)
    values = set(np.unique(y.numpy()).tolist())
    assert values == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - rate)
    reduce = tuple(a for a in range(len(shape)) if a not in kept_axes)
    per_channel = y.amin(dim=reduce) == y.amax(dim=reduce)  # one decision per (sample, channel)
    assert bool(per_channel.all())
    config = layer.get_config()
    assert set(getattr(keras.layers, name)(0.5, **kwargs).get_config()) <= set(config)
    assert type(layer).from_config(config).rate == 0.5


def test_reshaping_errors():
    with pytest.raises(ValueError, match=r"`cropping`.*spatial axis 0 has size 4"):
        gl.Cropping2D(((2, 2), (0, 0)))(torch.randn(1, 4, 5, 3))
    with pytest.raises(ValueError, match=r"`interpolation`.*received interpolation='area'"):
        gl.UpSampling2D(interpolation="area")
    with pytest.raises(ValueError, match=r"`padding`.*tuple of 2 ints"):
        gl.ZeroPadding2D(padding=(1, 2, 3))
    with pytest.raises(ValueError, match=r"`data_format`.*'NCHW'"):
        gl.ZeroPadding2D(data_format="NCHW")
    with pytest.raises(ValueError, match=r"expected ndim=3"):
        gl.UpSampling1D()(torch.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"`size`.*positive"):
        gl.UpSampling1D(0)
