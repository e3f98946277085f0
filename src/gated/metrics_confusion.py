"""Keras 3's classification and probabilistic metrics beyond `gated.metrics`' core set.

Confusion-matrix metrics (`TruePositives` ... `Precision`, `Recall`, `AUC`), top-k
accuracies, and loss-valued metrics (`BinaryCrossentropy`, `KLDivergence`, ...), with Keras'
arguments, thresholds (`y_pred > threshold` is positive) and results. They are reachable as
`gated.metrics.Precision` etc. and by name in `compile(metrics=[...])`.

Example:
>>> m = Precision()
>>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
>>> round(m.result(), 4)
0.6667
"""

from __future__ import annotations

from typing import Any

import torch

from gated import losses as losses_module
from gated import metrics as _metrics
from gated.losses import _float_tensor, _sparse_labels
from gated.metrics import Mean, MeanMetricWrapper, Metric

__all__ = [
    "AUC", "BinaryCrossentropy", "CategoricalCrossentropy", "CategoricalHinge",
    "CosineSimilarity", "FalseNegatives", "FalsePositives", "Hinge", "KLDivergence",
    "LogCoshError", "MeanSquaredLogarithmicError", "Poisson", "Precision", "Recall",
    "SparseCategoricalCrossentropy", "SparseTopKCategoricalAccuracy", "SquaredHinge", "Sum",
    "TopKCategoricalAccuracy", "TrueNegatives", "TruePositives", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
]


def _thresholds(thresholds: Any, default: float) -> tuple[list[float], bool]:
    if thresholds is None:
        return [default], True
    if isinstance(thresholds, (int, float)):
        values, single = [float(thresholds)], True
    else:
        values, single = [float(t) for t in thresholds], False
    for t in values:
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"Argument `thresholds` must hold values in [0, 1]; received "
                             f"thresholds={thresholds!r}.")
    return values, single


def _confusion(y_true: Any, y_pred: Any, thresholds: torch.Tensor, sample_weight: Any,
               top_k: int | None = None, class_id: int | None = None) -> torch.Tensor:
    """`(4, n_thresholds)` weighted counts: true/false positives, true/false negatives."""
    y_pred = _float_tensor(y_pred).detach().to(torch.float64)
    y_true = torch.as_tensor(y_true, device=y_pred.device).detach().to(torch.float64)
    if y_true.shape != y_pred.shape:
        y_true = y_true.reshape(y_pred.shape)
    if top_k is not None:
        kth = torch.topk(y_pred, top_k, dim=-1).values[..., -1:]
        y_pred = torch.where(y_pred >= kth, y_pred, torch.full_like(y_pred, -float("inf")))
    if class_id is not None:
        y_true, y_pred = y_true[..., class_id], y_pred[..., class_id]
    weight = torch.ones_like(y_pred) if sample_weight is None else \
        torch.as_tensor(sample_weight, dtype=torch.float64, device=y_pred.device)
    while weight.ndim < y_pred.ndim:
        weight = weight.unsqueeze(-1)
    weight = torch.broadcast_to(weight, y_pred.shape).reshape(-1, 1)
    truth = y_true.reshape(-1, 1) > 0.5
    positive = y_pred.reshape(-1, 1) > thresholds.to(y_pred.device).reshape(1, -1)
    return torch.stack([((truth & positive) * weight).sum(0), ((~truth & positive) * weight).sum(0),
                        ((~truth & ~positive) * weight).sum(0),
                        ((truth & ~positive) * weight).sum(0)])


class _ConfusionMetric(Metric):
    """Accumulates the confusion counts at `thresholds`."""

    _default_threshold = 0.5

    def __init__(self, thresholds: Any = None, name: str | None = None, dtype: Any = None,
                 top_k: int | None = None, class_id: int | None = None):
        self.init_thresholds = thresholds
        if thresholds is None and top_k is not None:  # Keras: the top k are all positive
            values, self._single = [-float("inf")], True
        else:
            values, self._single = _thresholds(thresholds, self._default_threshold)
        self.thresholds = torch.tensor(values, dtype=torch.float64)
        self.top_k, self.class_id = top_k, class_id
        super().__init__(name=name)

    def reset_state(self) -> None:
        self._counts = torch.zeros(4, len(self.thresholds), dtype=torch.float64)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None,
                     mask: Any = None) -> None:
        """Adds one batch's counts (`y_true` 0/1, `y_pred` probabilities); a boolean `mask`
        (e.g. a sequence mask) weighs masked entries 0."""
        if mask is not None:
            mask = torch.as_tensor(mask).to(torch.float64)
            sample_weight = mask if sample_weight is None else \
                torch.as_tensor(sample_weight, dtype=torch.float64, device=mask.device) * mask
        with torch.no_grad():
            counts = _confusion(y_true, y_pred, self.thresholds, sample_weight, self.top_k,
                                self.class_id)
            self._counts = self._counts.to(counts.device) + counts

    def _value(self, counts: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def result(self) -> Any:
        value = self._value(self._counts)
        return float(value[0]) if self._single else [float(v) for v in value]

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return torch.where(den > 0, num / torch.where(den > 0, den, 1.0), torch.zeros_like(num))


class TruePositives(_ConfusionMetric):
    """Weighted count of `y_true = 1` predicted above `thresholds` (default 0.5)."""

    def __init__(self, thresholds: Any = None, name: str | None = None, dtype: Any = None):
        super().__init__(thresholds, name=name)

    def _value(self, counts):
        return counts[0]

    def get_config(self):
        return {"name": self.name, "thresholds": self.init_thresholds}


class FalsePositives(TruePositives):
    """Weighted count of `y_true = 0` predicted above `thresholds`."""

    def _value(self, counts):
        return counts[1]


class TrueNegatives(TruePositives):
    """Weighted count of `y_true = 0` predicted at or below `thresholds`."""

    def _value(self, counts):
        return counts[2]


class FalseNegatives(TruePositives):
    """Weighted count of `y_true = 1` predicted at or below `thresholds`."""

    def _value(self, counts):
        return counts[3]


class Precision(_ConfusionMetric):
    """`TP / (TP + FP)` (0 when nothing is predicted positive).

    Args:
        thresholds: A float or list in [0, 1] (default 0.5; a list gives a list of results).
        top_k: Only the k highest predictions of each row count as positive.
        class_id: Only this class (last axis index) is scored.
        name: default `"precision"`.
    """

    _direction = "up"

    def _value(self, counts):
        return _ratio(counts[0], counts[0] + counts[1])


class Recall(_ConfusionMetric):
    """`TP / (TP + FN)` (0 when there are no positives). Arguments as `Precision`."""

    _direction = "up"

    def _value(self, counts):
        return _ratio(counts[0], counts[0] + counts[3])


class AUC(_ConfusionMetric):
    """Area under the ROC or precision-recall curve, from confusion counts at
    `num_thresholds` evenly spaced thresholds (Keras' approximation, not the exact area).

    Args:
        num_thresholds: Number of thresholds (> 1; the ends are `-eps` and `1 + eps`).
        curve: `"ROC"` or `"PR"`.
        summation_method: `"interpolation"` (trapezoids; for PR, Davis & Goadrich's
            interpolation), `"minoring"` or `"majoring"`.
        name: default `"auc"`.
        thresholds: explicit thresholds in [0, 1] instead of `num_thresholds`.
        from_logits: apply a sigmoid to `y_pred` first.
    """

    _direction = "up"

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: str | None = None,
                 dtype: Any = None, thresholds: Any = None, multi_label: bool = False,
                 num_labels: int | None = None, label_weights: Any = None,
                 from_logits: bool = False):
        from gated.backend import epsilon

        if multi_label or label_weights is not None:
            raise ValueError("AUC(multi_label=True / label_weights) is not supported by gated; "
                             "received multi_label=True or label_weights.")
        if str(curve).upper() not in ("ROC", "PR"):
            raise ValueError(f"Argument `curve` must be 'ROC' or 'PR'; received curve={curve!r}.")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError("Argument `summation_method` must be 'interpolation', 'minoring' "
                             f"or 'majoring'; received summation_method={summation_method!r}.")
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
        else:
            if num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1; received "
                                 f"num_thresholds={num_thresholds!r}.")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds = len(inner) + 2
        self.curve, self.summation_method = str(curve).upper(), summation_method
        self._from_logits, self._explicit = from_logits, thresholds
        super().__init__(name=name)
        self.thresholds = torch.tensor([-epsilon(), *inner, 1.0 + epsilon()],
                                       dtype=torch.float64)
        self._single = True
        self.reset_state()

    def reset_state(self) -> None:
        n = len(self.thresholds) if hasattr(self, "thresholds") else 1
        self._counts = torch.zeros(4, n, dtype=torch.float64)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None,
                     mask: Any = None) -> None:
        if self._from_logits:
            y_pred = torch.sigmoid(_float_tensor(y_pred))
        super().update_state(y_true, y_pred, sample_weight, mask)

    def _value(self, counts):
        tp, fp, tn, fn = counts
        if self.curve == "PR" and self.summation_method == "interpolation":
            dtp = tp[:-1] - tp[1:]
            p = tp + fp
            dp = p[:-1] - p[1:]
            slope = _ratio(dtp, torch.clamp(dp, min=0))
            intercept = tp[1:] - slope * p[1:]
            both = (p[:-1] > 0) & (p[1:] > 0)
            p_ratio = torch.where(both, _ratio(p[:-1], torch.clamp(p[1:], min=0)),
                                  torch.ones_like(p[1:]))
            increments = _ratio(slope * (dtp + intercept * torch.log(p_ratio)),
                                torch.clamp(tp[1:] + fn[1:], min=0))
            return increments.sum().reshape(1)
        recall = _ratio(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _ratio(fp, fp + tn), recall
        else:
            x, y = recall, _ratio(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[:-1], y[1:])
        else:
            heights = torch.maximum(y[:-1], y[1:])
        return ((x[:-1] - x[1:]) * heights).sum().reshape(1)

    def get_config(self):
        return {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
                "summation_method": self.summation_method, "thresholds": self._explicit,
                "from_logits": self._from_logits}


def _top_k_hits(labels: torch.Tensor, y_pred: torch.Tensor, k: int) -> torch.Tensor:
    # Keras counts a hit when the true class' score is among the k largest (ties included).
    target = torch.gather(y_pred, -1, labels.unsqueeze(-1))
    kth = torch.topk(y_pred, min(k, y_pred.shape[-1]), dim=-1).values[..., -1:]
    return (target >= kth).squeeze(-1).to(y_pred.dtype)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> torch.Tensor:
    """1 where the one-hot target's class is among the `k` highest predictions, else 0."""
    y_pred = _float_tensor(y_pred)
    return _top_k_hits(torch.as_tensor(y_true, device=y_pred.device).argmax(dim=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> torch.Tensor:
    """1 where the integer class id is among the `k` highest predictions, else 0."""
    y_pred = _float_tensor(y_pred)
    labels = _sparse_labels(y_true, y_pred, who="sparse_top_k_categorical_accuracy")
    return _top_k_hits(labels, y_pred, k)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target's class is among the `k` highest predictions.

    Args:
        k: How many top predictions count (default 5).
        name: default `"top_k_categorical_accuracy"`.
    """

    _direction = "up"

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None):
        super().__init__(top_k_categorical_accuracy, name=name, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer class id is among the `k` highest predictions.

    Args:
        k: How many top predictions count (default 5).
        name: default `"sparse_top_k_categorical_accuracy"`.
    """

    _direction = "up"

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy",
                 dtype: Any = None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, k=k)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None,
                     mask: Any = None) -> None:
        # class ids keep their own shape (one axis less than y_pred)
        with torch.no_grad():
            y_pred = _float_tensor(y_pred).detach()
            self._accumulate(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight, mask)


def _wrapper(class_name: str, fn: Any, default_name: str, doc: str,
             **defaults: Any) -> type:
    def __init__(self, name: str = default_name, dtype: Any = None, **kwargs: Any):  # noqa: N807
        unknown = set(kwargs) - set(defaults)
        if unknown:
            raise TypeError(f"{class_name}() got unexpected arguments {sorted(unknown)}.")
        MeanMetricWrapper.__init__(self, fn, name=name, **{**defaults, **kwargs})

    return type(class_name, (MeanMetricWrapper,), {"__init__": __init__, "__doc__": doc,
                                                   "__module__": __name__})


def _cosine(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    y_pred = _float_tensor(y_pred)
    y_true = torch.as_tensor(y_true, device=y_pred.device).to(y_pred.dtype)
    return (torch.nn.functional.normalize(y_true, dim=axis)
            * torch.nn.functional.normalize(y_pred, dim=axis)).sum(dim=axis)


def _categorical_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    y_pred = _float_tensor(y_pred)
    y_true = torch.as_tensor(y_true, device=y_pred.device).to(y_pred.dtype)
    pos = (y_true * y_pred).sum(-1)
    neg = ((1.0 - y_true) * y_pred).amax(-1)
    return torch.clamp(neg - pos + 1.0, min=0.0)


BinaryCrossentropy = _wrapper(
    "BinaryCrossentropy", losses_module.binary_crossentropy, "binary_crossentropy",
    "Mean binary cross-entropy. Args: name, from_logits, label_smoothing.",
    from_logits=False, label_smoothing=0.0)
CategoricalCrossentropy = _wrapper(
    "CategoricalCrossentropy", losses_module.categorical_crossentropy,
    "categorical_crossentropy",
    "Mean categorical cross-entropy (one-hot targets). Args: name, from_logits, "
    "label_smoothing.", from_logits=False, label_smoothing=0.0)
KLDivergence = _wrapper("KLDivergence", losses_module.kl_divergence, "kl_divergence",
                        "Mean Kullback-Leibler divergence `sum(y_true * log(y_true/y_pred))`.")
Poisson = _wrapper("Poisson", losses_module.poisson, "poisson",
                   "Mean `y_pred - y_true * log(y_pred)`.")
LogCoshError = _wrapper("LogCoshError", losses_module.log_cosh, "logcosh",
                        "Mean `log(cosh(y_pred - y_true))`.")
MeanSquaredLogarithmicError = _wrapper(
    "MeanSquaredLogarithmicError", losses_module.mean_squared_logarithmic_error,
    "mean_squared_logarithmic_error", "Mean `(log(1 + y_pred) - log(1 + y_true))^2`.")
Hinge = _wrapper("Hinge", losses_module.hinge, "hinge", "Mean `max(1 - y_true * y_pred, 0)`.")
SquaredHinge = _wrapper("SquaredHinge", losses_module.squared_hinge, "squared_hinge",
                        "Mean `max(1 - y_true * y_pred, 0)^2`.")
CategoricalHinge = _wrapper("CategoricalHinge", _categorical_hinge, "categorical_hinge",
                            "Mean `max(max_neg - pos + 1, 0)` over one-hot targets.")
CosineSimilarity = _wrapper("CosineSimilarity", _cosine, "cosine_similarity",
                            "Mean cosine similarity along `axis` (1 is best).", axis=-1)
for _cls in (BinaryCrossentropy, CategoricalCrossentropy, KLDivergence, Poisson,
             LogCoshError, MeanSquaredLogarithmicError, Hinge, SquaredHinge):
    _cls._direction = "down"
CosineSimilarity._direction = "up"


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean cross-entropy of integer class ids. Args: name, from_logits, axis (-1 only)."""

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False, axis: int = -1):
        if axis != -1:
            raise ValueError(f"Argument `axis` must be -1 in gated; received axis={axis!r}.")
        super().__init__(losses_module.sparse_categorical_crossentropy, name=name,
                         from_logits=from_logits)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None,
                     mask: Any = None) -> None:
        with torch.no_grad():
            y_pred = _float_tensor(y_pred).detach()
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
            self._accumulate(values, sample_weight, mask)


class Sum(Mean):
    """The weighted sum of the values passed to `update_state`. Args: name (`"sum"`)."""

    def result(self) -> float:
        return 0.0 if self._total is None else float(self._total)


_MORE = [AUC, BinaryCrossentropy, CategoricalCrossentropy, CategoricalHinge, CosineSimilarity,
         FalseNegatives, FalsePositives, Hinge, KLDivergence, LogCoshError,
         MeanSquaredLogarithmicError, Poisson, Precision, Recall, SparseCategoricalCrossentropy,
         SparseTopKCategoricalAccuracy, SquaredHinge, Sum, TopKCategoricalAccuracy,
         TrueNegatives, TruePositives]
_metrics._CLASSES.update({c.__name__: c for c in _MORE})
_metrics._ALIASES.update({
    "precision": Precision, "recall": Recall, "auc": AUC, "true_positives": TruePositives,
    "false_positives": FalsePositives, "true_negatives": TrueNegatives,
    "false_negatives": FalseNegatives, "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
})
