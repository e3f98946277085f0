"""Keras' core ops on torch: tensors in and out, dtypes by name, shapes as tuples.

Every op takes NumPy arrays, Python numbers and lists, or torch tensors, and returns a torch
tensor. Dtypes follow Keras: a Python `int` becomes `int32`, a Python `float` becomes
`floatx()`, NumPy arrays and tensors keep theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from gated import backend as _backend

__all__ = [
    "cast", "convert_to_numpy", "convert_to_tensor", "dtype", "is_tensor", "scatter",
    "scatter_update", "shape", "slice", "slice_update", "stop_gradient", "unstack",
]

_pyslice = slice


def to_torch_dtype(dtype: Any) -> torch.dtype:
    """The torch dtype for a Keras dtype name, a NumPy or a torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    return getattr(torch, _backend.standardize_dtype(dtype))


def _python_dtype(x: Any) -> torch.dtype | None:
    """Keras' dtype for Python numbers and (nested) lists of them; None if not one."""
    leaves: list = []

    def walk(v: Any) -> bool:
        if isinstance(v, (list, tuple)):
            return all(walk(e) for e in v)
        if isinstance(v, (bool, int, float)):
            leaves.append(v)
            return True
        return False

    if not walk(x):
        return None
    if any(isinstance(v, float) for v in leaves) or not leaves:
        return torch.get_default_dtype()
    if all(isinstance(v, bool) for v in leaves):
        return torch.bool
    return torch.int32


def convert_to_tensor(x: Any, dtype: Any = None, sparse: bool | None = None) -> torch.Tensor:
    """Converts `x` (array, number, nested list, tensor) to a torch tensor.

    Args:
        x: the value.
        dtype: the dtype wanted (`"float32"`, ...); `None` keeps or infers it the Keras way.
        sparse: accepted for Keras compatibility; sparse tensors are not made.

    Returns:
        A torch tensor (the same one when it already has the dtype).

    Example:
    >>> convert_to_tensor([1, 2]).dtype
    torch.int32
    """
    del sparse
    wanted = None if dtype is None else to_torch_dtype(dtype)
    if isinstance(x, torch.Tensor):
        return x if wanted is None or x.dtype == wanted else x.to(wanted)
    if isinstance(x, (np.ndarray, np.generic)):
        if x.dtype == object:
            raise TypeError(f"Argument `x` is a NumPy array of dtype object, which cannot be "
                            f"a tensor; received {x!r:.80}.")
        out = torch.from_numpy(np.array(x, copy=True))
        return out if wanted is None else out.to(wanted)
    inferred = _python_dtype(x)
    if inferred is None:
        if isinstance(x, (list, tuple)) and x and any(isinstance(v, torch.Tensor) for v in x):
            return torch.stack([convert_to_tensor(v, dtype) for v in x])
        try:
            return convert_to_tensor(np.asarray(x), dtype)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"Argument `x` cannot be converted to a tensor: received "
                            f"{type(x).__name__} {x!r:.80}.") from err
    return torch.tensor(x, dtype=wanted or inferred)


def convert_to_numpy(x: Any) -> np.ndarray:
    """Converts `x` to a NumPy array (detached, on the CPU).

    Args:
        x: a tensor, array, number or list.

    Returns:
        A NumPy array.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    return np.asarray(x)


def is_tensor(x: Any) -> bool:
    """Whether `x` is a torch tensor (the native tensor of this backend)."""
    return isinstance(x, torch.Tensor)


def shape(x: Any) -> tuple[int, ...]:
    """The shape of `x` as a tuple of ints (Keras' `ops.shape`).

    Example:
    >>> shape(np.zeros((2, 3)))
    (2, 3)
    """
    if hasattr(x, "shape"):
        return tuple(x.shape)
    return tuple(convert_to_tensor(x).shape)


def dtype(x: Any) -> str:
    """The Keras dtype name of `x`, e.g. `"float32"`."""
    return _backend.standardize_dtype(convert_to_tensor(x).dtype)


def cast(x: Any, dtype: Any) -> torch.Tensor:
    """`x` converted to `dtype` (a name such as `"float32"` or a torch dtype).

    Example:
    >>> cast([1.7, -1.7], "int32")
    tensor([ 1, -1], dtype=torch.int32)
    """
    return convert_to_tensor(x).to(to_torch_dtype(dtype))


def stop_gradient(variable: Any) -> torch.Tensor:
    """`variable` with no gradient flowing back through it (`tensor.detach()`)."""
    return convert_to_tensor(variable).detach()


def unstack(x: Any, num: int | None = None, axis: int = 0) -> list[torch.Tensor]:
    """Splits `x` along `axis` into a list of tensors (the inverse of `stack`).

    Args:
        x: the tensor.
        num: expected number of pieces (checked when given).
        axis: the axis to unstack.
    """
    t = convert_to_tensor(x)
    if num is not None and t.shape[axis] != num:
        raise ValueError(f"Argument `num` must equal x.shape[{axis}] = {t.shape[axis]}; "
                         f"received num={num}.")
    return list(torch.unbind(t, dim=axis))


def _starts(start_indices: Any, ndim: int) -> list[int]:
    starts = [int(s) for s in convert_to_numpy(start_indices).reshape(-1)]
    if len(starts) != ndim:
        raise ValueError(f"Argument `start_indices` needs one entry per axis ({ndim}); "
                         f"received {starts}.")
    return starts


def slice(inputs: Any, start_indices: Any, shape: Sequence[int]) -> torch.Tensor:  # noqa: A001
    """The block of `inputs` starting at `start_indices` with size `shape` (per axis)."""
    t = convert_to_tensor(inputs)
    starts = _starts(start_indices, t.ndim)
    return t[tuple(_pyslice(s, s + n) for s, n in zip(starts, shape, strict=True))]


def slice_update(inputs: Any, start_indices: Any, updates: Any) -> torch.Tensor:
    """A copy of `inputs` with the block at `start_indices` replaced by `updates`."""
    t = convert_to_tensor(inputs).clone()
    u = convert_to_tensor(updates, t.dtype)
    starts = _starts(start_indices, t.ndim)
    t[tuple(_pyslice(s, s + n) for s, n in zip(starts, u.shape, strict=True))] = u
    return t


def scatter(indices: Any, values: Any, shape: Sequence[int]) -> torch.Tensor:
    """A zero tensor of `shape` with `values` added at `indices` (`(n, k)` integers)."""
    idx = convert_to_tensor(indices).long()
    v = convert_to_tensor(values)
    out = torch.zeros(tuple(shape), dtype=v.dtype)
    flat = idx.reshape(-1, idx.shape[-1])
    out.index_put_(tuple(flat.T), v.reshape(flat.shape[0], *out.shape[idx.shape[-1]:]),
                   accumulate=True)
    return out


def scatter_update(inputs: Any, indices: Any, updates: Any) -> torch.Tensor:
    """A copy of `inputs` with the entries at `indices` (`(n, k)`) set to `updates`."""
    t = convert_to_tensor(inputs).clone()
    idx = convert_to_tensor(indices).long()
    t[tuple(idx.reshape(-1, idx.shape[-1]).T)] = convert_to_tensor(updates, t.dtype)
    return t
