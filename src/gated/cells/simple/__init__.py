"""The SimpleRNN family (the Elman cell, the contrast): `cell.py` (the reference step),
`fused.py`, `compiled.py` + `kernels.py`, `torch.py` (its fast forms)."""

from gated.cells.simple.cell import OPTIONS, SimpleRNNCell

__all__ = ["OPTIONS", "SimpleRNNCell"]
