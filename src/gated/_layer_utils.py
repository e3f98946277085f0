"""Names and dtypes of layers: Keras' auto-numbered names and the dtype names gated takes."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch

_NAME_COUNTS: dict[str, int] = defaultdict(int)

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int32": torch.int32,
    "int64": torch.int64,
}


def unique_name(base: str) -> str:
    """Keras naming: the first `lstm` is 'lstm', then 'lstm_1', 'lstm_2', ..."""
    count = _NAME_COUNTS[base]
    _NAME_COUNTS[base] += 1
    return base if count == 0 else f"{base}_{count}"


def resolve_dtype(dtype: Any) -> torch.dtype:
    if dtype is None:
        return torch.get_default_dtype()
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ValueError(
        f"Argument `dtype` must be one of {sorted(_DTYPES)} or a torch.dtype, received {dtype!r}."
    )


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")
