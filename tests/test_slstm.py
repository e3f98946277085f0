"""sLSTM against the paper's equations in NumPy (`xlstm_numpy.py`), against NX-AI's reference
code where it is installed, and the stabilizer against the naive formula at ±80."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xlstm_numpy as ref
from complex_step import complex_step_grad

from gated.cells import sLSTMCell
from gated.engine import dispatch
from gated.layers import sLSTM

B, T, F, U = 2, 5, 3, 4
CASES = [pytest.param({"num_heads": 1}, id="sigmoid-1head"),
         pytest.param({"num_heads": 2}, id="sigmoid-2heads"),
         pytest.param({"num_heads": 2, "forget_gate": "exponential"}, id="exponential-2heads")]


def _setup(kwargs, scale=0.5):
    torch.manual_seed(0)
    cell = sLSTMCell(U, dtype="float64", **kwargs)
    cell._maybe_build((None, F))
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(scale * torch.randn_like(p))
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, F, generator=gen, dtype=torch.float64)
    h0, c0 = (0.5 * torch.randn(B, U, generator=gen, dtype=torch.float64) for _ in range(2))
    n0 = 1.0 + torch.rand(B, U, generator=gen, dtype=torch.float64)
    m0 = 0.5 * torch.randn(B, U, generator=gen, dtype=torch.float64)
    return cell, x, (h0, c0, n0, m0)


def _numpy_args(cell):
    return [p.detach().numpy() for p in (cell.kernel, cell.recurrent_kernel, cell.bias)]


@pytest.mark.parametrize("kwargs", CASES)
@pytest.mark.parametrize("engine", ["reference", "fused"])
def test_outputs_and_states_equal_the_numpy_equations(kwargs, engine):
    cell, x, states = _setup(kwargs)
    layer = sLSTM(U, return_sequences=True, return_state=True, engine=engine, dtype="float64",
                  **kwargs)
    layer._maybe_build((None, T, F))
    layer.cell.load_state_dict(cell.state_dict())
    ys, *final = layer(x, initial_state=list(states))
    want = ref.slstm(x.numpy(), *[s.numpy() for s in states], *_numpy_args(cell),
                     exp_forget=kwargs.get("forget_gate") == "exponential")
    for got, w in zip([ys, *final], want, strict=True):
        np.testing.assert_allclose(got.detach().numpy(), w, rtol=0, atol=1e-9)


@pytest.mark.parametrize("kwargs", CASES)
def test_the_stabilized_step_equals_the_naive_paper_equations(kwargs):
    """Moderate pre-activations: the naive exp gates (eq. 8-13) give the same h; the carried
    c and n are the naive ones scaled by exp(-m)."""
    cell, x, (h0, _, _, _) = _setup(kwargs)
    zeros = np.zeros((B, U))
    args = _numpy_args(cell)
    expo = kwargs.get("forget_gate") == "exponential"
    naive = ref.slstm(x.numpy(), h0.numpy(), zeros, zeros, zeros, *args, exp_forget=expo,
                      stabilized=False)
    with torch.no_grad():
        ys, final = dispatch.scan(cell, x, (h0, *(torch.zeros(B, U, dtype=torch.float64),) * 3))
    np.testing.assert_allclose(ys.numpy(), naive[0], rtol=1e-10, atol=1e-12)
    scale = np.exp(final[3].numpy())
    np.testing.assert_allclose(final[1].numpy() * scale, naive[2], rtol=1e-10)
    np.testing.assert_allclose(final[2].numpy() * scale, naive[3], rtol=1e-10)


@pytest.mark.parametrize("kwargs", CASES)
@pytest.mark.parametrize("engine", ["reference", "fused"])
def test_gradients_equal_the_complex_step_of_the_numpy_equations(kwargs, engine):
    cell, x, states = _setup(kwargs)
    expo = kwargs.get("forget_gate") == "exponential"
    gen = np.random.default_rng(2)
    w_ys = gen.standard_normal((B, T, U))
    w_states = [gen.standard_normal((B, U)) for _ in range(4)]

    def loss(x, h, c, n, m, kernel, recurrent, bias):
        ys, *fin = ref.slstm(x, h, c, n, m, kernel, recurrent, bias, exp_forget=expo)
        total = (ys * w_ys).sum((-1, -2, -3))
        return total + sum((f * w).sum((-1, -2)) for f, w in zip(fin, w_states, strict=True))

    arrays = [x.numpy(), *[s.numpy() for s in states], *_numpy_args(cell)]
    want = complex_step_grad(loss, arrays)
    xt = x.clone().requires_grad_()
    st = [s.clone().requires_grad_() for s in states]
    ys, final = dispatch.scan(cell, xt, tuple(st), engine=engine)
    total = (ys * torch.from_numpy(w_ys)).sum() + sum(
        (f * torch.from_numpy(w)).sum() for f, w in zip(final, w_states, strict=True))
    got = torch.autograd.grad(total, [xt, *st, cell.kernel, cell.recurrent_kernel, cell.bias])
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("input_pre", [80.0, -80.0])
def test_the_stabilizer_keeps_outputs_finite_where_the_naive_formula_overflows(input_pre):
    """Input pre-activations of ±80 and exponential forget pre-activations of 80 at every
    step: the naive n_t grows as exp(80 t) (inf after 9 steps in float64, then inf/inf); the
    stabilized cell stays finite and equal to the NumPy stabilized equations."""
    steps = 12
    cell = sLSTMCell(U, num_heads=2, forget_gate="exponential", dtype="float64")
    cell._maybe_build((None, F))
    with torch.no_grad():
        cell.kernel.mul_(0.01)
        cell.recurrent_kernel.zero_()
        cell.bias.zero_()
        cell.bias[:U] = input_pre         # ĩ = ±80 (+ a tiny input term)
        cell.bias[U:2 * U] = 80.0         # f̃ = 80
    x = torch.randn(B, steps, F, dtype=torch.float64)
    zeros = np.zeros((B, U))
    args = _numpy_args(cell)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        naive = ref.slstm(x.numpy(), zeros, zeros, zeros, zeros, *args, exp_forget=True,
                          stabilized=False)[0]
    assert not np.isfinite(naive).all()
    for engine in ("reference", "fused"):
        with torch.no_grad():
            ys, _ = dispatch.scan(cell, x, cell.get_initial_state(B), engine=engine)
        assert torch.isfinite(ys).all()
        want = ref.slstm(x.numpy(), zeros, zeros, zeros, zeros, *args, exp_forget=True)[0]
        np.testing.assert_allclose(ys.numpy(), want, rtol=1e-10, atol=1e-12)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="divisible by `num_heads`"):
        sLSTMCell(6, num_heads=4)
    with pytest.raises(ValueError, match="forget_gate"):
        sLSTM(4, forget_gate="relu")


def test_equals_nxai_vanilla_slstm():
    """NX-AI's own vanilla sLSTM loop (`xlstm.blocks.slstm.src.vanilla`) on our weights: from a
    nonzero state every state agrees; from zeros NX-AI starts m at ĩ (a branch on n == 0),
    which rescales c, n, m but leaves h unchanged."""
    vanilla = pytest.importorskip("xlstm.blocks.slstm.src.vanilla")
    cell, x, states = _setup({"num_heads": 2})
    wx = (x @ cell.kernel).transpose(0, 1).detach()
    r_theirs = cell.recurrent_kernel.detach().transpose(1, 2)
    pointwise = vanilla.slstm_pointwise_function_registry["slstm"]
    for start in (states, tuple(torch.zeros(B, U, dtype=torch.float64) for _ in range(4))):
        all_states, last, _ = vanilla.slstm_forward(wx, torch.stack(start), r_theirs,
                                                    cell.bias.detach(), pointwise)
        with torch.no_grad():
            ys, final = dispatch.scan(cell, x, start)
        torch.testing.assert_close(ys, all_states[0, 1:].transpose(0, 1), rtol=0, atol=1e-12)
        if start is states:
            for got, want in zip(final, last.unbind(0), strict=True):
                torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
