"""Argument checks and shape arithmetic shared by the convolution, pooling and reshaping layers.

Keras stores images channels-last, `(batch, *spatial, channels)`; torch's convolution and
pooling ops want channels-first, `(batch, channels, *spatial)`. `to_channels_first` and
`to_channels_last` are permutations (views, no copy): for 4-D and 5-D tensors the permuted view
is exactly torch's `channels_last` memory format, which its CPU and CUDA kernels run natively.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

_DATA_FORMATS = ("channels_last", "channels_first")


def normalize_tuple(value: Any, n: int, name: str, owner: str,
                    allow_zero: bool = False) -> tuple[int, ...]:
    """An int or a sequence of `n` ints as a tuple of `n` ints (Keras' `standardize_tuple`)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values: tuple = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            values = ()
        if len(values) != n or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values
        ):
            raise ValueError(
                f"Argument `{name}` of {owner} must be an integer or a tuple of {n} integers, "
                f"received {name}={value!r}."
            )
        values = tuple(int(v) for v in values)
    low = 0 if allow_zero else 1
    if any(v < low for v in values):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"Argument `{name}` of {owner} must hold {kind} integers, received {name}={value!r}."
        )
    return values


def normalize_padding(padding: Any, owner: str, allow_causal: bool = False) -> str:
    """`'valid'`, `'same'` (and `'causal'` where allowed), case-insensitive."""
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in allowed:
        raise ValueError(
            f"Argument `padding` of {owner} must be one of {list(allowed)}, "
            f"received padding={padding!r}."
        )
    return value


def normalize_data_format(data_format: Any, owner: str) -> str:
    """`None` -> `gated.backend.image_data_format()`; otherwise one of the two formats."""
    if data_format is None:
        from gated.backend import image_data_format

        return image_data_format()
    value = data_format.lower() if isinstance(data_format, str) else data_format
    if value not in _DATA_FORMATS:
        raise ValueError(
            f"Argument `data_format` of {owner} must be one of {list(_DATA_FORMATS)}, "
            f"received data_format={data_format!r}."
        )
    return value


def spatial_dims(shape: tuple, data_format: str) -> tuple:
    """The spatial sizes of a batch shape."""
    return tuple(shape[1:-1]) if data_format == "channels_last" else tuple(shape[2:])


def channels_of(shape: tuple, data_format: str) -> Any:
    return shape[-1] if data_format == "channels_last" else shape[1]


def with_spatial(shape: tuple, spatial: tuple, channels: Any, data_format: str) -> tuple:
    """A batch shape from its batch size (taken from `shape`), spatial sizes and channels."""
    if data_format == "channels_last":
        return (shape[0], *spatial, channels)
    return (shape[0], channels, *spatial)


def to_channels_first(x: torch.Tensor) -> torch.Tensor:
    """`(N, *spatial, C)` -> `(N, C, *spatial)` as a view."""
    return x.movedim(-1, 1)


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """`(N, C, *spatial)` -> `(N, *spatial, C)` as a view."""
    return x.movedim(1, -1)


def conv_output_length(length: int | None, window: int, stride: int, padding: str,
                       dilation: int = 1) -> int | None:
    """Output size of one axis for a window (kernel or pool) of `window` taps."""
    if length is None:
        return None
    if padding in ("same", "causal"):
        return (length + stride - 1) // stride
    effective = (window - 1) * dilation + 1
    return (length - effective) // stride + 1


def same_padding(length: int, window: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """Keras/TensorFlow 'same' padding of one axis: `(before, after)`, the odd pixel after."""
    effective = (window - 1) * dilation + 1
    out = math.ceil(length / stride)
    total = max((out - 1) * stride + effective - length, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, windows: tuple, strides: tuple, dilation: tuple,
             value: float = 0.0, mode: str = "constant") -> tuple[torch.Tensor, Any]:
    """Keras 'same' padding of a channels-first tensor.

    Returns `(x, padding)`: the input unchanged and torch's symmetric `padding` when every axis
    splits evenly, else the explicitly padded input and `0`.
    """
    pads = [same_padding(n, k, s, d) for n, k, s, d in
            zip(x.shape[2:], windows, strides, dilation, strict=True)]
    if all(a == b for a, b in pads):
        return x, tuple(a for a, _ in pads)
    flat: list[int] = []
    for before, after in reversed(pads):
        flat.extend((before, after))
    if mode == "constant":
        return F.pad(x, flat, mode="constant", value=value), 0
    return F.pad(x, flat, mode=mode), 0


def check_window_fits(owner: str, layer_name: str, shape: tuple, spatial: tuple,
                      windows: tuple, dilation: tuple, what: str) -> None:
    """'valid' padding: a `ValueError` when a (dilated) window is larger than the input."""
    for axis, (size, k, d) in enumerate(zip(spatial, windows, dilation, strict=True)):
        if size is None:
            continue
        effective = (k - 1) * d + 1
        if effective > size:
            dil = f" dilated by {d} (effective size {effective})" if d > 1 else ""
            raise ValueError(
                f"Input to layer '{layer_name}' ({owner}) is smaller than its {what} with "
                f"padding='valid': spatial axis {axis} has size {size}, the {what} has size "
                f"{k}{dil}, so the output would be empty (input shape {tuple(shape)}). Use "
                "padding='same' or a smaller window."
            )


def get_constraint(identifier: Any, name: str, owner: str) -> Any:
    """None, a callable `w -> w`, or a Keras constraint name/config (via `gated.constraints`)."""
    if identifier is None or callable(identifier):
        return identifier
    try:
        from gated import constraints  # type: ignore[attr-defined]
    except ImportError:
        constraints = None
    if constraints is not None and hasattr(constraints, "get"):
        return constraints.get(identifier)
    raise TypeError(
        f"Argument `{name}` of {owner} must be None or a callable `w -> w` (applied after each "
        f"optimizer step), received {identifier!r}."
    )


def serialize_constraint(constraint: Any) -> Any:
    if constraint is None:
        return None
    try:
        from gated import constraints  # type: ignore[attr-defined]
    except ImportError:
        constraints = None
    if constraints is not None and hasattr(constraints, "serialize"):
        return constraints.serialize(constraint)
    return getattr(constraint, "__name__", type(constraint).__name__)
