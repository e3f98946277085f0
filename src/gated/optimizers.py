"""Keras-style `gated.optimizers`: re-exports `gated.training.optimizers`.

Example:
>>> from gated.optimizers import Adam
"""

import sys

from gated.training.optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    Nadam,
    Optimizer,
    PiecewiseConstantDecay,
    RMSprop,
    TorchOptimizer,
    deserialize,
    get,
    schedules,
    serialize,
)

# Lets `from gated.optimizers.schedules import ExponentialDecay` work as in Keras.
sys.modules[f"{__name__}.schedules"] = schedules

__all__ = [
    "Optimizer",
    "Adam",
    "AdamW",
    "SGD",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "Nadam",
    "TorchOptimizer",
    "LearningRateSchedule",
    "ExponentialDecay",
    "InverseTimeDecay",
    "PiecewiseConstantDecay",
    "CosineDecay",
    "schedules",
    "get",
    "serialize",
    "deserialize",
]
