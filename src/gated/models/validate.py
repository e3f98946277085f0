"""The input boundary of `fit` / `evaluate` / `predict`: every argument is checked here, once,
before any computation, and a bad one raises a `ValueError` / `TypeError` that names the
argument, what was expected and what was received.

`gated.models.data` converts arrays (and calls `check_array_dtype`); this module holds the
checks of the other arguments and of the converted arrays' contents.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def check_array_dtype(value: Any, name: str, method: str) -> None:
    """Refuse complex, string and other non-numeric arrays by name (integers and booleans are
    cast to the model's float type, as Keras does)."""
    dtype = getattr(value, "dtype", None)
    if isinstance(value, torch.Tensor):
        bad = dtype.is_complex
    elif isinstance(value, np.ndarray):
        bad = dtype.kind not in "biuf"
    else:
        return
    if bad:
        raise TypeError(
            f"Argument `{name}` of {method}() must hold real numbers (float, int or bool); "
            f"received an array of dtype {dtype} (shape {tuple(value.shape)})."
            + (" Split complex data into real and imaginary features first."
               if "complex" in str(dtype) else ""))


def check_sample_shapes(arrays: Any, name: str, method: str, sequence: bool) -> None:
    """No empty batch in training, no empty time axis anywhere (`sequence`: the model reads
    `(batch, time, ...)`)."""
    parts = arrays if isinstance(arrays, list) else [arrays]
    for i, a in enumerate(parts):
        label = name if len(parts) == 1 else f"{name}[{i}]"
        if method in ("fit", "train_on_batch") and a.ndim and a.shape[0] == 0:
            raise ValueError(f"Argument `{label}` of {method}() holds 0 samples (shape "
                             f"{tuple(a.shape)}); training needs at least one.")
        if sequence and a.ndim >= 3 and a.shape[1] == 0:
            raise ValueError(f"Argument `{label}` of {method}() has a time axis of length 0 "
                             f"(shape {tuple(a.shape)}); each sequence needs >= 1 step.")


def check_sample_weight(sample_weight: Any, method: str) -> None:
    """Sample weights are finite (NaN weights make every weight NaN silently); negative
    weights are accepted, as Keras does."""
    parts = sample_weight if isinstance(sample_weight, list) else [sample_weight]
    for t in parts:
        if not t.dtype.is_floating_point:
            continue
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            index = tuple(bad.nonzero()[0].tolist())
            raise ValueError(
                f"Argument `sample_weight` of {method}() must hold finite weights; "
                f"received {float(t[index])} at index {index} (shape {tuple(t.shape)}).")


def check_verbose(verbose: Any, method: str) -> int:
    """Keras' `verbose`: `'auto'`, 0, 1 or 2 (True/False count as 1/0, as in Keras);
    returns the int."""
    if isinstance(verbose, str):
        ok = verbose == "auto"
    else:
        ok = isinstance(verbose, (int, np.integer)) and int(verbose) in (0, 1, 2)
    if not ok:
        raise ValueError(f"Argument `verbose` of {method}() must be 'auto', 0, 1 or 2, "
                         f"received verbose={verbose!r}.")
    return 1 if verbose == "auto" else int(verbose)


def check_callbacks(callbacks: Any, method: str) -> None:
    """`callbacks` is None or a list/tuple of callback objects (not one callback alone)."""
    if callbacks is None:
        return
    if not isinstance(callbacks, (list, tuple)):
        hint = " Wrap it in a list: callbacks=[...]." if hasattr(callbacks, "set_model") else ""
        raise TypeError(f"Argument `callbacks` of {method}() must be a list of callbacks, "
                        f"received {type(callbacks).__name__}.{hint}")
    for i, cb in enumerate(callbacks):
        if not hasattr(cb, "set_model"):
            raise TypeError(f"Argument `callbacks` of {method}() must hold callbacks; "
                            f"callbacks[{i}] is {type(cb).__name__}: {cb!r:.80}.")


def check_fit_counters(epochs: int, initial_epoch: Any, validation_freq: Any) -> None:
    """`initial_epoch` in `[0, epochs]`, `validation_freq` a positive integer."""
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)) \
            or initial_epoch < 0:
        raise ValueError("Argument `initial_epoch` of fit() must be an integer >= 0, "
                         f"received initial_epoch={initial_epoch!r}.")
    if isinstance(validation_freq, bool) or not isinstance(
            validation_freq, (int, np.integer)) or validation_freq < 1:
        raise ValueError("Argument `validation_freq` of fit() must be an integer >= 1 (run "
                         "validation every that many epochs), received "
                         f"validation_freq={validation_freq!r}.")


def check_class_weight(class_weight: Any, y: torch.Tensor, num_outputs: int | None) -> None:
    """Keys are class ids of the model (`0 .. classes-1`: one-hot width, else the model's
    output width, 2 for a single sigmoid unit), weights finite and >= 0."""
    if not isinstance(class_weight, dict):
        raise TypeError("Argument `class_weight` of fit() must be a dict {class_id: weight}, "
                        f"received {type(class_weight).__name__}.")
    if y.ndim >= 2 and y.shape[-1] > 1:
        classes = int(y.shape[-1])
    elif num_outputs is not None:
        classes = 2 if num_outputs == 1 else num_outputs
    else:
        classes = None
    for key, weight in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or key < 0 or (
                classes is not None and key >= classes):
            expected = f"0..{classes - 1}" if classes else "integers >= 0"
            raise ValueError(f"Argument `class_weight` of fit() names class {key!r}; the "
                             f"model's classes are {expected}.")
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)) \
                or not np.isfinite(weight) or weight < 0:
            raise ValueError(f"Argument `class_weight` of fit() must map classes to finite "
                             f"weights >= 0; received {key!r}: {weight!r}.")


def check_has_layers(model: Any, method: str) -> None:
    """A `Sequential` without layers computes nothing: refuse to run it."""
    if getattr(model, "_graph", None) is None and hasattr(model, "_layers") \
            and not [layer for layer in model._layers
                     if type(layer).__name__ != "InputLayer"]:
        raise ValueError(f"{method}() of model '{model.name}': the model has no layers; add "
                         "some with model.add(layer) or Sequential([...]).")
