"""mLSTM against the paper's equations in NumPy (`xlstm_numpy.py`); its recurrent, parallel
and chunkwise forms against each other; the stabilizer at ±80; NX-AI's reference forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import xlstm_numpy as ref
from complex_step import complex_step_grad

from gated.cells import mLSTMCell
from gated.cells.mlstm import forms
from gated.layers import mLSTM

B, T, F, U, H = 2, 5, 3, 4, 2
D = U // H
#: (form, engine, chunk_size): every way the layer runs a sequence
RUNS = [("recurrent", "reference", 64), ("recurrent", "fused", 64), ("parallel", "auto", 64),
        ("chunkwise", "auto", 2), ("chunkwise", "auto", 3)]
RUN_IDS = [f"{form}-{engine}-{chunk}" for form, engine, chunk in RUNS]


def _layer(run, expo=False, epsilon=1e-6, steps=T):
    form, engine, chunk = run
    torch.manual_seed(0)
    layer = mLSTM(U, num_heads=H, form=form, engine=engine, chunk_size=chunk,
                  forget_gate="exponential" if expo else "sigmoid", epsilon=epsilon,
                  return_sequences=True, return_state=True, dtype="float64")
    layer._maybe_build((None, steps, F))
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return layer


def _states(seed=1):
    gen = torch.Generator().manual_seed(seed)
    h0 = torch.zeros(B, U, dtype=torch.float64)
    c0 = 0.5 * torch.randn(B, H, D, D, generator=gen, dtype=torch.float64)
    n0 = 0.5 * torch.randn(B, H, D, generator=gen, dtype=torch.float64)
    m0 = 0.5 * torch.randn(B, H, generator=gen, dtype=torch.float64)
    return [h0, c0, n0, m0]


def _x(steps=T, seed=2):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(B, steps, F, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("expo", [False, True], ids=["sigmoid", "exponential"])
@pytest.mark.parametrize("run", RUNS, ids=RUN_IDS)
def test_outputs_and_states_equal_the_numpy_equations(run, expo):
    layer = _layer(run, expo)
    x, states = _x(), _states()
    ys, *final = layer(x, initial_state=states)
    want = ref.mlstm(x.numpy(), *[s.numpy() for s in states[1:]],
                     layer.cell.kernel.detach().numpy(), layer.cell.bias.detach().numpy(), H,
                     exp_forget=expo)
    got = [ys, final[0], *final[1:]]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.detach().numpy(), w, rtol=0, atol=1e-9)


@pytest.mark.parametrize("run", RUNS, ids=RUN_IDS)
def test_the_stabilized_forms_equal_the_naive_paper_equations(run):
    """With ε = 0 and moderate pre-activations the paper's unstabilized equations (bound
    max(|nᵀq|, 1)) give the same h; C and n are the naive ones scaled by exp(-m)."""
    layer = _layer(run, epsilon=0.0)
    x = _x()
    ys, _, c, n, m = layer(x)
    zeros = [np.zeros((B, H, D, D)), np.zeros((B, H, D)), np.zeros((B, H))]
    naive = ref.mlstm(x.numpy(), *zeros, layer.cell.kernel.detach().numpy(),
                      layer.cell.bias.detach().numpy(), H, eps=0.0, stabilized=False)
    np.testing.assert_allclose(ys.detach().numpy(), naive[0], rtol=1e-10, atol=1e-12)
    scale = np.exp(m.detach().numpy())
    np.testing.assert_allclose(c.detach().numpy() * scale[..., None, None], naive[2],
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(n.detach().numpy() * scale[..., None], naive[3], rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("expo", [False, True], ids=["sigmoid", "exponential"])
@pytest.mark.parametrize("run", RUNS, ids=RUN_IDS)
def test_gradients_equal_the_complex_step_of_the_numpy_equations(run, expo):
    layer = _layer(run, expo)
    x, states = _x(), _states()
    rng = np.random.default_rng(3)
    w_ys = rng.standard_normal((B, T, U))
    w_c, w_n, w_m = (rng.standard_normal(s) for s in ((B, H, D, D), (B, H, D), (B, H)))

    def loss(x, c, n, m, kernel, bias):
        ys, _, c, n, m = ref.mlstm(x, c, n, m, kernel, bias, H, exp_forget=expo)
        return ((ys * w_ys).sum((-1, -2, -3)) + (c * w_c).sum((-1, -2, -3, -4))
                + (n * w_n).sum((-1, -2, -3)) + (m * w_m).sum((-1, -2)))

    cell = layer.cell
    arrays = [x.numpy(), *[s.numpy() for s in states[1:]], cell.kernel.detach().numpy(),
              cell.bias.detach().numpy()]
    want = complex_step_grad(loss, arrays)
    xt = x.clone().requires_grad_()
    st = [s.clone().requires_grad_() for s in states]
    ys, _, c, n, m = layer(xt, initial_state=st)
    total = ((ys * torch.from_numpy(w_ys)).sum() + (c * torch.from_numpy(w_c)).sum()
             + (n * torch.from_numpy(w_n)).sum() + (m * torch.from_numpy(w_m)).sum())
    got = torch.autograd.grad(total, [xt, *st[1:], cell.kernel, cell.bias])
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-9, atol=1e-10)


def _gates(steps, seed=4, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, steps, 3, generator=gen, dtype=torch.float64)
               for _ in range(3))
    i_raw = scale * torch.randn(B, H, steps, generator=gen, dtype=torch.float64)
    log_f = torch.nn.functional.logsigmoid(
        scale * torch.randn(B, H, steps, generator=gen, dtype=torch.float64) + 2)
    state = (torch.randn(B, H, 3, 3, generator=gen, dtype=torch.float64),
             torch.randn(B, H, 3, generator=gen, dtype=torch.float64),
             torch.randn(B, H, generator=gen, dtype=torch.float64))
    return [t.requires_grad_() for t in (q, k, v, i_raw, log_f, *state)]


@pytest.mark.parametrize("chunk_size", [1, 3, 4, 7, 13, 40])
def test_parallel_chunkwise_and_recurrent_forms_agree_with_gradients(chunk_size):
    """13 steps: chunk sizes that divide it (1, 13), that do not (3, 4, 7), and longer (40)."""
    inputs = _gates(13)
    results = {}
    for name, run in (("recurrent", forms.recurrent), ("parallel", forms.parallel),
                      ("chunkwise", lambda *a: forms.chunkwise(*a, chunk_size=chunk_size))):
        h, state = run(*inputs[:5], tuple(inputs[5:]))
        weights = torch.linspace(-1, 1, h.numel(), dtype=h.dtype).view(h.shape)
        total = (h * weights).sum() + sum((s * (k + 2)).sum() for k, s in enumerate(state))
        results[name] = [h, *state, *torch.autograd.grad(total, inputs)]
    for name in ("parallel", "chunkwise"):
        for got, want in zip(results[name], results["recurrent"], strict=True):
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("input_pre", [80.0, -80.0])
def test_the_stabilizer_keeps_outputs_finite_where_the_naive_formula_overflows(input_pre):
    """ĩ = ±80 and an exponential forget gate with f̃ = 80 at every step: the naive C and n
    grow as exp(80 t) (inf after 9 steps in float64, then inf/inf = nan); every stabilized
    form stays finite and equal to the NumPy stabilized equations."""
    steps = 12
    outs = []
    for run in RUNS:
        layer = _layer(run, expo=True, steps=steps)
        with torch.no_grad():
            layer.cell.kernel.mul_(0.01)
            layer.cell.bias[3 * U:3 * U + H] = input_pre
            layer.cell.bias[3 * U + H:3 * U + 2 * H] = 80.0
        x = _x(steps)
        ys = layer(x)[0].detach()
        assert torch.isfinite(ys).all(), run
        outs.append(ys)
    kernel = layer.cell.kernel.detach().numpy()
    bias = layer.cell.bias.detach().numpy()
    zeros = [np.zeros((B, H, D, D)), np.zeros((B, H, D)), np.zeros((B, H))]
    with np.errstate(over="ignore", invalid="ignore"):
        naive = ref.mlstm(x.numpy(), *zeros, kernel, bias, H, exp_forget=True,
                          stabilized=False)[0]
    assert not np.isfinite(naive).all()
    want = ref.mlstm(x.numpy(), *zeros, kernel, bias, H, exp_forget=True)[0]
    for ys in outs:
        np.testing.assert_allclose(ys.numpy(), want, rtol=1e-9, atol=1e-12)


def test_a_masked_sequence_runs_the_recurrence_and_equals_the_unpadded_one():
    layer = _layer(("chunkwise", "auto", 3), steps=7)
    layer.return_sequences = False
    x = _x(7)
    mask = torch.ones(B, 7, dtype=torch.bool)
    mask[0, 4:] = False
    y_masked = layer(x, mask=mask)[0]
    torch.testing.assert_close(y_masked[0], layer(x[:1, :4])[0][0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(y_masked[1], layer(x[1:])[0][0], rtol=1e-12, atol=1e-12)


def test_stateful_chunkwise_continues_the_sequence():
    x = _x(9)
    whole = _layer(("chunkwise", "auto", 4), steps=9)(x)[0]
    layer = _layer(("chunkwise", "auto", 4), steps=9)
    layer.stateful = True
    parts = torch.cat([layer(x[:, :5])[0], layer(x[:, 5:])[0]], dim=1)
    torch.testing.assert_close(parts, whole, rtol=1e-12, atol=1e-12)


def test_go_backwards_matches_the_recurrent_form():
    x = _x(6)
    got = [_layer((form, "auto", 4), steps=6) for form in ("chunkwise", "recurrent")]
    for layer in got:
        layer.go_backwards = True
    a, b = (layer(x) for layer in got)
    for p, q in zip(a, b, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="form"):
        mLSTM(4, form="fast")
    with pytest.raises(ValueError, match="chunk_size"):
        mLSTM(4, chunk_size=0)
    with pytest.raises(ValueError, match="recurrent_dropout"):
        mLSTMCell(4, recurrent_dropout=0.5)
    with pytest.raises(ValueError, match="divisible by `num_heads`"):
        mLSTMCell(6, num_heads=4)


def test_equals_nxai_reference_forms():
    """NX-AI's `recurrent_step_stabilized_simple` loop and `chunkwise_simple` (length a
    multiple of the chunk) equal ours from the zero state; their `parallel_stabilized_simple`
    has no initial-state term, which is ours started from m_0 = -inf."""
    backends = pytest.importorskip("xlstm.blocks.mlstm.backends")
    steps, dh = 8, 3
    q, k, v, i_raw, log_f, *_ = (t.detach() for t in _gates(steps, seed=5))
    f_raw = torch.log(torch.expm1(-log_f)).neg()        # the pre-activation whose logsigmoid
    c = torch.zeros(B, H, dh, dh, dtype=torch.float64)  # is log_f
    n = torch.zeros(B, H, dh, 1, dtype=torch.float64)
    m = torch.zeros(B, H, 1, 1, dtype=torch.float64)
    theirs = []
    for t in range(steps):
        h, (c, n, m) = backends.recurrent_step_stabilized_simple(
            c, n, m, q[:, :, t:t + 1], k[:, :, t:t + 1], v[:, :, t:t + 1],
            i_raw[:, :, t, None, None], f_raw[:, :, t, None, None])
        theirs.append(h)
    theirs = torch.cat(theirs, dim=2)
    ours, (c_ours, n_ours, m_ours) = forms.recurrent(q, k, v, i_raw, log_f)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
    torch.testing.assert_close(c_ours, c, rtol=0, atol=1e-12)
    torch.testing.assert_close(m_ours, m[..., 0, 0], rtol=0, atol=1e-12)
    chunked = backends.chunkwise_simple(q, k, v, i_raw, f_raw, chunk_size=4)
    torch.testing.assert_close(forms.chunkwise(q, k, v, i_raw, log_f, chunk_size=4)[0],
                               chunked, rtol=0, atol=1e-12)
    par = backends.parallel_stabilized_simple(q, k, v, i_raw[..., None], f_raw[..., None])
    empty = (torch.zeros(B, H, dh, dh, dtype=torch.float64),
             torch.zeros(B, H, dh, dtype=torch.float64),
             torch.full((B, H), -math.inf, dtype=torch.float64))
    torch.testing.assert_close(forms.parallel(q, k, v, i_raw, log_f, empty)[0], par,
                               rtol=0, atol=1e-12)


def test_streaming_steps_equal_the_chunkwise_layer():
    from gated.engine import dispatch

    layer = _layer(("chunkwise", "auto", 3), steps=7)
    x = _x(7)
    ys = layer(x)[0]
    states = layer.cell.get_initial_state(B, torch.float64)
    with torch.no_grad():
        for t in range(7):
            y, states = dispatch.step(layer.cell, x[:, t], states)
            torch.testing.assert_close(y, ys[:, t], rtol=1e-12, atol=1e-12)
