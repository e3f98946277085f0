"""Training utilities with Keras 3 names: losses, metrics, optimizers, callbacks, progress.

Example:
>>> from gated.training import losses, metrics, optimizers, callbacks
>>> loss = losses.get("mse")
>>> opt = optimizers.get("adam")
>>> stop = callbacks.EarlyStopping(patience=3)
"""

from gated.training import callbacks, losses, metrics, optimizers, progress
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
from gated.training.losses import Loss
from gated.training.metrics import Metric
from gated.training.optimizers import Optimizer
from gated.training.progress import ProgressBar

__all__ = [
    "losses", "metrics", "optimizers", "callbacks", "progress", "Loss", "Metric", "Optimizer",
    "ProgressBar", "Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
    "ModelCheckpoint", "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger",
    "TerminateOnNaN", "LambdaCallback",
]
