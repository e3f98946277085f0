"""Keras-style layers. `from gated.layers import LSTM, Dense` as from `keras.layers`."""

from gated.cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from gated.layer import KerasTensor, Layer
from gated.layers.conv_lstm import (
    ConvGRU1D,
    ConvGRU2D,
    ConvGRU3D,
    ConvLSTM1D,
    ConvLSTM2D,
    ConvLSTM3D,
)
from gated.layers.convolutional import Conv1D, Conv2D, Conv3D
from gated.layers.convolutional_depthwise import (
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from gated.layers.convolutional_transpose import (
    Conv1DTranspose,
    Conv2DTranspose,
    Conv3DTranspose,
)
from gated.layers.core import (
    Activation,
    Add,
    Average,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    InputLayer,
    LayerNormalization,
    Masking,
    Multiply,
    RepeatVector,
    Reshape,
)
from gated.layers.gru import GRU
from gated.layers.lambda_layer import Lambda
from gated.layers.lstm import LSTM
from gated.layers.normalization import BatchNormalization
from gated.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from gated.layers.recurrent import RNN
from gated.layers.regularization import SpatialDropout1D, SpatialDropout2D, SpatialDropout3D
from gated.layers.reshaping import (
    Cropping1D,
    Cropping2D,
    Cropping3D,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from gated.layers.simple_rnn import SimpleRNN
from gated.layers.wrappers import Bidirectional, TimeDistributed
from gated.layers.xlstm import mLSTM, sLSTM
from gated.layers.xlstm_blocks import mLSTMBlock, sLSTMBlock, xLSTMBlockStack

__all__ = [
    "Activation", "Add", "Average", "Bidirectional", "Concatenate", "Dense", "Dropout",
    "Embedding", "Flatten", "GRU", "GRUCell", "Input", "InputLayer", "KerasTensor", "LSTM",
    "LSTMCell", "Layer", "LayerNormalization", "Masking", "Multiply", "RNN", "RepeatVector",
    "Reshape", "SimpleRNN", "SimpleRNNCell", "StackedRNNCells", "TimeDistributed",
    "Lambda",
    "ConvGRU1D", "ConvGRU2D", "ConvGRU3D", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
]
__all__ += [  # convolutional layers (issue 10)
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "BatchNormalization",
    "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Conv3D", "Conv3DTranspose",
    "Cropping1D", "Cropping2D", "Cropping3D", "DepthwiseConv1D", "DepthwiseConv2D",
    "SeparableConv1D", "SeparableConv2D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "MaxPooling1D",
    "MaxPooling2D", "MaxPooling3D", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D",
    "ZeroPadding3D",
]
__all__ += ["sLSTM", "mLSTM", "sLSTMBlock", "mLSTMBlock", "xLSTMBlockStack"]  # issue 12
