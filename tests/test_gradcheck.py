"""`torch.autograd.gradcheck` through the reference engine for every cell and LSTM preset.

The function checked maps (inputs, initial states, every weight) to (outputs, final states),
float64, with small sizes; gradcheck compares autograd's Jacobian with central differences.
"""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from gated.cells import VARIANTS, GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from gated.engine import reference

B, T, D, U = 2, 3, 2, 2


class _Scan(torch.nn.Module):
    """`reference.scan` as a module, so `functional_call` can substitute the weights."""

    def __init__(self, cell, reverse: bool = False, with_mask: bool = False) -> None:
        super().__init__()
        self.cell = cell
        self.reverse = reverse
        self.with_mask = with_mask

    def forward(self, x, *states):
        mask = None
        if self.with_mask:  # sample 1 is padded at the end, sample 0 at the start
            mask = torch.ones(x.shape[:2], dtype=torch.bool)
            mask[1, -1] = False
            mask[0, 0] = False
        ys, final = reference.scan(self.cell, x, tuple(states), mask=mask, reverse=self.reverse)
        return (ys, *final)


F64 = {"dtype": "float64"}
CELLS = {f"lstm_{name}": (lambda name=name: LSTMCell(U, variant=name, **F64)) for name in VARIANTS}
CELLS.update({
    "lstm_proj": lambda: LSTMCell(U + 1, proj_size=U, **F64),
    "lstm_greff_proj": lambda: LSTMCell(U + 1, variant="greff", proj_size=U, **F64),
    "lstm_layer_norm": lambda: LSTMCell(U, layer_norm=True, **F64),
    "lstm_layer_norm_cifg_proj": lambda: LSTMCell(U + 1, variant="cifg", layer_norm=True,
                                                  proj_size=U, **F64),
    "lstm_fgr_cifg": lambda: LSTMCell(U, variant="fgr", coupled_gates=True, **F64),
    "lstm_zoneout_inference": lambda: LSTMCell(U, variant="peephole", zoneout_cell=0.3,
                                               zoneout_hidden=0.2, **F64),
    "lstm_relu_linear": lambda: LSTMCell(U, activation="relu", output_activation="linear",
                                         **F64),
    "gru_reset_after": lambda: GRUCell(U, **F64),
    "gru_reset_before": lambda: GRUCell(U, reset_after=False, **F64),
    "simple_rnn": lambda: SimpleRNNCell(U, **F64),
    "stacked_lstm_gru": lambda: StackedRNNCells(
        [LSTMCell(U, variant="greff", **F64), GRUCell(U, **F64)], **F64),
    "stacked_simple_cifg_proj": lambda: StackedRNNCells(
        [SimpleRNNCell(U, **F64), LSTMCell(U + 1, variant="cifg", proj_size=U, **F64)], **F64),
})


def _check(cell, seed: int, reverse: bool = False, with_mask: bool = False) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    cell._maybe_build((B, D))
    runner = _Scan(cell, reverse, with_mask)
    names = [n for n, _ in runner.named_parameters()]
    params = [(0.7 * torch.randn(p.shape, generator=g, dtype=torch.float64)
               + (1.0 if n.endswith("gamma") else 0.0)) for n, p in runner.named_parameters()]
    states = [0.5 * torch.randn(B, n, generator=g, dtype=torch.float64)
              for n in cell.state_size]

    def fn(x_, *rest):
        st, ws = rest[:len(states)], rest[len(states):]
        return functional_call(runner, dict(zip(names, ws, strict=True)), (x_, *st))

    inputs = tuple(t.requires_grad_(True) for t in (x, *states, *params))
    # the substituted weights really are the ones used: every input has a nonzero gradient
    outputs = fn(*inputs)
    grads = torch.autograd.grad(sum(o.sum() for o in outputs), inputs)
    assert all(bool(g.abs().sum() > 0) for g in grads)
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("name", list(CELLS))
def test_gradcheck_reference_engine(name):
    _check(CELLS[name](), seed=sorted(CELLS).index(name))


@pytest.mark.parametrize("name", ["lstm_keras", "lstm_fgr", "gru_reset_before",
                                  "stacked_lstm_gru"])
def test_gradcheck_reversed_and_masked(name):
    _check(CELLS[name](), seed=1, reverse=True, with_mask=True)
