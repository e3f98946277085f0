"""Cells: the math of one time step, one folder per family. Engines run them over sequences.

`FAMILIES` lists the built-in families' cell classes, each with its options table
(`cls.OPTIONS`) and fast formulas (`cls.FORMULAS`): what the conformance test walks.
"""

from gated.cells.base import DenseRNNCell, RNNCell
from gated.cells.conv_lstm import ConvGRUCell, ConvLSTMCell
from gated.cells.gru import GRUCell
from gated.cells.lstm import VARIANTS, LSTMCell
from gated.cells.mlstm import mLSTMCell
from gated.cells.simple import SimpleRNNCell
from gated.cells.slstm import sLSTMCell
from gated.cells.stacked import StackedRNNCells

FAMILIES = (LSTMCell, GRUCell, SimpleRNNCell, sLSTMCell, mLSTMCell, ConvLSTMCell, ConvGRUCell)

__all__ = ["RNNCell", "DenseRNNCell", "LSTMCell", "GRUCell", "SimpleRNNCell",
           "StackedRNNCells", "VARIANTS", "FAMILIES", "sLSTMCell", "mLSTMCell",
           "ConvLSTMCell", "ConvGRUCell"]
