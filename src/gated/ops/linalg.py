"""Linear algebra of `gated.ops` (Keras' `keras.ops.linalg`), on `torch.linalg`."""

from __future__ import annotations

from typing import Any

import torch

from gated.ops._util import dims, float_t

__all__ = ["cholesky", "det", "eigh", "inv", "norm", "qr", "solve", "svd"]


def norm(x: Any, ord: Any = None, axis: Any = None,  # noqa: A002
         keepdims: bool = False) -> torch.Tensor:
    """Vector or matrix norm (NumPy's `linalg.norm`: `ord`, `axis` and `keepdims`).

    Example:
    >>> norm([3.0, 4.0])
    tensor(5.)
    """
    x = float_t(x)
    dim = None if axis is None else dims(axis, x.ndim)
    return torch.linalg.norm(x, ord=ord, dim=dim, keepdim=keepdims)


def inv(x: Any) -> torch.Tensor:
    """Inverse of a square matrix (or a batch of them)."""
    return torch.linalg.inv(float_t(x))


def det(x: Any) -> torch.Tensor:
    """Determinant of a square matrix (or a batch of them)."""
    return torch.linalg.det(float_t(x))


def solve(a: Any, b: Any) -> torch.Tensor:
    """Solution `x` of `a @ x = b`."""
    return torch.linalg.solve(float_t(a), float_t(b))


def cholesky(x: Any) -> torch.Tensor:
    """Lower-triangular Cholesky factor of a symmetric positive-definite matrix."""
    return torch.linalg.cholesky(float_t(x))


def qr(x: Any, mode: str = "reduced") -> tuple[torch.Tensor, torch.Tensor]:
    """QR decomposition (`mode` `"reduced"` or `"complete"`)."""
    return tuple(torch.linalg.qr(float_t(x), mode=mode))


def svd(x: Any, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """Singular value decomposition: `(u, s, vh)`, or `s` alone without `compute_uv`."""
    x = float_t(x)
    if not compute_uv:
        return torch.linalg.svdvals(x)
    return tuple(torch.linalg.svd(x, full_matrices=full_matrices))


def eigh(x: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix."""
    return tuple(torch.linalg.eigh(float_t(x)))
