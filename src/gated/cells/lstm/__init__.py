"""The LSTM family: `cell.py` (options, presets, weights, the reference step and its
equations), and its fast forms beside it: `fused.py` (fused BPTT formulas), `compiled.py` +
`kernels.py` (Numba kernels), `torch.py` (the mapping to torch's fused LSTM)."""

from gated.cells.lstm.cell import OPTIONS, VARIANTS, LSTMCell

__all__ = ["LSTMCell", "OPTIONS", "VARIANTS"]
