"""Keras 3 losses beyond `gated.losses`' core set: focal cross-entropies, categorical hinge
and CTC, with Keras' arguments and formulas, on torch.

Reachable as `gated.losses.CTC` etc. and by name (`compile(loss="ctc")`).

Example:
>>> import torch
>>> loss = CategoricalHinge()
>>> float(loss([[0.0, 1.0]], torch.tensor([[0.3, 0.8]])))
0.5
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gated import losses as _losses
from gated.losses import _PerSampleLoss

__all__ = ["BinaryFocalCrossentropy", "CTC", "CategoricalFocalCrossentropy",
           "CategoricalHinge", "binary_focal_crossentropy", "categorical_focal_crossentropy",
           "categorical_hinge", "ctc"]


def _eps() -> float:
    from gated.backend import epsilon

    return epsilon()


def categorical_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)` over the last axis."""
    y_pred = torch.as_tensor(y_pred)
    y_true = torch.as_tensor(y_true, device=y_pred.device).to(y_pred.dtype)
    pos = (y_true * y_pred).sum(-1)
    neg = ((1.0 - y_true) * y_pred).amax(-1)
    return torch.clamp(neg - pos + 1.0, min=0.0)


def binary_focal_crossentropy(y_true: Any, y_pred: Any, apply_class_balancing: bool = False,
                              alpha: float = 0.25, gamma: float = 2.0,
                              from_logits: bool = False, label_smoothing: float = 0.0,
                              axis: int = -1) -> torch.Tensor:
    """Binary cross-entropy scaled by `(1 - p_t) ** gamma` (Lin et al. 2017), `p_t` the
    probability given to the true label; with `apply_class_balancing`, positives weigh
    `alpha` and negatives `1 - alpha`. Mean over `axis`."""
    y_pred = torch.as_tensor(y_pred)
    y_true = torch.as_tensor(y_true, device=y_pred.device).to(y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = torch.sigmoid(y_pred)
    p = torch.clamp(y_pred, _eps(), 1.0 - _eps())
    bce = -(y_true * torch.log(p) + (1.0 - y_true) * torch.log(1.0 - p))
    p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
    focal = (1.0 - p_t) ** gamma * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1 - y_true) * (1 - alpha)) * focal
    return focal.mean(dim=axis)


def categorical_focal_crossentropy(y_true: Any, y_pred: Any, alpha: float = 0.25,
                                   gamma: float = 2.0, from_logits: bool = False,
                                   label_smoothing: float = 0.0, axis: int = -1
                                   ) -> torch.Tensor:
    """Categorical cross-entropy with each class term scaled by `alpha * (1 - p) ** gamma`,
    summed over `axis` (Keras' focal form for one-hot targets)."""
    y_pred = torch.as_tensor(y_pred)
    y_true = torch.as_tensor(y_true, device=y_pred.device).to(y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        y_pred = torch.softmax(y_pred, dim=axis)
    p = y_pred / y_pred.sum(dim=axis, keepdim=True)
    p = torch.clamp(p, _eps(), 1.0 - _eps())
    return (alpha * (1.0 - p) ** gamma * -y_true * torch.log(p)).sum(dim=axis)


def ctc(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Connectionist temporal classification loss per sample (Graves et al. 2006).

    `y_true`: `(batch, max_label_length)` integer labels, 0 is the blank and the padding
    (the label length is the count of non-zero entries). `y_pred`: `(batch, time, classes)`
    logits (log-softmax is applied), every sample using all `time` steps.
    """
    y_pred = torch.as_tensor(y_pred)
    labels = torch.as_tensor(y_true, device=y_pred.device)
    if labels.ndim != 2:
        raise ValueError("Argument `y_true` of ctc must have shape (batch, max_length); "
                         f"received shape {tuple(labels.shape)}.")
    if y_pred.ndim != 3:
        raise ValueError("Argument `y_pred` of ctc must have shape (batch, time, classes); "
                         f"received shape {tuple(y_pred.shape)}.")
    labels = labels.long()
    batch, time = y_pred.shape[:2]
    log_probs = torch.log_softmax(y_pred.float().transpose(0, 1), dim=-1)
    return F.ctc_loss(log_probs, labels, torch.full((batch,), time, dtype=torch.long),
                      (labels != 0).sum(-1), blank=0, reduction="none")


class CategoricalHinge(_PerSampleLoss):
    """`categorical_hinge` per sample, then reduced. Args: reduction, name."""

    _fn = staticmethod(categorical_hinge)

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "categorical_hinge", dtype: Any = None):
        super().__init__(name=name, reduction=reduction)


class BinaryFocalCrossentropy(_PerSampleLoss):
    """`binary_focal_crossentropy` per sample, then reduced (Keras' arguments)."""

    _fn = staticmethod(binary_focal_crossentropy)

    def __init__(self, apply_class_balancing: bool = False, alpha: float = 0.25,
                 gamma: float = 2.0, from_logits: bool = False, label_smoothing: float = 0.0,
                 axis: int = -1, reduction: str | None = "sum_over_batch_size",
                 name: str = "binary_focal_crossentropy", dtype: Any = None):
        super().__init__(name=name, reduction=reduction)
        self._kwargs = {"apply_class_balancing": bool(apply_class_balancing),
                        "alpha": float(alpha), "gamma": float(gamma),
                        "from_logits": bool(from_logits),
                        "label_smoothing": float(label_smoothing), "axis": axis}

    def _fn_kwargs(self) -> dict[str, Any]:
        return dict(self._kwargs)


class CategoricalFocalCrossentropy(_PerSampleLoss):
    """`categorical_focal_crossentropy` per sample, then reduced (Keras' arguments)."""

    _fn = staticmethod(categorical_focal_crossentropy)

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False,
                 label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size",
                 name: str = "categorical_focal_crossentropy", dtype: Any = None):
        super().__init__(name=name, reduction=reduction)
        self._kwargs = {"alpha": float(alpha), "gamma": float(gamma),
                        "from_logits": bool(from_logits),
                        "label_smoothing": float(label_smoothing), "axis": axis}

    def _fn_kwargs(self) -> dict[str, Any]:
        return dict(self._kwargs)


class CTC(_PerSampleLoss):
    """`ctc` per sample, then reduced. Args: reduction, name."""

    _fn = staticmethod(ctc)

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "ctc",
                 dtype: Any = None):
        super().__init__(name=name, reduction=reduction)

    def _values_and_mask(self, y_true: Any, y_pred: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return ctc(y_true, y_pred), None  # integer labels keep their own shape


_NEW = {"categorical_hinge": CategoricalHinge,
        "binary_focal_crossentropy": BinaryFocalCrossentropy,
        "categorical_focal_crossentropy": CategoricalFocalCrossentropy, "ctc": CTC}
_losses._ALIASES.update(_NEW)
_losses._CLASSES.update({c.__name__: c for c in _NEW.values()})
_losses._ALL_NAMES.update({**_NEW, **{c.__name__: c for c in _NEW.values()}})
_losses._FUNCTIONS.update({f.__name__: f for f in (
    categorical_hinge, binary_focal_crossentropy, categorical_focal_crossentropy, ctc)})
