"""Keras' `keras.backend`: which backend runs (always `"torch"`), float type, epsilon, names.

Example:
>>> import gated as keras
>>> keras.backend.backend()
'torch'
>>> keras.backend.floatx()
'float32'
"""

from __future__ import annotations

import gc
from typing import Any

import torch

from gated import layer as _layer

__all__ = [
    "backend", "clear_session", "epsilon", "floatx", "get_uid", "image_data_format",
    "is_float_dtype", "is_int_dtype", "is_keras_tensor", "set_epsilon", "set_floatx",
    "set_image_data_format", "standardize_dtype",
]

_FLOATS = ("float16", "bfloat16", "float32", "float64")
_DTYPE_NAMES = {
    "float16", "bfloat16", "float32", "float64", "uint8", "uint16", "uint32", "uint64",
    "int8", "int16", "int32", "int64", "bool", "complex64", "complex128",
}
_ALIASES = {"float": "float32", "int": "int64", "double": "float64", "half": "float16",
            "long": "int64", "bool_": "bool"}
_STATE: dict[str, Any] = {"epsilon": 1e-7, "image_data_format": "channels_last"}


def backend() -> str:
    """The name of the backend: always `"torch"` in gated.

    Returns:
        `"torch"`.
    """
    return "torch"


def floatx() -> str:
    """The default float type, as a string (torch's default dtype), e.g. `"float32"`.

    Returns:
        The dtype name.
    """
    return _layer.dtype_name(torch.get_default_dtype())


def set_floatx(value: str) -> None:
    """Sets the default float type (torch's default dtype, used by new layers and `ops`).

    Args:
        value: `"float16"`, `"bfloat16"`, `"float32"` or `"float64"`.

    Example:
    >>> set_floatx("float64"); floatx()  # doctest: +SKIP
    'float64'
    """
    if value not in _FLOATS:
        raise ValueError(f"Argument `value` of set_floatx must be one of {list(_FLOATS)}; "
                         f"received {value!r}.")
    torch.set_default_dtype(getattr(torch, value))


def epsilon() -> float:
    """The fuzz factor used in numeric expressions (Keras' default `1e-7`).

    Returns:
        A float.
    """
    return _STATE["epsilon"]


def set_epsilon(value: float) -> None:
    """Sets the fuzz factor returned by `epsilon()`.

    Args:
        value: a positive float.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"Argument `value` of set_epsilon must be a positive float; "
                         f"received {value!r}.")
    _STATE["epsilon"] = float(value)


def image_data_format() -> str:
    """The image layout convention: `"channels_last"` (Keras' default) or `"channels_first"`.

    Returns:
        The format string.
    """
    return _STATE["image_data_format"]


def set_image_data_format(data_format: str) -> None:
    """Sets the value returned by `image_data_format()`.

    Args:
        data_format: `"channels_last"` or `"channels_first"`.
    """
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("Argument `data_format` must be 'channels_last' or 'channels_first'; "
                         f"received {data_format!r}.")
    _STATE["image_data_format"] = data_format


def clear_session() -> None:
    """Resets the automatic layer names (`lstm`, `lstm_1`, ... start again) and collects
    garbage, as Keras' `clear_session`.

    Example:
    >>> clear_session(); gated.layers.LSTM(4).name  # doctest: +SKIP
    'lstm'
    """
    _layer._NAME_COUNTS.clear()
    gc.collect()


def get_uid(prefix: str = "") -> int:
    """Increments and returns the counter behind automatic names for `prefix` (1 first).

    Shares the counter of layer names: after `get_uid("dense")` returns 1, the next automatic
    `Dense` name is `dense_1`.

    Args:
        prefix: the name prefix.

    Returns:
        The new count.
    """
    _layer._NAME_COUNTS[prefix] += 1
    return _layer._NAME_COUNTS[prefix]


def standardize_dtype(dtype: Any = None) -> str:
    """A dtype's Keras name (`"float32"`, `"int64"`, ...) from a string, a torch or NumPy dtype.

    Args:
        dtype: the dtype; `None` means `floatx()`.

    Returns:
        The dtype name.
    """
    if dtype is None:
        return floatx()
    if isinstance(dtype, torch.dtype):
        name = _layer.dtype_name(dtype)
    elif isinstance(dtype, str):
        name = _ALIASES.get(dtype, dtype)
    else:
        import numpy as np

        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = str(dtype)
    if name not in _DTYPE_NAMES:
        raise ValueError(f"Invalid dtype: expected one of {sorted(_DTYPE_NAMES)}; "
                         f"received {dtype!r}.")
    return name


def is_float_dtype(dtype: Any) -> bool:
    """Whether `dtype` is a floating type."""
    return standardize_dtype(dtype).startswith(("float", "bfloat"))


def is_int_dtype(dtype: Any) -> bool:
    """Whether `dtype` is an integer type (signed or not)."""
    return standardize_dtype(dtype).startswith(("int", "uint"))


def is_keras_tensor(x: Any) -> bool:
    """Whether `x` is a symbolic tensor made by `Input` (or a layer called on one)."""
    return isinstance(x, _layer.KerasTensor)
