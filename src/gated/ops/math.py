"""Math ops of `gated.ops` (Keras' `keras.ops` from its math module), on torch."""

from __future__ import annotations

from typing import Any

import torch

from gated.ops._util import dims, float_t, t, unary

__all__ = ["erf", "erfinv", "in_top_k", "logsumexp", "segment_max", "segment_sum", "top_k"]

erf = unary(torch.erf, "erf", "Gauss error function.", floating=True)
erfinv = unary(torch.erfinv, "erfinv", "Inverse of the Gauss error function.", floating=True)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`log(sum(exp(x)))` over `axis` (None: all axes), computed stably."""
    x = float_t(x)
    return torch.logsumexp(x, dim=dims(axis, x.ndim), keepdim=keepdims)


def top_k(x: Any, k: int, sorted: bool = True) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: A002
    """The `k` largest values along the last axis and their indices (int32).

    Example:
    >>> values, indices = top_k([1.0, 5.0, 3.0], 2)
    >>> values
    tensor([5., 3.])
    """
    x = t(x)
    if not isinstance(k, int) or not 1 <= k <= x.shape[-1]:
        raise ValueError(f"Argument `k` must be an int in [1, {x.shape[-1]}]; received {k!r}.")
    values, indices = torch.topk(x, k, dim=-1, sorted=sorted)
    return values, indices.to(torch.int32)


def in_top_k(targets: Any, predictions: Any, k: int) -> torch.Tensor:
    """Whether each target class is among the `k` highest predictions of its row."""
    preds = float_t(predictions)
    targets_t = t(targets).long()
    target_score = preds.gather(1, targets_t.reshape(-1, 1))
    return (preds > target_score).sum(dim=1) < k


def _segments(data: Any, segment_ids: Any, num_segments: int | None) -> tuple:
    data_t, ids = t(data), t(segment_ids).long()
    n = int(ids.max()) + 1 if num_segments is None else num_segments
    return data_t, ids, n


def segment_sum(data: Any, segment_ids: Any, num_segments: int | None = None,
                sorted: bool = False) -> torch.Tensor:  # noqa: A002
    """Sums of the rows of `data` that share a segment id."""
    data_t, ids, n = _segments(data, segment_ids, num_segments)
    out = torch.zeros((n, *data_t.shape[1:]), dtype=data_t.dtype)
    return out.index_add_(0, ids, data_t)


def segment_max(data: Any, segment_ids: Any, num_segments: int | None = None,
                sorted: bool = False) -> torch.Tensor:  # noqa: A002
    """Maxima of the rows of `data` that share a segment id."""
    data_t, ids, n = _segments(data, segment_ids, num_segments)
    out = torch.zeros((n, *data_t.shape[1:]), dtype=data_t.dtype)
    index = ids.reshape(-1, *([1] * (data_t.ndim - 1))).expand_as(data_t)
    return out.scatter_reduce(0, index, data_t, reduce="amax", include_self=False)
