"""Convolution layers `Conv1D`, `Conv2D`, `Conv3D` (Keras 3), on torch's `conv1d/2d/3d`.

    outputs = activation(conv(inputs, kernel) + bias)

Weights as Keras stores them: `kernel (*kernel_size, input_channels // groups, filters)` and
`bias (filters,)`; torch's layout `(filters, input_channels // groups, *kernel_size)` is a
permuted view of the same tensor, taken at each call, so gradients and `set_weights` act on the
Keras-layout parameter. Inputs are channels-last by default, `(batch, *spatial, channels)`, or
channels-first with `data_format='channels_first'`.

'same' padding follows Keras/TensorFlow: `ceil(n / stride)` outputs, the padding split evenly
with the odd pixel at the end (an explicit `F.pad` when the split is uneven, torch's own
symmetric `padding` otherwise). `Conv1D(padding='causal')` pads `(kernel_size - 1) *
dilation_rate` zeros at the start, so output `t` sees inputs `<= t` only.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gated import activations, initializers, regularizers
from gated.layer import Layer, check_positive_int, format_shape
from gated.layers.conv_utils import (
    channels_of,
    check_window_fits,
    conv_output_length,
    get_constraint,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
    pad_same,
    serialize_constraint,
    spatial_dims,
    to_channels_first,
    to_channels_last,
    with_spatial,
)

_TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


class ChannelsInputMixin:
    """Input checks of the channel-aware layers: rank, channel count after build, and (for
    'valid' windows) a window no larger than the input."""

    input_channels: int | None = None
    _window_what = "kernel"

    def _expected_layout(self) -> str:
        spatial = ", ".join(["dim"] * self.rank) if self.rank > 1 else "steps"
        if self.data_format == "channels_last":
            return f" (batch, {spatial}, channels)"
        return f" (batch, channels, {spatial})"

    def _window(self) -> tuple:
        return ()

    def _check_input(self, shape: tuple) -> None:
        self._check_rank(shape)
        channels = channels_of(shape, self.data_format)
        if self.input_channels is not None and channels is not None \
                and channels != self.input_channels:
            axis = -1 if self.data_format == "channels_last" else 1
            raise ValueError(
                f"Input to layer '{self.name}' ({type(self).__name__}) has the wrong number of "
                f"channels: expected axis {axis} to have size {self.input_channels} "
                f"(data_format={self.data_format!r}; the layer was built for input shape "
                f"{format_shape(self._build_input_shape)}), received shape {format_shape(shape)}."
            )
        if getattr(self, "padding", "same") == "valid" and self._window():
            check_window_fits(type(self).__name__, self.name, shape,
                              spatial_dims(shape, self.data_format), self._window(),
                              getattr(self, "dilation_rate", (1,) * self.rank), self._window_what)


class BaseConv(ChannelsInputMixin, Layer):
    """Shared body of `Conv1D/2D/3D`; `rank` is the number of spatial axes."""

    rank = 2

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1, groups: int = 1,
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.input_ndim = self.rank + 2
        self.filters = check_positive_int(filters, "filters", owner)
        self.groups = check_positive_int(groups, "groups", owner)
        if self.filters % self.groups:
            raise ValueError(
                f"Argument `filters` of {owner} must be divisible by `groups`, received "
                f"filters={filters}, groups={groups}."
            )
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", owner)
        self.strides = normalize_tuple(strides, self.rank, "strides", owner)
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate", owner)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{owner} does not support `strides` > 1 together with `dilation_rate` > 1 "
                f"(as Keras), received strides={self.strides}, "
                f"dilation_rate={self.dilation_rate}."
            )
        self.padding = normalize_padding(padding, owner, allow_causal=self.rank == 1)
        self.data_format = normalize_data_format(data_format, owner)
        if activity_regularizer is not None:
            raise ValueError(
                f"Argument `activity_regularizer` of {owner} is not supported by gated; "
                f"received {activity_regularizer!r}. Add the penalty to the loss instead."
            )
        self.activation_name = activation
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = get_constraint(kernel_constraint, "kernel_constraint", owner)
        self.bias_constraint = get_constraint(bias_constraint, "bias_constraint", owner)
        self._regularized = {"kernel_regularizer": ["kernel"], "bias_regularizer": ["bias"]}

    def _window(self) -> tuple:
        return self.kernel_size

    def build(self, input_shape: tuple) -> None:
        owner = type(self).__name__
        self._check_rank(input_shape)
        channels = channels_of(input_shape, self.data_format)
        if channels is None:
            raise ValueError(
                f"Layer '{self.name}' ({owner}) needs a known channel axis, received input "
                f"shape {format_shape(input_shape)} with data_format={self.data_format!r}."
            )
        channels = int(channels)
        if channels % self.groups:
            raise ValueError(
                f"The input channels of {owner} must be divisible by `groups`: received "
                f"groups={self.groups} and {channels} input channels (input shape "
                f"{format_shape(input_shape)}, data_format={self.data_format!r})."
            )
        kernel = self.add_weight("kernel", (*self.kernel_size, channels // self.groups,
                                            self.filters), self.kernel_initializer)
        kernel.constraint = self.kernel_constraint
        if self.use_bias:
            bias = self.add_weight("bias", (self.filters,), self.bias_initializer)
            bias.constraint = self.bias_constraint
        self.input_channels = channels

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        spatial = tuple(
            conv_output_length(n, k, s, self.padding, d) for n, k, s, d in zip(
                spatial_dims(input_shape, self.data_format), self.kernel_size, self.strides,
                self.dilation_rate, strict=True)
        )
        return with_spatial(tuple(input_shape), spatial, self.filters, self.data_format)

    def torch_kernel(self) -> torch.Tensor:
        """The kernel in torch's layout `(filters, in // groups, *kernel_size)` (a view)."""
        return self.kernel.permute(self.rank + 1, self.rank, *range(self.rank))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs if self.data_format == "channels_first" else to_channels_first(inputs)
        padding: Any = 0
        if self.padding == "same":
            x, padding = pad_same(x, self.kernel_size, self.strides, self.dilation_rate)
        elif self.padding == "causal":
            x = F.pad(x, ((self.kernel_size[0] - 1) * self.dilation_rate[0], 0))
        y = _TORCH_CONV[self.rank](x, self.torch_kernel(), self.bias if self.use_bias else None,
                                   self.strides, padding, self.dilation_rate, self.groups)
        if self.data_format == "channels_last":
            y = to_channels_last(y)
        return self.activation(y)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
            groups=self.groups,
            activation=activations.serialize(self.activation_name),
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            activity_regularizer=None,
            kernel_constraint=serialize_constraint(self.kernel_constraint),
            bias_constraint=serialize_constraint(self.bias_constraint),
        )
        return config


class Conv1D(BaseConv):
    """1-D convolution over `(batch, steps, channels)` (temporal convolution).

    Args:
        filters: Number of output channels.
        kernel_size: Int or tuple of 1 int, the window length.
        strides: Int or tuple of 1 int (default 1).
        padding: `'valid'` (default), `'same'` or `'causal'` (zeros at the start only: output
            step t depends on inputs <= t, as WaveNet; output length `ceil(steps / strides)`).
        data_format: `'channels_last'` (default, from `gated.backend.image_data_format()`) or
            `'channels_first'` (`(batch, channels, steps)`).
        dilation_rate: Int, the spacing of the kernel taps (not with `strides` > 1).
        groups: Splits the input channels into `groups` groups, each convolved with
            `filters // groups` filters.
        activation: Keras activation name or callable (default linear).
        use_bias: Whether to add a bias (default True).
        kernel_initializer, bias_initializer: Default `'glorot_uniform'` and `'zeros'`.
        kernel_regularizer, bias_regularizer: Penalties added to the loss by `fit`.
        kernel_constraint, bias_constraint: Callables `w -> w` applied after each optimizer step.

    Weights: `kernel (kernel_size, channels // groups, filters)`, `bias (filters,)`.

    Returns:
        `(batch, new_steps, filters)` (or channels-first).

    Example:
        >>> y = Conv1D(32, 3, padding="causal")(torch.randn(4, 100, 8))  # (4, 100, 32)
    """

    rank = 1


class Conv2D(BaseConv):
    """2-D convolution over images `(batch, height, width, channels)`.

    Args: as `Conv1D`, with `kernel_size`, `strides`, `dilation_rate` ints or tuples of 2 ints
        and `padding` `'valid'` or `'same'`.

    Weights: `kernel (kh, kw, channels // groups, filters)`, `bias (filters,)`.

    Returns:
        `(batch, new_height, new_width, filters)` (or channels-first).

    Example:
        >>> y = Conv2D(16, (3, 3), padding="same", activation="relu")(torch.randn(2, 28, 28, 1))
    """

    rank = 2


class Conv3D(BaseConv):
    """3-D convolution over volumes or clips `(batch, depth, height, width, channels)`.

    Args: as `Conv2D`, with tuples of 3 ints.

    Weights: `kernel (kd, kh, kw, channels // groups, filters)`, `bias (filters,)`.

    Returns:
        `(batch, new_depth, new_height, new_width, filters)` (or channels-first).

    Example:
        >>> y = Conv3D(8, 3)(torch.randn(2, 10, 32, 32, 3))  # (2, 8, 30, 30, 8)
    """

    rank = 3
