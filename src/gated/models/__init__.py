"""Models: `Sequential`, the functional `Model`, saving and loading."""

from gated.models.model import Model
from gated.models.saving import load_model
from gated.models.seq2seq import Seq2Seq
from gated.models.sequential import Sequential

__all__ = ["Model", "Sequential", "load_model", "Seq2Seq"]
