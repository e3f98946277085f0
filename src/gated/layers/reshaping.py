"""Spatial reshaping layers (Keras 3): `UpSampling1D/2D/3D`, `ZeroPadding1D/2D/3D`,
`Cropping1D/2D/3D`. Indexing, `repeat_interleave`, `F.pad` and `F.interpolate`: no weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gated.layer import Layer, check_positive_int
from gated.layers.conv_utils import (
    normalize_data_format,
    normalize_tuple,
    spatial_dims,
    to_channels_first,
    to_channels_last,
    with_spatial,
)
from gated.layers.convolutional import ChannelsInputMixin

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


def _pairs(value: Any, rank: int, name: str, owner: str) -> tuple[tuple[int, int], ...]:
    """Keras' padding/cropping argument: an int, `rank` ints (symmetric per axis) or `rank`
    pairs `(before, after)` (1-D: an int or one pair)."""
    if rank == 1:
        return (normalize_tuple(value, 2, name, owner, allow_zero=True),)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"Argument `{name}` of {owner} cannot be negative, received "
                             f"{name}={value!r}.")
        return ((int(value),) * 2,) * rank
    if not hasattr(value, "__len__") or len(value) != rank:
        raise ValueError(
            f"Argument `{name}` of {owner} must be an int, a tuple of {rank} ints or a tuple of "
            f"{rank} pairs of ints, received {name}={value!r}."
        )
    return tuple(normalize_tuple(v, 2, f"{name}[{i}]", owner, allow_zero=True)
                 for i, v in enumerate(value))


class _Spatial(ChannelsInputMixin, Layer):
    rank = 1
    data_format = "channels_last"

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_ndim = self.rank + 2
        self.data_format = normalize_data_format(data_format, type(self).__name__)

    def _spatial_axes(self) -> range:
        start = 1 if self.data_format == "channels_last" else 2
        return range(start, start + self.rank)

    def get_config(self) -> dict:
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class _UpSampling(_Spatial):
    def __init__(self, size: Any = 2, data_format: str | None = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(data_format=data_format, **kwargs)
        owner = type(self).__name__
        self.size = normalize_tuple(size, self.rank, "size", owner)
        value = interpolation.lower() if isinstance(interpolation, str) else interpolation
        allowed = _INTERPOLATIONS if self.rank == 2 else ("nearest",)
        if value not in allowed:
            raise ValueError(f"Argument `interpolation` of {owner} must be one of "
                             f"{list(allowed)}, received interpolation={interpolation!r}.")
        self.interpolation = value

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        spatial = tuple(None if n is None else n * s for n, s in
                        zip(spatial_dims(input_shape, self.data_format), self.size, strict=True))
        channels = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        return with_spatial(tuple(input_shape), spatial, channels, self.data_format)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.interpolation == "nearest":
            y = inputs
            for axis, s in zip(self._spatial_axes(), self.size, strict=True):
                if s > 1:
                    y = y.repeat_interleave(s, dim=axis)
            return y
        x = inputs if self.data_format == "channels_first" else to_channels_first(inputs)
        out = tuple(n * s for n, s in zip(x.shape[2:], self.size, strict=True))
        y = F.interpolate(x, size=out, mode=self.interpolation, align_corners=False)
        return y if self.data_format == "channels_first" else to_channels_last(y)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(size=self.size, interpolation=self.interpolation)
        return config


class UpSampling1D(_UpSampling):
    """Repeats each step `size` times: `(batch, steps, features)` -> `(batch, steps * size,
    features)`.

    Args:
        size: Positive int (default 2).

    Example:
        >>> UpSampling1D(2)(torch.arange(4.0).reshape(1, 2, 2))  # steps 0,0,1,1
    """

    rank = 1

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        check_positive_int(size, "size", "UpSampling1D")
        super().__init__(size=size, data_format="channels_last", **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("data_format")
        config.pop("interpolation")
        config["size"] = self.size[0]
        return config


class UpSampling2D(_UpSampling):
    """Scales images up by `size` along height and width.

    Args:
        size: Int or 2 ints (default `(2, 2)`).
        data_format: `'channels_last'` (default) or `'channels_first'`.
        interpolation: `'nearest'` (default, repeats pixels), `'bilinear'` or `'bicubic'`
            (torch's `interpolate`, `align_corners=False`, as Keras' `image.resize`).

    Example:
        >>> y = UpSampling2D((2, 3), interpolation="bilinear")(torch.randn(1, 4, 4, 3))  # 8x12
    """

    rank = 2


class UpSampling3D(_UpSampling):
    """Repeats voxels `size` times along depth, height and width (nearest).

    Args:
        size: Int or 3 ints (default `(2, 2, 2)`).
        data_format: `'channels_last'` (default) or `'channels_first'`.
    """

    rank = 3

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("interpolation")
        return config


class _ZeroPadding(_Spatial):
    def __init__(self, padding: Any = 1, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(data_format=data_format, **kwargs)
        self.padding = _pairs(padding, self.rank, "padding", type(self).__name__)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        spatial = tuple(None if n is None else n + a + b for n, (a, b) in
                        zip(spatial_dims(input_shape, self.data_format), self.padding,
                            strict=True))
        channels = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        return with_spatial(tuple(input_shape), spatial, channels, self.data_format)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        flat: list[int] = [0, 0] if self.data_format == "channels_last" else []
        for before, after in reversed(self.padding):
            flat.extend((before, after))
        return F.pad(inputs, flat)

    def get_config(self) -> dict:
        config = super().get_config()
        config["padding"] = self.padding[0] if self.rank == 1 else self.padding
        return config


class ZeroPadding1D(_ZeroPadding):
    """Adds zeros at the start and end of the steps axis.

    Args:
        padding: Int (both ends) or `(before, after)` (default 1).
        data_format: `'channels_last'` (default, `(batch, steps, features)`) or
            `'channels_first'`.

    Example:
        >>> ZeroPadding1D((2, 0))(torch.ones(1, 3, 1)).shape  # (1, 5, 1)
    """

    rank = 1


class ZeroPadding2D(_ZeroPadding):
    """Adds rows and columns of zeros around images.

    Args:
        padding: Int, `(rows, cols)` (symmetric) or `((top, bottom), (left, right))`
            (default `(1, 1)`).
        data_format: `'channels_last'` (default) or `'channels_first'`.
    """

    rank = 2

    def __init__(self, padding: Any = (1, 1), **kwargs: Any) -> None:
        super().__init__(padding=padding, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Adds zeros around volumes: `padding` an int, 3 ints or 3 pairs (default `(1, 1, 1)`)."""

    rank = 3

    def __init__(self, padding: Any = ((1, 1), (1, 1), (1, 1)), **kwargs: Any) -> None:
        super().__init__(padding=padding, **kwargs)


class _Cropping(_Spatial):
    def __init__(self, cropping: Any = 1, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(data_format=data_format, **kwargs)
        self.cropping = _pairs(cropping, self.rank, "cropping", type(self).__name__)

    def _check_input(self, shape: tuple) -> None:
        super()._check_input(shape)
        self.compute_output_shape(shape)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        spatial = []
        for axis, (n, (a, b)) in enumerate(zip(spatial_dims(input_shape, self.data_format),
                                               self.cropping, strict=True)):
            if n is not None and a + b >= n:
                raise ValueError(
                    f"Argument `cropping` of layer '{self.name}' ({type(self).__name__}) must "
                    f"leave something: spatial axis {axis} has size {n}, cropping={self.cropping} "
                    f"removes {a + b} (input shape {tuple(input_shape)})."
                )
            spatial.append(None if n is None else n - a - b)
        channels = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        return with_spatial(tuple(input_shape), tuple(spatial), channels, self.data_format)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        index: list[slice] = [slice(None)] * inputs.ndim
        for axis, (a, b) in zip(self._spatial_axes(), self.cropping, strict=True):
            index[axis] = slice(a, inputs.shape[axis] - b)
        return inputs[tuple(index)]

    def get_config(self) -> dict:
        config = super().get_config()
        config["cropping"] = self.cropping[0] if self.rank == 1 else self.cropping
        return config


class Cropping1D(_Cropping):
    """Removes steps at the start and end: `cropping` an int or `(start, end)` (default
    `(1, 1)`), on `(batch, steps, features)`.

    Example:
        >>> Cropping1D((1, 2))(torch.ones(1, 6, 3)).shape  # (1, 3, 3)
    """

    rank = 1

    def __init__(self, cropping: Any = (1, 1), **kwargs: Any) -> None:
        super().__init__(cropping=cropping, data_format="channels_last", **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("data_format")
        return config


class Cropping2D(_Cropping):
    """Removes rows and columns at image borders.

    Args:
        cropping: Int, `(rows, cols)` (symmetric) or `((top, bottom), (left, right))`
            (default `((0, 0), (0, 0))`).
        data_format: `'channels_last'` (default) or `'channels_first'`.
    """

    rank = 2

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), **kwargs: Any) -> None:
        super().__init__(cropping=cropping, **kwargs)


class Cropping3D(_Cropping):
    """Removes borders of volumes: an int, 3 ints or 3 pairs (default `((1, 1),) * 3`)."""

    rank = 3

    def __init__(self, cropping: Any = ((1, 1), (1, 1), (1, 1)), **kwargs: Any) -> None:
        super().__init__(cropping=cropping, **kwargs)
