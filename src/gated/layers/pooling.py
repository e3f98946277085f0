"""Pooling layers (Keras 3): `MaxPooling1D/2D/3D`, `AveragePooling1D/2D/3D`,
`GlobalAveragePooling1D/2D/3D`, `GlobalMaxPooling1D/2D/3D`, on torch's pooling ops.

'same' padding follows Keras/TensorFlow (`ceil(n / strides)` outputs, the odd pixel at the
end). Max pooling never picks a padded value; average pooling divides each window by the number
of real (unpadded) inputs it covers, as TensorFlow's and JAX's `avg_pool` do. Where the padding
is symmetric torch's `count_include_pad=False` does this at once; where it is not, the sum of the
zero-padded window is divided by the pooled count of ones. (Keras 3.15's torch backend pads
uneven windows by replicating the edge values, which counts copies of the edge: gated keeps the
TensorFlow/JAX meaning; see docs/convolutional.md.)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gated.layer import Layer
from gated.layers.conv_utils import (
    conv_output_length,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
    same_padding,
    spatial_dims,
    to_channels_first,
    to_channels_last,
    with_spatial,
)
from gated.layers.convolutional import ChannelsInputMixin

_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


class BasePooling(ChannelsInputMixin, Layer):
    """Shared body of the windowed pooling layers; `rank` spatial axes, `mode` max/average."""

    rank = 2
    mode = "max"
    _window_what = "pool window"

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.input_ndim = self.rank + 2
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size", owner)
        self.strides = self.pool_size if strides is None else normalize_tuple(
            strides, self.rank, "strides", owner)
        self.padding = normalize_padding(padding, owner)
        self.data_format = normalize_data_format(data_format, owner)

    def _window(self) -> tuple:
        return self.pool_size

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        spatial = tuple(
            conv_output_length(n, k, s, self.padding) for n, k, s in zip(
                spatial_dims(input_shape, self.data_format), self.pool_size, self.strides,
                strict=True)
        )
        channels = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        return with_spatial(tuple(input_shape), spatial, channels, self.data_format)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs if self.data_format == "channels_first" else to_channels_first(inputs)
        pads = [same_padding(n, k, s) for n, k, s in
                zip(x.shape[2:], self.pool_size, self.strides, strict=True)] \
            if self.padding == "same" else [(0, 0)] * self.rank
        symmetric = all(a == b for a, b in pads)
        if self.mode == "max":
            if symmetric:
                y = _MAX[self.rank](x, self.pool_size, self.strides, [a for a, _ in pads])
            else:
                y = _MAX[self.rank](F.pad(x, _flat(pads), value=float("-inf")),
                                    self.pool_size, self.strides)
        elif symmetric:
            y = _AVG[self.rank](x, self.pool_size, self.strides, [a for a, _ in pads],
                                count_include_pad=False)
        else:
            sums = _AVG[self.rank](F.pad(x, _flat(pads)), self.pool_size, self.strides)
            ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
            counts = _AVG[self.rank](F.pad(ones, _flat(pads)), self.pool_size, self.strides)
            y = sums / counts
        return y if self.data_format == "channels_first" else to_channels_last(y)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides, padding=self.padding,
                      data_format=self.data_format)
        return config


def _flat(pads: list[tuple[int, int]]) -> list[int]:
    out: list[int] = []
    for before, after in reversed(pads):
        out.extend((before, after))
    return out


_POOL_DOC = """{kind} pooling over {what}.

    Args:
        pool_size: Int or tuple of {rank} ints, the window (default 2).
        strides: Int or tuple of {rank} ints; default `pool_size`.
        padding: `'valid'` (default) or `'same'` (`ceil(n / strides)` outputs{avg_note}).
        data_format: `'channels_last'` (default) or `'channels_first'`.

    Returns:
        The pooled tensor, channels unchanged.

    Example:
        >>> y = {name}()(torch.randn({example}))
    """


class MaxPooling1D(BasePooling):
    rank, mode = 1, "max"


class MaxPooling2D(BasePooling):
    rank, mode = 2, "max"


class MaxPooling3D(BasePooling):
    rank, mode = 3, "max"


class AveragePooling1D(BasePooling):
    rank, mode = 1, "average"


class AveragePooling2D(BasePooling):
    rank, mode = 2, "average"


class AveragePooling3D(BasePooling):
    rank, mode = 3, "average"


_WHAT = {1: "steps `(batch, steps, channels)`", 2: "images `(batch, height, width, channels)`",
         3: "volumes `(batch, depth, height, width, channels)`"}
_EXAMPLE = {1: "4, 10, 8", 2: "4, 28, 28, 3", 3: "2, 8, 16, 16, 3"}
for _cls in (MaxPooling1D, MaxPooling2D, MaxPooling3D,
             AveragePooling1D, AveragePooling2D, AveragePooling3D):
    _cls.__doc__ = _POOL_DOC.format(
        kind="Max" if _cls.mode == "max" else "Average", what=_WHAT[_cls.rank], rank=_cls.rank,
        name=_cls.__name__, example=_EXAMPLE[_cls.rank],
        avg_note="; padded inputs are not counted" if _cls.mode == "average" else "")


class BaseGlobalPooling(ChannelsInputMixin, Layer):
    """Shared body of the global pooling layers: reduce every spatial axis."""

    rank = 2
    mode = "max"

    def __init__(self, data_format: str | None = None, keepdims: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_ndim = self.rank + 2
        self.data_format = normalize_data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def _axes(self) -> tuple[int, ...]:
        start = 1 if self.data_format == "channels_last" else 2
        return tuple(range(start, start + self.rank))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        channels = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        if not self.keepdims:
            return (input_shape[0], channels)
        return with_spatial(tuple(input_shape), (1,) * self.rank, channels, self.data_format)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.mode == "max":
            return torch.amax(inputs, dim=self._axes(), keepdim=self.keepdims)
        return torch.mean(inputs, dim=self._axes(), keepdim=self.keepdims)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(data_format=self.data_format, keepdims=self.keepdims)
        return config


_GLOBAL_DOC = """Global {kind} pooling: {what} -> `(batch, channels)`.

    Args:
        data_format: `'channels_last'` (default) or `'channels_first'`.
        keepdims: Keep the reduced axes with size 1 (default False).{mask_note}

    Returns:
        `(batch, channels)`, or with `keepdims` the input rank with spatial sizes 1.

    Example:
        >>> y = {name}()(torch.randn({example}))
    """


class GlobalMaxPooling1D(BaseGlobalPooling):
    rank, mode = 1, "max"


class GlobalMaxPooling2D(BaseGlobalPooling):
    rank, mode = 2, "max"


class GlobalMaxPooling3D(BaseGlobalPooling):
    rank, mode = 3, "max"


class GlobalAveragePooling1D(BaseGlobalPooling):
    rank, mode = 1, "average"
    supports_masking = True

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            return super().forward(inputs)
        steps = 1 if self.data_format == "channels_last" else 2
        if tuple(mask.shape) != (inputs.shape[0], inputs.shape[steps]):
            raise ValueError(
                f"Argument `mask` of layer '{self.name}' (GlobalAveragePooling1D) must have "
                f"shape (batch, steps) = {(inputs.shape[0], inputs.shape[steps])}, received "
                f"{tuple(mask.shape)}."
            )
        keep = mask.to(torch.bool).unsqueeze(2 if steps == 1 else 1)
        total = torch.where(keep, inputs, 0.0).sum(dim=steps, keepdim=self.keepdims)
        return total / keep.to(inputs.dtype).sum(dim=steps, keepdim=self.keepdims)


class GlobalAveragePooling2D(BaseGlobalPooling):
    rank, mode = 2, "average"


class GlobalAveragePooling3D(BaseGlobalPooling):
    rank, mode = 3, "average"


for _cls in (GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
             GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D):
    _cls.__doc__ = _GLOBAL_DOC.format(
        kind="max" if _cls.mode == "max" else "average", what=_WHAT[_cls.rank],
        name=_cls.__name__, example=_EXAMPLE[_cls.rank],
        mask_note=("\n        mask: Optional `(batch, steps)` booleans: the average is over the "
                   "unmasked steps only (Keras).") if _cls is GlobalAveragePooling1D else "")
