"""Keras 3's `FBetaScore`, `F1Score` and `R2Score` metrics, with Keras' arguments and results.

Reachable as `gated.metrics.F1Score` etc. and by class name in `compile(metrics=[...])`.

Example:
>>> m = F1Score(average="macro", threshold=0.5)
>>> m.update_state([[1, 0], [0, 1]], [[0.9, 0.2], [0.6, 0.7]])
>>> round(m.result(), 4)
0.8333
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from gated import metrics as _metrics
from gated.metrics import Metric

__all__ = ["FBetaScore", "F1Score", "R2Score"]


def _eps() -> float:
    from gated.backend import epsilon

    return epsilon()


def _tensor(x: Any) -> torch.Tensor:
    return torch.as_tensor(x).detach().to(torch.float64)


def _result(value: torch.Tensor) -> Any:
    return float(value) if value.ndim == 0 else value.cpu().numpy().astype("float32")


class FBetaScore(Metric):
    """`(1 + beta^2) * precision * recall / (beta^2 * precision + recall)` per class.

    Predictions are positive above `threshold`, or (threshold None) where they equal the
    row's maximum. Inputs are `(batch, num_classes)`.

    Args:
        average: None (one score per class), `"micro"` (over all entries), `"macro"` (mean of
            the class scores) or `"weighted"` (mean weighted by each class' true count).
        beta: The weight of recall (default 1).
        threshold: A float in (0, 1], or None for the row maximum.
        name: default `"fbeta_score"`.

    Returns (from `result()`):
        A float, or a float32 array of one score per class with `average=None`.
    """

    _direction = "up"

    def __init__(self, average: str | None = None, beta: float = 1.0,
                 threshold: float | None = None, name: str = "fbeta_score", dtype: Any = None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Argument `average` must be None, 'micro', 'macro' or 'weighted'; "
                             f"received average={average!r}.")
        if not isinstance(beta, (int, float)) or isinstance(beta, bool) or beta <= 0:
            raise ValueError(f"Argument `beta` must be a positive number; received beta={beta!r}.")
        if threshold is not None and not 0 < threshold <= 1:
            raise ValueError("Argument `threshold` must be in (0, 1] or None; received "
                             f"threshold={threshold!r}.")
        self.average, self.beta, self.threshold = average, float(beta), threshold
        super().__init__(name=name)

    def reset_state(self) -> None:
        self._sums: torch.Tensor | None = None  # rows: tp, fp, fn, true count

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds one batch of `(batch, num_classes)` targets and predictions."""
        y_true, y_pred = _tensor(y_true), _tensor(y_pred)
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError("FBetaScore expects 2-D inputs (batch, num_classes); received "
                             f"y_true.shape={tuple(y_true.shape)}, "
                             f"y_pred.shape={tuple(y_pred.shape)}.")
        if self.threshold is None:
            positive = (y_pred >= y_pred.amax(-1, keepdim=True)) & (y_pred.abs() > 1e-9)
        else:
            positive = y_pred > self.threshold
        pred = positive.to(torch.float64)
        y_true = y_true.to(y_pred.device)
        weight = torch.ones(len(y_pred), 1, dtype=torch.float64, device=y_pred.device) \
            if sample_weight is None else _tensor(sample_weight).to(y_pred.device).reshape(-1, 1)
        axis = None if self.average == "micro" else 0
        parts = [pred * y_true, pred * (1 - y_true), (1 - pred) * y_true, y_true]
        sums = torch.stack([(p * weight).sum() if axis is None else (p * weight).sum(0)
                            for p in parts])
        self._sums = sums if self._sums is None else self._sums + sums

    def result(self) -> Any:
        if self._sums is None:
            return 0.0
        tp, fp, fn, true_count = self._sums
        precision = tp / (tp + fp + _eps())
        recall = tp / (tp + fn + _eps())
        b2 = self.beta ** 2
        score = (1 + b2) * precision * recall / (b2 * precision + recall + _eps())
        if self.average == "weighted":
            score = (score * true_count / (true_count.sum() + _eps())).sum()
        elif self.average is not None:
            score = score.mean()
        return _result(score)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """`FBetaScore` with `beta=1`: `2 * precision * recall / (precision + recall)`.

    Args:
        average: None, `"micro"`, `"macro"` or `"weighted"` (see `FBetaScore`).
        threshold: A float in (0, 1], or None for the row maximum.
        name: default `"f1_score"`.
    """

    def __init__(self, average: str | None = None, threshold: float | None = None,
                 name: str = "f1_score", dtype: Any = None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "average": self.average, "threshold": self.threshold}


class R2Score(Metric):
    """Coefficient of determination `1 - SS_res / SS_tot` per output column, over every
    sample seen (not a mean of batch scores).

    Args:
        class_aggregation: `"uniform_average"` (mean over outputs), `"variance_weighted_average"`
            (weighted by each output's total variance) or None (one score per output).
        num_regressors: With p > 0 regressors, the adjusted score
            `1 - (1 - R2) * (n - 1) / (n - p - 1)`, `n` the number of entries seen.
        name: default `"r2_score"`.
    """

    _direction = "up"

    def __init__(self, class_aggregation: str | None = "uniform_average",
                 num_regressors: int = 0, name: str = "r2_score", dtype: Any = None):
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError("Argument `class_aggregation` must be None, 'uniform_average' or "
                             "'variance_weighted_average'; received "
                             f"class_aggregation={class_aggregation!r}.")
        if num_regressors < 0:
            raise ValueError("Argument `num_regressors` must be >= 0; received "
                             f"num_regressors={num_regressors!r}.")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        super().__init__(name=name)

    def reset_state(self) -> None:
        self._sums: torch.Tensor | None = None  # rows: sum, squared sum, residual, count
        self._entries = 0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds one batch of targets and predictions (`(batch,)` or `(batch, outputs)`)."""
        y_true, y_pred = _tensor(y_true), _tensor(y_pred)
        if y_true.ndim == 1:
            y_true = y_true.unsqueeze(-1)
        if y_pred.ndim == 1:
            y_pred = y_pred.unsqueeze(-1)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"R2Score: y_true.shape={tuple(y_true.shape)} and "
                             f"y_pred.shape={tuple(y_pred.shape)} differ.")
        y_pred = y_pred.to(y_true.device)
        weight = torch.ones_like(y_true) if sample_weight is None else \
            _tensor(sample_weight).to(y_true.device)
        if weight.ndim == 1:
            weight = weight.unsqueeze(1)
        weight = torch.broadcast_to(weight, y_true.shape)
        sums = torch.stack([(y_true * weight).sum(0), (y_true * y_true * weight).sum(0),
                            ((y_true - y_pred) ** 2 * weight).sum(0), weight.sum(0)])
        self._sums = sums if self._sums is None else self._sums + sums
        self._entries += y_true.numel()

    def result(self) -> Any:
        if self._sums is None:
            return 0.0
        total_sum, squared, residual, count = self._sums
        total = squared - total_sum * (total_sum / count)
        raw = 1 - residual / total
        raw = torch.where(torch.isinf(raw), torch.zeros_like(raw), raw)
        if self.class_aggregation == "uniform_average":
            score = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (total * raw).sum() / total.sum()
        else:
            score = raw
        p, n = self.num_regressors, self._entries
        if p:
            if p >= n - 1:
                warnings.warn("Adjusted R2 needs more data points than regressors + 1; "
                              "returning the plain R2 score.", stacklevel=2)
            else:
                score = 1 - (1 - score) * (n - 1) / (n - p - 1)
        return _result(score)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


_metrics._CLASSES.update({c.__name__: c for c in (FBetaScore, F1Score, R2Score)})
