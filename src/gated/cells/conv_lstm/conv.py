"""Convolution geometry and ops shared by the convolutional cells (ConvLSTM, ConvGRU).

Weights are kept in Keras' layout, `kernel_size + (in_channels, out_channels)`; torch's
convolutions want `(out_channels, in_channels) + kernel_size`: `torch_weight` and
`keras_weight` map between the two. Feature maps inside the cells are channels-first
`(batch, channels, *spatial)` (torch's native layout); the layers convert Keras'
`channels_last` at their boundary.

Padding follows Keras (and TensorFlow): `'valid'` pads nothing; `'same'` pads
`total = max((ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)` with `total // 2` before and the
rest after, so an even kernel pads one more at the end. Where the two sides are equal the pad
goes to the convolution itself, else the input is padded first (`F.pad`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_conv_backward = torch.ops.aten.convolution_backward

Pads = tuple[tuple[int, int], ...]


def as_tuple(value: Any, rank: int, name: str, owner: str, allow_zero: bool = False) -> tuple:
    """An int or a sequence of `rank` ints as a tuple (Keras' `standardize_tuple`)."""
    if isinstance(value, bool) or not isinstance(value, (int, Sequence)):
        raise TypeError(f"{owner}: argument `{name}` must be an int or a tuple of {rank} ints, "
                        f"received {name}={value!r}.")
    values = (value,) * rank if isinstance(value, int) else tuple(value)
    low = 0 if allow_zero else 1
    if len(values) != rank or not all(isinstance(v, int) and not isinstance(v, bool)
                                      and v >= low for v in values):
        raise ValueError(f"{owner}: argument `{name}` must be an int or a tuple of {rank} "
                         f"integers >= {low}, received {name}={value!r}.")
    return values


def same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """Keras' `'same'` padding of one axis: (before, after)."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def conv_pads(spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
              dilation: Sequence[int], padding: str) -> Pads:
    """Per axis `(before, after)` pads of a convolution."""
    if padding == "valid":
        return tuple((0, 0) for _ in spatial)
    return tuple(same_pads(n, k, s, d)
                 for n, k, s, d in zip(spatial, kernel, strides, dilation, strict=True))


def output_spatial(spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                   dilation: Sequence[int], pads: Pads) -> tuple[int, ...]:
    """The spatial shape a convolution produces (may hold values < 1: the caller checks)."""
    return tuple((n + a + b - (k - 1) * d - 1) // s + 1
                 for n, k, s, d, (a, b) in zip(spatial, kernel, strides, dilation, pads,
                                               strict=True))


#: torch's channels-last memory format per rank: oneDNN's fastest layout on CPU (none for 1-D)
_FORMATS = {2: torch.channels_last, 3: torch.channels_last_3d}


def channels_last(t: torch.Tensor, rank: int) -> torch.Tensor:
    """`t (n, channels, *spatial)` in channels-last memory (same values, same shape)."""
    fmt = _FORMATS.get(rank)
    return t if fmt is None else t.contiguous(memory_format=fmt)


def empty_channels_last(shape: Sequence[int], like: torch.Tensor, rank: int) -> torch.Tensor:
    """An empty `(n, channels, *spatial)` tensor in channels-last memory."""
    fmt = _FORMATS.get(rank, torch.contiguous_format)
    return torch.empty(tuple(shape), dtype=like.dtype, device=like.device, memory_format=fmt)


def torch_weight(kernel: torch.Tensor) -> torch.Tensor:
    """Keras `(*k, in, out)` -> torch `(out, in, *k)`."""
    rank = kernel.ndim - 2
    return kernel.permute(rank + 1, rank, *range(rank))


def keras_weight(weight: torch.Tensor) -> torch.Tensor:
    """torch `(out, in, *k)` -> Keras `(*k, in, out)` (the inverse of `torch_weight`)."""
    rank = weight.ndim - 2
    return weight.permute(*range(2, rank + 2), 1, 0)


class Conv:
    """One convolution of fixed geometry, forward and the two halves of its backward.

    Args:
        rank: 1, 2 or 3 spatial axes.
        strides, dilation: Per axis.
        pads: Per axis `(before, after)` (see `conv_pads`).
    """

    def __init__(self, rank: int, strides: Sequence[int], dilation: Sequence[int],
                 pads: Pads) -> None:
        self.rank = rank
        self.strides = list(strides)
        self.dilation = list(dilation)
        self.symmetric = all(a == b for a, b in pads)
        self.conv_pad = [a for a, _ in pads] if self.symmetric else [0] * rank
        # F.pad lists the last axis first
        self.pre_pad = None if self.symmetric else [v for a, b in reversed(pads) for v in (a, b)]
        self.pads = pads
        self.fn = _CONV[rank]

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.pre_pad is None else F.pad(x, self.pre_pad)

    def __call__(self, x: torch.Tensor, weight: torch.Tensor,
                 bias: torch.Tensor | None = None) -> torch.Tensor:
        """`x (n, in, *spatial)` convolved with a torch-layout `weight (out, in, *k)`."""
        return self.fn(self.pad(x), weight, bias, self.strides, self.conv_pad, self.dilation)

    @property
    def unit(self) -> bool:
        """Stride 1 and dilation 1 (the recurrent convolution): its input gradient is a plain
        convolution with the flipped, transposed kernel (`flipped`)."""
        return all(v == 1 for v in self.strides) and all(v == 1 for v in self.dilation)

    def flipped(self, weight: torch.Tensor) -> torch.Tensor:
        """`(out, in, *k)` -> `(in, out, *k)` flipped on every spatial axis."""
        return weight.flip(list(range(2, weight.ndim))).transpose(0, 1).contiguous()

    def input_grad(self, grad: torch.Tensor, x_shape: Sequence[int], weight: torch.Tensor,
                   flipped: torch.Tensor | None = None) -> torch.Tensor:
        """The gradient of the convolution's input `(n, in, *spatial)` (unpadded); with a unit
        stride and dilation, a forward convolution with `flipped` (oneDNN's fastest path)."""
        shape = list(x_shape)
        if self.pre_pad is not None:
            shape = shape[:2] + [n + a + b for n, (a, b) in zip(shape[2:], self.pads,
                                                               strict=True)]
        if flipped is not None and self.unit:
            full = [k - 1 - p for k, p in zip(flipped.shape[2:], self.conv_pad, strict=True)]
            dx = self.fn(grad, flipped, None, 1, full, 1)
        else:
            padded = grad.new_empty(1).expand(shape)  # only its shape is read
            dx = _conv_backward(grad, padded, weight, None, self.strides, self.conv_pad,
                                self.dilation, False, [0] * self.rank, 1,
                                [True, False, False])[0]
        if self.pre_pad is None:
            return dx
        index = [slice(None), slice(None)] + [slice(a, a + n) for n, (a, _) in
                                              zip(x_shape[2:], self.pads, strict=True)]
        return dx[tuple(index)]

    def weight_grad(self, grad: torch.Tensor, x: torch.Tensor,
                    weight: torch.Tensor) -> torch.Tensor:
        """The gradient of the torch-layout `weight` over every row of `x` and `grad`."""
        return _conv_backward(grad, self.pad(x), weight, None, self.strides, self.conv_pad,
                              self.dilation, False, [0] * self.rank, 1,
                              [False, True, False])[1]


__all__ = ["Conv", "as_tuple", "channels_last", "conv_pads", "empty_channels_last",
           "keras_weight", "output_spatial", "same_pads", "torch_weight"]


def input_convolution(spec: Any, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """The input convolution of ALL steps as one batched convolution over `(T*B, C, ...)`,
    returned TIME-MAJOR `(time, batch, G*F, *out_spatial)` (both families' fast forms)."""
    c = spec.config
    batch, steps = x.shape[0], x.shape[1]
    flat = channels_last(x.transpose(0, 1).reshape(steps * batch, *x.shape[2:]), c.rank)
    out = Conv(c.rank, c.strides, c.dilation_rate, c.input_pads)(
        flat, channels_last(torch_weight(spec.weights["kernel"]), c.rank), bias)
    return out.view(steps, batch, *out.shape[1:])
