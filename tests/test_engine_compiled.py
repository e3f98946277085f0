"""The compiled (Numba) engine equals the reference engine: outputs, final states, every gradient.

Every LSTM preset, projection (alone and with peepholes / FGR), relu / hard_sigmoid
activations, no bias, GRU in both forms and SimpleRNN with four activations; masks right-padded,
left-padded and with holes; both directions; zero or given initial states; with and without a
recurrent dropout mask. float64 to 1e-9, float32 to 1e-5 (relative to the size of the compared
tensor). Plus `streaming_step` against `cell.step`, and the refusals of `supports`.
Skipped when numba is not installed.
"""

from __future__ import annotations

import itertools

import pytest
import torch

pytest.importorskip("numba")

from engine_cases import (  # noqa: E402
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

from gated.cells import GRUCell, LSTMCell  # noqa: E402
from gated.engine import compiled, reference  # noqa: E402

CELLS = {
    **LSTM_PRESETS,
    "lstm-proj": lambda: LSTMCell(U, proj_size=3),
    "lstm-peephole-proj": lambda: LSTMCell(U, variant="peephole", proj_size=3),
    "lstm-fgr-cifg-proj": lambda: LSTMCell(U, variant="fgr", coupled_gates=True, proj_size=3),
    "lstm-relu": lambda: LSTMCell(U, activation="relu"),
    "lstm-hard-sigmoid": lambda: LSTMCell(U, recurrent_activation="hard_sigmoid",
                                          variant="peephole"),
    "lstm-no-bias-nig": lambda: LSTMCell(U, use_bias=False, variant="nig"),
    **GRU_CELLS,
    "gru-relu-before": lambda: GRUCell(U, activation="relu", reset_after=False),
    **SIMPLE_CELLS,
}


def compare(cell, dtype, mask=None, reverse=False, rmask=False, init=True):
    assert_matches_reference(compiled, cell, dtype, mask, reverse, rmask, init)


@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("name", list(CELLS))
def test_compiled_equals_reference_float64(name, mask):
    cell = make_cell(CELLS[name])
    ok, reason = compiled.supports(cell, torch.zeros(B, T, F, dtype=torch.float64))
    assert ok, reason
    for reverse, rmask, init in itertools.product((False, True), repeat=3):
        compare(cell, torch.float64, MASKS[mask], reverse, rmask, init)


@pytest.mark.parametrize("name", list(CELLS))
def test_compiled_equals_reference_float32(name):
    cell = make_cell(CELLS[name], torch.float32)
    compare(cell, torch.float32, MASKS["holes"], reverse=True, rmask=True)
    compare(cell, torch.float32, init=False)


@pytest.mark.parametrize("name", ["lstm-fgr", "lstm-peephole-proj", "gru", "gru-reset-before",
                                  "simple-relu"])
def test_compiled_inference_without_grad_equals_reference(name):
    cell = make_cell(CELLS[name])
    x = torch.randn(B, T, F, dtype=torch.float64)
    states = tuple(torch.randn(B, n, dtype=torch.float64) for n in cell.state_size)
    mask = torch.tensor(MASKS["holes"], dtype=torch.bool)
    assert_inference_matches_reference(compiled, cell, x, states, mask, reverse=True)


def test_compiled_long_sequence_and_larger_batch_float32():
    """Beyond the tiny shapes: numbers stay with the reference over 60 steps."""
    cell = make_cell(lambda: LSTMCell(16, variant="peephole"), torch.float32)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(9, 60, F, generator=gen).requires_grad_()
    states = cell.get_initial_state(9, torch.float32)
    out = []
    for engine in (reference, compiled):
        ys, (h, c) = engine.scan(cell, x, states)
        loss = (ys ** 2).sum() + c.sum()
        out.append([ys, h, c, *torch.autograd.grad(loss, [x, *cell.parameters()])])
    for a, b in zip(*out, strict=True):
        assert ((a - b).abs().max() / (1 + b.abs().max())).item() < 1e-5


def test_compiled_leaves_inputs_and_states_untouched():
    """The kernels work in place in their own buffers, never in the caller's tensors."""
    cell = make_cell(CELLS["lstm-fgr-cifg-proj"])
    x = torch.randn(B, T, F, dtype=torch.float64, requires_grad=True)
    states = tuple(torch.randn(B, n, dtype=torch.float64) for n in cell.state_size)
    copies = [x.detach().clone(), *(s.clone() for s in states)]
    ys, final = compiled.scan(cell, x, states, torch.tensor(MASKS["holes"], dtype=torch.bool))
    (ys.sum() + sum(f.sum() for f in final)).backward()
    for before, after in zip(copies, [x.detach(), *states], strict=True):
        assert torch.equal(before, after)


def test_unavailable_numba_is_a_reason_not_an_error(monkeypatch):
    monkeypatch.setitem(compiled._loaded, "available", False)
    ok, reason = compiled.supports(make_cell(CELLS["lstm-keras"]),
                                   torch.zeros(B, T, F, dtype=torch.float64))
    assert not ok and "numba" in reason


def test_compiled_backward_twice_with_retain_graph():
    assert_backward_twice_identical(compiled, make_cell(CELLS["lstm-fgr-cifg-proj"]))


def test_compiled_graph_is_one_node():
    cell = make_cell(CELLS["lstm-peephole"], torch.float32)
    x = torch.randn(2, 50, F, requires_grad=True)
    ys, _ = compiled.scan(cell, x, cell.get_initial_state(2, torch.float32))
    assert type(ys.grad_fn).__name__ == "CompiledScanBackward"  # the one compiled Function


@pytest.mark.parametrize("name", ["lstm-keras", "lstm-peephole", "lstm-1997", "lstm-fgr",
                                  "lstm-peephole-proj", "lstm-fgr-cifg-proj", "gru",
                                  "gru-reset-before", "simple-tanh"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_streaming_step_equals_cell_step(name, dtype):
    cell = make_cell(CELLS[name], dtype)
    gen = torch.Generator().manual_seed(2)
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    for batch in (1, 2):
        states = tuple(0.5 * torch.randn(batch, n, generator=gen, dtype=dtype)
                       for n in cell.state_size)
        ref_states = states
        for _ in range(4):
            x_t = torch.randn(batch, F, generator=gen, dtype=dtype)
            y, states = compiled.streaming_step(cell, x_t, states)
            with torch.no_grad():
                y_ref, ref_states = cell.step(x_t, ref_states)
            torch.testing.assert_close(y, y_ref, rtol=0, atol=tol)
            assert len(states) == len(ref_states)
            for a, b in zip(states, ref_states, strict=True):
                torch.testing.assert_close(a, b, rtol=0, atol=tol)


def test_streaming_step_sees_weight_updates_and_1d_inputs():
    cell = make_cell(CELLS["lstm-peephole"])
    states = tuple(torch.zeros(n, dtype=torch.float64) for n in cell.state_size)
    x_t = torch.randn(F, dtype=torch.float64)
    y1, _ = compiled.streaming_step(cell, x_t, states)
    assert y1.shape == (U,)
    with torch.no_grad():
        cell.peephole_kernel.mul_(2.0)  # in-place: the parameter's version moves
        cell.kernel.add_(0.1)
        y_ref, _ = cell.step(x_t[None], tuple(s[None] for s in states))
    y2, new = compiled.streaming_step(cell, x_t, states)
    torch.testing.assert_close(y2, y_ref[0], rtol=0, atol=1e-12)
    assert not torch.equal(y1, y2) and all(s.ndim == 1 for s in new)


def test_supports_refusals_name_the_reason():
    x64 = torch.zeros(B, T, F, dtype=torch.float64)
    for factory, word in [
        (lambda: LSTMCell(U, layer_norm=True), "layer_norm"),
        (lambda: LSTMCell(U, zoneout_cell=0.1), "zoneout"),
        (lambda: LSTMCell(U, activation="gelu"), "gelu"),
        (lambda: GRUCell(U, recurrent_activation="softsign"), "softsign"),
    ]:
        ok, reason = compiled.supports(make_cell(factory), x64)
        assert not ok and word in reason
    cell = make_cell(CELLS["lstm-keras"])
    assert not compiled.supports(cell, x64.float())[0]  # dtype mismatch with the weights
    assert not compiled.supports(cell, x64[:, :0])[0]  # empty sequence
    assert not compiled.supports(cell, x64, mask=torch.ones(B, T + 1, dtype=torch.bool))[0]
    assert not compiled.supports(LSTMCell(U), x64)[0]  # not built

    ok, reason = compiled.supports(make_cell(lambda: MyCell(U)), x64)
    assert not ok and "MyCell" in reason
    with pytest.raises(ValueError, match="compiled.*layer_norm"):
        compiled.scan(make_cell(lambda: LSTMCell(U, layer_norm=True)), x64,
                      (torch.zeros(B, U, dtype=torch.float64),) * 2)
