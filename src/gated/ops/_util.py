"""Shared helpers of the ops modules: tensors from anything, axes the NumPy way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from gated.ops.core import convert_to_tensor, to_torch_dtype


def t(x: Any) -> torch.Tensor:
    return convert_to_tensor(x)


def float_t(x: Any) -> torch.Tensor:
    """`x` as a floating tensor (integers and booleans become `floatx()`)."""
    x = convert_to_tensor(x)
    return x if x.is_floating_point() or x.is_complex() else x.to(torch.get_default_dtype())


def dims(axis: Any, ndim: int) -> tuple[int, ...]:
    """NumPy's `axis` (None, int or tuple) as a tuple of dims, None meaning all."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, bool) or not isinstance(axis, (int, tuple, list)):
        raise TypeError(f"Argument `axis` must be None, an int or a tuple of ints; "
                        f"received {axis!r}.")
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"Argument `axis` is out of range for a tensor of rank {ndim}; "
                             f"received {axis!r}.")
    return axes


def torch_dtype(dtype: Any) -> torch.dtype | None:
    return None if dtype is None else to_torch_dtype(dtype)


def unary(fn: Callable[[torch.Tensor], torch.Tensor], name: str, doc: str,
          floating: bool = False) -> Callable[[Any], torch.Tensor]:
    """Builds a one-argument op `name(x)` applying `fn` elementwise."""
    convert = float_t if floating else t

    def op(x: Any) -> torch.Tensor:
        return fn(convert(x))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"{doc}\n\n    Args:\n        x: input tensor.\n\n    Returns:\n        A tensor."
    return op


def binary(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], name: str,
           doc: str) -> Callable[[Any, Any], torch.Tensor]:
    """Builds a two-argument broadcasting op `name(x1, x2)`."""

    def op(x1: Any, x2: Any) -> torch.Tensor:
        return fn(t(x1), t(x2))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (f"{doc}\n\n    Args:\n        x1: first tensor.\n        x2: second tensor "
                  "(broadcast against `x1`).\n\n    Returns:\n        A tensor.")
    return op
