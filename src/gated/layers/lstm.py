"""`LSTM`: the Keras layer over `LSTMCell`, the whole LSTM family as its arguments."""

from __future__ import annotations

from typing import Any

from gated.cells import LSTMCell
from gated.layers.recurrent import _CellLayer, layer_arguments


class LSTM(_CellLayer):
    """Long Short-Term Memory layer (Hochreiter & Schmidhuber 1997), Keras' `LSTM`.

    Every LSTM variant of the literature is an argument or a `variant=` preset of `LSTMCell`
    (peepholes, CIFG, no forget gate, projection, layer norm, ...): see `gated.cells.lstm`.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, unit_forget_bias, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, dropout, recurrent_dropout, seed: as Keras' `LSTM`.
        return_sequences, return_state, go_backwards, stateful, unroll: as Keras' `LSTM`.
        use_cudnn: `"auto"`, `True` (run cuDNN or raise `ValueError` saying why) or `False`
            (never cuDNN), as Keras' `LSTM`; see `docs/keras.md`.
        variant: A preset of `gated.cells.lstm.VARIANTS` (`"peephole"`, `"cifg"`, `"1997"`,
            ...); the explicit arguments below override it (None: the preset's value).
        input_gate, forget_gate, output_gate, peephole, coupled_gates, full_gate_recurrence,
        input_activation, output_activation, forget_bias, proj_size, layer_norm,
        layer_norm_epsilon, zoneout_cell, zoneout_hidden: the LSTM family (see `LSTMCell`).
        zero_output_for_mask: Output zeros at masked steps (instead of the previous output).
        engine: `"auto"` or a backend of `gated.engine` to force.
        **kwargs: `name`, `dtype`, `trainable`, `input_shape`, `batch_size`, ...

    Example:
        >>> model = Sequential([LSTM(50, activation="relu", input_shape=(100, 1)), Dense(1)])
    """

    cell_class = LSTMCell
    takes_use_cudnn = True

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool | None = None,
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 use_cudnn: Any = "auto", variant: str = "keras",
                 input_gate: bool | None = None, forget_gate: bool | None = None,
                 output_gate: bool | None = None, peephole: bool | None = None,
                 coupled_gates: bool | None = None, full_gate_recurrence: bool | None = None,
                 input_activation: Any = None, output_activation: Any = None,
                 forget_bias: float = 1.0, proj_size: int = 0, layer_norm: bool = False,
                 layer_norm_epsilon: float = 1e-3, zoneout_cell: float = 0.0,
                 zoneout_hidden: float = 0.0, zero_output_for_mask: bool = False,
                 engine: str = "auto", **kwargs: Any) -> None:
        super().__init__(units, **layer_arguments(locals()), **kwargs)
