"""Keras-style `gated.callbacks`: re-exports `gated.training.callbacks`.

Example:
>>> from gated.callbacks import CallbackList
"""

from gated.training.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
)

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "ProgbarLogger",
    "EarlyStopping",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "LearningRateScheduler",
    "CSVLogger",
    "TerminateOnNaN",
    "LambdaCallback",
]
