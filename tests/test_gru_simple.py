"""Standard cells against implementations nobody here wrote, with converted weights.

- `GRU(reset_after=True)` and `LSTM` (plain, stacked, bidirectional, `proj_size`) against
  `torch.nn.GRU` / `torch.nn.LSTM`: outputs, final states, input and weight gradients.
- `GRU(reset_after=False)` (Cho et al. 2014, reset before the recurrent product) and
  `SimpleRNN` against NumPy implementations written here; gradients by the complex-step method
  (exact to rounding, see test_lstm_variants.py).
- Parameter counts against Keras' formulas.

Layout conversion (Keras -> PyTorch): kernels are transposed; GRU blocks z, r, h become
r, z, n and the bias rows 0 / 1 become `bias_ih` / `bias_hh`; LSTM blocks i, f, c, o are
PyTorch's i, f, g, o, the single bias goes to `bias_ih` and `bias_hh` is zero.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from complex_step import complex_step_grad

from gated.cells import LSTMCell
from gated.layers import GRU, LSTM, RNN, Bidirectional, Dense, Embedding, SimpleRNN

B, T, D, U = 3, 5, 4, 6
TOLS = {torch.float32: 1e-5, torch.float64: 1e-10}
DTYPES = [torch.float32, torch.float64]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _randomize(module: torch.nn.Module, seed: int, scale: float = 0.4) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=torch.float64))


def _inputs(dtype: torch.dtype, seed: int, features: int = D, batch: int = B):
    g = torch.Generator().manual_seed(seed + 100)
    x = torch.randn(batch, T, features, generator=g, dtype=torch.float64).to(dtype)
    return x.requires_grad_(True)


def _close(got: torch.Tensor, want: torch.Tensor, dtype: torch.dtype, what: str = "") -> None:
    tol = TOLS[dtype]
    torch.testing.assert_close(got, want, rtol=tol, atol=tol, msg=lambda m: f"{what}: {m}")


def _cotangent(t: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(t.shape, generator=g, dtype=torch.float64).to(t.dtype)


def _loss(tensors: list[torch.Tensor]) -> torch.Tensor:
    return sum((_cotangent(t, 7 + k) * t).sum() for k, t in enumerate(tensors))


# ----------------------------------------------------------------------------- conversions
def gru_to_torch(weights: list[np.ndarray], u: int) -> dict[str, torch.Tensor]:
    kernel, recurrent, bias = weights

    def zrh_to_rzn(a: np.ndarray) -> np.ndarray:  # blocks on the last axis
        z, r, h = np.split(a, 3, axis=-1)
        return np.concatenate([r, z, h], axis=-1)

    as_t = torch.from_numpy
    return {
        "weight_ih_l0": as_t(zrh_to_rzn(kernel).T.copy()),
        "weight_hh_l0": as_t(zrh_to_rzn(recurrent).T.copy()),
        "bias_ih_l0": as_t(zrh_to_rzn(bias[0]).copy()),
        "bias_hh_l0": as_t(zrh_to_rzn(bias[1]).copy()),
    }


def gru_grads_from_torch(ref: torch.nn.GRU) -> list[np.ndarray]:
    """PyTorch GRU gradients back into Keras layout (r, z, n -> z, r, h)."""

    def rzn_to_zrh(a: np.ndarray) -> np.ndarray:
        r, z, n = np.split(a, 3, axis=0)
        return np.concatenate([z, r, n], axis=0)

    g = {n: p.grad.numpy() for n, p in ref.named_parameters()}
    return [rzn_to_zrh(g["weight_ih_l0"]).T, rzn_to_zrh(g["weight_hh_l0"]).T,
            np.stack([rzn_to_zrh(g["bias_ih_l0"]), rzn_to_zrh(g["bias_hh_l0"])])]


def lstm_to_torch(weights: list[np.ndarray], suffix: str = "_l0") -> dict[str, torch.Tensor]:
    kernel, recurrent, bias = weights[:3]
    out = {
        f"weight_ih{suffix}": torch.from_numpy(kernel.T.copy()),
        f"weight_hh{suffix}": torch.from_numpy(recurrent.T.copy()),
        f"bias_ih{suffix}": torch.from_numpy(bias.copy()),
        f"bias_hh{suffix}": torch.zeros(bias.shape, dtype=torch.from_numpy(bias).dtype),
    }
    if len(weights) == 4:  # projection_kernel (units, proj) -> weight_hr (proj, units)
        out[f"weight_hr{suffix}"] = torch.from_numpy(weights[3].T.copy())
    return out


def lstm_grads_from_torch(ref: torch.nn.LSTM, suffix: str = "_l0") -> list[np.ndarray]:
    g = {n: p.grad.numpy() for n, p in ref.named_parameters()}
    out = [g[f"weight_ih{suffix}"].T, g[f"weight_hh{suffix}"].T, g[f"bias_ih{suffix}"]]
    if f"weight_hr{suffix}" in g:
        out.append(g[f"weight_hr{suffix}"].T)
    return out


def _load(ref: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    params = dict(ref.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)


def _check_grads(layer: torch.nn.Module, want: list[np.ndarray], dtype: torch.dtype) -> None:
    got = [p.grad for p in layer.parameters()]
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        _close(g, torch.from_numpy(np.ascontiguousarray(w)), dtype, f"weight {k}")


# ----------------------------------------------------------------------------- GRU vs nn.GRU
@pytest.mark.parametrize("dtype", DTYPES, ids=_dtype_name)
def test_gru_reset_after_equals_torch_gru(dtype):
    layer = GRU(U, return_sequences=True, return_state=True, dtype=_dtype_name(dtype))
    x = _inputs(dtype, 1)
    layer(x)
    _randomize(layer, 1)
    ref = torch.nn.GRU(D, U, batch_first=True, dtype=dtype)
    _load(ref, gru_to_torch(layer.get_weights(), U))
    h0 = _cotangent(torch.empty(B, U, dtype=dtype), 3).requires_grad_(True)

    out, h = layer(x, initial_state=[h0])
    _loss([out, h]).backward()
    gx, gh0 = x.grad.clone(), h0.grad.clone()
    x.grad = h0.grad = None
    want_out, want_h = ref(x, h0[None])
    _loss([want_out, want_h[0]]).backward()

    _close(out, want_out, dtype, "outputs")
    _close(h, want_h[0], dtype, "final state")
    _close(gx, x.grad, dtype, "d x")
    _close(gh0, h0.grad, dtype, "d h0")
    _check_grads(layer, gru_grads_from_torch(ref), dtype)


# ----------------------------------------------------------------------------- LSTM vs nn.LSTM
@pytest.mark.parametrize("dtype", DTYPES, ids=_dtype_name)
@pytest.mark.parametrize("proj", [0, 3], ids=["plain", "proj"])
def test_lstm_equals_torch_lstm(dtype, proj):
    layer = LSTM(U, proj_size=proj, return_sequences=True, return_state=True,
                 dtype=_dtype_name(dtype))
    x = _inputs(dtype, 2)
    layer(x)
    _randomize(layer, 2)
    ref = torch.nn.LSTM(D, U, batch_first=True, proj_size=proj, dtype=dtype)
    _load(ref, lstm_to_torch(layer.get_weights()))
    h0 = _cotangent(torch.empty(B, proj or U, dtype=dtype), 3).requires_grad_(True)
    c0 = _cotangent(torch.empty(B, U, dtype=dtype), 4).requires_grad_(True)

    out, h, c = layer(x, initial_state=[h0, c0])
    _loss([out, h, c]).backward()
    grads = [t.grad.clone() for t in (x, h0, c0)]
    for t in (x, h0, c0):
        t.grad = None
    want_out, (want_h, want_c) = ref(x, (h0[None], c0[None]))
    _loss([want_out, want_h[0], want_c[0]]).backward()

    _close(out, want_out, dtype, "outputs")
    _close(h, want_h[0], dtype, "h")
    _close(c, want_c[0], dtype, "c")
    for g, t, name in zip(grads, (x, h0, c0), ("x", "h0", "c0"), strict=True):
        _close(g, t.grad, dtype, f"d {name}")
    _check_grads(layer, lstm_grads_from_torch(ref), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=_dtype_name)
def test_stacked_lstm_equals_two_layer_torch_lstm(dtype):
    name = _dtype_name(dtype)
    first = LSTM(U, return_sequences=True, return_state=True, dtype=name)
    second = LSTM(U, return_sequences=True, return_state=True, dtype=name)
    stacked = RNN([LSTMCell(U, dtype=name), LSTMCell(U, dtype=name)], return_sequences=True,
                  return_state=True, dtype=name)
    x = _inputs(dtype, 3)
    second(first(x)[0])
    stacked(x)
    _randomize(first, 31)
    _randomize(second, 32)
    stacked.set_weights(first.get_weights() + second.get_weights())
    ref = torch.nn.LSTM(D, U, num_layers=2, batch_first=True, dtype=dtype)
    _load(ref, {**lstm_to_torch(first.get_weights(), "_l0"),
                **lstm_to_torch(second.get_weights(), "_l1")})
    want_out, (want_h, want_c) = ref(x)
    _loss([want_out, want_h, want_c]).backward()
    want_gx = x.grad.clone()
    want_w = lstm_grads_from_torch(ref, "_l0") + lstm_grads_from_torch(ref, "_l1")

    # two layers
    x.grad = None
    y1, h1, c1 = first(x)
    y2, h2, c2 = second(y1)
    _close(y2, want_out, dtype, "outputs")
    _loss([y2, torch.stack([h1, h2]), torch.stack([c1, c2])]).backward()
    _close(x.grad, want_gx, dtype, "d x")
    _check_grads(first, want_w[:3], dtype)
    _check_grads(second, want_w[3:], dtype)

    # one RNN over StackedRNNCells: states are [h0, c0, h1, c1]
    x.grad = None
    out, sh1, sc1, sh2, sc2 = stacked(x)
    _close(out, want_out, dtype, "stacked outputs")
    for got, want in ((sh1, want_h[0]), (sc1, want_c[0]), (sh2, want_h[1]), (sc2, want_c[1])):
        _close(got, want, dtype, "stacked states")
    _loss([out, torch.stack([sh1, sh2]), torch.stack([sc1, sc2])]).backward()
    _close(x.grad, want_gx, dtype, "stacked d x")
    _check_grads(stacked, want_w, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=_dtype_name)
def test_bidirectional_lstm_equals_torch_bidirectional(dtype):
    layer = Bidirectional(LSTM(U, return_sequences=True, return_state=True,
                               dtype=_dtype_name(dtype)))
    x = _inputs(dtype, 4)
    layer(x)
    _randomize(layer, 4)
    weights = layer.get_weights()
    ref = torch.nn.LSTM(D, U, batch_first=True, bidirectional=True, dtype=dtype)
    _load(ref, {**lstm_to_torch(weights[:3], "_l0"), **lstm_to_torch(weights[3:], "_l0_reverse")})

    out, h_fw, c_fw, h_bw, c_bw = layer(x)
    assert out.shape == (B, T, 2 * U)
    _loss([out, torch.stack([h_fw, h_bw]), torch.stack([c_fw, c_bw])]).backward()
    gx = x.grad.clone()
    x.grad = None
    want_out, (want_h, want_c) = ref(x)
    _loss([want_out, want_h, want_c]).backward()

    _close(out, want_out, dtype, "outputs")
    for got, want in ((h_fw, want_h[0]), (c_fw, want_c[0]), (h_bw, want_h[1]),
                      (c_bw, want_c[1])):
        _close(got, want, dtype, "states")
    _close(gx, x.grad, dtype, "d x")
    _check_grads(layer, lstm_grads_from_torch(ref, "_l0")
                 + lstm_grads_from_torch(ref, "_l0_reverse"), dtype)


# ----------------------------------------------------------------------------- NumPy references
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_gru_reset_before(w: list, x, h):
    """Cho et al. 2014 with Keras' blocks z, r, h and one bias (reset_after=False)."""
    kernel, recurrent, bias = w
    u = recurrent.shape[-2]

    def blk(a, k):
        return a[..., k * u:(k + 1) * u]

    ys = []
    for t in range(x.shape[-2]):
        xz = x[..., t, :] @ kernel + bias[..., None, :]
        z = sigmoid(blk(xz, 0) + h @ blk(recurrent, 0))
        r = sigmoid(blk(xz, 1) + h @ blk(recurrent, 1))
        candidate = np.tanh(blk(xz, 2) + (r * h) @ blk(recurrent, 2))
        h = z * h + (1.0 - z) * candidate
        ys.append(h)
    return np.stack(ys, axis=-2), h


def numpy_simple_rnn(w: list, x, h, activation=np.tanh):
    kernel, recurrent, bias = w
    ys = []
    for t in range(x.shape[-2]):
        h = activation(x[..., t, :] @ kernel + h @ recurrent + bias[..., None, :])
        ys.append(h)
    return np.stack(ys, axis=-2), h


NUMPY_CASES = {
    "gru_reset_before": (lambda **kw: GRU(U, reset_after=False, **kw), numpy_gru_reset_before),
    "simple_rnn": (lambda **kw: SimpleRNN(U, **kw), numpy_simple_rnn),
}


@pytest.mark.parametrize("case", list(NUMPY_CASES))
def test_equals_numpy_with_gradients(case):
    make, numpy_fn = NUMPY_CASES[case]
    layer = make(return_sequences=True, return_state=True, dtype="float64")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((B, T, D))
    h0 = 0.5 * rng.standard_normal((B, U))
    layer(x)
    weights = [0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    gy, gh = rng.standard_normal((B, T, U)), rng.standard_normal((B, U))

    xt, ht = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    out, h = layer(xt, initial_state=[ht])
    want_out, want_h = numpy_fn(weights, x, h0)
    np.testing.assert_allclose(out.detach().numpy(), want_out, rtol=0, atol=1e-10)
    np.testing.assert_allclose(h.detach().numpy(), want_h, rtol=0, atol=1e-10)

    ((torch.from_numpy(gy) * out).sum() + (torch.from_numpy(gh) * h).sum()).backward()

    def loss(x_, h_, *w):
        ys, hf = numpy_fn(list(w), x_, h_)
        return (gy * ys).sum(axis=(-3, -2, -1)) + (gh * hf).sum(axis=(-2, -1))

    want = complex_step_grad(loss, [x, h0, *weights])
    got = [xt.grad, ht.grad, *(p.grad for p in layer.parameters())]
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-10, atol=1e-10, err_msg=f"input {k}")


def test_simple_rnn_relu_equals_numpy():
    layer = SimpleRNN(U, activation="relu", return_sequences=True, dtype="float64")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((B, T, D))
    layer(x)
    weights = [0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    want, _ = numpy_simple_rnn(weights, x, np.zeros((B, U)), lambda v: np.maximum(v, 0.0))
    np.testing.assert_allclose(layer(x).detach().numpy(), want, rtol=0, atol=1e-10)


def test_simple_rnn_equals_torch_rnn():
    layer = SimpleRNN(U, return_sequences=True, dtype="float64")
    x = _inputs(torch.float64, 7)
    layer(x)
    _randomize(layer, 7)
    kernel, recurrent, bias = layer.get_weights()
    ref = torch.nn.RNN(D, U, batch_first=True, dtype=torch.float64)
    _load(ref, {"weight_ih_l0": torch.from_numpy(kernel.T.copy()),
                "weight_hh_l0": torch.from_numpy(recurrent.T.copy()),
                "bias_ih_l0": torch.from_numpy(bias), "bias_hh_l0": torch.zeros(U,
                                                                              dtype=torch.float64)})
    _close(layer(x), ref(x)[0], torch.float64, "outputs")


# ----------------------------------------------------------------------------- parameter counts
def _count(layer, shape) -> int:
    layer(torch.zeros(2, *shape) if not isinstance(layer, Embedding)
          else torch.zeros(2, *shape, dtype=torch.long))
    return layer.count_params()


@pytest.mark.parametrize(("units", "features"), [(1, 1), (5, 3), (50, 1), (32, 17)])
def test_parameter_counts_follow_keras(units, features):
    u, n = units, features
    assert _count(LSTM(u), (T, n)) == 4 * (u * (n + u) + u)
    assert _count(GRU(u), (T, n)) == 3 * (u * (n + u) + 2 * u)
    assert _count(GRU(u, reset_after=False), (T, n)) == 3 * (u * (n + u) + u)
    assert _count(SimpleRNN(u), (T, n)) == u * (n + u) + u
    assert _count(Bidirectional(LSTM(u)), (T, n)) == 2 * 4 * (u * (n + u) + u)
    assert _count(Bidirectional(GRU(u)), (T, n)) == 2 * 3 * (u * (n + u) + 2 * u)
    assert _count(Dense(u), (n,)) == n * u + u
    assert _count(Dense(u, use_bias=False), (n,)) == n * u
    assert _count(Embedding(n + 10, u), (T,)) == (n + 10) * u
    assert _count(LSTM(u, use_bias=False), (T, n)) == 4 * u * (n + u)


def test_known_keras_summary_numbers():
    # Classic Keras examples: LSTM(50) on 1 feature has 10,400; LSTM(128) on 128 has 131,584.
    assert _count(LSTM(50), (T, 1)) == 10_400
    assert _count(LSTM(128), (T, 128)) == 131_584
    assert _count(GRU(64), (T, 32)) == 18_816
    assert _count(GRU(64, reset_after=False), (T, 32)) == 18_624
    assert _count(SimpleRNN(32), (T, 32)) == 2_080
