"""Cases and checks shared by the engine tests (test_engine_platform/_fused/_compiled.py).

A plain module, not a test module: pytest's default (`prepend`) import mode puts tests/ on
`sys.path`, so the test modules import it as `engine_cases`.

Each backend's test module assembles its own cell table from the pieces below (the backends
run different cells) and keeps its own extra cases.
"""

from __future__ import annotations

import torch

from gated.cells import VARIANTS, GRUCell, LSTMCell, SimpleRNNCell
from gated.engine import reference

B, T, F, U = 3, 7, 4, 5

# Every LSTM preset, keyed "lstm-<variant>".
LSTM_PRESETS = {f"lstm-{name}": (lambda name=name: LSTMCell(U, variant=name))
                for name in VARIANTS}

GRU_CELLS = {
    "gru": lambda: GRUCell(U),
    "gru-reset-before": lambda: GRUCell(U, reset_after=False),
    "gru-no-bias": lambda: GRUCell(U, use_bias=False),
}

SIMPLE_CELLS = {
    "simple-tanh": lambda: SimpleRNNCell(U),
    "simple-relu": lambda: SimpleRNNCell(U, activation="relu"),
    "simple-linear": lambda: SimpleRNNCell(U, activation="linear"),
    "simple-sigmoid": lambda: SimpleRNNCell(U, activation="sigmoid"),
}

# (B, T) masks: right-padded, left-padded and with holes; rows with no valid step.
MASKS = {
    "none": None,
    "right": [[1] * 7, [1] * 4 + [0] * 3, [0] * 7],
    "left": [[1] * 7, [0] * 3 + [1] * 4, [0] * 6 + [1]],
    "holes": [[1, 0, 1, 1, 0, 0, 1], [0, 1, 1, 0, 1, 0, 0], [1, 1, 0, 1, 1, 1, 0]],
}


class MyCell(LSTMCell):
    """A user subclass overriding `recurrent_step`: the engines must refuse it by name."""

    def recurrent_step(self, xw, states, recurrent_mask=None, training=False):
        return super().recurrent_step(xw, states, recurrent_mask, training)


def make_cell(factory, dtype=torch.float64):
    """`factory()` built for F input features, its parameters moved off the symmetric initial
    values (ones, zeros) by a seeded perturbation, in `dtype`."""
    torch.manual_seed(0)
    cell = factory()
    cell._maybe_build((None, F))
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return cell.to(dtype)


def _run(engine, cell, x, states, mask, reverse, rmask, training, seed):
    """Outputs, final states and the gradients of x, the initial states requiring grad and
    every parameter, of a fixed random projection of the outputs and final states."""
    if seed is not None:
        torch.manual_seed(seed)  # zoneout draws in training: the same stream for both engines
    ys, final = engine.scan(cell, x, states, mask, reverse, rmask, training)
    gen = torch.Generator().manual_seed(1)
    loss = (ys * torch.randn(ys.shape, generator=gen, dtype=ys.dtype)).sum()
    for f in final:
        loss = loss + (f * torch.randn(f.shape, generator=gen, dtype=f.dtype)).sum()
    wrt = [x, *(s for s in states if s.requires_grad), *cell.parameters()]
    return [ys, *final, *torch.autograd.grad(loss, wrt)]


def assert_matches_reference(engine, cell, dtype, mask=None, reverse=False, rmask=False,
                             init=True, training=False, *, tol=None, seed=None,
                             check_supports=False):
    """`engine.scan` equals `reference.scan`: outputs, final states and every gradient.

    Inputs are seeded; `init` gives random initial states (requiring grad) instead of zeros,
    `rmask` a random recurrent dropout mask (keep 0.7, rescaled). The error of each tensor,
    relative to its size (max |a - b| / (1 + max |b|)), must be below `tol` (default 1e-9 in
    float64, 1e-5 otherwise). `seed` seeds torch's global RNG before each scan;
    `check_supports` first asserts that `engine.supports` accepts the configuration.
    """
    tol = tol or (1e-9 if dtype == torch.float64 else 1e-5)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(B, T, F, generator=gen, dtype=dtype).requires_grad_()
    states = tuple(
        (0.5 * torch.randn(B, n, generator=gen, dtype=dtype)).requires_grad_() if init
        else torch.zeros(B, n, dtype=dtype)
        for n in cell.state_size
    )
    mask_t = None if mask is None else torch.tensor(mask, dtype=torch.bool)
    rm = None
    if rmask:
        keep = torch.bernoulli(torch.full((B, cell.state_size[0]), 0.7, dtype=dtype),
                               generator=gen)
        rm = keep / 0.7
    if check_supports:
        ok, reason = engine.supports(cell, x, mask_t, reverse, rm, training)
        assert ok, reason
    expected = _run(reference, cell, x, states, mask_t, reverse, rm, training, seed)
    got = _run(engine, cell, x, states, mask_t, reverse, rm, training, seed)
    assert len(got) == len(expected)
    for k, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert a.shape == b.shape and a.dtype == b.dtype, k
        err = ((a - b).abs().max() / (1.0 + b.abs().max())).item()
        assert err < tol, (f"tensor {k} (0: ys, then final states, then grads of x, states, "
                           f"params) differs by {err:.3g} (reverse={reverse}, rmask={rmask}, "
                           f"init={init}, training={training})")


def assert_inference_matches_reference(engine, cell, x, states, mask, reverse=True):
    """Without autograd: outputs and final states equal the reference's to 1e-12."""
    with torch.no_grad():
        ys, final = engine.scan(cell, x, states, mask, reverse=reverse)
        ys_ref, final_ref = reference.scan(cell, x, states, mask, reverse=reverse)
    torch.testing.assert_close(ys, ys_ref, rtol=0, atol=1e-12)
    assert len(final) == len(final_ref)
    for a, b in zip(final, final_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def assert_backward_twice_identical(engine, cell):
    """With retain_graph, a second backward through the same graph gives the same gradients."""
    x = torch.randn(B, T, F, dtype=torch.float64, requires_grad=True)
    ys, _ = engine.scan(cell, x, cell.get_initial_state(B, torch.float64))
    g1 = torch.autograd.grad(ys.sum(), [x, *cell.parameters()], retain_graph=True)
    g2 = torch.autograd.grad(ys.sum(), [x, *cell.parameters()])
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
