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
from engine_cases import (
    GRU_CELLS,
    LSTM_PRESETS,
    MASKS,
    SIMPLE_CELLS,
    B,
    F,
    MyCell,
    T,
    U,
    assert_backward_twice_identical,
    assert_inference_matches_reference,
    assert_matches_reference,
    make_cell,
)

from gated.cells import LSTMCell
from gated.engine import fused

CELLS = {
    **LSTM_PRESETS,
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
    **GRU_CELLS,
    **SIMPLE_CELLS,
}


def compare(engine, cell, dtype, mask=None, reverse=False, rmask=False, init=True,
            training=False, tol=None):
    # seed=7: zoneout draws in training, the same stream for both engines
    assert_matches_reference(engine, cell, dtype, mask, reverse, rmask, init, training,
                             tol=tol, seed=7)


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
    assert_inference_matches_reference(fused, cell, x, states, mask, reverse=True)


def test_fused_backward_twice_with_retain_graph():
    assert_backward_twice_identical(fused, make_cell(CELLS["lstm-layer-norm-fgr-proj"]))


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
    plan, weights = fused.build_plan(cell, x, states, mask_t, reverse, rm, training=False)
    xw = fused.project(plan, x).detach()  # time-major
    inputs = [xw, *states, *weights.values()]
    inputs = tuple(t.detach().clone().requires_grad_() for t in inputs)

    def fn(*tensors):
        return fused.FusedScan.apply(plan, *tensors)

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7)


def test_fused_refuses_what_it_cannot_run():
    cell = make_cell(lambda: LSTMCell(U, activation="gelu"))
    ok, reason = fused.supports(cell, torch.zeros(B, T, F, dtype=torch.float64))
    assert not ok and "gelu" in reason
    with pytest.raises(ValueError, match="fused.*gelu"):
        fused.scan(cell, torch.zeros(B, T, F, dtype=torch.float64),
                   cell.get_initial_state(B, torch.float64))

    ok, reason = fused.supports(make_cell(lambda: MyCell(U)),
                                torch.zeros(B, T, F, dtype=torch.float64))
    assert not ok and "MyCell" in reason
