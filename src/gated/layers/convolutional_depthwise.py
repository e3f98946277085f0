"""Depthwise and separable convolutions (Keras 3): `DepthwiseConv1D/2D`, `SeparableConv1D/2D`.

Depthwise: each input channel `c` is convolved with its own `depth_multiplier` filters, output
channel `c * depth_multiplier + m` (torch's grouped convolution with `groups = channels`).
Separable: a depthwise convolution followed by a 1x1 ("pointwise") convolution to `filters`.

    depthwise_kernel (*kernel_size, channels, depth_multiplier)
    pointwise_kernel (*(1,) * rank, channels * depth_multiplier, filters)
    bias             (channels * depth_multiplier,) or (filters,)
"""

from __future__ import annotations

from typing import Any

import torch

from gated import activations, initializers, regularizers
from gated.layer import Layer, check_positive_int, format_shape
from gated.layers.conv_utils import (
    channels_of,
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
from gated.layers.convolutional import _TORCH_CONV, ChannelsInputMixin


class BaseDepthwiseConv(ChannelsInputMixin, Layer):
    """Shared body; `filters` None means depthwise only, else separable."""

    rank = 2
    separable = False

    def __init__(self, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 depth_multiplier: int = 1, data_format: str | None = None,
                 dilation_rate: Any = 1, activation: Any = None, use_bias: bool = True,
                 depthwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, depthwise_constraint: Any = None,
                 bias_constraint: Any = None, filters: int | None = None,
                 pointwise_initializer: Any = "glorot_uniform", pointwise_regularizer: Any = None,
                 pointwise_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.input_ndim = self.rank + 2
        if not self.separable and filters is not None:
            raise TypeError(f"{owner} has no argument `filters`: its output has "
                            "channels * depth_multiplier channels.")
        self.filters = check_positive_int(filters, "filters", owner) if self.separable else None
        self.depth_multiplier = check_positive_int(depth_multiplier, "depth_multiplier", owner)
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", owner)
        self.strides = normalize_tuple(strides, self.rank, "strides", owner)
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate", owner)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{owner} does not support `strides` > 1 together with `dilation_rate` > 1, "
                f"received strides={self.strides}, dilation_rate={self.dilation_rate}."
            )
        self.padding = normalize_padding(padding, owner)
        self.data_format = normalize_data_format(data_format, owner)
        if activity_regularizer is not None:
            raise ValueError(f"Argument `activity_regularizer` of {owner} is not supported by "
                             f"gated; received {activity_regularizer!r}.")
        self.activation_name = activation
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.depthwise_constraint = get_constraint(depthwise_constraint, "depthwise_constraint",
                                                   owner)
        self.pointwise_constraint = get_constraint(pointwise_constraint, "pointwise_constraint",
                                                   owner)
        self.bias_constraint = get_constraint(bias_constraint, "bias_constraint", owner)
        self._regularized = {"depthwise_regularizer": ["depthwise_kernel"],
                             "pointwise_regularizer": ["pointwise_kernel"],
                             "bias_regularizer": ["bias"]}

    def _window(self) -> tuple:
        return self.kernel_size

    def _out_channels(self, channels: Any) -> Any:
        if self.separable:
            return self.filters
        return None if channels is None else channels * self.depth_multiplier

    def build(self, input_shape: tuple) -> None:
        channels = channels_of(input_shape, self.data_format)
        if channels is None:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) needs a known channel axis, "
                f"received input shape {format_shape(input_shape)}."
            )
        channels = int(channels)
        mid = channels * self.depth_multiplier
        self.add_weight("depthwise_kernel", (*self.kernel_size, channels, self.depth_multiplier),
                        self.depthwise_initializer).constraint = self.depthwise_constraint
        if self.separable:
            self.add_weight("pointwise_kernel", (*(1,) * self.rank, mid, self.filters),
                            self.pointwise_initializer).constraint = self.pointwise_constraint
        if self.use_bias:
            self.add_weight("bias", (self._out_channels(channels),),
                            self.bias_initializer).constraint = self.bias_constraint
        self.input_channels = channels

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        spatial = tuple(
            conv_output_length(n, k, s, self.padding, d) for n, k, s, d in zip(
                spatial_dims(input_shape, self.data_format), self.kernel_size, self.strides,
                self.dilation_rate, strict=True)
        )
        channels = self._out_channels(channels_of(input_shape, self.data_format))
        return with_spatial(tuple(input_shape), spatial, channels, self.data_format)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs if self.data_format == "channels_first" else to_channels_first(inputs)
        padding: Any = 0
        if self.padding == "same":
            x, padding = pad_same(x, self.kernel_size, self.strides, self.dilation_rate)
        channels = self.input_channels
        # (*k, C, M) -> (C * M, 1, *k): output channel c * M + m, as Keras
        weight = self.depthwise_kernel.reshape(*self.kernel_size, 1, -1).permute(
            self.rank + 1, self.rank, *range(self.rank))
        conv = _TORCH_CONV[self.rank]
        depth_bias = self.bias if self.use_bias and not self.separable else None
        y = conv(x, weight, depth_bias, self.strides, padding, self.dilation_rate, channels)
        if self.separable:
            pointwise = self.pointwise_kernel.permute(self.rank + 1, self.rank,
                                                      *range(self.rank))
            y = conv(y, pointwise, self.bias if self.use_bias else None)
        if self.data_format == "channels_last":
            y = to_channels_last(y)
        return self.activation(y)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            kernel_size=self.kernel_size, strides=self.strides, padding=self.padding,
            depth_multiplier=self.depth_multiplier, data_format=self.data_format,
            dilation_rate=self.dilation_rate,
            activation=activations.serialize(self.activation_name), use_bias=self.use_bias,
            depthwise_initializer=initializers.serialize(self.depthwise_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            depthwise_regularizer=regularizers.serialize(self.depthwise_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            activity_regularizer=None,
            depthwise_constraint=serialize_constraint(self.depthwise_constraint),
            bias_constraint=serialize_constraint(self.bias_constraint),
        )
        if self.separable:
            config.update(
                filters=self.filters,
                pointwise_initializer=initializers.serialize(self.pointwise_initializer),
                pointwise_regularizer=regularizers.serialize(self.pointwise_regularizer),
                pointwise_constraint=serialize_constraint(self.pointwise_constraint),
            )
        return config


class DepthwiseConv1D(BaseDepthwiseConv):
    """Depthwise 1-D convolution: each channel of `(batch, steps, channels)` convolved with
    its own `depth_multiplier` filters -> `channels * depth_multiplier` channels.

    Args:
        kernel_size, strides, padding ('valid'/'same'), depth_multiplier (default 1),
        data_format, dilation_rate, activation, use_bias, depthwise_initializer,
        bias_initializer, depthwise_regularizer, bias_regularizer, depthwise_constraint,
        bias_constraint: as Keras.

    Weights: `depthwise_kernel (k, channels, depth_multiplier)`, `bias (channels * dm,)`.
    """

    rank = 1


class DepthwiseConv2D(BaseDepthwiseConv):
    """Depthwise 2-D convolution (as `DepthwiseConv1D`, on images; MobileNet's building block).

    Weights: `depthwise_kernel (kh, kw, channels, depth_multiplier)`, `bias (channels * dm,)`.
    """

    rank = 2


class _Separable(BaseDepthwiseConv):
    separable = True

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", data_format: str | None = None,
                 dilation_rate: Any = 1, depth_multiplier: int = 1, **kwargs: Any) -> None:
        super().__init__(kernel_size, strides=strides, padding=padding,
                         depth_multiplier=depth_multiplier, data_format=data_format,
                         dilation_rate=dilation_rate, filters=filters, **kwargs)


class SeparableConv1D(_Separable):
    """Depthwise 1-D convolution, then a pointwise (kernel size 1) convolution to `filters`.

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
        activation, use_bias, depthwise/pointwise/bias initializers, regularizers and
        constraints: as Keras.

    Weights: `depthwise_kernel (k, channels, dm)`, `pointwise_kernel (1, channels * dm,
    filters)`, `bias (filters,)`.
    """

    rank = 1


class SeparableConv2D(_Separable):
    """Depthwise 2-D convolution, then a 1x1 convolution to `filters` (Xception's block).

    Weights: `depthwise_kernel (kh, kw, channels, dm)`, `pointwise_kernel (1, 1,
    channels * dm, filters)`, `bias (filters,)`.
    """

    rank = 2
