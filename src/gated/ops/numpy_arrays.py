"""NumPy-like array creation, shape manipulation, indexing and products of `gated.ops`."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from gated.ops._util import dims, t, torch_dtype

__all__ = [
    "arange", "argsort", "broadcast_to", "concatenate", "copy", "diag", "diff", "dot",
    "einsum", "expand_dims", "eye", "flip", "full", "full_like", "hstack", "identity",
    "linspace", "matmul", "meshgrid", "moveaxis", "nan_to_num", "ndim", "ones", "ones_like",
    "outer", "pad", "ravel", "repeat", "reshape", "roll", "size", "sort", "split", "squeeze",
    "stack", "swapaxes", "take", "take_along_axis", "tensordot", "tile", "trace", "transpose",
    "tril", "triu", "vstack", "where", "zeros", "zeros_like",
]


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, int):
        return (shape,)
    try:
        return tuple(int(s) for s in shape)
    except TypeError as err:
        raise TypeError(f"Argument `shape` must be an int or a sequence of ints; "
                        f"received {shape!r}.") from err


def _float_default(dtype: Any) -> torch.dtype:
    return torch_dtype(dtype) or torch.get_default_dtype()


# -- creation
def zeros(shape: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor of zeros (dtype `floatx()` by default)."""
    return torch.zeros(_shape(shape), dtype=_float_default(dtype))


def ones(shape: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor of ones (dtype `floatx()` by default)."""
    return torch.ones(_shape(shape), dtype=_float_default(dtype))


def full(shape: Any, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor of `shape` filled with `fill_value` (its dtype, unless `dtype` is given)."""
    value = t(fill_value)
    value = value if dtype is None else value.to(torch_dtype(dtype))
    return torch.broadcast_to(value, _shape(shape)).clone()


def zeros_like(x: Any, dtype: Any = None) -> torch.Tensor:
    """Zeros with the shape (and dtype, unless given) of `x`."""
    return torch.zeros_like(t(x), dtype=torch_dtype(dtype))


def ones_like(x: Any, dtype: Any = None) -> torch.Tensor:
    """Ones with the shape (and dtype, unless given) of `x`."""
    return torch.ones_like(t(x), dtype=torch_dtype(dtype))


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    """`fill_value` with the shape (and dtype, unless given) of `x`."""
    x = t(x)
    return full(x.shape, fill_value, dtype or x.dtype)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> torch.Tensor:
    """Evenly spaced values in `[start, stop)` (`arange(n)` is `0 .. n-1`).

    Integers give `int32` (Keras), floats give `floatx()`.

    Example:
    >>> arange(3)
    tensor([0, 1, 2], dtype=torch.int32)
    """
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        floats = builtins.any(isinstance(v, float) for v in (start, stop, step))
        dtype = torch.get_default_dtype() if floats else torch.int32
    return torch.arange(start, stop, step, dtype=torch_dtype(dtype))


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             dtype: Any = None) -> torch.Tensor:
    """`num` evenly spaced values from `start` to `stop` (included when `endpoint`)."""
    if endpoint:
        return torch.linspace(start, stop, num, dtype=_float_default(dtype))
    return torch.linspace(start, stop, num + 1, dtype=_float_default(dtype))[:-1]


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> torch.Tensor:  # noqa: N803
    """An `N x M` matrix (`M` defaults to `N`) with ones on diagonal `k`."""
    ones_ = torch.ones(N, N if M is None else M, dtype=_float_default(dtype))
    return torch.triu(ones_, k) * torch.tril(ones_, k)


def identity(n: int, dtype: Any = None) -> torch.Tensor:
    """The `n x n` identity matrix."""
    return torch.eye(n, dtype=_float_default(dtype))


def copy(x: Any) -> torch.Tensor:
    """A copy of `x`."""
    return t(x).clone()


# -- shape manipulation
def reshape(x: Any, newshape: Any) -> torch.Tensor:
    """`x` with shape `newshape` (one entry may be -1)."""
    return torch.reshape(t(x), _shape(newshape))


def ravel(x: Any) -> torch.Tensor:
    """`x` flattened to one dimension."""
    return t(x).reshape(-1)


def transpose(x: Any, axes: Sequence[int] | None = None) -> torch.Tensor:
    """`x` with its axes permuted (reversed when `axes` is None)."""
    x = t(x)
    return x.permute(*(reversed(range(x.ndim)) if axes is None else axes))


def swapaxes(x: Any, axis1: int, axis2: int) -> torch.Tensor:
    """`x` with two axes interchanged."""
    return torch.swapaxes(t(x), axis1, axis2)


def moveaxis(x: Any, source: Any, destination: Any) -> torch.Tensor:
    """`x` with axes moved from `source` to `destination`."""
    return torch.movedim(t(x), source, destination)


def expand_dims(x: Any, axis: int | Sequence[int]) -> torch.Tensor:
    """`x` with new size-1 axes at `axis` (an int or a tuple of positions in the output)."""
    x = t(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out_ndim = x.ndim + len(axes)
    for a in sorted(a % out_ndim for a in axes):
        x = x.unsqueeze(a)
    return x


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> torch.Tensor:
    """`x` without its size-1 axes (only those in `axis` when given; each must have size 1)."""
    x = t(x)
    if axis is None:
        return torch.squeeze(x)
    axes = dims(axis, x.ndim)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"Argument `axis` names axis {a} of size {x.shape[a]}; only "
                             f"axes of size 1 can be squeezed (x.shape={tuple(x.shape)}).")
    return torch.squeeze(x, dim=axes)


def broadcast_to(x: Any, shape: Any) -> torch.Tensor:
    """`x` broadcast to `shape`."""
    return torch.broadcast_to(t(x), _shape(shape))


def ndim(x: Any) -> int:
    """The number of axes of `x`."""
    return t(x).ndim


def size(x: Any) -> int:
    """The number of elements of `x`."""
    return t(x).numel()


def concatenate(xs: Sequence[Any], axis: int | None = 0) -> torch.Tensor:
    """Joins tensors along an existing `axis` (None: flattened first)."""
    tensors = [t(v) for v in xs]
    if axis is None:
        return torch.cat([v.reshape(-1) for v in tensors])
    return torch.cat(tensors, dim=axis)


def stack(x: Sequence[Any], axis: int = 0) -> torch.Tensor:
    """Joins tensors of one shape along a new `axis`."""
    return torch.stack([t(v) for v in x], dim=axis)


def vstack(xs: Sequence[Any]) -> torch.Tensor:
    """Stacks tensors row-wise (NumPy's `vstack`)."""
    return torch.vstack([t(v) for v in xs])


def hstack(xs: Sequence[Any]) -> torch.Tensor:
    """Stacks tensors column-wise (NumPy's `hstack`)."""
    return torch.hstack([t(v) for v in xs])


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[torch.Tensor]:
    """Splits `x` into equal `sections` (an int) or at the given `indices` (NumPy's `split`)."""
    x = t(x)
    if isinstance(indices_or_sections, int):
        if indices_or_sections <= 0 or x.shape[axis] % indices_or_sections:
            raise ValueError(f"Argument `indices_or_sections`={indices_or_sections} does not "
                             f"divide axis {axis} of size {x.shape[axis]} into equal parts.")
        sections: Any = indices_or_sections
    else:
        sections = [int(i) for i in indices_or_sections]
    return list(torch.tensor_split(x, sections, dim=axis))


def tile(x: Any, repeats: Any) -> torch.Tensor:
    """`x` repeated `repeats` times along each axis (NumPy's `tile`)."""
    return torch.tile(t(x), (repeats,) if isinstance(repeats, int) else tuple(repeats))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> torch.Tensor:
    """Each element of `x` repeated `repeats` times along `axis` (None: flattened)."""
    x = t(x)
    reps = repeats if isinstance(repeats, int) else t(repeats).long()
    if axis is None:
        return torch.repeat_interleave(x.reshape(-1), reps)
    return torch.repeat_interleave(x, reps, dim=axis)


def flip(x: Any, axis: Any = None) -> torch.Tensor:
    """`x` with the order of elements reversed along `axis` (None: all axes)."""
    x = t(x)
    return torch.flip(x, dims(axis, x.ndim))


def roll(x: Any, shift: Any, axis: Any = None) -> torch.Tensor:
    """`x` with elements shifted by `shift` along `axis` (None: flattened)."""
    return torch.roll(t(x), shift, dims=axis)


def _pad_widths(x: torch.Tensor, pad_width: Any) -> list[tuple[int, int]]:
    width = torch.as_tensor(pad_width).long().reshape(-1)
    if width.numel() == 1:
        width = width.repeat(2)
    width = width.reshape(-1, 2)
    if width.shape[0] == 1:
        width = width.expand(x.ndim, 2)
    if width.shape[0] != x.ndim or bool((width < 0).any()):
        raise ValueError(f"Argument `pad_width` needs one non-negative (before, after) pair per "
                         f"axis ({x.ndim}); received {pad_width!r}.")
    return [(int(a), int(b)) for a, b in width.tolist()]


def pad(x: Any, pad_width: Any, mode: str = "constant",
        constant_values: Any = None) -> torch.Tensor:
    """`x` padded by `pad_width` (`((before, after), ...)` per axis, or one pair/int for all).

    Args:
        x: input tensor.
        pad_width: NumPy's `pad_width`.
        mode: `"constant"`, `"reflect"`, `"symmetric"` or `"edge"`.
        constant_values: fill value for `"constant"` (default 0).

    Example:
    >>> pad([1, 2], 1)
    tensor([0, 1, 2, 0], dtype=torch.int32)
    """
    x = t(x)
    widths = _pad_widths(x, pad_width)
    if mode == "constant":
        flat = [v for pair in reversed(widths) for v in pair]
        return F.pad(x, flat, value=0 if constant_values is None else constant_values)
    torch_mode = {"reflect": "reflect", "edge": "replicate", "symmetric": "symmetric"}.get(mode)
    if torch_mode is None:
        raise ValueError("Argument `mode` must be one of 'constant', 'reflect', 'symmetric', "
                         f"'edge'; received {mode!r}.")
    if constant_values is not None:
        raise ValueError("Argument `constant_values` is only valid with mode='constant'.")
    out = x if x.is_floating_point() else x.double()
    for axis, (before, after) in enumerate(widths):
        if torch_mode == "symmetric":  # edge values repeated: torch has no such mode
            n = out.shape[axis]
            out = torch.cat([out.narrow(axis, 0, before).flip(axis), out,
                             out.narrow(axis, n - after, after).flip(axis)], dim=axis)
            continue
        moved = out.movedim(axis, -1)
        lead = moved.shape[:-1]
        padded = F.pad(moved.reshape(1, -1, moved.shape[-1]), (before, after), mode=torch_mode)
        out = padded.reshape(*lead, -1).movedim(-1, axis)
    return out.to(x.dtype)


# -- indexing, selection, ordering
def where(condition: Any, x1: Any = None, x2: Any = None) -> Any:
    """`x1` where `condition` is true, else `x2`; with neither, the indices of true entries."""
    cond = t(condition).bool()
    if x1 is None and x2 is None:
        return torch.where(cond)
    if x1 is None or x2 is None:
        raise ValueError("Arguments `x1` and `x2` must be given together (or both omitted).")
    return torch.where(cond, t(x1), t(x2))


def take(x: Any, indices: Any, axis: int | None = None) -> torch.Tensor:
    """Elements of `x` at `indices` along `axis` (None: of the flattened tensor)."""
    x, idx = t(x), t(indices).long()
    if axis is None:
        return x.reshape(-1)[idx]
    axis = axis % x.ndim
    out = torch.index_select(x, axis, idx.reshape(-1))
    return out.reshape(*x.shape[:axis], *idx.shape, *x.shape[axis + 1:])


def take_along_axis(x: Any, indices: Any, axis: int | None = None) -> torch.Tensor:
    """Values of `x` picked by `indices` along `axis` (NumPy's `take_along_axis`)."""
    x, idx = t(x), t(indices).long()
    if axis is None:
        return x.reshape(-1)[idx.reshape(-1)]
    axis = axis % x.ndim
    other = torch.broadcast_shapes(
        tuple(1 if i == axis else s for i, s in enumerate(x.shape)),
        tuple(1 if i == axis else s for i, s in enumerate(idx.shape)))
    x_shape, i_shape = list(other), list(other)
    x_shape[axis], i_shape[axis] = x.shape[axis], idx.shape[axis]
    return torch.gather(x.expand(x_shape), axis, idx.expand(i_shape))


def sort(x: Any, axis: int = -1) -> torch.Tensor:
    """`x` sorted ascending along `axis`."""
    return torch.sort(t(x), dim=axis).values


def argsort(x: Any, axis: int = -1) -> torch.Tensor:
    """Indices (int32) that sort `x` ascending along `axis` (stable)."""
    return torch.argsort(t(x), dim=axis, stable=True).to(torch.int32)


def diag(x: Any, k: int = 0) -> torch.Tensor:
    """The `k`-th diagonal of a matrix, or a matrix with a vector on its `k`-th diagonal."""
    return torch.diag(t(x), k)


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> torch.Tensor:
    """Sum along a diagonal of `x`."""
    return torch.diagonal(t(x), offset, axis1, axis2).sum(-1)


def tril(x: Any, k: int = 0) -> torch.Tensor:
    """`x` with entries above diagonal `k` set to zero."""
    return torch.tril(t(x), k)


def triu(x: Any, k: int = 0) -> torch.Tensor:
    """`x` with entries below diagonal `k` set to zero."""
    return torch.triu(t(x), k)


def diff(a: Any, n: int = 1, axis: int = -1) -> torch.Tensor:
    """The `n`-th discrete difference along `axis`."""
    return torch.diff(t(a), n=n, dim=axis)


def meshgrid(*x: Any, indexing: str = "xy") -> list[torch.Tensor]:
    """Coordinate grids from 1-D coordinate vectors (`indexing` `"xy"` or `"ij"`)."""
    return list(torch.meshgrid(*[t(v) for v in x], indexing=indexing))


def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> torch.Tensor:
    """`x` with NaN and infinities replaced by finite numbers."""
    return torch.nan_to_num(t(x), nan=nan, posinf=posinf, neginf=neginf)


# -- products
def matmul(x1: Any, x2: Any) -> torch.Tensor:
    """Matrix product with NumPy's broadcasting rules (`x1 @ x2`)."""
    return torch.matmul(t(x1), t(x2))


def dot(x1: Any, x2: Any) -> torch.Tensor:
    """NumPy's `dot`: inner product of vectors, matrix product of matrices, and for N-D a sum
    over the last axis of `x1` and the second-to-last of `x2`."""
    a, b = t(x1), t(x2)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return torch.tensordot(a, b, dims=([a.ndim - 1], [builtins.max(b.ndim - 2, 0)]))


def tensordot(x1: Any, x2: Any, axes: Any = 2) -> torch.Tensor:
    """Sum of products over the given axes (NumPy's `tensordot`)."""
    return torch.tensordot(t(x1), t(x2), dims=axes)


def outer(x1: Any, x2: Any) -> torch.Tensor:
    """Outer product of the flattened inputs."""
    return torch.outer(t(x1).reshape(-1), t(x2).reshape(-1))


def einsum(subscripts: str, *operands: Any) -> torch.Tensor:
    """Einstein summation (`einsum("ij,jk->ik", a, b)`)."""
    return torch.einsum(subscripts, *[t(o) for o in operands])
