"""The fused BPTT engine equals the reference engine: outputs, final states and every gradient.

Every LSTM preset and flag (projection, layer norm, relu, zoneout, hard_sigmoid gates, no bias),
GRU in both forms and SimpleRNN with four activations; masks right-padded, left-padded and with
holes; both directions; zero or given initial states; with and without a recurrent dropout mask.
float64 to 1e-9, float32 to 1e-5 (relative to the size of the compared tensor), plus
`torch.autograd.gradcheck` on the `FusedScan` Function itself.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from gated.cells import VARIANTS, GRUCell, LSTMCell, SimpleRNNCell
from gated.engine import fused, reference

B, T, F, U = 3, 7, 4, 5

CELLS = {f"lstm-{name}": (lambda name=name: LSTMCell(U, variant=name)) for name in VARIANTS}
CELLS.update({
    "lstm-proj": lambda: LSTMCell(U, proj_size=3),
    "lstm-peephole-proj": lambda: LSTMCell(U, variant="peephole", proj_size=3),
    "lstm-layer-norm": lambda: LSTMCell(U, layer_norm=True),
    "lstm-layer-norm-cifg": lambda: LSTMCell(U, layer_norm=True, variant="cifg"),
    "lstm-layer-norm-fgr-proj": lambda: LSTMCell(U, layer_norm=True, variant="fgr",
                                                 proj_size=3),
    "lstm-relu": lambda: LSTMCell(U, activation="relu"),
    "lstm-zoneout": lambda: LSTMCell(U, zoneout_cell=0.3, zoneout_hidden=0.2),
    "lstm-hard-sigmoid": lambda: LSTMCell(U, recurrent_activation="hard_sigmoid",
                                          variant="peephole"),
    "lstm-no-bias": lambda: LSTMCell(U, use_bias=False, variant="nfg"),
    "gru": lambda: GRUCell(U),
    "gru-reset-before": lambda: GRUCell(U, reset_after=False),
    "gru-no-bias": lambda: GRUCell(U, use_bias=False),
    "simple-tanh": lambda: SimpleRNNCell(U),
    "simple-relu": lambda: SimpleRNNCell(U, activation="relu"),
    "simple-linear": lambda: SimpleRNNCell(U, activation="linear"),
    "simple-sigmoid": lambda: SimpleRNNCell(U, activation="sigmoid"),
})

MASKS = {
    "none": None,
    "right": [[1] * 7, [1] * 4 + [0] * 3, [0] * 7],
    "left": [[1] * 7, [0] * 3 + [1] * 4, [0] * 6 + [1]],
    "holes": [[1, 0, 1, 1, 0, 0, 1], [0, 1, 1, 0, 1, 0, 0], [1, 1, 0, 1, 1, 1, 0]],
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: intra-op threads only add synchronisation (costly on a loaded machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_cell(factory, dtype=torch.float64):
    torch.manual_seed(0)
    cell = factory()
    cell._maybe_build((None, F))
    with torch.no_grad():  # move off the symmetric initial values (ones, zeros)
        for p in cell.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return cell.to(dtype)


def run(engine, cell, x, states, mask, reverse, rmask, training, seed=7):
    torch.manual_seed(seed)  # zoneout draws in training: the same stream for both engines
    ys, final = engine.scan(cell, x, states, mask, reverse, rmask, training)
    gen = torch.Generator().manual_seed(1)
    loss = (ys * torch.randn(ys.shape, generator=gen, dtype=ys.dtype)).sum()
    for f in final:
        loss = loss + (f * torch.randn(f.shape, generator=gen, dtype=f.dtype)).sum()
    wrt = [x, *(s for s in states if s.requires_grad), *cell.parameters()]
    return [ys, *final, *torch.autograd.grad(loss, wrt)]


def compare(engine, cell, dtype, mask=None, reverse=False, rmask=False, init=True,
            training=False, tol=None):
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
    expected = run(reference, cell, x, states, mask_t, reverse, rm, training)
    got = run(engine, cell, x, states, mask_t, reverse, rm, training)
    assert len(got) == len(expected)
    for k, (a, b) in enumerate(zip(got, expected, strict=True)):
        err = ((a - b).abs().max() / (1.0 + b.abs().max())).item()
        assert err < tol, (f"tensor {k} (0: ys, then final states, then grads of x, states, "
                           f"params) differs by {err:.3g}")


@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("name", list(CELLS))
def test_fused_equals_reference_float64(name, mask):
    cell = make_cell(CELLS[name])
    assert fused.supports(cell, torch.zeros(B, T, F, dtype=torch.float64))[0]
    for reverse, rmask, init in itertools.product((False, True), repeat=3):
        compare(fused, cell, torch.float64, MASKS[mask], reverse, rmask, init)


@pytest.mark.parametrize("name", list(CELLS))
def test_fused_equals_reference_float32(name):
    cell = make_cell(CELLS[name], torch.float32)
    compare(fused, cell, torch.float32, MASKS["holes"], reverse=True, rmask=True)
    compare(fused, cell, torch.float32)


@pytest.mark.parametrize("mask", ["none", "holes"])
def test_fused_zoneout_training_draws_as_the_reference(mask):
    cell = make_cell(lambda: LSTMCell(U, zoneout_cell=0.3, zoneout_hidden=0.4, variant="cifg"))
    compare(fused, cell, torch.float64, MASKS[mask], reverse=True, training=True)


def test_fused_inference_without_grad_equals_reference():
    cell = make_cell(lambda: LSTMCell(U, variant="fgr", layer_norm=True))
    x = torch.randn(B, T, F, dtype=torch.float64)
    states = cell.get_initial_state(B, torch.float64)
    mask = torch.tensor(MASKS["holes"], dtype=torch.bool)
    with torch.no_grad():
        ys, final = fused.scan(cell, x, states, mask, reverse=True)
        ys_ref, final_ref = reference.scan(cell, x, states, mask, reverse=True)
    torch.testing.assert_close(ys, ys_ref, rtol=0, atol=1e-12)
    for a, b in zip(final, final_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_fused_backward_twice_with_retain_graph():
    cell = make_cell(CELLS["lstm-layer-norm-fgr-proj"])
    x = torch.randn(B, T, F, dtype=torch.float64, requires_grad=True)
    ys, _ = fused.scan(cell, x, cell.get_initial_state(B, torch.float64))
    g1 = torch.autograd.grad(ys.sum(), [x, *cell.parameters()], retain_graph=True)
    g2 = torch.autograd.grad(ys.sum(), [x, *cell.parameters()])
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_fused_graph_is_one_node_whatever_the_length():
    """The O(T^2) trap (slicing xw per step inside autograd) cannot happen: the whole
    recurrence is ONE autograd node whose inputs are xw, the states and the weights."""
    cell = make_cell(CELLS["lstm-peephole"], torch.float32)
    x = torch.randn(2, 50, F, requires_grad=True)
    ys, _ = fused.scan(cell, x, cell.get_initial_state(2, torch.float32))
    node = ys.grad_fn
    assert type(node).__name__ == "FusedScanBackward"
    assert len(node.next_functions) == 1 + 2 + 2  # xw, (h0, c0), (recurrent_kernel, peephole)


@pytest.mark.parametrize("name,mask,reverse,rmask", [
    ("lstm-peephole", "holes", True, True),
    ("lstm-layer-norm-fgr-proj", "left", False, False),
    ("lstm-zoneout", "right", True, False),
    ("lstm-1997", None, False, True),
    ("gru", "holes", False, True),
    ("gru-reset-before", "holes", True, True),
    ("simple-tanh", "left", True, True),
])
def test_gradcheck_fused_function(name, mask, reverse, rmask):
    cell = make_cell(CELLS[name])
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 4, F, generator=gen, dtype=torch.float64)
    states = tuple(0.5 * torch.randn(2, n, generator=gen, dtype=torch.float64)
                   for n in cell.state_size)
    mask_t = None if mask is None else torch.tensor(MASKS[mask], dtype=torch.bool)[:2, :4]
    rm = torch.tensor([[0.0, 2.0] * 3] * 2, dtype=torch.float64)[:, :cell.state_size[0]] \
        if rmask else None
    spec, weights = fused.build_spec(cell, x, states, mask_t, reverse, rm, training=False)
    xw = fused.input_projection(cell, spec["family"], x).detach()  # time-major
    inputs = [xw, *states, *weights.values()]
    inputs = tuple(t.detach().clone().requires_grad_() for t in inputs)

    def fn(*tensors):
        return fused.FusedScan.apply(spec, *tensors)

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7)


def test_fused_refuses_what_it_cannot_run():
    cell = make_cell(lambda: LSTMCell(U, activation="gelu"))
    ok, reason = fused.supports(cell, torch.zeros(B, T, F, dtype=torch.float64))
    assert not ok and "gelu" in reason
    with pytest.raises(ValueError, match="fused.*gelu"):
        fused.scan(cell, torch.zeros(B, T, F, dtype=torch.float64),
                   cell.get_initial_state(B, torch.float64))

    class MyCell(LSTMCell):
        def recurrent_step(self, xw, states, recurrent_mask=None, training=False):
            return super().recurrent_step(xw, states, recurrent_mask, training)

    ok, reason = fused.supports(make_cell(lambda: MyCell(U)),
                                torch.zeros(B, T, F, dtype=torch.float64))
    assert not ok and "MyCell" in reason
