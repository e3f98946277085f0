"""Transposed convolutions `Conv1DTranspose`, `Conv2DTranspose`, `Conv3DTranspose` (Keras 3), on
torch's `conv_transpose1d/2d/3d`.

The gradient of a convolution with respect to its input: each input pixel scatters
`kernel * x` over a window, windows `strides` apart. Keras stores `kernel (*kernel_size,
filters, input_channels)`, which permutes to torch's `(input_channels, filters, *kernel_size)`.

Output size per axis (`k` the dilated kernel size, `s` the stride, `op` the output padding):

    'valid': (n - 1) * s + k + op        op default max(k, s) - k
    'same':  n * s                       without output_padding
             (n - 1) * s + k % 2 + op    with output_padding

torch is run without padding (the full `(n - 1) * s + k` window) and the result is cropped at
the start and end by Keras' (JAX's) padding split, or extended with zeros where Keras' window
is longer than the full one.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gated.layer import format_shape
from gated.layers.conv_utils import (
    channels_of,
    normalize_tuple,
    spatial_dims,
    to_channels_first,
    to_channels_last,
    with_spatial,
)
from gated.layers.convolutional import BaseConv

_TORCH_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _crops(kernel: int, stride: int, dilation: int, padding: str,
           output_padding: int | None) -> tuple[int, int]:
    """How much to remove from the start and end of torch's full transposed output."""
    k = (kernel - 1) * dilation + 1
    if padding == "valid":
        op = max(k, stride) - k if output_padding is None else output_padding
        before, after = k - 1, k - 1 + op
    else:
        total = stride + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
        before = min(total // 2 + total % 2, k - 1)
        after = total - before
    return (k - 1) - before, (k - 1) - after


class BaseConvTranspose(BaseConv):
    """Shared body of the transposed convolutions (no `groups`, as Keras)."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 output_padding: Any = None, data_format: str | None = None,
                 dilation_rate: Any = 1, **kwargs: Any) -> None:
        if "groups" in kwargs:
            raise TypeError(f"{type(self).__name__} has no argument `groups` (as Keras).")
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, **kwargs)
        owner = type(self).__name__
        if self.padding == "causal":
            raise ValueError(f"Argument `padding` of {owner} must be one of ['valid', 'same'], "
                             f"received padding={padding!r}.")
        self.output_padding = None if output_padding is None else normalize_tuple(
            output_padding, self.rank, "output_padding", owner, allow_zero=True)
        if self.output_padding is not None:
            for axis, (op, s) in enumerate(zip(self.output_padding, self.strides, strict=True)):
                if op >= s:
                    raise ValueError(
                        f"Argument `output_padding` of {owner} must be smaller than `strides` "
                        f"on every axis: axis {axis} has output_padding={op}, strides={s}."
                    )

    def _window(self) -> tuple:
        return ()  # a transposed convolution never runs out of input

    def build(self, input_shape: tuple) -> None:
        self._check_rank(input_shape)
        channels = channels_of(input_shape, self.data_format)
        if channels is None:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) needs a known channel axis, "
                f"received input shape {format_shape(input_shape)}."
            )
        kernel = self.add_weight("kernel", (*self.kernel_size, self.filters, int(channels)),
                                 self.kernel_initializer)
        kernel.constraint = self.kernel_constraint
        if self.use_bias:
            bias = self.add_weight("bias", (self.filters,), self.bias_initializer)
            bias.constraint = self.bias_constraint
        self.input_channels = int(channels)

    def _all_crops(self) -> list[tuple[int, int]]:
        ops = self.output_padding or (None,) * self.rank
        return [_crops(k, s, d, self.padding, op) for k, s, d, op in
                zip(self.kernel_size, self.strides, self.dilation_rate, ops, strict=True)]

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        spatial = []
        for n, k, s, d, (a, b) in zip(spatial_dims(input_shape, self.data_format),
                                      self.kernel_size, self.strides, self.dilation_rate,
                                      self._all_crops(), strict=True):
            spatial.append(None if n is None else (n - 1) * s + (k - 1) * d + 1 - a - b)
        return with_spatial(tuple(input_shape), tuple(spatial), self.filters, self.data_format)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs if self.data_format == "channels_first" else to_channels_first(inputs)
        # (in, filters, *k) from Keras' (*k, filters, in)
        weight = self.kernel.permute(self.rank + 1, self.rank, *range(self.rank))
        y = _TORCH_CONV_T[self.rank](x, weight, None, self.strides, 0, 0, 1, self.dilation_rate)
        crops = self._all_crops()
        index = [slice(None), slice(None)]
        for size, (a, b) in zip(y.shape[2:], crops, strict=True):
            index.append(slice(max(a, 0), size - max(b, 0)))
        y = y[tuple(index)]
        if any(a < 0 or b < 0 for a, b in crops):
            flat: list[int] = []
            for a, b in reversed(crops):
                flat.extend((max(-a, 0), max(-b, 0)))
            y = F.pad(y, flat)
        if self.use_bias:
            y = y + self.bias.reshape(-1, *(1,) * self.rank)
        if self.data_format == "channels_last":
            y = to_channels_last(y)
        return self.activation(y)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("groups")
        config["output_padding"] = self.output_padding
        return config


class Conv1DTranspose(BaseConvTranspose):
    """Transposed 1-D convolution (upsampling of `(batch, steps, channels)`).

    Args:
        filters: Number of output channels.
        kernel_size, strides, dilation_rate: Int or tuple of 1 int.
        padding: `'valid'` (default) or `'same'` (`steps * strides` outputs).
        output_padding: Optional int < `strides`, extra steps at the end.
        data_format, activation, use_bias, initializers, regularizers, constraints: as
            `Conv1D`.

    Weights: `kernel (kernel_size, filters, channels)`, `bias (filters,)`.

    Example:
        >>> Conv1DTranspose(8, 3, strides=2, padding="same")(torch.randn(2, 10, 4)).shape
        torch.Size([2, 20, 8])
    """

    rank = 1


class Conv2DTranspose(BaseConvTranspose):
    """Transposed 2-D convolution ("deconvolution"), as `Conv1DTranspose` on images.

    Weights: `kernel (kh, kw, filters, channels)`, `bias (filters,)`.

    Example:
        >>> Conv2DTranspose(4, 3, strides=2, padding="same")(torch.randn(1, 8, 8, 2)).shape
        torch.Size([1, 16, 16, 4])
    """

    rank = 2


class Conv3DTranspose(BaseConvTranspose):
    """Transposed 3-D convolution, as `Conv2DTranspose` on volumes.

    Weights: `kernel (kd, kh, kw, filters, channels)`, `bias (filters,)`.
    """

    rank = 3
