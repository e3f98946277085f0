"""gated.ops against NumPy (and against keras.ops where Keras is installed)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

from gated import ops

RNG = np.random.default_rng(0)
A = RNG.normal(size=(3, 4)).astype("float32")
B = RNG.normal(size=(3, 4)).astype("float32")
POS = np.abs(A) + 0.5
I = RNG.integers(-5, 6, size=(3, 4)).astype("int32")


def close(got, want, atol=1e-5):
    got = ops.convert_to_numpy(got)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=atol)
    assert got.shape == np.shape(want)


UNARY = {
    "abs": np.abs, "negative": np.negative, "sign": np.sign, "square": np.square,
    "exp": np.exp, "tanh": np.tanh, "sin": np.sin, "cos": np.cos, "floor": np.floor,
    "ceil": np.ceil, "arctan": np.arctan, "expm1": np.expm1, "sinh": np.sinh,
}
UNARY_POS = {"sqrt": np.sqrt, "log": np.log, "log1p": np.log1p, "log2": np.log2,
             "log10": np.log10, "reciprocal": np.reciprocal,
             "rsqrt": lambda x: 1 / np.sqrt(x)}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops_equal_numpy(name):
    close(getattr(ops, name)(A), UNARY[name](A))


@pytest.mark.parametrize("name", sorted(UNARY_POS))
def test_unary_ops_on_positive_inputs_equal_numpy(name):
    close(getattr(ops, name)(POS), UNARY_POS[name](POS))


BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "maximum": np.maximum, "minimum": np.minimum, "arctan2": np.arctan2,
    "logaddexp": np.logaddexp, "equal": np.equal, "not_equal": np.not_equal,
    "greater": np.greater, "less": np.less, "greater_equal": np.greater_equal,
    "less_equal": np.less_equal,
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_broadcast_like_numpy(name):
    close(getattr(ops, name)(A, B[:1]), BINARY[name](A, B[:1]))


def test_power_mod_floor_divide_on_integers():
    close(ops.power(POS, 1.5), np.power(POS, 1.5))
    j = np.where(I == 0, 3, I)
    close(ops.mod(I, j), np.mod(I, j))
    close(ops.floor_divide(I, j), np.floor_divide(I, j))
    assert ops.divide(I, j).dtype == torch.float32


def test_logical_ops():
    p, q = A > 0, B > 0
    close(ops.logical_and(p, q), p & q)
    close(ops.logical_or(p, q), p | q)
    close(ops.logical_xor(p, q), p ^ q)
    close(ops.logical_not(p), ~p)


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "std", "var", "prod"])
def test_reductions_follow_numpy_axis_and_keepdims(name, axis, keepdims):
    close(getattr(ops, name)(A, axis=axis, keepdims=keepdims),
          getattr(np, name)(A, axis=axis, keepdims=keepdims))


def test_all_any_count_nonzero_arg_reductions():
    m = A > 0
    close(ops.all(m, axis=1), np.all(m, axis=1))
    close(ops.any(m, axis=0, keepdims=True), np.any(m, axis=0, keepdims=True))
    close(ops.count_nonzero(I, axis=1), np.count_nonzero(I, axis=1))
    for axis in (None, 0, 1):
        close(ops.argmax(A, axis=axis), np.argmax(A, axis=axis))
        close(ops.argmin(A, axis=axis), np.argmin(A, axis=axis))
    assert ops.argmax(A).dtype == torch.int32
    close(ops.argmax(A, axis=1, keepdims=True), np.argmax(A, axis=1, keepdims=True))


def test_cumulative_and_clip_and_round():
    close(ops.cumsum(A, axis=1), np.cumsum(A, axis=1))
    close(ops.cumsum(A), np.cumsum(A))
    close(ops.cumprod(A, axis=0), np.cumprod(A, axis=0))
    close(ops.clip(A, -0.5, 0.5), np.clip(A, -0.5, 0.5))
    close(ops.round(A * 10, 1), np.round(A * 10, 1), atol=1e-4)
    close(ops.round([0.5, 1.5, 2.5]), [0.0, 2.0, 2.0])


def test_dtype_rules_follow_keras():
    assert ops.convert_to_tensor([1, 2]).dtype == torch.int32
    assert ops.convert_to_tensor([1.0, 2]).dtype == torch.float32
    assert ops.convert_to_tensor(np.zeros(2)).dtype == torch.float64
    assert ops.cast([1.7, -1.7], "int32").tolist() == [1, -1]
    assert ops.zeros((2,)).dtype == torch.float32
    assert ops.ones((2,), dtype="int64").dtype == torch.int64
    assert ops.arange(3).dtype == torch.int32
    assert ops.arange(0.0, 1.0, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert ops.dtype(ops.ones(1)) == "float32"
    assert ops.mean([1, 2]).dtype == torch.float32
    with pytest.raises(ValueError, match="dtype"):
        ops.cast([1], "float33")


def test_shape_is_a_tuple_and_numpy_round_trips():
    assert ops.shape(A) == (3, 4)
    assert ops.shape(torch.zeros(2, 5)) == (2, 5)
    assert isinstance(ops.shape(ops.ones((1, 2))), tuple)
    out = ops.convert_to_numpy(ops.convert_to_tensor(A))
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, A)


def test_creation_ops_equal_numpy():
    close(ops.eye(3, 4, k=1), np.eye(3, 4, k=1))
    close(ops.eye(3, k=-1), np.eye(3, k=-1))
    close(ops.identity(2), np.identity(2))
    close(ops.full((2, 3), 7), np.full((2, 3), 7))
    close(ops.full_like(A, 2.0), np.full_like(A, 2.0))
    close(ops.zeros_like(I), np.zeros_like(I))
    close(ops.ones_like(A), np.ones_like(A))
    close(ops.linspace(0, 1, 5), np.linspace(0, 1, 5))
    close(ops.linspace(0, 1, 4, endpoint=False), np.linspace(0, 1, 4, endpoint=False))
    close(ops.arange(2, 11, 3), np.arange(2, 11, 3))


def test_shape_manipulation_equals_numpy():
    x = RNG.normal(size=(2, 3, 4)).astype("float32")
    close(ops.reshape(x, (4, -1)), np.reshape(x, (4, -1)))
    close(ops.transpose(x), np.transpose(x))
    close(ops.transpose(x, (1, 0, 2)), np.transpose(x, (1, 0, 2)))
    close(ops.expand_dims(x, 1), np.expand_dims(x, 1))
    close(ops.expand_dims(x, (0, -1)), np.expand_dims(x, (0, -1)))
    close(ops.squeeze(x[:, :1], axis=1), np.squeeze(x[:, :1], axis=1))
    close(ops.squeeze(x[:1, :1]), np.squeeze(x[:1, :1]))
    with pytest.raises(ValueError, match="axis"):
        ops.squeeze(x, axis=0)
    close(ops.concatenate([x, x], axis=-1), np.concatenate([x, x], axis=-1))
    close(ops.concatenate([x, x], axis=None), np.concatenate([x, x], axis=None))
    close(ops.stack([A, B], axis=1), np.stack([A, B], axis=1))
    for got, want in zip(ops.split(x, 2, axis=2), np.split(x, 2, axis=2), strict=True):
        close(got, want)
    for got, want in zip(ops.split(x, [1, 3], axis=2), np.split(x, [1, 3], axis=2), strict=True):
        close(got, want)
    with pytest.raises(ValueError, match="indices_or_sections"):
        ops.split(x, 3, axis=2)
    close(ops.tile(A, (2, 1)), np.tile(A, (2, 1)))
    close(ops.repeat(A, 2, axis=1), np.repeat(A, 2, axis=1))
    close(ops.repeat(A, 2), np.repeat(A, 2))
    close(ops.flip(x, axis=1), np.flip(x, axis=1))
    close(ops.flip(x), np.flip(x))
    close(ops.roll(A, 2, axis=1), np.roll(A, 2, axis=1))
    close(ops.roll(A, 5), np.roll(A, 5))
    close(ops.swapaxes(x, 0, 2), np.swapaxes(x, 0, 2))
    close(ops.moveaxis(x, 0, -1), np.moveaxis(x, 0, -1))
    close(ops.broadcast_to(A[:1], (3, 4)), np.broadcast_to(A[:1], (3, 4)))
    close(ops.ravel(x), np.ravel(x))
    assert ops.ndim(x) == 3 and ops.size(x) == 24


@pytest.mark.parametrize("mode", ["constant", "reflect", "symmetric", "edge"])
def test_pad_modes_equal_numpy(mode):
    width = ((1, 2), (2, 1))
    close(ops.pad(I, width, mode=mode), np.pad(I, width, mode=mode))
    close(ops.pad(A, 1, mode=mode), np.pad(A, 1, mode=mode))
    if mode == "constant":
        close(ops.pad(A, width, constant_values=9.0), np.pad(A, width, constant_values=9.0))


def test_indexing_and_ordering_equal_numpy():
    idx = np.array([[2, 0], [1, 1], [3, 0]])
    close(ops.take(A, idx, axis=1), np.take(A, idx, axis=1))
    close(ops.take(A, [0, 5]), np.take(A, [0, 5]))
    close(ops.take_along_axis(A, idx, axis=1), np.take_along_axis(A, idx, axis=1))
    order = np.argsort(A, axis=0)
    close(ops.take_along_axis(A, order, axis=0), np.take_along_axis(A, order, axis=0))
    close(ops.where(A > 0, A, B), np.where(A > 0, A, B))
    for got, want in zip(ops.where(A > 0), np.where(A > 0), strict=True):
        close(got, want)
    close(ops.sort(A, axis=0), np.sort(A, axis=0))
    close(ops.argsort(A), np.argsort(A, kind="stable"))
    close(ops.tril(A, -1), np.tril(A, -1))
    close(ops.triu(A, 1), np.triu(A, 1))
    close(ops.diag(A[:, :3]), np.diag(A[:, :3]))
    close(ops.trace(A), np.trace(A))
    close(ops.diff(A, axis=0), np.diff(A, axis=0))
    inf = np.array([np.nan, np.inf, -np.inf, 1.0], dtype="float32")
    close(ops.nan_to_num(inf, posinf=5.0, neginf=-5.0),
          np.nan_to_num(inf, posinf=5.0, neginf=-5.0))
    close(ops.isnan(inf), np.isnan(inf))


def test_products_equal_numpy():
    x = RNG.normal(size=(2, 3, 4))
    y = RNG.normal(size=(5, 4, 6))
    close(ops.matmul(A, B.T), A @ B.T, atol=1e-4)
    close(ops.dot(x, y), np.dot(x, y))
    close(ops.dot(A[0], B[0]), np.dot(A[0], B[0]))
    close(ops.dot(A, B[0]), np.dot(A, B[0]))
    close(ops.einsum("ij,kj->ik", A, B), np.einsum("ij,kj->ik", A, B), atol=1e-4)
    close(ops.tensordot(x, y, axes=([2], [1])), np.tensordot(x, y, axes=([2], [1])))
    close(ops.outer(A[0], B[0]), np.outer(A[0], B[0]))


@pytest.mark.parametrize("kw", [{}, {"axis": 1}, {"ord": 1, "axis": 0}, {"ord": "fro"},
                                {"axis": 1, "keepdims": True}, {"ord": np.inf, "axis": 1}])
def test_norm_equals_numpy(kw):
    close(ops.norm(A, **kw), np.linalg.norm(A, **kw))


def test_linalg_equals_numpy():
    m = A[:, :3] @ A[:, :3].T + np.eye(3, dtype="float32")
    close(ops.inv(m), np.linalg.inv(m), atol=1e-4)
    close(ops.det(m), np.linalg.det(m), atol=1e-4)
    close(ops.solve(m, B[:, :2]), np.linalg.solve(m, B[:, :2]), atol=1e-4)
    close(ops.cholesky(m), np.linalg.cholesky(m), atol=1e-5)
    close(ops.svd(A, compute_uv=False), np.linalg.svd(A, compute_uv=False), atol=1e-5)


def _np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_nn_activations_match_formulas():
    sig = 1 / (1 + np.exp(-A))
    close(ops.sigmoid(A), sig)
    close(ops.relu(A), np.maximum(A, 0))
    close(ops.relu6(A * 10), np.clip(A * 10, 0, 6))
    close(ops.silu(A), A * sig)
    close(ops.softplus(A), np.log1p(np.exp(A)))
    close(ops.softsign(A), A / (1 + np.abs(A)))
    close(ops.leaky_relu(A), np.where(A > 0, A, 0.2 * A))
    close(ops.elu(A, alpha=0.5), np.where(A > 0, A, 0.5 * (np.exp(A) - 1)))
    close(ops.hard_sigmoid(A * 4), np.clip(A * 4 + 3, 0, 6) / 6)
    close(ops.log_sigmoid(A), np.log(sig))
    close(ops.softmax(A), _np_softmax(A))
    close(ops.softmax(A, axis=0), _np_softmax(A, axis=0))
    close(ops.log_softmax(A, axis=(0, 1)),
          np.log(np.exp(A) / np.exp(A).sum()), atol=1e-5)
    erf = np.vectorize(math.erf)
    close(ops.gelu(A, approximate=False), 0.5 * A * (1 + erf(A / np.sqrt(2))))
    tanh_form = 0.5 * A * (1 + np.tanh(np.sqrt(2 / np.pi) * (A + 0.044715 * A ** 3)))
    close(ops.gelu(A), tanh_form)
    close(ops.erf(A), erf(A))
    a, b = np.split(A, 2, axis=-1)
    close(ops.glu(A), a / (1 + np.exp(-b)))


def test_one_hot_top_k_logsumexp_moments_normalize():
    labels = np.array([0, 2, 1, 5])
    close(ops.one_hot(labels, 3), np.eye(3, dtype="float32")[[0, 2, 1]].tolist() + [[0, 0, 0]])
    close(ops.one_hot(labels[:2], 3, axis=0), np.eye(3)[[0, 2]].T)
    close(ops.multi_hot([[0, 2], [1, 1]], 3), [[1, 0, 1], [0, 1, 0]])
    values, indices = ops.top_k(A, 2)
    close(indices, np.argsort(-A, axis=-1)[:, :2])
    close(values, -np.sort(-A, axis=-1)[:, :2])
    with pytest.raises(ValueError, match="`k`"):
        ops.top_k(A, 9)
    close(ops.logsumexp(A, axis=1), np.log(np.exp(A).sum(axis=1)))
    mean, var = ops.moments(A, axes=[0])
    close(mean, A.mean(axis=0))
    close(var, A.var(axis=0))
    close(ops.normalize(A), A / np.linalg.norm(A, axis=-1, keepdims=True))
    close(ops.in_top_k([1, 0], [[0.1, 0.9, 0.0], [0.3, 0.5, 0.2]], 1), [True, False])
    close(ops.segment_sum(A, [0, 1, 0], 2), np.stack([A[0] + A[2], A[1]]))
    close(ops.segment_max(A, [0, 1, 0], 2), np.stack([np.maximum(A[0], A[2]), A[1]]))


def test_crossentropies_match_hand_formulas():
    eps = 1e-7
    p = np.clip(_np_softmax(A), eps, 1 - eps)
    y = np.eye(4, dtype="float32")[[1, 3, 0]]
    close(ops.categorical_crossentropy(y, p), -(y * np.log(p)).sum(-1))
    close(ops.categorical_crossentropy(y, A, from_logits=True),
          -(y * np.log(_np_softmax(A))).sum(-1))
    close(ops.sparse_categorical_crossentropy([1, 3, 0], A, from_logits=True),
          -(y * np.log(_np_softmax(A))).sum(-1))
    q, t = 1 / (1 + np.exp(-A)), (B > 0).astype("float32")
    close(ops.binary_crossentropy(t, q), -(t * np.log(q) + (1 - t) * np.log(1 - q)), atol=1e-4)
    close(ops.binary_crossentropy(t, A, from_logits=True),
          -(t * np.log(q) + (1 - t) * np.log(1 - q)), atol=1e-4)


def test_core_slice_scatter_unstack_and_gradients():
    close(ops.slice(A, (1, 1), (2, 2)), A[1:3, 1:3])
    upd = ops.slice_update(A, (0, 2), np.ones((2, 2), "float32"))
    want = A.copy()
    want[0:2, 2:4] = 1
    close(upd, want)
    close(ops.scatter([[0, 1], [2, 3], [0, 1]], [1.0, 2.0, 3.0], (3, 4)),
          [[0, 4, 0, 0], [0, 0, 0, 0], [0, 0, 0, 2]])
    close(ops.scatter_update(np.zeros((2, 2)), [[1, 0]], [5.0]), [[0, 0], [5, 0]])
    parts = ops.unstack(A, axis=1)
    assert len(parts) == 4
    close(parts[2], A[:, 2])
    w = torch.tensor(A, requires_grad=True)
    ops.sum(ops.square(w) + ops.stop_gradient(w)).backward()
    close(w.grad, 2 * A)


def test_dot_product_attention_matches_manual_softmax():
    q = RNG.normal(size=(2, 3, 2, 4)).astype("float32")
    k = RNG.normal(size=(2, 5, 2, 4)).astype("float32")
    v = RNG.normal(size=(2, 5, 2, 4)).astype("float32")
    logits = np.einsum("btnh,bsnh->bnts", q, k) / 2.0
    want = np.einsum("bnts,bsnh->btnh", _np_softmax(logits), v)
    close(ops.dot_product_attention(q, k, v), want, atol=1e-5)


def test_bad_arguments_name_themselves():
    with pytest.raises(TypeError, match="axis"):
        ops.sum(A, axis="1")
    with pytest.raises(ValueError, match="axis"):
        ops.mean(A, axis=3)
    with pytest.raises(ValueError, match="pad_width"):
        ops.pad(A, ((1, 1),) * 3)
    with pytest.raises(ValueError, match="mode"):
        ops.pad(A, 1, mode="wrapx")
    with pytest.raises(TypeError, match="object"):
        ops.convert_to_tensor(np.array([[1], [1, 2]], dtype=object))


def test_the_same_numbers_as_keras_ops():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras runs another backend in this process")
    cases = [
        ("gelu", (A,)), ("leaky_relu", (A,)), ("hard_sigmoid", (A * 4,)), ("elu", (A,)),
        ("softmax", (A,)), ("log_softmax", (A,)), ("silu", (A,)), ("selu", (A,)),
        ("relu6", (A * 10,)), ("logsumexp", (A,)), ("norm", (A,)), ("std", (A,)),
        ("categorical_crossentropy", (np.eye(4, dtype="float32")[[1, 3, 0]], _np_softmax(A))),
        ("binary_crossentropy", ((B > 0).astype("float32"), 1 / (1 + np.exp(-A)))),
        ("one_hot", (np.array([0, 2, 1]), 3)), ("arange", (5,)), ("eye", (3,)),
        ("argmax", (A,)), ("cumsum", (A,)), ("dot", (A, B.T)),
    ]
    for name, args in cases:
        want = keras.ops.convert_to_numpy(getattr(keras.ops, name)(*args))
        got = ops.convert_to_numpy(getattr(ops, name)(*args))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)
        assert got.dtype == want.dtype, name
