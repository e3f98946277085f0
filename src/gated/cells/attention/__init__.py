"""The attention decoder cell family: a wrapped recurrent cell attending over an encoder memory."""

from gated.cells.attention.cell import OPTIONS, SCORES, AttentionCell

__all__ = ["AttentionCell", "OPTIONS", "SCORES"]
