"""Keras' weight constraints (`keras.constraints`): projections applied after each step.

A constraint is a callable `w -> projected w`. A parameter carrying one as its `constraint`
attribute (`param.constraint = MaxNorm(3)`) is projected by gated's optimizers after every
update, as Keras does for a variable's `constraint`.

Example:
>>> import torch
>>> w = torch.tensor([[3.0], [4.0]])
>>> [round(v, 4) for v in MaxNorm(max_value=1.0)(w).flatten().tolist()]
[0.6, 0.8]
"""

from __future__ import annotations

from typing import Any

import torch

from gated._checks import did_you_mean, to_snake_case

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm",
           "min_max_norm", "non_neg", "unit_norm", "get", "serialize", "deserialize"]


def _epsilon() -> float:
    from gated.backend import epsilon

    return epsilon()


def _norms(w: torch.Tensor, axis: Any) -> torch.Tensor:
    return torch.sqrt(torch.sum(torch.square(w), dim=axis, keepdim=True))


class Constraint:
    """Base class: the identity projection. Subclasses implement `__call__(w)`."""

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Constraint:
        return cls(**config)


class MaxNorm(Constraint):
    """Rescales each slice along `axis` whose L2 norm exceeds `max_value` down to it.

    `w * clip(n, 0, max_value) / (epsilon + n)` with `n` the norms over `axis` (axis 0: the
    incoming weights of each unit of a `(input_dim, units)` kernel).

    Args:
        max_value: The largest norm allowed (default 2).
        axis: The axis (or axes) the norms are taken over (default 0).
    """

    def __init__(self, max_value: float = 2.0, axis: int | list[int] = 0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = _norms(w, self.axis)
        return w * (torch.clamp(norms, 0, self.max_value) / (_epsilon() + norms))

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w * (w >= 0).to(w.dtype)


class UnitNorm(Constraint):
    """Divides each slice along `axis` by its L2 norm (plus epsilon).

    Args:
        axis: The axis (or axes) the norms are taken over (default 0).
    """

    def __init__(self, axis: int | list[int] = 0):
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w / (_epsilon() + _norms(w, self.axis))

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves the L2 norms along `axis` into `[min_value, max_value]`, at speed `rate`.

    `desired = rate * clip(n, min_value, max_value) + (1 - rate) * n`, then
    `w * desired / (epsilon + n)`.

    Args:
        min_value: The smallest norm (default 0).
        max_value: The largest norm (default 1).
        rate: 1 enforces the bounds at once; below 1 moves only part of the way.
        axis: The axis (or axes) the norms are taken over (default 0).
    """

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0,
                 axis: int | list[int] = 0):
        if min_value > max_value:
            raise ValueError("Argument `min_value` of MinMaxNorm must not exceed `max_value`; "
                             f"received min_value={min_value}, max_value={max_value}.")
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = _norms(w, self.axis)
        desired = (self.rate * torch.clamp(norms, self.min_value, self.max_value)
                   + (1 - self.rate) * norms)
        return w * (desired / (_epsilon() + norms))

    def get_config(self) -> dict:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


# Keras exports the snake-case names as aliases of the classes.
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_CLASSES = {c.__name__: c for c in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)}
_BY_NAME = {**_CLASSES, **{to_snake_case(n): c for n, c in _CLASSES.items()}}


def serialize(constraint: Constraint | None) -> dict | None:
    """`{"class_name", "config"}` of a constraint (None stays None)."""
    if constraint is None:
        return None
    return {"class_name": type(constraint).__name__, "config": constraint.get_config()}


def deserialize(config: dict, custom_objects: dict | None = None) -> Constraint:
    """A constraint from `serialize`'s dictionary."""
    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown constraint {name!r}.{did_you_mean(str(name), _CLASSES)}")
    return cls.from_config(dict(config.get("config", {})))


def get(identifier: Any) -> Any:
    """A constraint from None, a name (`"max_norm"`, `"NonNeg"`, ...), a config dict or a
    callable.

    Args:
        identifier: The identifier.

    Returns:
        The constraint (or None).
    """
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"Unknown constraint '{identifier}'."
                             f"{did_you_mean(identifier, _BY_NAME)}")
        return _BY_NAME[identifier]()
    if callable(identifier):
        return identifier
    raise TypeError(f"A constraint must be a name, a dict or a callable; received "
                    f"{identifier!r}.")
