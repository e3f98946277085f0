"""NumPy-like elementwise math and reductions of `gated.ops`, on torch."""

from __future__ import annotations

from typing import Any

import torch

from gated.ops._util import binary, dims, float_t, t, torch_dtype, unary

__all__ = [
    "abs", "absolute", "add", "all", "any", "arccos", "arcsin", "arctan", "arctan2", "argmax",
    "argmin", "ceil", "clip", "cos", "cosh", "count_nonzero", "cumprod", "cumsum", "divide",
    "equal", "exp", "expm1", "floor", "floor_divide", "greater", "greater_equal", "isfinite",
    "isinf", "isnan", "less", "less_equal", "log", "log10", "log1p", "log2", "logaddexp",
    "logical_and", "logical_not", "logical_or", "logical_xor", "max", "maximum", "mean", "min",
    "minimum", "mod", "multiply", "negative", "not_equal", "power", "prod", "reciprocal",
    "round", "rsqrt", "sign", "sin", "sinh", "sqrt", "square", "std", "subtract", "sum", "tan",
    "tanh", "true_divide", "var",
]

abs = unary(torch.abs, "abs", "Elementwise absolute value.")  # noqa: A001
absolute = unary(torch.abs, "absolute", "Elementwise absolute value (alias of `abs`).")
negative = unary(torch.neg, "negative", "Elementwise negation.")
sign = unary(torch.sign, "sign", "Elementwise sign (-1, 0 or 1).")
square = unary(torch.square, "square", "Elementwise square.")
sqrt = unary(torch.sqrt, "sqrt", "Elementwise square root.", floating=True)
rsqrt = unary(torch.rsqrt, "rsqrt", "Elementwise `1 / sqrt(x)`.", floating=True)
reciprocal = unary(torch.reciprocal, "reciprocal", "Elementwise `1 / x`.", floating=True)
exp = unary(torch.exp, "exp", "Elementwise exponential.", floating=True)
expm1 = unary(torch.expm1, "expm1", "Elementwise `exp(x) - 1`.", floating=True)
log = unary(torch.log, "log", "Elementwise natural logarithm.", floating=True)
log1p = unary(torch.log1p, "log1p", "Elementwise `log(1 + x)`.", floating=True)
log2 = unary(torch.log2, "log2", "Elementwise base-2 logarithm.", floating=True)
log10 = unary(torch.log10, "log10", "Elementwise base-10 logarithm.", floating=True)
sin = unary(torch.sin, "sin", "Elementwise sine.", floating=True)
cos = unary(torch.cos, "cos", "Elementwise cosine.", floating=True)
tan = unary(torch.tan, "tan", "Elementwise tangent.", floating=True)
arcsin = unary(torch.asin, "arcsin", "Elementwise inverse sine.", floating=True)
arccos = unary(torch.acos, "arccos", "Elementwise inverse cosine.", floating=True)
arctan = unary(torch.atan, "arctan", "Elementwise inverse tangent.", floating=True)
sinh = unary(torch.sinh, "sinh", "Elementwise hyperbolic sine.", floating=True)
cosh = unary(torch.cosh, "cosh", "Elementwise hyperbolic cosine.", floating=True)
tanh = unary(torch.tanh, "tanh", "Elementwise hyperbolic tangent.", floating=True)
floor = unary(torch.floor, "floor", "Elementwise floor.")
ceil = unary(torch.ceil, "ceil", "Elementwise ceiling.")
isnan = unary(torch.isnan, "isnan", "Elementwise test for NaN.")
isinf = unary(torch.isinf, "isinf", "Elementwise test for positive or negative infinity.")
isfinite = unary(torch.isfinite, "isfinite", "Elementwise test for finiteness.")
logical_not = unary(torch.logical_not, "logical_not", "Elementwise logical NOT.")

add = binary(torch.add, "add", "Elementwise `x1 + x2`.")
subtract = binary(torch.subtract, "subtract", "Elementwise `x1 - x2`.")
multiply = binary(torch.multiply, "multiply", "Elementwise `x1 * x2`.")
divide = binary(torch.true_divide, "divide",
                "Elementwise true division `x1 / x2` (integers give floats).")
true_divide = binary(torch.true_divide, "true_divide", "Elementwise true division.")
floor_divide = binary(torch.floor_divide, "floor_divide", "Elementwise `x1 // x2`.")
mod = binary(torch.remainder, "mod", "Elementwise remainder with the sign of `x2` (NumPy's).")
power = binary(torch.pow, "power", "Elementwise `x1 ** x2`.")
maximum = binary(torch.maximum, "maximum", "Elementwise maximum.")
minimum = binary(torch.minimum, "minimum", "Elementwise minimum.")
arctan2 = binary(lambda a, b: torch.atan2(float_t(a), float_t(b)), "arctan2",
                 "Elementwise `arctan(x1 / x2)` choosing the quadrant.")
logaddexp = binary(lambda a, b: torch.logaddexp(float_t(a), float_t(b)), "logaddexp",
                   "Elementwise `log(exp(x1) + exp(x2))`, computed stably.")
equal = binary(torch.eq, "equal", "Elementwise `x1 == x2`.")
not_equal = binary(torch.ne, "not_equal", "Elementwise `x1 != x2`.")
greater = binary(torch.gt, "greater", "Elementwise `x1 > x2`.")
greater_equal = binary(torch.ge, "greater_equal", "Elementwise `x1 >= x2`.")
less = binary(torch.lt, "less", "Elementwise `x1 < x2`.")
less_equal = binary(torch.le, "less_equal", "Elementwise `x1 <= x2`.")
logical_and = binary(torch.logical_and, "logical_and", "Elementwise logical AND.")
logical_or = binary(torch.logical_or, "logical_or", "Elementwise logical OR.")
logical_xor = binary(torch.logical_xor, "logical_xor", "Elementwise logical XOR.")


def round(x: Any, decimals: int = 0) -> torch.Tensor:  # noqa: A001
    """Rounds half to even to `decimals` places (NumPy's `round`).

    Args:
        x: input tensor.
        decimals: number of decimal places.
    """
    x = t(x)
    return torch.round(x, decimals=decimals) if x.is_floating_point() else x


def clip(x: Any, x_min: Any, x_max: Any) -> torch.Tensor:
    """Limits the values of `x` to `[x_min, x_max]`.

    Example:
    >>> clip([-2.0, 0.5, 3.0], 0.0, 1.0)
    tensor([0.0000, 0.5000, 1.0000])
    """
    x = t(x)
    lo = None if x_min is None else t(x_min).to(x.dtype)
    hi = None if x_max is None else t(x_max).to(x.dtype)
    return torch.clamp(x, lo, hi)


def _reduce(fn: Any, x: Any, axis: Any, keepdims: bool) -> torch.Tensor:
    x = t(x)
    if x.ndim == 0:
        return fn(x.reshape(1), (0,), keepdims).reshape(())
    return fn(x, dims(axis, x.ndim), keepdims)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    """Sum over `axis` (None: all axes).

    Args:
        x: input tensor.
        axis: int, tuple of ints or None.
        keepdims: keep the reduced axes with size 1.
    """
    return _reduce(lambda v, d, k: torch.sum(v, dim=d, keepdim=k), x, axis, keepdims)


def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> torch.Tensor:
    """Product over `axis` (None: all axes)."""
    x = t(x)
    if dtype is not None:
        x = x.to(torch_dtype(dtype))
    out = x
    for d in sorted((a % x.ndim for a in dims(axis, x.ndim)), reverse=True):
        out = torch.prod(out, dim=d, keepdim=keepdims)
    return out


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Arithmetic mean over `axis` (integers give floats)."""
    return _reduce(lambda v, d, k: torch.mean(v, dim=d, keepdim=k), float_t(x), axis, keepdims)


def var(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Population variance over `axis` (NumPy's `ddof=0`)."""
    return _reduce(lambda v, d, k: torch.var(v, dim=d, keepdim=k, correction=0), float_t(x),
                   axis, keepdims)


def std(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Population standard deviation over `axis` (NumPy's `ddof=0`)."""
    return _reduce(lambda v, d, k: torch.std(v, dim=d, keepdim=k, correction=0), float_t(x),
                   axis, keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None) -> torch.Tensor:
    """Maximum over `axis`; `initial` is a lower bound included in the reduction."""
    out = _reduce(lambda v, d, k: torch.amax(v, dim=d, keepdim=k), x, axis, keepdims)
    return out if initial is None else torch.clamp(out, min=initial)


def min(x: Any, axis: Any = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None) -> torch.Tensor:
    """Minimum over `axis`; `initial` is an upper bound included in the reduction."""
    out = _reduce(lambda v, d, k: torch.amin(v, dim=d, keepdim=k), x, axis, keepdims)
    return out if initial is None else torch.clamp(out, max=initial)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    """Whether all elements along `axis` are true (non-zero)."""
    return _reduce(lambda v, d, k: torch.all(v.bool(), dim=d, keepdim=k), x, axis, keepdims)


def any(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    """Whether any element along `axis` is true (non-zero)."""
    return _reduce(lambda v, d, k: torch.any(v.bool(), dim=d, keepdim=k), x, axis, keepdims)


def count_nonzero(x: Any, axis: Any = None) -> torch.Tensor:
    """Number of non-zero elements along `axis`."""
    x = t(x)
    return torch.count_nonzero(x, dim=None if axis is None else dims(axis, x.ndim))


def _arg(fn: Any, x: Any, axis: int | None, keepdims: bool) -> torch.Tensor:
    x = t(x)
    if axis is None:
        out = fn(x.reshape(-1), dim=0)
        return (out.reshape([1] * x.ndim) if keepdims else out).to(torch.int32)
    dims(axis, x.ndim)
    return fn(x, dim=axis, keepdim=keepdims).to(torch.int32)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    """Index (int32) of the maximum along `axis` (None: of the flattened tensor)."""
    return _arg(torch.argmax, x, axis, keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    """Index (int32) of the minimum along `axis` (None: of the flattened tensor)."""
    return _arg(torch.argmin, x, axis, keepdims)


def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    """Cumulative sum along `axis` (None: of the flattened tensor)."""
    x = t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return torch.cumsum(x, dim=axis, dtype=torch_dtype(dtype))


def cumprod(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    """Cumulative product along `axis` (None: of the flattened tensor)."""
    x = t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return torch.cumprod(x, dim=axis, dtype=torch_dtype(dtype))
