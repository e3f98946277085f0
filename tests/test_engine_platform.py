"""The platform engine (torch's fused LSTM/GRU/RNN kernels) equals the reference engine.

Standard cells only (LSTM keras/np presets, with projection and without bias; GRU reset_after;
SimpleRNN tanh/relu); no mask, all-True and right-padded masks (including a row with no valid
step), both directions, zero or given initial states: outputs, final states and the gradients
of x, the initial states and every Keras-layout parameter. Plus an independent check against
`torch.nn.LSTM` / `nn.GRU` holding the converted weights, and the refusals.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from engine_cases import B, F, T, U, assert_matches_reference, make_cell

from gated.cells import GRUCell, LSTMCell, SimpleRNNCell
from gated.engine import platform

CELLS = {
    "lstm-keras": lambda: LSTMCell(U),
    "lstm-np": lambda: LSTMCell(U, variant="np"),
    "lstm-proj": lambda: LSTMCell(U, proj_size=3),
    "lstm-no-bias": lambda: LSTMCell(U, use_bias=False),
    "gru": lambda: GRUCell(U),
    "gru-no-bias": lambda: GRUCell(U, use_bias=False),
    "simple-tanh": lambda: SimpleRNNCell(U),
    "simple-relu": lambda: SimpleRNNCell(U, activation="relu"),
}

# The platform kernels take right-padded masks only (engine_cases.MASKS has left / holes).
MASKS = {
    "none": None,
    "all-true": [[1] * 7] * 3,
    "right": [[1] * 7, [1] * 4 + [0] * 3, [1] + [0] * 6],
    "right-empty-row": [[1] * 5 + [0] * 2, [0] * 7, [1] * 7],
}


def compare(cell, dtype, mask=None, reverse=False, init=True):
    assert_matches_reference(platform, cell, dtype, mask, reverse, init=init,
                             check_supports=True)


@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("name", list(CELLS))
def test_platform_equals_reference_float64(name, mask):
    cell = make_cell(CELLS[name])
    for reverse, init in itertools.product((False, True), repeat=2):
        compare(cell, torch.float64, MASKS[mask], reverse, init)


@pytest.mark.parametrize("name", list(CELLS))
def test_platform_equals_reference_float32(name):
    """float32 on CPU runs oneDNN's LSTM (no projection) or torch's own kernels."""
    cell = make_cell(CELLS[name], torch.float32)
    compare(cell, torch.float32)
    compare(cell, torch.float32, MASKS["right-empty-row"], reverse=True)


def test_weight_conversion_matches_torch_modules():
    """Independent check: torch.nn.LSTM / nn.GRU holding the converted weights."""
    x = torch.randn(B, T, F, dtype=torch.float64)
    lstm = make_cell(CELLS["lstm-proj"])
    ref = torch.nn.LSTM(F, U, proj_size=3, batch_first=True, dtype=torch.float64)
    u = U
    with torch.no_grad():
        ref.weight_ih_l0.copy_(lstm.kernel.t())
        ref.weight_hh_l0.copy_(lstm.recurrent_kernel.t())
        ref.bias_ih_l0.copy_(lstm.bias)
        ref.bias_hh_l0.zero_()
        ref.weight_hr_l0.copy_(lstm.projection_kernel.t())
    ys, (h, c) = platform.scan(lstm, x, lstm.get_initial_state(B, torch.float64))
    ys_ref, (h_ref, c_ref) = ref(x)
    torch.testing.assert_close(ys, ys_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(c, c_ref[0], rtol=0, atol=1e-12)

    gru = make_cell(CELLS["gru"])
    ref = torch.nn.GRU(F, U, batch_first=True, dtype=torch.float64)

    def reorder(w):  # Keras z, r, h -> torch r, z, n
        return torch.cat([w[..., u:2 * u], w[..., :u], w[..., 2 * u:]], dim=-1)

    with torch.no_grad():
        ref.weight_ih_l0.copy_(reorder(gru.kernel).t())
        ref.weight_hh_l0.copy_(reorder(gru.recurrent_kernel).t())
        ref.bias_ih_l0.copy_(reorder(gru.bias[0]))
        ref.bias_hh_l0.copy_(reorder(gru.bias[1]))
    ys, (h,) = platform.scan(gru, x, gru.get_initial_state(B, torch.float64))
    torch.testing.assert_close(ys, ref(x)[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("factory,mask,rmask,reason", [
    (lambda: LSTMCell(U, variant="peephole"), None, False, "peephole"),
    (lambda: LSTMCell(U, layer_norm=True), None, False, "layer_norm"),
    (lambda: LSTMCell(U, activation="relu"), None, False, "activation 'relu'"),
    (lambda: LSTMCell(U, zoneout_cell=0.1), None, False, "zoneout"),
    (lambda: LSTMCell(U, variant="cifg"), None, False, "gate blocks ico"),
    (lambda: GRUCell(U, reset_after=False), None, False, "reset_after=False"),
    (lambda: SimpleRNNCell(U, activation="sigmoid"), None, False, "sigmoid"),
    (lambda: LSTMCell(U), [[1] * 7, [0] * 2 + [1] * 5, [1] * 7], False, "right-padded"),
    (lambda: LSTMCell(U), [[1, 0, 1, 1, 1, 1, 1]] * 3, False, "right-padded"),
    (lambda: GRUCell(U), None, True, "recurrent dropout"),
])
def test_platform_refuses_with_a_reason(factory, mask, rmask, reason):
    cell = make_cell(factory)
    x = torch.zeros(B, T, F, dtype=torch.float64)
    mask_t = None if mask is None else torch.tensor(mask, dtype=torch.bool)
    rm = torch.ones(B, U, dtype=torch.float64) if rmask else None
    ok, why = platform.supports(cell, x, mask_t, False, rm)
    assert not ok and reason in why
    with pytest.raises(ValueError, match="platform"):
        platform.scan(cell, x, cell.get_initial_state(B, torch.float64), mask_t, False, rm)


def test_platform_refuses_mismatched_dtype_and_unbuilt_cells():
    cell = make_cell(CELLS["lstm-keras"], torch.float32)
    ok, why = platform.supports(cell, torch.zeros(B, T, F, dtype=torch.float64))
    assert not ok and "float32" in why
    ok, why = platform.supports(LSTMCell(U), torch.zeros(B, T, F))
    assert not ok and "not built" in why
