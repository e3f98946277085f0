"""Turning what users pass to `fit`/`evaluate`/`predict` into checked tensors and batches.

Accepted: NumPy arrays, torch tensors, (nested) Python lists, and for multi-input models a
list/tuple/dict of those. Every check raises with the argument's name, what was expected and
what was received, before any computation starts.

Also accepted as `x`: a *stream of batches*, a `torch.utils.data.DataLoader`, any iterator
(a generator) or a re-iterable object with `__iter__` and `__len__` that is not array data
(e.g. `gated.data.timeseries_dataset_from_array`'s dataset), each item `x`, `(x,)`, `(x, y)`
or `(x, y, sample_weight)` as in Keras. Each batch is checked like arrays when it arrives.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

Arrays = torch.Tensor | list[torch.Tensor]


def _to_tensor(value: Any, name: str, float_dtype: torch.dtype, method: str) -> torch.Tensor:
    from gated.models.validate import check_array_dtype

    check_array_dtype(value, name, method)
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        nested = isinstance(value, (list, tuple))
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as err:
            if not nested:
                raise _not_an_array(value, name, method) from None
            raise ValueError(
                f"Argument `{name}` of {method}() must be a rectangular array; received a "
                f"ragged sequence ({err}). Pad it first, e.g. with "
                "gated.data.text.pad_sequences."
            ) from None
        if arr.dtype == object:
            if not nested:
                raise _not_an_array(value, name, method)
            raise ValueError(
                f"Argument `{name}` of {method}() must be a numeric array; received an object "
                "array (ragged or mixed types). Pad sequences to one length first."
            )
        check_array_dtype(arr, name, method)
        t = torch.as_tensor(arr)
    if t.dtype.is_floating_point:
        t = t.to(float_dtype)
    elif t.dtype == torch.bool:
        t = t.to(float_dtype)
    return t


def _not_an_array(value: Any, name: str, method: str) -> TypeError:
    return TypeError(
        f"Argument `{name}` of {method}() must be a NumPy array, a torch tensor, a (nested) "
        "list of numbers, or a stream of batches (a DataLoader, a generator, or an object "
        f"with __iter__ and __len__); received {type(value).__name__}: {value!r:.200}."
    )


def _check_finite(t: torch.Tensor, name: str, method: str) -> None:
    if t.dtype.is_floating_point and not bool(torch.isfinite(t).all()):
        bad = (~torch.isfinite(t)).nonzero()[0].tolist()
        kind = "NaN" if bool(torch.isnan(t).any()) else "infinite values"
        raise ValueError(
            f"Argument `{name}` of {method}() contains {kind} (first at index {tuple(bad)}, "
            f"shape {tuple(t.shape)}). Clean or impute the data first; NaN inputs make "
            "every gradient NaN."
        )


def to_arrays(value: Any, name: str, float_dtype: torch.dtype, method: str,
              num_inputs: int = 1, input_names: list[str] | None = None,
              check_finite: bool = False) -> Arrays:
    """Convert `x` (or `y`) to a tensor, or a list of tensors for multi-input models."""
    if value is None:
        raise ValueError(f"Argument `{name}` of {method}() is required, received None.")
    if num_inputs > 1:
        if isinstance(value, dict):
            missing = [n for n in (input_names or []) if n not in value]
            if missing:
                raise ValueError(
                    f"Argument `{name}` of {method}() is missing inputs {missing}; the model's "
                    f"inputs are {input_names}, received keys {sorted(value)}."
                )
            value = [value[n] for n in input_names or []]
        if not isinstance(value, (list, tuple)) or len(value) != num_inputs:
            got = len(value) if isinstance(value, (list, tuple)) else type(value).__name__
            raise ValueError(
                f"The model has {num_inputs} inputs, so argument `{name}` of {method}() must "
                f"be a list of {num_inputs} arrays; received {got}."
            )
        out = [_to_tensor(v, f"{name}[{i}]", float_dtype, method) for i, v in enumerate(value)]
        if check_finite:
            for i, t in enumerate(out):
                _check_finite(t, f"{name}[{i}]", method)
        return out
    t = _to_tensor(value, name, float_dtype, method)
    if check_finite:
        _check_finite(t, name, method)
    return t


def num_samples(arrays: Arrays) -> int:
    return int(arrays[0].shape[0]) if isinstance(arrays, list) else int(arrays.shape[0])


def check_same_length(method: str, **named: Any) -> int:
    """All given arrays (None ignored) have the same first axis; returns it."""
    sizes = {}
    for name, arrays in named.items():
        if arrays is None:
            continue
        parts = arrays if isinstance(arrays, list) else [arrays]
        for i, a in enumerate(parts):
            if a.ndim == 0:
                raise ValueError(
                    f"Argument `{name}` of {method}() must have a batch axis, received a scalar."
                )
            label = name if len(parts) == 1 else f"{name}[{i}]"
            sizes[label] = (int(a.shape[0]), tuple(a.shape))
    if len({n for n, _ in sizes.values()}) > 1:
        detail = ", ".join(f"{k} has {n} samples (shape {s})" for k, (n, s) in sizes.items())
        raise ValueError(
            f"Arguments of {method}() must have the same number of samples (first axis): "
            f"{detail}."
        )
    return next(iter(sizes.values()))[0]


def take(arrays: Arrays | None, index: torch.Tensor | slice) -> Arrays | None:
    if arrays is None:
        return None
    if isinstance(arrays, list):
        return [a[index] for a in arrays]
    return arrays[index]


def to_device(arrays: Arrays | None, device: torch.device) -> Arrays | None:
    if arrays is None:
        return None
    if isinstance(arrays, list):
        return [a.to(device) for a in arrays]
    return arrays.to(device)


def batches(n: int, batch_size: int, shuffle: bool = False,
            generator: torch.Generator | None = None) -> Iterator[torch.Tensor | slice]:
    """Index batches over `n` samples, in order or shuffled once per call (per epoch)."""
    if shuffle:
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            yield perm[start:start + batch_size]
    else:
        for start in range(0, n, batch_size):
            yield slice(start, min(start + batch_size, n))


def is_batch_stream(value: Any) -> bool:
    """`x` yields whole batches: a DataLoader, an iterator (a generator), or a re-iterable
    object with `__iter__` and `__len__` (e.g. `gated.data.timeseries_dataset_from_array`'s
    dataset, a list-like of batches) that is not itself array data (a list, tuple, dict,
    set, string, tensor or anything NumPy converts by `__array__`)."""
    if isinstance(value, (torch.utils.data.DataLoader, Iterator)):
        return True
    if isinstance(value, (list, tuple, dict, set, frozenset, str, bytes, np.ndarray,
                          torch.Tensor)):
        return False
    if hasattr(value, "__array__") or hasattr(value, "__array_interface__"):
        return False
    return hasattr(value, "__iter__") and hasattr(value, "__len__")


def is_pydataset(value: Any) -> bool:
    """`x` is a Keras-style `PyDataset` / `Sequence`: batches by index, epoch hooks."""
    return all(hasattr(value, a) for a in ("__getitem__", "__len__", "on_epoch_end",
                                            "on_epoch_begin", "num_batches"))


def stream_items(data: Any, shuffle: bool = False) -> Iterator[Any]:
    """One pass over a stream: a `PyDataset` by index (shuffled batch order with `shuffle`,
    `on_epoch_begin` called first), anything else by `iter()`."""
    if is_pydataset(data):
        from gated.utils.dataset import epoch_items

        return epoch_items(data, shuffle)
    return iter(data)


def end_stream_pass(data: Any) -> None:
    """After a full pass: a `PyDataset`'s `on_epoch_end()` (Keras calls it every epoch)."""
    if is_pydataset(data):
        data.on_epoch_end()


def unpack_batch(item: Any) -> tuple[Any, Any, Any]:
    """Keras' rule: a tuple/list of 1-3 elements is `(x[, y[, sample_weight]])`, anything else
    is `x` alone."""
    if isinstance(item, (tuple, list)) and 1 <= len(item) <= 3:
        return (*item, *(None,) * (3 - len(item)))
    return item, None, None


def stream_steps(data: Any, steps: Any, name: str, steps_name: str, method: str) -> int | None:
    """How many batches to draw from a stream per epoch: `steps` when given, else its
    `len()`; a generator without `len()` needs `steps` in `fit` (the progress bar and the
    epochs are counted in batches)."""
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(
                f"Argument `{steps_name}` of {method}() must be a positive integer, received "
                f"{steps_name}={steps!r}."
            )
        return int(steps)
    try:
        return len(data)
    except TypeError:
        if method == "fit" and steps_name == "steps_per_epoch":
            raise ValueError(
                f"Argument `{name}` of fit() is a {type(data).__name__} without len(): pass "
                f"`{steps_name}` (batches per epoch)."
            ) from None
        return None


def check_stream_only(method: str, **named: Any) -> None:
    """With a stream as `x`, the batches carry the targets and weights: these must be unset."""
    for name, (value, default) in named.items():
        unset = value is None if default is None else (
            isinstance(value, (int, float)) and value == default)
        if not unset:
            raise ValueError(
                f"Argument `{name}` of {method}() must be left at {default!r} when `x` is a "
                "DataLoader, a generator or a dataset of batches (its batches are "
                f"`(x, y[, sample_weight])`), "
                f"received {name}={value!r}."
            )


def check_batch_size(batch_size: Any, method: str) -> int:
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size <= 0:
        raise ValueError(
            f"Argument `batch_size` of {method}() must be a positive integer, received "
            f"batch_size={batch_size!r}."
        )
    return int(batch_size)
