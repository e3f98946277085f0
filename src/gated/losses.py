"""Loss functions with Keras 3 names, defaults and reductions.

A loss has two stages, as in Keras:

1. `call(y_true, y_pred)` returns the *per-sample* loss: the elementwise loss averaged over the
   last axis, so its shape is `y_pred.shape[:-1]` (`(batch,)` for a `(batch, units)` output,
   `(batch, time)` for a sequence output).
2. `__call__(y_true, y_pred, sample_weight=None, mask=None)` weights, masks and reduces it to a
   scalar (`reduction="sum_over_batch_size"`, the default), a sum (`"sum"`) or leaves it
   (`"none"`). Masked entries count zero and are left out of the denominator.

Example:
>>> import torch
>>> from gated.losses import MeanSquaredError
>>> loss = MeanSquaredError()
>>> float(loss(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]])))
0.5
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from gated._checks import to_snake_case, type_name, unknown_name_error

__all__ = [
    "EPSILON", "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Huber", "LogCosh",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "KLDivergence", "Poisson", "CosineSimilarity", "Hinge", "SquaredHinge",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "huber", "log_cosh", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence", "poisson",
    "cosine_similarity", "hinge", "squared_hinge", "reduce_weighted_values", "get",
    "serialize", "deserialize",
]

EPSILON = 1e-7
"""Fuzz factor used by Keras to clip probabilities (`keras.config.epsilon()`)."""

REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight")


# ----------------------------------------------------------------------------- tensor helpers
def _float_tensor(x: Any, like: torch.Tensor | None = None) -> torch.Tensor:
    """Converts `x` to a floating tensor (float32 for half inputs, as Keras computes losses)."""
    if like is not None:
        return torch.as_tensor(x, dtype=like.dtype, device=like.device)
    t = torch.as_tensor(x)
    if not t.is_floating_point() or t.dtype in (torch.float16, torch.bfloat16):
        t = t.to(torch.float32)
    return t


def _align(y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Brings `y_true` to `y_pred`'s dtype, device and rank; checks the shapes match."""
    y_pred = _float_tensor(y_pred)
    y_true = _float_tensor(y_true, like=y_pred)
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = y_true.unsqueeze(-1)
    elif y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape; received y_true.shape="
            f"{tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}."
        )
    return y_true, y_pred


def _match_weight(weight: Any, values: torch.Tensor, arg: str) -> torch.Tensor:
    """Broadcasts a `sample_weight` or `mask` to the shape of `values`."""
    w = torch.as_tensor(weight, device=values.device)
    w = w.to(values.dtype)
    if w.ndim == values.ndim + 1 and w.shape[-1] == 1:
        w = w.squeeze(-1)
    while w.ndim < values.ndim:
        w = w.unsqueeze(-1)
    try:
        return torch.broadcast_to(w, values.shape)
    except RuntimeError:
        raise ValueError(
            f"`{arg}` must broadcast to the per-sample loss shape {tuple(values.shape)} "
            f"(y_pred.shape[:-1]); received {arg}.shape={tuple(torch.as_tensor(weight).shape)}."
        ) from None


def reduce_weighted_values(
    values: torch.Tensor,
    sample_weight: Any = None,
    mask: Any = None,
    reduction: str | None = "sum_over_batch_size",
) -> torch.Tensor:
    """Weights, masks and reduces a per-sample loss tensor.

    Args:
        values: per-sample losses, e.g. shape `(batch,)` or `(batch, time)`.
        sample_weight: optional weights broadcastable to `values` (trailing axes are added, so
            `(batch,)` weights apply to every time step of a `(batch, time)` loss).
        mask: optional boolean mask broadcastable to `values`. Masked entries count zero and
            are excluded from the `"sum_over_batch_size"` denominator.
        reduction: `"sum_over_batch_size"` (sum / number of entries, or / number of unmasked
            entries), `"sum"`, `"none"` / `None` (weighted per-sample tensor), `"mean"` (same as
            `"sum_over_batch_size"`) or `"mean_with_sample_weight"` (sum / sum of weights).

    Returns:
        A scalar tensor, or the weighted per-sample tensor for `"none"`.
    """
    reduction = _standardize_reduction(reduction)
    if values.ndim == 0:
        return values
    weight = None
    if sample_weight is not None:
        weight = _match_weight(sample_weight, values, "sample_weight")
    m = None
    if mask is not None:
        m = _match_weight(mask, values, "mask")
        weight = m if weight is None else weight * m
    weighted = values if weight is None else values * weight
    if reduction == "none":
        return weighted
    total = weighted.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and weight is not None:
        divisor = weight.sum()
    elif m is not None:
        divisor = m.sum()
    else:
        return total / values.numel()
    return total / torch.where(divisor != 0, divisor, torch.ones_like(divisor))


def _standardize_reduction(reduction: str | None) -> str:
    if reduction is None:
        return "none"
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"Invalid value for argument `reduction`: {reduction!r}. Expected one of "
            f"{', '.join(repr(r) for r in REDUCTIONS)} or None."
        )
    return reduction




# ------------------------------------------------------------------------ per-sample functions
def mean_squared_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean((y_true - y_pred) ** 2, axis=-1)`; shape `y_pred.shape[:-1]`."""
    y_true, y_pred = _align(y_true, y_pred)
    return (y_pred - y_true).square().mean(dim=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(abs(y_true - y_pred), axis=-1)`."""
    y_true, y_pred = _align(y_true, y_pred)
    return (y_pred - y_true).abs().mean(dim=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)), axis=-1)`."""
    y_true, y_pred = _align(y_true, y_pred)
    diff = ((y_true - y_pred) / y_true.abs().clamp_min(EPSILON)).abs()
    return 100.0 * diff.mean(dim=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)) ** 2, axis=-1)`."""
    y_true, y_pred = _align(y_true, y_pred)
    first = torch.log1p(y_pred.clamp_min(EPSILON))
    second = torch.log1p(y_true.clamp_min(EPSILON))
    return (first - second).square().mean(dim=-1)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> torch.Tensor:
    """Huber loss: quadratic for `|error| <= delta`, linear beyond; mean over the last axis."""
    y_true, y_pred = _align(y_true, y_pred)
    error = y_pred - y_true
    abs_error = error.abs()
    quadratic = 0.5 * error.square()
    linear = delta * abs_error - 0.5 * delta * delta
    return torch.where(abs_error <= delta, quadratic, linear).mean(dim=-1)


def log_cosh(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`, computed without overflow."""
    y_true, y_pred = _align(y_true, y_pred)
    diff = y_pred - y_true
    return (diff + F.softplus(-2.0 * diff) - math.log(2.0)).mean(dim=-1)


def binary_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Binary cross-entropy, mean over the last axis.

    With `from_logits=False`, `y_pred` is clipped to `[1e-7, 1 - 1e-7]` as Keras does.
    Label smoothing squeezes the targets towards 0.5: `y * (1 - ls) + 0.5 * ls`.
    """
    y_true, y_pred = _align(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        values = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
        values = -(y_true * torch.log(p) + (1.0 - y_true) * torch.log(1.0 - p))
    return values.mean(dim=-1)


def categorical_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Categorical cross-entropy on one-hot (or soft) targets; reduces the class axis.

    With `from_logits=False`, `y_pred` is renormalised to sum to 1 over the last axis and
    clipped to `[1e-7, 1 - 1e-7]` before the log, as Keras does.
    """
    y_pred = _float_tensor(y_pred)
    y_true = torch.as_tensor(y_true, device=y_pred.device)
    if y_true.shape != y_pred.shape:
        hint = ""
        if y_true.shape == y_pred.shape[:-1] or (
            y_true.shape[:-1] == y_pred.shape[:-1] and y_true.shape[-1:] == (1,)
        ):
            hint = (" These look like integer class ids: use "
                    "'sparse_categorical_crossentropy', or one-hot encode the targets.")
        raise ValueError(
            "categorical_crossentropy expects one-hot y_true with the shape of y_pred; received "
            f"y_true.shape={tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}.{hint}"
        )
    y_true = y_true.to(y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    if from_logits:
        log_prob = F.log_softmax(y_pred, dim=-1)
    else:
        p = y_pred / y_pred.sum(dim=-1, keepdim=True)
        log_prob = torch.log(p.clamp(EPSILON, 1.0 - EPSILON))
    return -(y_true * log_prob).sum(dim=-1)


def _sparse_labels(
    y_true: Any, y_pred: torch.Tensor, who: str = "sparse_categorical_crossentropy"
) -> torch.Tensor:
    labels = torch.as_tensor(y_true, device=y_pred.device)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels.squeeze(-1)
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"{who} expects integer class ids y_true with shape "
            f"y_pred.shape[:-1]={tuple(y_pred.shape[:-1])} (or with a trailing 1); received "
            f"y_true.shape={tuple(labels.shape)} for y_pred.shape={tuple(y_pred.shape)}."
        )
    if labels.is_floating_point() and labels.numel() and bool((labels != labels.round()).any()):
        bad = labels[labels != labels.round()][0].item()
        raise ValueError(f"{who} expects integer class ids in y_true; received {bad} (use "
                         "categorical_crossentropy for soft or one-hot labels).")
    return labels.long()


def _sparse_crossentropy(
    labels: torch.Tensor, y_pred: torch.Tensor, from_logits: bool, ignore_class: int | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-sample cross-entropy and the mask of entries not equal to `ignore_class`."""
    num_classes = y_pred.shape[-1]
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = torch.where(valid, labels, torch.zeros_like(labels))
    if labels.numel() and bool(((labels < 0) | (labels >= num_classes)).any()):
        raise ValueError(
            f"sparse_categorical_crossentropy received class ids outside [0, {num_classes - 1}] "
            f"(min {int(labels.min())}, max {int(labels.max())}) for y_pred with "
            f"{num_classes} classes on its last axis."
        )
    if from_logits:
        log_prob = F.log_softmax(y_pred, dim=-1)
    else:
        p = y_pred / y_pred.sum(dim=-1, keepdim=True)
        log_prob = torch.log(p.clamp(EPSILON, 1.0 - EPSILON))
    values = -log_prob.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    if valid is not None:
        values = torch.where(valid, values, torch.zeros_like(values))
    return values, valid


def sparse_categorical_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, ignore_class: int | None = None
) -> torch.Tensor:
    """Cross-entropy on integer class ids; shape `y_pred.shape[:-1]`.

    `y_true` holds class ids with shape `y_pred.shape[:-1]` (a trailing axis of size 1 is
    squeezed). Entries equal to `ignore_class` get loss 0 (the `SparseCategoricalCrossentropy`
    class also drops them from the denominator).
    """
    y_pred = _float_tensor(y_pred)
    labels = _sparse_labels(y_true, y_pred)
    return _sparse_crossentropy(labels, y_pred, from_logits, ignore_class)[0]


def kl_divergence(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`sum(y_true * log(y_true / y_pred), axis=-1)` with both clipped to `[1e-7, 1]`."""
    y_true, y_pred = _align(y_true, y_pred)
    y_true = y_true.clamp(EPSILON, 1.0)
    y_pred = y_pred.clamp(EPSILON, 1.0)
    return (y_true * torch.log(y_true / y_pred)).sum(dim=-1)


def poisson(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)`."""
    y_true, y_pred = _align(y_true, y_pred)
    return (y_pred - y_true * torch.log(y_pred + EPSILON)).mean(dim=-1)


def cosine_similarity(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Negative cosine similarity over the last axis (Keras' loss convention: -1 is best)."""
    y_true, y_pred = _align(y_true, y_pred)
    return -(F.normalize(y_true, dim=-1) * F.normalize(y_pred, dim=-1)).sum(dim=-1)


def _hinge_labels(y_true: torch.Tensor) -> torch.Tensor:
    is_binary = bool(((y_true == 0) | (y_true == 1)).all())
    return 2.0 * y_true - 1.0 if is_binary else y_true


def hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(max(1 - y_true * y_pred, 0), axis=-1)`; 0/1 labels are mapped to -1/1."""
    y_true, y_pred = _align(y_true, y_pred)
    return (1.0 - _hinge_labels(y_true) * y_pred).clamp_min(0.0).mean(dim=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(max(1 - y_true * y_pred, 0) ** 2, axis=-1)`; 0/1 labels are mapped to -1/1."""
    y_true, y_pred = _align(y_true, y_pred)
    return (1.0 - _hinge_labels(y_true) * y_pred).clamp_min(0.0).square().mean(dim=-1)


# ------------------------------------------------------------------------------------ classes
class Loss:
    """Base class of all losses.

    Subclasses implement `call(y_true, y_pred)` returning the per-sample loss (shape
    `y_pred.shape[:-1]`); `__call__` applies `sample_weight`, `mask` and the reduction.

    Args:
        name: name of the loss; defaults to the snake-cased class name.
        reduction: `"sum_over_batch_size"` (default), `"sum"`, `"none"`/`None`, `"mean"` or
            `"mean_with_sample_weight"`. See `reduce_weighted_values`.

    Example:
    >>> class MyLoss(Loss):
    ...     def call(self, y_true, y_pred):
    ...         return (y_pred - y_true).abs().mean(dim=-1)
    """

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size"):
        self.name = name or to_snake_case(type(self).__name__)
        self.reduction = _standardize_reduction(reduction)
        self._warned_scalar = False

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        """Returns the per-sample loss; to be implemented by subclasses."""
        raise NotImplementedError(f"{type(self).__name__} must implement `call(y_true, y_pred)`.")

    def _values_and_mask(
        self, y_true: Any, y_pred: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        y_true = _float_tensor(y_true, like=y_pred)
        if y_pred.ndim == 1 and y_true.ndim == 1:
            # (batch,) outputs: treat as (batch, 1) so the per-sample loss keeps the batch axis.
            y_true, y_pred = y_true.unsqueeze(-1), y_pred.unsqueeze(-1)
        return torch.as_tensor(self.call(y_true, y_pred)), None

    def __call__(
        self, y_true: Any, y_pred: Any, sample_weight: Any = None, mask: Any = None
    ) -> torch.Tensor:
        """Computes the reduced loss.

        Args:
            y_true: targets (tensor, NumPy array or list).
            y_pred: predictions, e.g. `(batch, units)` or `(batch, time, units)`.
            sample_weight: optional weights broadcastable to the per-sample loss shape
                `y_pred.shape[:-1]`; `(batch,)` weights apply to all time steps.
            mask: optional boolean mask with the per-sample loss shape (e.g. `(batch, time)`);
                masked entries count zero and are left out of the denominator.

        Returns:
            A scalar tensor (or the weighted per-sample tensor when `reduction="none"`).
        """
        y_pred = _float_tensor(y_pred)
        values, extra_mask = self._values_and_mask(y_true, y_pred)
        if extra_mask is not None:
            mask = extra_mask if mask is None else _match_weight(mask, values, "mask") * extra_mask
        if values.ndim == 0 and (sample_weight is not None or mask is not None):
            if not getattr(self, "_warned_scalar", False):
                warnings.warn(
                    f"Loss {self.name!r} returned a scalar, so `sample_weight` and `mask` cannot "
                    "be applied to it; return the per-sample loss (shape y_pred.shape[:-1]) "
                    "to support them.",
                    stacklevel=2,
                )
                self._warned_scalar = True
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-able dict."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """Creates a loss from `get_config()` output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class LossFunctionWrapper(Loss):
    """Wraps a function `fn(y_true, y_pred, **kwargs)` returning a per-sample (or scalar) loss.

    Args:
        fn: the loss function.
        reduction: see `Loss`.
        name: defaults to `fn.__name__`.
        **kwargs: extra keyword arguments passed to `fn`.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        from gated.serialization import get_registered_name

        config = super().get_config()
        # a registered function is saved under its "package>name" key, found again on load
        config["fn"] = get_registered_name(self.fn) if hasattr(self.fn, "__name__") \
            else repr(self.fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        config = dict(config)
        fn = config.pop("fn")
        if isinstance(fn, str) and fn not in _FUNCTIONS:
            _load_more()
        if isinstance(fn, str):
            from gated.serialization import get_registered_object

            fn = _FUNCTIONS.get(fn) or get_registered_object(fn) or fn
        if not callable(fn):
            raise ValueError(f"Cannot rebuild LossFunctionWrapper: unknown function {fn!r}.")
        return cls(fn, **config)


class _PerSampleLoss(Loss):
    """A loss defined by a module-level per-sample function and its keyword arguments."""

    _fn: Callable[..., torch.Tensor]

    def _fn_kwargs(self) -> dict[str, Any]:
        return {}

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return type(self)._fn(y_true, y_pred, **self._fn_kwargs())

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(self._fn_kwargs())
        return config


class MeanSquaredError(_PerSampleLoss):
    """Mean of squares of errors: `mean((y_true - y_pred) ** 2, axis=-1)`, then reduced.

    Args:
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"mean_squared_error"`.

    Example:
    >>> MeanSquaredError()([[0.0, 1.0]], torch.tensor([[1.0, 1.0]]))
    tensor(0.5000)
    """

    _fn = staticmethod(mean_squared_error)

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "mean_squared_error"):
        super().__init__(name=name, reduction=reduction)


class MeanAbsoluteError(_PerSampleLoss):
    """Mean of absolute errors: `mean(abs(y_true - y_pred), axis=-1)`, then reduced.

    Args:
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"mean_absolute_error"`.
    """

    _fn = staticmethod(mean_absolute_error)

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "mean_absolute_error"):
        super().__init__(name=name, reduction=reduction)


class MeanAbsolutePercentageError(_PerSampleLoss):
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), 1e-7)), axis=-1)`, then reduced.

    Args:
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"mean_absolute_percentage_error"`.
    """

    _fn = staticmethod(mean_absolute_percentage_error)

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "mean_absolute_percentage_error"):
        super().__init__(name=name, reduction=reduction)


class MeanSquaredLogarithmicError(_PerSampleLoss):
    """Mean squared error of `log(1 + max(y, 1e-7))`, then reduced.

    Args:
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"mean_squared_logarithmic_error"`.
    """

    _fn = staticmethod(mean_squared_logarithmic_error)

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "mean_squared_logarithmic_error"):
        super().__init__(name=name, reduction=reduction)


class Huber(_PerSampleLoss):
    """Huber loss: `0.5 * e**2` where `|e| <= delta`, else `delta * |e| - 0.5 * delta**2`.

    Args:
        delta: the switch point between quadratic and linear (default 1.0).
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"huber_loss"`.

    Example:
    >>> Huber(delta=0.5)([[0.0]], torch.tensor([[2.0]]))
    tensor(0.8750)
    """

    _fn = staticmethod(huber)

    def __init__(self, delta: float = 1.0, reduction: str | None = "sum_over_batch_size",
                 name: str = "huber_loss"):
        super().__init__(name=name, reduction=reduction)
        self.delta = float(delta)

    def _fn_kwargs(self) -> dict[str, Any]:
        return {"delta": self.delta}


class LogCosh(_PerSampleLoss):
    """Mean of `log(cosh(y_pred - y_true))` over the last axis, then reduced.

    Args:
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"log_cosh"`.
    """

    _fn = staticmethod(log_cosh)

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "log_cosh"):
        super().__init__(name=name, reduction=reduction)


class BinaryCrossentropy(_PerSampleLoss):
    """Binary cross-entropy for 0/1 targets, mean over the last axis, then reduced.

    Args:
        from_logits: whether `y_pred` are logits. By default `y_pred` are probabilities,
            clipped to `[1e-7, 1 - 1e-7]` as in Keras.
        label_smoothing: float in [0, 1]; targets become `y * (1 - ls) + 0.5 * ls`.
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"binary_crossentropy"`.

    Example:
    >>> loss = BinaryCrossentropy(from_logits=True)
    >>> value = loss([[1.0], [0.0]], torch.tensor([[2.0], [-1.0]]))
    """

    _fn = staticmethod(binary_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 reduction: str | None = "sum_over_batch_size",
                 name: str = "binary_crossentropy"):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def _fn_kwargs(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(_PerSampleLoss):
    """Cross-entropy for one-hot targets over the last axis, then reduced.

    Args:
        from_logits: whether `y_pred` are logits. By default `y_pred` are probabilities,
            renormalised over the last axis and clipped to `[1e-7, 1 - 1e-7]` as in Keras.
        label_smoothing: float in [0, 1]; targets become `y * (1 - ls) + ls / num_classes`.
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"categorical_crossentropy"`.
    """

    _fn = staticmethod(categorical_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 reduction: str | None = "sum_over_batch_size",
                 name: str = "categorical_crossentropy"):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def _fn_kwargs(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class KLDivergence(_PerSampleLoss):
    """Kullback-Leibler divergence `sum(y_true * log(y_true / y_pred), axis=-1)`.

    Args:
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"kl_divergence"`.
    """

    _fn = staticmethod(kl_divergence)

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "kl_divergence"):
        super().__init__(name=name, reduction=reduction)


class Poisson(_PerSampleLoss):
    """Poisson loss `mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)`.

    Args:
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"poisson"`.
    """

    _fn = staticmethod(poisson)

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "poisson"):
        super().__init__(name=name, reduction=reduction)


class CosineSimilarity(_PerSampleLoss):
    """Negative cosine similarity over the last axis (-1 means identical directions).

    Args:
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"cosine_similarity"`.
    """

    _fn = staticmethod(cosine_similarity)

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "cosine_similarity"):
        super().__init__(name=name, reduction=reduction)


class Hinge(_PerSampleLoss):
    """Hinge loss `mean(max(1 - y_true * y_pred, 0), axis=-1)`; 0/1 labels become -1/1.

    Args:
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"hinge"`.
    """

    _fn = staticmethod(hinge)

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "hinge"):
        super().__init__(name=name, reduction=reduction)


class SquaredHinge(_PerSampleLoss):
    """Squared hinge loss `mean(max(1 - y_true * y_pred, 0) ** 2, axis=-1)`.

    Args:
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"squared_hinge"`.
    """

    _fn = staticmethod(squared_hinge)

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "squared_hinge"):
        super().__init__(name=name, reduction=reduction)


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy for integer class ids.

    `y_true` has shape `y_pred.shape[:-1]` (or with a trailing 1); `y_pred` holds probabilities
    (renormalised and clipped to `[1e-7, 1 - 1e-7]`) or logits with `from_logits=True`.

    Args:
        from_logits: whether `y_pred` are logits.
        ignore_class: optional class id whose entries get zero loss and are left out of the
            denominator (e.g. a padding token).
        reduction: `"sum_over_batch_size"` (default), `"sum"` or `"none"`.
        name: default `"sparse_categorical_crossentropy"`.

    Example:
    >>> loss = SparseCategoricalCrossentropy(from_logits=True)
    >>> value = loss([1, 0], torch.tensor([[0.1, 2.0], [1.5, -0.3]]))
    """

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: str | None = "sum_over_batch_size",
        name: str = "sparse_categorical_crossentropy",
    ):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = from_logits
        self.ignore_class = ignore_class

    def call(self, y_true: Any, y_pred: torch.Tensor) -> torch.Tensor:
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits, self.ignore_class)

    def _values_and_mask(
        self, y_true: Any, y_pred: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        labels = _sparse_labels(y_true, y_pred)
        return _sparse_crossentropy(labels, y_pred, self.from_logits, self.ignore_class)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(from_logits=self.from_logits, ignore_class=self.ignore_class)
        return config


# ----------------------------------------------------------------------------------- registry
_ALIASES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError, "MSE": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "huber": Huber, "huber_loss": Huber,
    "log_cosh": LogCosh, "logcosh": LogCosh,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "poisson": Poisson, "cosine_similarity": CosineSimilarity,
    "hinge": Hinge, "squared_hinge": SquaredHinge,
}
_CLASSES: dict[str, type[Loss]] = {
    c.__name__: c for c in dict.fromkeys(_ALIASES.values())
}
_ALL_NAMES: dict[str, type[Loss]] = {**_ALIASES, **_CLASSES}
_FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    f.__name__: f for f in (
        mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
        mean_squared_logarithmic_error, huber, log_cosh, binary_crossentropy,
        categorical_crossentropy, sparse_categorical_crossentropy, kl_divergence, poisson,
        cosine_similarity, hinge, squared_hinge)
}


#: Keras' other losses (focal cross-entropies, categorical hinge, CTC) live in this module,
#: loaded on first use; it registers its classes and names here.
_MORE = "gated.losses_more"


def _load_more() -> Any:
    import importlib

    return importlib.import_module(_MORE)


def __getattr__(name: str) -> Any:
    if not name.startswith("_"):
        more = _load_more()
        if name in more.__all__:
            return getattr(more, name)
    raise AttributeError(f"module 'gated.losses' has no attribute '{name}'")


def serialize(loss: Loss) -> dict[str, Any]:
    """Returns `{"class_name": ..., "config": ...}` for a `Loss` (JSON-able)."""
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config: dict[str, Any]) -> Loss:
    """Rebuilds a loss from `serialize()` output (only built-in classes; no code is run)."""
    name = config.get("class_name")
    if name == "LossFunctionWrapper":
        return LossFunctionWrapper.from_config(config.get("config", {}))
    if name not in _CLASSES:
        _load_more()
    if name not in _CLASSES:
        raise unknown_name_error("loss", str(name), list(_CLASSES))
    return _CLASSES[name].from_config(config.get("config", {}))


def get(identifier: Any) -> Loss | None:
    """Resolves a loss identifier to a `Loss` instance.

    Args:
        identifier: a Keras name (`"mse"`, `"mean_squared_error"`, `"MSE"`,
            `"binary_crossentropy"`, ... or a class name such as `"MeanSquaredError"`), a `Loss`
            instance or subclass, a `serialize()` dict, or any callable `f(y_true, y_pred)`
            returning a per-sample or scalar loss (it is wrapped in `LossFunctionWrapper`).
            `None` returns `None`.

    Returns:
        A `Loss` instance (or `None`).

    Raises:
        ValueError: unknown name, with close matches (`Unknown loss 'mse2'. Did you mean 'mse'?`).
        TypeError: for anything else, naming the received type.

    Example:
    >>> get("mse")
    MeanSquaredError(name='mean_squared_error', reduction='sum_over_batch_size')
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _ALL_NAMES:
            _load_more()
        if identifier in _ALL_NAMES:
            return _ALL_NAMES[identifier]()
        listed = [k for k in _ALIASES if k == k.lower()]
        raise unknown_name_error("loss", identifier, list(_ALL_NAMES), listed=listed)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(
        "Could not interpret loss identifier. Argument `loss` must be a string (e.g. 'mse'), a "
        "`gated.losses.Loss` instance or a callable f(y_true, y_pred); received an object of "
        f"type {type_name(identifier)}: {identifier!r}."
    )
