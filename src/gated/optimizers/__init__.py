"""Optimizers with Keras 3 names, defaults and update rules, on torch tensors.

`gated.optimizers.Adam` and the others compute exactly what `keras.optimizers.Adam` computes
(checked against Keras 3 step by step in `tests/test_optimizers_keras.py`): the same argument
names and defaults, the same placement of `epsilon`, decoupled `weight_decay` applied before
the update, `clipnorm` / `global_clipnorm` / `clipvalue` applied first, `use_ema` and
`gradient_accumulation_steps`. The updates are written with torch's `_foreach` ops under
`torch.no_grad()`; `TorchOptimizer` wraps a user's own `torch.optim` optimizer instead.

An `Optimizer` is created before the model's parameters exist (`compile` time) and built
lazily: `build(parameters)` creates `optimizer.torch_optimizer`, a `torch.optim.Optimizer`
holding the parameter groups (`param_groups[0]["lr"]`) and the slot tensors
(`state[parameter]["momentum"]`, ...). Each `step()` evaluates the learning-rate schedule
at `iterations`, then updates. Modules: `base` (the pipeline), `sgd`, `adam` (Adam, AdamW,
Adamax, Nadam), `rmsprop`, `adagrad` (Adagrad, Adadelta), `torch_optimizer`, `state`
(resumable state), `schedules`.

Example:
>>> import torch
>>> from gated.optimizers import Adam
>>> w = torch.nn.Parameter(torch.ones(3))
>>> opt = Adam(learning_rate=0.01)
>>> opt.build([w])
>>> (w ** 2).sum().backward()
>>> opt.step()
>>> opt.iterations
1
"""

from __future__ import annotations

from typing import Any

import torch

from gated._checks import type_name, unknown_name_error
from gated.optimizers import schedules
from gated.optimizers.adagrad import Adadelta, Adagrad
from gated.optimizers.adam import Adam, Adamax, AdamW, Nadam
from gated.optimizers.base import Optimizer
from gated.optimizers.rmsprop import RMSprop
from gated.optimizers.schedules import (
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
)
from gated.optimizers.sgd import SGD
from gated.optimizers.state import STATE_FORMAT
from gated.optimizers.torch_optimizer import TorchOptimizer

__all__ = [
    "Optimizer", "Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam",
    "TorchOptimizer", "LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay",
    "PiecewiseConstantDecay", "CosineDecay", "schedules", "get", "serialize", "deserialize",
    "STATE_FORMAT",
]


# ----------------------------------------------------------------------------------- registry
_CLASSES: dict[str, type[Optimizer]] = {
    c.__name__: c for c in (Adam, AdamW, SGD, RMSprop, Adagrad, Adadelta, Adamax, Nadam)
}
_NAMES: dict[str, type[Optimizer]] = {name.lower(): cls for name, cls in _CLASSES.items()}


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """Returns `{"class_name": ..., "config": ...}` (JSON-able, no state)."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict[str, Any]) -> Optimizer:
    """Rebuilds an optimizer from `serialize()` output (built-in classes only)."""
    name = config.get("class_name")
    if name not in _CLASSES:
        raise unknown_name_error("optimizer", str(name), list(_CLASSES))
    return _CLASSES[name].from_config(config.get("config", {}))


def get(identifier: Any) -> Optimizer:
    """Resolves an optimizer identifier.

    Args:
        identifier: a name (`"adam"`, `"sgd"`, `"rmsprop"`, `"adamw"`, `"adagrad"`,
            `"adadelta"`, `"adamax"`, `"nadam"`; case-insensitive, class names too) giving an
            optimizer with Keras defaults; an `Optimizer` (returned as is); a ready
            `torch.optim.Optimizer` (wrapped in `TorchOptimizer`); or a `serialize()` dict.

    Returns:
        An `Optimizer`.

    Raises:
        ValueError: unknown name (`Unknown optimizer 'adm'. Did you mean 'adam'?`).
        TypeError: for an identifier of another type, naming the argument `optimizer`.

    Example:
    >>> get("rmsprop").learning_rate
    0.001
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, torch.optim.Optimizer):
        return TorchOptimizer(identifier)
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier.lower())
        if cls is None:
            raise unknown_name_error("optimizer", identifier, list(_NAMES))
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise TypeError(
        "Could not interpret optimizer identifier. Argument `optimizer` must be a string (e.g. "
        "'adam'), a `gated.optimizers.Optimizer` or a `torch.optim.Optimizer`; received an "
        f"object of type {type_name(identifier)}: {identifier!r}."
    )
