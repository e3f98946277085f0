"""`SimpleRNN`: the Keras layer over `SimpleRNNCell`."""

from __future__ import annotations

from typing import Any

from gated.cells import SimpleRNNCell
from gated.layers.recurrent import _CellLayer, layer_arguments


class SimpleRNN(_CellLayer):
    """Fully-connected RNN whose output is fed back as input: Keras' `SimpleRNN`.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer, dropout,
        recurrent_dropout, seed, return_sequences, return_state, go_backwards, stateful,
        unroll: as Keras' `SimpleRNN`.
        zero_output_for_mask: Output zeros at masked steps (instead of the previous output).
        engine: `"auto"` or a backend of `gated.engine` to force.
        **kwargs: `name`, `dtype`, `trainable`, `input_shape`, `batch_size`, ...

    Example:
        >>> layer = SimpleRNN(16)
    """

    cell_class = SimpleRNNCell

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, engine: str = "auto",
                 **kwargs: Any) -> None:
        super().__init__(units, **layer_arguments(locals()), **kwargs)
