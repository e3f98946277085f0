"""The GRU family: `cell.py` (the reference step and its equations), `fused.py`,
`compiled.py` + `kernels.py`, `torch.py` (its fast forms)."""

from gated.cells.gru.cell import OPTIONS, GRUCell

__all__ = ["GRUCell", "OPTIONS"]
