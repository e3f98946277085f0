"""Keras-style layers. `from gated.layers import LSTM, Dense` as from `keras.layers`."""

from gated.cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from gated.layer import KerasTensor, Layer
from gated.layers.attention import AdditiveAttention, Attention
from gated.layers.attention_pooling import AttentionPooling
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
from gated.layers.lstm import LSTM
from gated.layers.multi_head_attention import MultiHeadAttention
from gated.layers.position import (
    PositionEmbedding,
    SinePositionEncoding,
    TokenAndPositionEmbedding,
)
from gated.layers.recurrent import RNN
from gated.layers.simple_rnn import SimpleRNN
from gated.layers.transformer import TransformerDecoder, TransformerEncoder
from gated.layers.wrappers import Bidirectional, TimeDistributed

__all__ = [
    "AdditiveAttention", "Attention", "AttentionPooling", "MultiHeadAttention",
    "Activation", "Add", "Average", "Bidirectional", "Concatenate", "Dense", "Dropout",
    "Embedding", "Flatten", "GRU", "GRUCell", "Input", "InputLayer", "KerasTensor", "LSTM",
    "LSTMCell", "Layer", "LayerNormalization", "Masking", "Multiply", "RNN", "RepeatVector",
    "Reshape", "SimpleRNN", "SimpleRNNCell", "StackedRNNCells", "TimeDistributed",
    "PositionEmbedding", "SinePositionEncoding", "TokenAndPositionEmbedding",
    "TransformerDecoder", "TransformerEncoder",
]
