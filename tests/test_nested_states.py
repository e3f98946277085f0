"""User cells whose states have more axes than `(batch, n)`: Keras' `state_size` as a list of
shapes (`[units, [rows, cols]]`), run by `RNN` and checked against a hand-written loop."""

from __future__ import annotations

import pytest
import torch

from gated.layers import RNN


class MatrixMemoryCell(torch.nn.Module):
    """h_t = tanh(x W + h U); M_t = 0.5 M + h_t^T-ish outer product (a matrix state)."""

    def __init__(self, units: int = 4, rows: int = 2) -> None:
        super().__init__()
        self.units, self.rows = units, rows
        self.state_size = [units, [rows, units]]
        self.output_size = units
        gen = torch.Generator().manual_seed(0)
        self.W = torch.nn.Parameter(torch.randn(3, units, generator=gen, dtype=torch.float64))
        self.U = torch.nn.Parameter(torch.randn(units, units, generator=gen,
                                                dtype=torch.float64) * 0.3)

    def call(self, x, states):
        h, m = states
        h = torch.tanh(x @ self.W + h @ self.U + m.sum(1))
        m = 0.5 * m + h.unsqueeze(1).expand(-1, self.rows, -1) * 0.1
        return h, [h, m]


def _manual(cell, x, mask=None):
    h = torch.zeros(x.shape[0], cell.units, dtype=x.dtype)
    m = torch.zeros(x.shape[0], cell.rows, cell.units, dtype=x.dtype)
    y = torch.zeros_like(h)
    ys = []
    for t in range(x.shape[1]):
        y_new, (h_new, m_new) = cell.call(x[:, t], (h, m))
        keep = torch.ones(x.shape[0], dtype=torch.bool) if mask is None else mask[:, t]
        y = torch.where(keep[:, None], y_new, y)
        h = torch.where(keep[:, None], h_new, h)
        m = torch.where(keep[:, None, None], m_new, m)
        ys.append(y)
    return torch.stack(ys, 1), h, m


def test_matrix_state_equals_a_hand_written_loop():
    cell = MatrixMemoryCell()
    layer = RNN(cell, return_sequences=True, return_state=True, dtype="float64")
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 1, 1, 1]], dtype=torch.bool)
    for m in (None, mask):
        ys, h, mem = layer(x, mask=m)
        want_ys, want_h, want_m = _manual(cell, x, m)
        assert mem.shape == (3, 2, 4)
        torch.testing.assert_close(ys, want_ys)
        torch.testing.assert_close(h, want_h)
        torch.testing.assert_close(mem, want_m)
    assert layer.compute_output_shape((3, 5, 3)) == [(3, 5, 4), (3, 4), (3, 2, 4)]


def test_matrix_initial_state_is_checked_by_shape():
    layer = RNN(MatrixMemoryCell(), dtype="float64")
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    h0 = torch.randn(2, 4, dtype=torch.float64)
    m0 = torch.randn(2, 2, 4, dtype=torch.float64)
    y = layer(x, initial_state=[h0, m0])
    assert y.shape == (2, 4)
    with pytest.raises(ValueError, match=r"initial_state\[1\] must have shape \(2, 2, 4\)"):
        layer(x, initial_state=[h0, torch.randn(2, 4, dtype=torch.float64)])


def test_a_bad_state_size_entry_is_named():
    class Bad:
        state_size = ["four"]

        def call(self, x, states):
            return x, states

    with pytest.raises(TypeError, match="state_size entries must be ints or shapes"):
        RNN(Bad())
