"""The convolutional recurrent families: `cell.py` (the ConvLSTM of Shi et al. 2015 and Keras 3,
options, weights, the reference step and its equations) with its fused formulas in `fused.py`,
and the ConvGRU sibling (`gru.py`, `gru_fused.py`); `base.py` and `conv.py` hold what they share
(Keras' weight layout, padding, the batched input convolution)."""

from gated.cells.conv_lstm.cell import OPTIONS, ConvLSTMCell
from gated.cells.conv_lstm.gru import ConvGRUCell

__all__ = ["ConvGRUCell", "ConvLSTMCell", "OPTIONS"]
