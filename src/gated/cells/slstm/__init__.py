"""The sLSTM family (xLSTM's scalar-memory cell): `cell.py` (options, weights, the reference
step and its equations) and `fused.py` (its fused BPTT formulas)."""

from gated.cells.slstm.cell import OPTIONS, sLSTMCell

__all__ = ["OPTIONS", "sLSTMCell"]
