"""Pooling layers against Keras 3 (torch backend) and, for uneven 'same' average windows,
against NumPy written here (TensorFlow's meaning: padded inputs are not counted)."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras (Keras 3) is not installed")

import gated.layers as gl  # noqa: E402
from gated.layers.conv_utils import same_padding  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.skip(f"keras runs the {keras.backend.backend()!r} backend, these tests need torch",
                allow_module_level=True)

TOL = 1e-5
SHAPES = {1: (2, 11, 3), 2: (2, 9, 8, 3), 3: (2, 7, 6, 5, 3)}


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else \
        keras.ops.convert_to_numpy(t)


def _input(rank: int, data_format: str, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(SHAPES[rank]).astype("float32")
    return np.moveaxis(x, -1, 1).copy() if data_format == "channels_first" else x


def _symmetric(x: np.ndarray, data_format: str, pool: int, strides: int | None) -> bool:
    spatial = x.shape[1:-1] if data_format == "channels_last" else x.shape[2:]
    return all(a == b for a, b in (same_padding(n, pool, strides or pool) for n in spatial))


def _numpy_avg_pool_same(x: np.ndarray, pool: int, strides: int) -> np.ndarray:
    """Channels-last average pooling, 'same', each window over its real inputs only."""
    spatial = x.shape[1:-1]
    pads = [same_padding(n, pool, strides) for n in spatial]
    outs = [-(-n // strides) for n in spatial]
    y = np.zeros((x.shape[0], *outs, x.shape[-1]), dtype=np.float64)
    for index in itertools.product(*(range(o) for o in outs)):
        window = tuple(
            slice(max(i * strides - before, 0), min(i * strides - before + pool, n))
            for i, (before, _), n in zip(index, pads, spatial, strict=True))
        y[(slice(None), *index)] = x[(slice(None), *window)].mean(
            axis=tuple(range(1, x.ndim - 1)))
    return y


POOL_CASES = [(2, None), (3, 1), (3, 2), (2, 1), (3, None)]


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", ["Max", "Average"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("pool,strides", POOL_CASES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_pooling_equals_keras(rank, mode, padding, pool, strides, data_format):
    name = f"{mode}Pooling{rank}D"
    kw = dict(pool_size=pool, strides=strides, padding=padding, data_format=data_format)
    x = _input(rank, data_format)
    k, g = getattr(keras.layers, name)(**kw), getattr(gl, name)(**kw)
    y = _np(g(torch.as_tensor(x)))
    assert tuple(g.compute_output_shape(x.shape)) == tuple(k.compute_output_shape(x.shape))
    kc, gc = k.get_config(), g.get_config()
    assert set(kc) <= set(gc)
    assert [tuple(gc[a]) for a in ("pool_size", "strides")] == \
        [tuple(kc[a]) for a in ("pool_size", "strides")]
    if mode == "Average" and padding == "same" and not _symmetric(x, data_format, pool,
                                                                    strides):
        # Keras 3.15's torch backend replicates the edge here (counting copies of it); the
        # meaning Keras documents and TF/JAX compute excludes padding: check that instead.
        cl = x if data_format == "channels_last" else np.moveaxis(x, 1, -1)
        truth = _numpy_avg_pool_same(cl.astype(np.float64), pool, strides or pool)
        if data_format == "channels_first":
            truth = np.moveaxis(truth, -1, 1)
        np.testing.assert_allclose(y, truth, atol=TOL, rtol=0)
        return
    np.testing.assert_allclose(y, _np(k(x)), atol=TOL, rtol=0)


def test_uneven_same_average_excludes_padding_by_hand():
    # length 4, window 3, stride 2: windows [x0 x1 x2] and [x2 x3 (pad)]
    x = torch.tensor([1.0, 2.0, 3.0, 10.0]).reshape(1, 4, 1)
    y = gl.AveragePooling1D(3, strides=2, padding="same")(x)
    torch.testing.assert_close(y.reshape(-1), torch.tensor([2.0, 6.5]))


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", ["Max", "Average"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_equals_keras(rank, mode, data_format, keepdims):
    name = f"Global{mode}Pooling{rank}D"
    x = _input(rank, data_format, seed=2)
    k = getattr(keras.layers, name)(data_format=data_format, keepdims=keepdims)
    g = getattr(gl, name)(data_format=data_format, keepdims=keepdims)
    y = _np(g(torch.as_tensor(x)))
    assert tuple(g.compute_output_shape(x.shape)) == tuple(k.compute_output_shape(x.shape))
    np.testing.assert_allclose(y, _np(k(x)), atol=TOL, rtol=0)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_average_pooling1d_mask_equals_keras(data_format):
    x = _input(1, data_format, seed=3)
    mask = np.random.default_rng(3).random((2, 11)) > 0.4
    k = keras.layers.GlobalAveragePooling1D(data_format=data_format)
    g = gl.GlobalAveragePooling1D(data_format=data_format)
    y = _np(g(torch.as_tensor(x), mask=torch.as_tensor(mask)))
    np.testing.assert_allclose(y, _np(k(x, mask=mask)), atol=TOL, rtol=0)


def test_global_average_pooling1d_takes_the_embedding_mask():
    ids = np.array([[3, 1, 0, 0], [2, 2, 2, 5]])
    emb_k = keras.layers.Embedding(6, 3, mask_zero=True)
    emb_g = gl.Embedding(6, 3, mask_zero=True)
    yk = _np(keras.layers.GlobalAveragePooling1D()(emb_k(ids)))
    emb_g.build((None, 4))
    emb_g.set_weights(emb_k.get_weights())
    yg = _np(gl.GlobalAveragePooling1D()(emb_g(ids)))
    np.testing.assert_allclose(yg, yk, atol=TOL, rtol=0)


def test_pooling_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"`padding`.*received padding='causal'"):
        gl.MaxPooling1D(padding="causal")
    with pytest.raises(ValueError, match=r"`data_format`.*received data_format='last'"):
        gl.AveragePooling2D(data_format="last")
    with pytest.raises(ValueError, match=r"`pool_size`.*tuple of 3 integers"):
        gl.MaxPooling3D(pool_size=(2, 2))
    with pytest.raises(ValueError, match=r"expected ndim=4"):
        gl.MaxPooling2D()(torch.randn(2, 8, 3))
    with pytest.raises(ValueError, match=r"smaller than its pool window with padding='valid'"):
        gl.MaxPooling2D((3, 3))(torch.randn(1, 2, 5, 1))
    with pytest.raises(ValueError, match=r"expected ndim=5"):
        gl.GlobalAveragePooling3D()(torch.randn(2, 4, 4, 3))
    with pytest.raises(ValueError, match=r"`mask`.*\(batch, steps\)"):
        gl.GlobalAveragePooling1D()(torch.randn(2, 5, 3), mask=torch.ones(2, 4, dtype=bool))


def test_uneven_same_average_and_masked_mean_gradcheck():
    """The two paths written here (not a single torch op) against finite differences."""
    pool = gl.AveragePooling2D(3, strides=2, padding="same", dtype="float64")
    x = torch.randn(1, 4, 5, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: pool(t), (x,))
    gap = gl.GlobalAveragePooling1D(dtype="float64")
    mask = torch.tensor([[True, False, True, True]])
    x1 = torch.randn(1, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: gap(t, mask=mask), (x1,))
