"""Keras 3's convolutional recurrent layers: `ConvLSTM1D/2D/3D`, and `ConvGRU1D/2D/3D` beyond.

Same names, arguments, defaults, weight shapes and `get_weights()` order as Keras 3
(`kernel kernel_size + (channels, 4 * filters)`, `recurrent_kernel kernel_size + (filters,
4 * filters)`, `bias (4 * filters,)`), so Keras weights load and give Keras' numbers. Inputs are
`(batch, time, *spatial, channels)` (`data_format='channels_last'`, Keras' default) or
`(batch, time, channels, *spatial)`; outputs and states follow the same `data_format`.

Speed: the input convolution of every step runs as ONE batched convolution, only the recurrent
convolution stays in the time loop, and training uses the family's fused BPTT
(`gated.cells.conv_lstm`); `engine='reference'` runs the plain autograd loop instead.
Masks (`(batch, time)`, False = skip the step) carry the state and output over, as Keras 3.
"""

from __future__ import annotations

from typing import Any

import torch

from gated.backend import image_data_format
from gated.cells.conv_lstm import ConvGRUCell, ConvLSTMCell
from gated.layer import format_shape
from gated.layers.recurrent import RNN, _accepted_args

_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "engine")
_FORMATS = ("channels_last", "channels_first")


def _check_format(data_format: Any, owner: str) -> str:
    value = image_data_format() if data_format is None else data_format
    if not isinstance(value, str) or value.lower() not in _FORMATS:
        raise ValueError(f"{owner}: argument `data_format` must be one of {list(_FORMATS)} "
                         f"(or None for keras.config.image_data_format()), received "
                         f"data_format={data_format!r}.")
    return value.lower()


class ConvRNN(RNN):
    """An `RNN` over a convolutional cell, with Keras' `data_format` at its boundary."""

    rank = 2
    cell_class: type = ConvLSTMCell

    def __init__(self, filters: int, kernel_size: Any, data_format: str | None = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, engine: str = "auto", **kwargs: Any) -> None:
        owner = type(self).__name__
        for name, value in (("kernel_constraint", kernel_constraint),
                            ("recurrent_constraint", recurrent_constraint),
                            ("bias_constraint", bias_constraint)):
            if value is not None:
                raise ValueError(f"{owner}: weight constraints are not implemented in gated; "
                                 f"received {name}={value!r} (pass None).")
        layer_kwargs = {k: kwargs.pop(k) for k in list(kwargs)
                        if k in ("name", "trainable", "dtype", "input_shape",
                                 "batch_input_shape", "batch_size")}
        accepted = _accepted_args(self.cell_class) - {"rank", "filters", "units"}
        unknown = {k: v for k, v in kwargs.items() if k not in accepted}
        if unknown:
            raise TypeError(f"Unrecognized keyword arguments passed to {owner}: {unknown}")
        data_format = _check_format(data_format, owner)
        cell = self.cell_class(self.rank, filters, kernel_size,
                               dtype=layer_kwargs.get("dtype"), **kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, engine=engine,
                         **layer_kwargs)
        self.data_format = data_format
        self.input_ndim = self.rank + 3

    # ------------------------------------------------------------------ layout
    @property
    def _channels_last(self) -> bool:
        return self.data_format == "channels_last"

    def _expected_layout(self) -> str:
        spatial = ", ".join(f"dim{k + 1}" for k in range(self.rank))
        if self._channels_last:
            return f" (batch, time, {spatial}, channels)"
        return f" (batch, time, channels, {spatial})"

    def _to_first(self, t: torch.Tensor) -> torch.Tensor:
        """Keras layout -> channels-first, for any number of leading axes."""
        if not self._channels_last:
            return t
        lead = t.ndim - self.rank - 1
        return t.permute(*range(lead), t.ndim - 1, *range(lead, t.ndim - 1))

    def _from_first(self, t: torch.Tensor) -> torch.Tensor:
        if not self._channels_last:
            return t
        lead = t.ndim - self.rank - 1
        return t.permute(*range(lead), *range(lead + 1, t.ndim), lead)

    def _shape_first(self, shape: tuple) -> tuple:
        """A Keras-layout shape (leading axes, then the step's axes) in channels-first order."""
        if not self._channels_last:
            return tuple(shape)
        lead = len(shape) - self.rank - 1
        return (*shape[:lead], shape[-1], *shape[lead:-1])

    def _shape_back(self, shape: tuple) -> tuple:
        if not self._channels_last:
            return tuple(shape)
        lead = len(shape) - self.rank - 1
        return (*shape[:lead], *shape[lead + 1:], shape[lead])

    # ------------------------------------------------------------------ build & checks
    def build(self, input_shape: tuple) -> None:
        first = self._shape_first(tuple(input_shape))
        self.cell._maybe_build((first[0], *first[2:]))
        self.input_features = self.cell.in_channels

    def _check_input(self, shape: tuple) -> None:
        self._check_rank(shape)
        if self.cell.in_channels is None:
            return
        first = self._shape_first(tuple(shape))
        want = (self.cell.in_channels, *self.cell.in_spatial)
        if tuple(first[2:]) != want:
            axis = "-1" if self._channels_last else "2"
            raise ValueError(
                f"Input to layer '{self.name}' ({type(self).__name__}) does not match the "
                f"shape it was built for: expected (batch, time) + "
                f"{format_shape(self._shape_back(want))} with {want[0]} channels on axis "
                f"{axis} ({self.data_format}), received shape {format_shape(tuple(shape))}.")

    def compute_output_shape(self, input_shape: tuple) -> Any:
        batch, steps = input_shape[0], input_shape[1]
        if not self.cell.built:
            first = self._shape_first(tuple(input_shape))
            self.cell._maybe_build((first[0], *first[2:]))
        step = self._shape_back(tuple(self.cell.output_size))
        output = (batch, steps, *step) if self.return_sequences else (batch, *step)
        if self.return_state:
            return [output] + [(batch, *step) for _ in self.cell.state_size]
        return output

    # ------------------------------------------------------------------ call
    def forward(self, inputs: torch.Tensor, mask: torch.Tensor | None = None,
                training: bool = False, initial_state: Any = None) -> Any:
        if initial_state is not None:
            states = [initial_state] if isinstance(initial_state, torch.Tensor) \
                else list(initial_state)
            initial_state = [self._to_first(torch.as_tensor(s, dtype=inputs.dtype,
                                                            device=inputs.device))
                             for s in states]
        out = super().forward(self._to_first(inputs), mask=mask, training=training,
                              initial_state=initial_state)
        if isinstance(out, list):
            return [self._from_first(t) for t in out]
        return self._from_first(out)

    def reset_states(self, states: Any = None) -> None:
        """Clear the carried states of a stateful layer (or set them, in `data_format`)."""
        if states is not None:
            states = [states] if isinstance(states, torch.Tensor) else list(states)
            states = [self._to_first(torch.as_tensor(s, dtype=self.dtype)) for s in states]
        super().reset_states(states)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("unroll", None)
        config.pop("zero_output_for_mask", None)
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype", "rank"):
            cell_config.pop(key, None)
        config.update(cell_config)
        config["data_format"] = self.data_format
        return config

    @classmethod
    def from_config(cls, config: dict) -> ConvRNN:
        return cls(**config)

    def __getattr__(self, name: str) -> Any:
        # Keras exposes the cell's hyper-parameters on the layer (layer.filters, ...).
        try:
            return super().__getattr__(name)
        except AttributeError:
            cell = self._modules.get("cell")
            if cell is not None and not name.startswith("_") and hasattr(cell, name):
                return getattr(cell, name)
            raise


def _convlstm_args(rank: int, name: str) -> str:
    return f"""{name}: Keras 3's `keras.layers.{name}`, a ConvLSTM over {rank}-D feature maps.

    Args:
        filters: Number of output channels.
        kernel_size: An int or a tuple of {rank} ints (both convolutions).
        strides, padding ('valid' or 'same'), data_format ('channels_last' default, or
            'channels_first'), dilation_rate: the input convolution, as Keras.
        activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, unit_forget_bias, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, dropout, recurrent_dropout, seed: as Keras.
        kernel_constraint, recurrent_constraint, bias_constraint: only None (gated has no
            weight constraints yet: anything else raises ValueError).
        return_sequences, return_state, go_backwards, stateful: as Keras.
        peephole: Beyond Keras: False, True (= 'channel', Shi et al. 2015) or 'position'
            (see `gated.cells.conv_lstm.cell`).
        engine: 'auto' (fused BPTT) or a backend of `gated.engine` to force.

    Input shape: `(batch, time, *{rank} spatial dims, channels)` (channels_last) or
    `(batch, time, channels, *{rank} spatial dims)`; the output has `filters` channels.
    """


class ConvLSTM(ConvRNN):
    """Base of `ConvLSTM1D/2D/3D` (Keras' arguments; see `ConvLSTM2D`)."""

    cell_class = ConvLSTMCell

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", data_format: str | None = None,
                 dilation_rate: Any = 1, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, peephole: Any = False,
                 engine: str = "auto", **kwargs: Any) -> None:
        super().__init__(
            filters, kernel_size, data_format=data_format,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, return_sequences=return_sequences,
            return_state=return_state, go_backwards=go_backwards, stateful=stateful,
            engine=engine, strides=strides, padding=padding, dilation_rate=dilation_rate,
            activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
            peephole=peephole, **kwargs)


class ConvGRU(ConvRNN):
    """Base of `ConvGRU1D/2D/3D`: a GRU with convolutions (Ballas et al. 2016), Keras-style
    arguments as `ConvLSTM2D` plus GRU's `reset_after` (default True, as Keras' `GRU`)."""

    cell_class = ConvGRUCell

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", data_format: str | None = None,
                 dilation_rate: Any = 1, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, reset_after: bool = True, engine: str = "auto",
                 **kwargs: Any) -> None:
        super().__init__(
            filters, kernel_size, data_format=data_format,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, return_sequences=return_sequences,
            return_state=return_state, go_backwards=go_backwards, stateful=stateful,
            engine=engine, strides=strides, padding=padding, dilation_rate=dilation_rate,
            activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, reset_after=reset_after,
            **kwargs)


class ConvLSTM1D(ConvLSTM):
    rank = 1
    __doc__ = _convlstm_args(1, "ConvLSTM1D")


class ConvLSTM2D(ConvLSTM):
    rank = 2
    __doc__ = _convlstm_args(2, "ConvLSTM2D") + """
    Example:
        >>> layer = ConvLSTM2D(8, 3, padding="same", return_sequences=True)
        >>> layer(np.zeros((2, 10, 64, 64, 1), "float32")).shape   # (2, 10, 64, 64, 8)
    """


class ConvLSTM3D(ConvLSTM):
    rank = 3
    __doc__ = _convlstm_args(3, "ConvLSTM3D")


class ConvGRU1D(ConvGRU):
    """ConvGRU over 1-D feature maps `(batch, time, steps, channels)`; see `ConvGRU`."""

    rank = 1


class ConvGRU2D(ConvGRU):
    """ConvGRU over 2-D feature maps `(batch, time, rows, cols, channels)`; see `ConvGRU`.

    Example:
        >>> layer = ConvGRU2D(8, 3, padding="same")
        >>> layer(np.zeros((2, 10, 16, 16, 1), "float32")).shape   # (2, 16, 16, 8)
    """

    rank = 2


class ConvGRU3D(ConvGRU):
    """ConvGRU over 3-D feature maps `(batch, time, d1, d2, d3, channels)`; see `ConvGRU`."""

    rank = 3


__all__ = ["ConvGRU1D", "ConvGRU2D", "ConvGRU3D", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]
