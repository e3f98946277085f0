"""The mLSTM family (xLSTM's matrix-memory cell): `cell.py` (options, weights, the reference
step and its equations), `forms.py` (the recurrent, parallel and chunkwise forms over a
sequence) and `fused.py` (the recurrent step's fused BPTT formulas)."""

from gated.cells.mlstm.cell import OPTIONS, mLSTMCell

__all__ = ["OPTIONS", "mLSTMCell"]
