"""Cells: the math of one time step, per family. Engines run them over sequences."""

from gated.cells.base import RNNCell
from gated.cells.gru import GRUCell
from gated.cells.lstm import VARIANTS, LSTMCell
from gated.cells.simple import SimpleRNNCell
from gated.cells.stacked import StackedRNNCells

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "SimpleRNNCell", "StackedRNNCells", "VARIANTS"]
