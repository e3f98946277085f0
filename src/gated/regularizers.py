"""Weight regularizers by Keras name: `l1`, `l2`, `l1_l2`, `orthogonal_regularizer`; the
penalty is added to the loss.

Example:
>>> import torch
>>> float(L2(0.5)(torch.tensor([1.0, 2.0])))
2.5
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from gated._checks import did_you_mean, to_snake_case

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
           "orthogonal_regularizer", "get", "serialize", "deserialize"]


def _penalty(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or math.isinf(value) or value < 0:
        raise ValueError(f"Argument `{name}` of a regularizer must be a non-negative number; "
                         f"received {name}={value!r}.")
    return float(value)


class Regularizer:
    """Base: `reg(weight)` returns the scalar penalty."""

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Regularizer:
        return cls(**config)


class L1L2(Regularizer):
    """penalty = l1 * sum(|w|) + l2 * sum(w^2)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1, self.l2 = _penalty(l1, "l1"), _penalty(l2, "l2")

    def __call__(self, weight):
        out = weight.new_zeros(())
        if self.l1:
            out = out + self.l1 * weight.abs().sum()
        if self.l2:
            out = out + self.l2 * weight.square().sum()
        return out

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """penalty = l1 * sum(|w|)."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """penalty = l2 * sum(w^2)."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalizes non-orthogonal rows (or columns) of a 2-D weight: `factor` times the mean
    absolute cosine similarity over the pairs of distinct rows (columns).

    Args:
        factor: The penalty factor (non-negative).
        mode: `"rows"` or `"columns"`.
    """

    def __init__(self, factor: float = 0.01, mode: str = "rows"):
        self.factor = _penalty(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError("Argument `mode` of OrthogonalRegularizer must be 'rows' or "
                             f"'columns'; received mode={mode!r}.")
        self.mode = mode

    def __call__(self, weight):
        if weight.ndim != 2:
            raise ValueError("OrthogonalRegularizer needs a 2-D weight; received shape "
                             f"{tuple(weight.shape)}.")
        w = weight if self.mode == "rows" else weight.T
        w = F.normalize(w, dim=1, eps=1e-12)
        product = w @ w.T
        size = w.shape[0]
        off_diagonal = product * (1.0 - torch.eye(size, dtype=w.dtype, device=w.device))
        pairs = size * (size - 1.0) / 2.0
        return self.factor * 0.5 * off_diagonal.abs().sum() / pairs

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras' lower-case spellings are the same classes.
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

_CLASSES = {c.__name__: c for c in (L1, L2, L1L2, OrthogonalRegularizer)}
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2,
            "orthogonal_regularizer": OrthogonalRegularizer, **_CLASSES}


def get(identifier: Any) -> Any:
    """Resolve None, a Keras regularizer name, a config dict, a `Regularizer` or a callable.

    A name gives Keras' defaults: `"l1"`/`"l2"` a 0.01 penalty, `"l1_l2"` 0.01 each.
    """
    if identifier is None or isinstance(identifier, Regularizer) or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        key = identifier if identifier in _BY_NAME else to_snake_case(identifier).lower()
        if key in ("l1_l2", "l1l2"):
            return L1L2(l1=0.01, l2=0.01)
        if key in _BY_NAME:
            return _BY_NAME[key]()
        raise ValueError(f"Unknown regularizer '{identifier}'.{did_you_mean(key, _BY_NAME)}")
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(f"A regularizer must be a name or callable, received {identifier!r}.")


def serialize(reg: Regularizer | None) -> dict | None:
    """`{"class_name", "config"}` of a regularizer (None stays None)."""
    if reg is None:
        return None
    if isinstance(reg, Regularizer) and type(reg).__name__ in _CLASSES:
        return {"class_name": type(reg).__name__, "config": reg.get_config()}
    raise ValueError(f"Cannot serialize regularizer {reg!r}.")


def deserialize(config: dict, custom_objects: dict | None = None) -> Regularizer:
    """A regularizer from `serialize`'s dictionary (or a bare `{"l1": .., "l2": ..}`)."""
    if "class_name" not in config:
        return L1L2(**config)
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if cls is None:
        raise ValueError(f"Unknown regularizer {name!r}.{did_you_mean(str(name), _BY_NAME)}")
    return cls.from_config(dict(config.get("config", {})))
