"""Keras' numerical helpers: `to_categorical` (one-hot labels) and `normalize`.

Example:
>>> to_categorical([0, 2, 1]).tolist()
[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["to_categorical", "normalize"]


def to_categorical(x: Any, num_classes: int | None = None) -> Any:
    """One-hot encodes integer class labels, as `keras.utils.to_categorical`.

    A trailing axis of size 1 is dropped first (labels of shape `(n, 1)` give `(n, C)`).
    NumPy arrays and lists give a float64 NumPy array; a torch tensor gives an int64 torch
    tensor (Keras on its torch backend).

    Args:
        x: Integer labels in `[0, num_classes)`.
        num_classes: The number of classes; default `max(x) + 1`.

    Returns:
        The one-hot array, shape `x.shape + (num_classes,)`.

    Raises:
        ValueError: a label outside `[0, num_classes)` (Keras raises IndexError for large
            ones and silently wraps negative ones).

    Example:
    >>> to_categorical([[1], [0]], num_classes=3).shape
    (2, 3)
    """
    if num_classes is not None and (isinstance(num_classes, bool)
                                    or not isinstance(num_classes, (int, np.integer))
                                    or num_classes < 1):
        raise ValueError("Argument `num_classes` of to_categorical() must be a positive "
                         f"integer or None; received num_classes={num_classes!r}.")
    if isinstance(x, torch.Tensor):
        labels = x.long()
        if labels.ndim > 1 and labels.shape[-1] == 1:
            labels = labels.squeeze(-1)
        if num_classes is None:
            raise ValueError("Argument `num_classes` of to_categorical() is required for a "
                             "torch tensor (as in Keras); received None.")
        _check_range(labels.min().item() if labels.numel() else 0,
                     labels.max().item() if labels.numel() else 0, int(num_classes))
        return torch.nn.functional.one_hot(labels, int(num_classes))
    values = np.asarray(x)
    if values.size and not (np.issubdtype(values.dtype, np.integer)
                            or np.issubdtype(values.dtype, np.floating)
                            or values.dtype == bool):
        raise TypeError("Argument `x` of to_categorical() must hold integer labels; received "
                        f"an array of dtype {values.dtype}.")
    labels = values.astype("int64")
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size:
        _check_range(int(labels.min()), int(labels.max()), int(num_classes))
    out = np.eye(int(num_classes), dtype="float64")[labels]
    return out.reshape(shape + (int(num_classes),))


def _check_range(low: int, high: int, num_classes: int) -> None:
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise ValueError(f"Argument `x` of to_categorical() holds the label {bad}, outside "
                         f"[0, num_classes={num_classes}).")


def normalize(x: Any, axis: int = -1, order: int = 2) -> Any:
    """Divides `x` by its `order`-norm along `axis`, as `keras.utils.normalize`.

    A NumPy array gives a NumPy array (zero norms left as zeros); anything else is converted
    to a tensor and normalized with `gated.ops.nn.normalize`.

    Args:
        x: The array.
        axis: The axis along which to normalize (default -1).
        order: The norm's order (default 2).

    Returns:
        The normalized copy.

    Example:
    >>> normalize(np.array([[3.0, 4.0]])).tolist()
    [[0.6, 0.8]]
    """
    if isinstance(x, np.ndarray):
        norm = np.atleast_1d(np.linalg.norm(x, order, axis))
        norm[norm == 0] = 1
        return x / np.expand_dims(norm, axis if axis is not None else -1)
    from gated.ops.nn import normalize as ops_normalize

    return ops_normalize(x, axis=axis, order=order)
