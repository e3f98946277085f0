"""What the convolutional cells share: geometry, Keras' weight layout, the input convolution.

A convolutional cell's step maps feature maps `x_t (batch, in_channels, *spatial)` and a state
of feature maps `(batch, filters, *out_spatial)`; inside the cells everything is channels-first
(torch's layout) and the layers convert Keras' `channels_last`. The input convolution needs no
state, so it is the cell's `input_projection`: an engine runs it for all steps as ONE batched
convolution over `(batch * time, in_channels, *spatial)`, and only the recurrent convolution
(stride 1, `'same'` padding, as Keras) stays in the time loop.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from gated.cells.base import DenseRNNCell
from gated.cells.conv_lstm.conv import Conv, as_tuple, conv_pads, output_spatial, torch_weight
from gated.engine.spec import StepSpec
from gated.layer import format_shape

PADDINGS = ("valid", "same")


class ConvCell(DenseRNNCell):
    """Base of the convolutional cells: `kernel k+(C, G*F)`, `recurrent_kernel k+(F, G*F)`.

    Args:
        rank: Number of spatial axes: 1, 2 or 3.
        filters: Number of output channels (the state's channels).
        kernel_size: An int or a tuple of `rank` ints, for both convolutions.
        strides: Strides of the input convolution (the recurrent one has stride 1).
        padding: `'valid'` or `'same'` for the input convolution (the recurrent one is
            always `'same'`).
        dilation_rate: Dilation of the input convolution (strides and dilation > 1 exclude
            each other, as in Keras).
        **kwargs: `use_bias`, `dropout`, `recurrent_dropout`, `seed`, initializers,
            regularizers, `name`, `dtype` (see `DenseRNNCell`).
    """

    NOT_STEP_OPTIONS = DenseRNNCell.NOT_STEP_OPTIONS | {
        # the geometry: every fast formula reads it from the spec (like `units`)
        "rank", "filters", "kernel_size", "strides", "padding", "dilation_rate"}

    def __init__(self, rank: int, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", dilation_rate: Any = 1, **kwargs: Any) -> None:
        super().__init__(filters, **kwargs)
        owner = type(self).__name__
        if rank not in (1, 2, 3) or isinstance(rank, bool):
            raise ValueError(f"{owner}: argument `rank` must be 1, 2 or 3, received "
                             f"rank={rank!r}.")
        self.rank = int(rank)
        self.filters = self.units
        self.kernel_size = as_tuple(kernel_size, rank, "kernel_size", owner)
        self.strides = as_tuple(strides, rank, "strides", owner)
        self.dilation_rate = as_tuple(dilation_rate, rank, "dilation_rate", owner)
        if not isinstance(padding, str) or padding.lower() not in PADDINGS:
            raise ValueError(f"{owner}: argument `padding` must be one of {list(PADDINGS)}, "
                             f"received padding={padding!r}.")
        self.padding = padding.lower()
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{owner}: `strides > 1` is not compatible with `dilation_rate > 1` (as in "
                f"Keras); received strides={self.strides} and "
                f"dilation_rate={self.dilation_rate}.")
        self.input_ndim = rank + 2
        self.in_channels: int | None = None
        self.in_spatial: tuple[int, ...] | None = None
        self.out_spatial: tuple[int, ...] | None = None

    # ------------------------------------------------------------------ geometry
    def _geometry(self, input_shape: tuple) -> None:
        """Check `(batch, C, *spatial)` and set the convolutions' geometry."""
        owner = type(self).__name__
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"{owner} expects step inputs of rank {self.rank + 2} (batch, "
                             f"channels, {self.rank} spatial axes), received shape "
                             f"{format_shape(tuple(input_shape))}.")
        spatial = tuple(input_shape[2:])
        if any(n is None for n in spatial) or input_shape[1] is None:
            raise ValueError(f"{owner} needs static channel and spatial sizes, received "
                             f"input shape {format_shape(tuple(input_shape))}.")
        spatial = tuple(int(n) for n in spatial)
        pads = conv_pads(spatial, self.kernel_size, self.strides, self.dilation_rate,
                         self.padding)
        out = output_spatial(spatial, self.kernel_size, self.strides, self.dilation_rate, pads)
        if min(out) < 1:
            raise ValueError(
                f"{owner}: kernel_size={self.kernel_size} (dilation_rate="
                f"{self.dilation_rate}) is larger than the spatial input {spatial} with "
                f"padding='valid': the convolution would have no output. Use a smaller "
                f"kernel or padding='same'.")
        self.in_channels = int(input_shape[1])
        self.in_spatial = spatial
        self.out_spatial = out
        self.input_pads = pads
        self.recurrent_pads = conv_pads(out, self.kernel_size, (1,) * self.rank,
                                        (1,) * self.rank, "same")
        self._input_conv = Conv(self.rank, self.strides, self.dilation_rate, pads)
        self._recurrent_conv = Conv(self.rank, (1,) * self.rank, (1,) * self.rank,
                                    self.recurrent_pads)

    def _add_conv_weights(self, blocks: int, bias_shape: tuple | None = None) -> None:
        n = blocks * self.filters
        k = self.kernel_size
        self.add_weight("kernel", (*k, self.in_channels, n), self.kernel_initializer)
        self.add_weight("recurrent_kernel", (*k, self.filters, n), self.recurrent_initializer)
        if self.use_bias:
            self.add_weight("bias", bias_shape or (n,), self.bias_initializer)

    @property
    def state_size(self) -> tuple:
        shape = (self.filters, *(self.out_spatial or ()))
        return (shape, shape)

    @property
    def output_size(self) -> tuple:
        return (self.filters, *(self.out_spatial or ()))

    @property
    def recurrent_size(self) -> int:
        return self.filters

    def spec_config(self) -> dict:
        return {"rank": self.rank, "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "dilation_rate": self.dilation_rate,
                "input_pads": self.input_pads, "recurrent_pads": self.recurrent_pads,
                "out_spatial": self.out_spatial}

    def _build_spec(self) -> StepSpec:
        spec = super()._build_spec()
        macs = math.prod(self.recurrent_kernel.shape) * math.prod(self.out_spatial)
        return dataclasses.replace(spec, step_macs=macs, memo={})

    # ------------------------------------------------------------------ the input half
    def input_bias(self) -> torch.Tensor | None:
        """The bias added to the input convolution (None: no bias there)."""
        return self.bias if self.use_bias else None

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """The input convolution `W * x + b` of any number of leading axes: `(..., C,
        *spatial) -> (..., G*F, *out_spatial)`, as one convolution."""
        lead = x.shape[:x.ndim - self.rank - 1]
        flat = x.reshape(-1, *x.shape[x.ndim - self.rank - 1:])
        out = self._input_conv(flat, torch_weight(self.kernel), self.input_bias())
        return out.view(*lead, *out.shape[1:])

    def recurrent_conv(self, h: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        """`U * h`: stride 1, `'same'` padding, no bias (Keras' `recurrent_conv`)."""
        return self._recurrent_conv(h, torch_weight(kernel))

    # ------------------------------------------------------------------ dropout
    def dropout_masks(self, batch_size: int, input_dim: int, like: torch.Tensor,
                      training: bool) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """One input mask `(batch, C, *spatial)` and one recurrent mask `(batch, F,
        *out_spatial)` per sequence, kept entries scaled by `1 / (1 - rate)`. (Keras draws
        one mask per gate; here the four gates share it, as in gated's dense cells.)"""
        if not training:
            return None, None

        def draw(rate: float, shape: tuple) -> torch.Tensor | None:
            if rate <= 0.0:
                return None
            probs = torch.full((batch_size, *shape), 1.0 - rate, dtype=like.dtype)
            keep = torch.bernoulli(probs, generator=self._generator).to(like.device)
            return keep / (1.0 - rate)

        return (draw(self.dropout, (self.in_channels, *self.in_spatial)),
                draw(self.recurrent_dropout, self.output_size))

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("units", None)
        config.update(rank=self.rank, filters=self.filters, kernel_size=self.kernel_size,
                      strides=self.strides, padding=self.padding,
                      dilation_rate=self.dilation_rate)
        return config
