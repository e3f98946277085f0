"""Stateful metrics with Keras 3 names and semantics.

A metric accumulates over batches (`update_state`), reports (`result`) and starts over
(`reset_state`). Mean-type metrics keep a weighted total and a weighted count, so the epoch
value is the mean over every (unmasked) sample seen, whatever the batch sizes.

Example:
>>> from gated.metrics import MeanAbsoluteError
>>> m = MeanAbsoluteError()
>>> m.update_state([[1.0], [2.0]], [[1.5], [2.0]])
>>> m.result()
0.25
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from gated import losses as losses_module
from gated._checks import to_snake_case, type_name, unknown_name_error
from gated.losses import _align, _float_tensor, _match_weight, _sparse_labels

__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "MeanSquaredError", "MeanAbsoluteError",
    "RootMeanSquaredError", "MeanAbsolutePercentageError", "BinaryAccuracy",
    "CategoricalAccuracy", "SparseCategoricalAccuracy", "Accuracy", "binary_accuracy",
    "categorical_accuracy", "sparse_categorical_accuracy", "accuracy", "get", "serialize",
    "deserialize",
]


# --------------------------------------------------------------------------- value functions
def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> torch.Tensor:
    """Elementwise `y_true == (y_pred > threshold)`, mean over the last axis."""
    y_true, y_pred = _align(y_true, y_pred)
    return (y_true == (y_pred > threshold).to(y_true.dtype)).to(y_pred.dtype).mean(dim=-1)


def categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`argmax(y_true) == argmax(y_pred)` over the last axis; shape `y_pred.shape[:-1]`."""
    y_pred = _float_tensor(y_pred)
    y_true = torch.as_tensor(y_true, device=y_pred.device)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "categorical_accuracy expects one-hot y_true with the shape of y_pred; received "
            f"y_true.shape={tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}. "
            "For integer class ids use 'sparse_categorical_accuracy'."
        )
    return (y_true.argmax(dim=-1) == y_pred.argmax(dim=-1)).to(y_pred.dtype)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`y_true == argmax(y_pred)` for integer class ids; shape `y_pred.shape[:-1]`."""
    y_pred = _float_tensor(y_pred)
    labels = _sparse_labels(y_true, y_pred, who="sparse_categorical_accuracy")
    return (labels == y_pred.argmax(dim=-1)).to(y_pred.dtype)


def accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Exact equality `y_true == y_pred`, mean over the last axis."""
    y_true, y_pred = _align(y_true, y_pred)
    return (y_true == y_pred).to(y_pred.dtype).mean(dim=-1)


def _squared_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    y_true, y_pred = _align(y_true, y_pred)
    return (y_pred - y_true).square()


# ------------------------------------------------------------------------------------ classes
class Metric:
    """Base class of stateful metrics.

    Subclasses implement `update_state`, `result` and `reset_state`.

    Args:
        name: the metric name (the key in `History.history` and in the logs).
    """

    _direction = "down"  # "up" when larger is better (accuracies); used by callbacks.

    def __init__(self, name: str | None = None):
        self.name = name or to_snake_case(type(self).__name__)
        self.reset_state()

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Accumulates statistics from one batch."""
        raise NotImplementedError

    def result(self) -> float:
        """Returns the current value as a Python float."""
        raise NotImplementedError

    def reset_state(self) -> None:
        """Forgets everything accumulated so far."""

    def __call__(self, *args: Any, **kwargs: Any) -> float:
        """`update_state(*args, **kwargs)` then `result()`."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-able dict."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        """Creates a metric from `get_config()` output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Mean(Metric):
    """Weighted mean of the values passed to `update_state`.

    Used to track the loss: call `update_state(batch_loss, sample_weight=batch_size)` each
    batch and `result()` is the per-sample mean over the epoch.

    Args:
        name: default `"mean"`.

    Example:
    >>> m = Mean()
    >>> m.update_state([1.0, 3.0])
    >>> m.update_state(5.0, sample_weight=2.0)
    >>> m.result()
    3.5
    """

    def reset_state(self) -> None:
        self._total: torch.Tensor | None = None
        self._count: torch.Tensor | None = None

    def _accumulate(self, values: Any, sample_weight: Any = None, mask: Any = None) -> None:
        with torch.no_grad():
            values = _float_tensor(values).detach()
            weight = None
            if sample_weight is not None:
                weight = _match_weight(sample_weight, values, "sample_weight")
            if mask is not None:
                m = _match_weight(mask, values, "mask")
                weight = m if weight is None else weight * m
            if weight is None:
                total, count = values.sum(), float(values.numel())
            else:
                total, count = (values * weight).sum(), weight.sum()
            if self._total is None:
                dtype = torch.float32 if values.device.type == "mps" else torch.float64
                self._total = torch.zeros((), dtype=dtype, device=values.device)
                self._count = torch.zeros((), dtype=dtype, device=values.device)
            self._total += torch.as_tensor(total, device=self._total.device).to(self._total.dtype)
            self._count += torch.as_tensor(count, device=self._count.device).to(self._count.dtype)

    def update_state(self, values: Any, sample_weight: Any = None, mask: Any = None) -> None:
        """Adds `values` (any shape) with optional weights and boolean mask.

        Args:
            values: a number or tensor of values.
            sample_weight: optional weights broadcastable to `values` (trailing axes added).
            mask: optional boolean mask broadcastable to `values`; masked values are ignored.
        """
        self._accumulate(values, sample_weight, mask)

    def result(self) -> float:
        if self._count is None:
            return 0.0
        count = float(self._count)
        return float(self._total) / count if count else 0.0


class MeanMetricWrapper(Mean):
    """Mean over samples of a per-sample function `fn(y_true, y_pred, **kwargs)`.

    Args:
        fn: returns per-sample values (e.g. shape `(batch,)` or `(batch, time)`), or a
            `gated.losses.Loss` whose per-sample loss is averaged.
        name: defaults to `fn.__name__` (or the loss name).
        **kwargs: keyword arguments passed to `fn`.

    Example:
    >>> m = MeanMetricWrapper(lambda t, p: (t - p).abs().mean(-1), name="my_mae")
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None, **kwargs: Any):
        if name is None:
            name = fn.name if isinstance(fn, losses_module.Loss) else getattr(fn, "__name__", None)
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name)

    def update_state(
        self, y_true: Any, y_pred: Any, sample_weight: Any = None, mask: Any = None
    ) -> None:
        """Accumulates one batch.

        Args:
            y_true: targets.
            y_pred: predictions.
            sample_weight: optional weights broadcastable to the per-sample values.
            mask: optional boolean mask with the per-sample shape (e.g. `(batch, time)`).
        """
        with torch.no_grad():
            y_pred = _float_tensor(y_pred).detach()
            y_true = torch.as_tensor(y_true, device=y_pred.device).detach().to(y_pred.dtype)
            if y_pred.ndim == 1 and y_true.ndim == 1:
                y_true, y_pred = y_true.unsqueeze(-1), y_pred.unsqueeze(-1)
            if isinstance(self._fn, losses_module.Loss):
                values, extra = self._fn._values_and_mask(y_true, y_pred)
                if extra is not None:
                    mask = extra if mask is None else _match_weight(mask, values, "mask") * extra
            else:
                values = self._fn(y_true, y_pred, **self._fn_kwargs)
            self._accumulate(values, sample_weight, mask)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(self._fn_kwargs)
        return config


class MeanSquaredError(MeanMetricWrapper):
    """Mean of `(y_true - y_pred) ** 2`. Args: name (default `"mean_squared_error"`)."""

    def __init__(self, name: str = "mean_squared_error"):
        super().__init__(losses_module.mean_squared_error, name=name)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean of `abs(y_true - y_pred)`. Args: name (default `"mean_absolute_error"`)."""

    def __init__(self, name: str = "mean_absolute_error"):
        super().__init__(losses_module.mean_absolute_error, name=name)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """`100 * mean(abs((y_true - y_pred) / y_true))`.

    Args:
        name: default `"mean_absolute_percentage_error"`.
    """

    def __init__(self, name: str = "mean_absolute_percentage_error"):
        super().__init__(losses_module.mean_absolute_percentage_error, name=name)


class RootMeanSquaredError(MeanMetricWrapper):
    """`sqrt(mean((y_true - y_pred) ** 2))` over every element seen this epoch.

    Args:
        name: default `"root_mean_squared_error"`.
    """

    def __init__(self, name: str = "root_mean_squared_error"):
        super().__init__(_squared_error, name=name)

    def result(self) -> float:
        return math.sqrt(super().result())


class BinaryAccuracy(MeanMetricWrapper):
    """How often `y_pred > threshold` equals the 0/1 `y_true`.

    Args:
        name: default `"binary_accuracy"`.
        threshold: decision threshold on `y_pred` (default 0.5; use 0.0 for logits).

    Example:
    >>> BinaryAccuracy()([[1.0], [0.0]], [[0.7], [0.6]])
    0.5
    """

    _direction = "up"

    def __init__(self, name: str = "binary_accuracy", threshold: float = 0.5):
        super().__init__(binary_accuracy, name=name, threshold=float(threshold))


class CategoricalAccuracy(MeanMetricWrapper):
    """How often `argmax(y_pred)` equals `argmax(y_true)` for one-hot targets.

    Args:
        name: default `"categorical_accuracy"`.
    """

    _direction = "up"
    def __init__(self, name: str = "categorical_accuracy"):
        super().__init__(categorical_accuracy, name=name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often `argmax(y_pred)` equals the integer class id `y_true`.

    Args:
        name: default `"sparse_categorical_accuracy"`.
    """

    _direction = "up"
    def __init__(self, name: str = "sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name=name)


class Accuracy(MeanMetricWrapper):
    """How often `y_pred` equals `y_true` exactly.

    Args:
        name: default `"accuracy"`.
    """

    _direction = "up"
    def __init__(self, name: str = "accuracy"):
        super().__init__(accuracy, name=name)


class _InferredAccuracy(Metric):
    """`"accuracy"` whose kind (binary / categorical / sparse) is decided on the first batch.

    Follows Keras 3: binary if `y_pred.shape[-1] == 1`; sparse categorical if `y_true` has one
    axis less than `y_pred` (or a trailing 1 while `y_pred` does not); else categorical.
    """

    _direction = "up"

    def reset_state(self) -> None:
        inner = getattr(self, "inner", None)
        if inner is not None:
            inner.reset_state()
        else:
            self.inner: Metric | None = None

    def update_state(
        self, y_true: Any, y_pred: Any, sample_weight: Any = None, mask: Any = None
    ) -> None:
        if self.inner is None:
            true_shape = tuple(torch.as_tensor(y_true).shape)
            pred_shape = tuple(torch.as_tensor(y_pred).shape)
            self.inner = _accuracy_from_shapes(self.name, true_shape, pred_shape)
        self.inner.update_state(y_true, y_pred, sample_weight=sample_weight, mask=mask)

    def result(self) -> float:
        return 0.0 if self.inner is None else self.inner.result()


def _accuracy_from_shapes(name: str, true_shape: Sequence[int], pred_shape: Sequence[int]):
    if len(pred_shape) == 0 or pred_shape[-1] == 1 or len(pred_shape) == 1:
        return BinaryAccuracy(name=name)
    if len(true_shape) == len(pred_shape) - 1 or (
        len(true_shape) == len(pred_shape) and true_shape[-1] == 1
    ):
        return SparseCategoricalAccuracy(name=name)
    return CategoricalAccuracy(name=name)


# ----------------------------------------------------------------------------------- registry
_ALIASES: dict[str, type[Metric]] = {
    "mse": MeanSquaredError, "MSE": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "rmse": RootMeanSquaredError, "RMSE": RootMeanSquaredError,
    "root_mean_squared_error": RootMeanSquaredError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
}
_CLASSES: dict[str, type[Metric]] = {
    c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError, RootMeanSquaredError,
                            MeanAbsolutePercentageError, BinaryAccuracy, CategoricalAccuracy,
                            SparseCategoricalAccuracy, Accuracy, Mean)
}


#: Keras' other metrics (Precision, Recall, AUC, top-k, loss-valued, F-scores, R2) live in
#: these modules, loaded on first use; they register their classes in `_CLASSES` / `_ALIASES`.
_MORE = ("gated.metrics_confusion", "gated.metrics_scores")


def _load_more() -> list[Any]:
    return [importlib.import_module(m) for m in _MORE]


def __getattr__(name: str) -> Any:
    if name.startswith("_"):
        raise AttributeError(f"module 'gated.metrics' has no attribute '{name}'")
    for more in _load_more():
        if name in more.__all__:
            return getattr(more, name)
    losses_module._load_more()
    if name in losses_module._FUNCTIONS:  # Keras exports the loss functions as metrics too
        return losses_module._FUNCTIONS[name]
    raise AttributeError(f"module 'gated.metrics' has no attribute '{name}'")


def _loss_kind(loss: Any) -> str | None:
    """'binary' / 'sparse' / 'categorical' when `loss` is one of the cross-entropies."""
    if isinstance(loss, str):
        try:
            loss = losses_module.get(loss)
        except ValueError:
            return None
    fn = getattr(loss, "fn", loss)
    if isinstance(loss, losses_module.BinaryCrossentropy) or (
        fn is losses_module.binary_crossentropy
    ):
        return "binary"
    if isinstance(loss, losses_module.SparseCategoricalCrossentropy) or (
        fn is losses_module.sparse_categorical_crossentropy
    ):
        return "sparse"
    if isinstance(loss, losses_module.CategoricalCrossentropy) or (
        fn is losses_module.categorical_crossentropy
    ):
        return "categorical"
    return None


def serialize(metric: Metric) -> dict[str, Any]:
    """Returns `{"class_name": ..., "config": ...}` for a built-in metric (JSON-able)."""
    if isinstance(metric, _InferredAccuracy):
        return {"class_name": "accuracy", "config": {"name": metric.name}}
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config: dict[str, Any]) -> Metric:
    """Rebuilds a metric from `serialize()` output (built-in classes only; no code is run)."""
    name = config.get("class_name")
    if name == "accuracy":
        return _InferredAccuracy(name=config.get("config", {}).get("name", "accuracy"))
    if name not in _CLASSES:
        _load_more()
    if name not in _CLASSES:
        raise unknown_name_error("metric", str(name), list(_CLASSES))
    return _CLASSES[name].from_config(config.get("config", {}))


def get(identifier: Any, loss: Any = None, output_shape: Sequence[int] | None = None) -> Metric:
    """Resolves a metric identifier to a fresh `Metric`, as `Model.compile(metrics=...)` does.

    Args:
        identifier: a Keras name (`"mae"`, `"mse"`, `"rmse"`, `"accuracy"`/`"acc"`,
            `"binary_accuracy"`, ...; class names too), a loss name (`"binary_crossentropy"`),
            a `Metric` instance or subclass, a `Loss` instance, a `serialize()` dict, or a
            callable `f(y_true, y_pred)` returning per-sample values.
        loss: the compiled loss (name, `Loss` or callable), used to resolve `"accuracy"`:
            binary crossentropy -> `binary_accuracy`, sparse categorical crossentropy ->
            `sparse_categorical_accuracy`, categorical crossentropy -> `categorical_accuracy`.
        output_shape: the model output shape if known; a last dimension of 1 means binary.
            When neither decides, the kind is inferred from the first batch's shapes.

    Returns:
        A `Metric`. A string identifier becomes the metric's `name`, so `"accuracy"` logs as
        `accuracy` / `val_accuracy` and `"mae"` as `mae` / `val_mae`, as in Keras.

    Raises:
        ValueError: unknown name, with the closest match
            (`Unknown metric 'acurracy'. Did you mean 'accuracy'?`).
        TypeError: for an identifier of another type, naming the argument `metrics`.

    Example:
    >>> get("accuracy", loss="binary_crossentropy")
    BinaryAccuracy(name='accuracy', threshold=0.5)
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            kind = _loss_kind(loss)
            if kind is None and output_shape is not None and len(output_shape) > 0:
                if output_shape[-1] == 1:
                    kind = "binary"
            if kind == "binary":
                return BinaryAccuracy(name=identifier)
            if kind == "sparse":
                return SparseCategoricalAccuracy(name=identifier)
            if kind == "categorical":
                return CategoricalAccuracy(name=identifier)
            return _InferredAccuracy(name=identifier)
        if identifier not in _ALIASES and identifier not in _CLASSES:
            _load_more()
        if identifier in _ALIASES:
            return _ALIASES[identifier](name=identifier)
        if identifier in _CLASSES:  # a class name logs under the class' own name, as Keras
            return _CLASSES[identifier]()
        try:
            loss_obj = losses_module.get(identifier)
        except ValueError:
            known = [*_ALIASES, "accuracy", "acc", *_CLASSES, *losses_module._ALL_NAMES]
            listed = [*(k for k in _ALIASES if k == k.lower()), "accuracy", "acc"]
            raise unknown_name_error("metric", identifier, known, listed=listed) from None
        return MeanMetricWrapper(loss_obj, name=identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, losses_module.Loss):
        return MeanMetricWrapper(identifier)
    if isinstance(identifier, type) and issubclass(identifier, losses_module.Loss):
        return MeanMetricWrapper(identifier())
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(
        "Could not interpret metric identifier. Each entry of `metrics` must be a string (e.g. "
        "'mae'), a `gated.metrics.Metric`, a `gated.losses.Loss` or a callable "
        f"f(y_true, y_pred); received an object of type {type_name(identifier)}: {identifier!r}."
    )
