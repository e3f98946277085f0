"""Callbacks with Keras 3 names, arguments and behaviour.

The model a callback sees (`callback.model`) must provide: `stop_training` (bool attribute),
`get_weights()` / `set_weights(list of numpy arrays)`, `save(path)`, `save_weights(path)` and
`optimizer.learning_rate` (a settable float). `Model.fit` creates a `CallbackList` with
`add_history=True, add_progbar=verbose > 0` and calls the hooks below.

Example:
>>> from gated.callbacks import EarlyStopping
>>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
>>> # model.fit(x, y, validation_split=0.2, epochs=100, callbacks=[stop])
"""

from __future__ import annotations

import collections
import csv
import math
import os
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from gated.utils.progress import ProgressBar

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
    "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "LambdaCallback",
]

_HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_test_begin",
    "on_test_end", "on_predict_begin", "on_predict_end", "on_train_batch_begin",
    "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
    "on_predict_batch_end",
)


class Callback:
    """Base class: override the hooks you need.

    Attributes:
        params: dict set by `fit` (`verbose`, `epochs`, `steps`).
        model: the model being trained.

    Example:
    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(epoch, logs["loss"])
    """

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self._model: Any = None

    def set_params(self, params: dict[str, Any]) -> None:
        """Receives `fit`'s parameters (`verbose`, `epochs`, `steps`)."""
        self.params = params

    def set_model(self, model: Any) -> None:
        """Receives the model."""
        self._model = model

    @property
    def model(self) -> Any:
        """The model this callback is attached to."""
        return getattr(self, "_model", None)

    @model.setter
    def model(self, model: Any) -> None:
        self._model = model

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Legacy alias called by `on_train_batch_begin`."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Legacy alias called by `on_train_batch_end`."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the start of an epoch (0-based) during `fit`."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the end of an epoch; `logs` has the epoch metrics and `val_` metrics."""

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before each training batch."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after each training batch; `logs` has the running epoch means."""
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before each `evaluate` batch (also for validation in `fit`)."""

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after each `evaluate` batch."""

    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before each `predict` batch."""

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after each `predict` batch."""

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Called at the start of `fit`."""

    def on_train_end(self, logs: dict | None = None) -> None:
        """Called at the end of `fit`."""

    def on_test_begin(self, logs: dict | None = None) -> None:
        """Called at the start of `evaluate` (and of validation in `fit`)."""

    def on_test_end(self, logs: dict | None = None) -> None:
        """Called at the end of `evaluate`."""

    def on_predict_begin(self, logs: dict | None = None) -> None:
        """Called at the start of `predict`."""

    def on_predict_end(self, logs: dict | None = None) -> None:
        """Called at the end of `predict`."""


class CallbackList:
    """Calls every hook on a list of callbacks, in order.

    Args:
        callbacks: the callbacks.
        add_history: append a `History` if none is in `callbacks`.
        add_progbar: append a `ProgbarLogger` if none is in `callbacks`.
        model: the model to attach.
        **params: `fit` parameters passed to `set_params` (`verbose`, `epochs`, `steps`).
    """

    def __init__(self, callbacks: Iterable[Callback] | None = None, add_history: bool = False,
                 add_progbar: bool = False, model: Any = None, **params: Any):
        self.callbacks: list[Callback] = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"Every callback must be a gated.callbacks.Callback; received "
                                f"{type(cb).__name__}: {cb!r}.")
        self.history: History | None = next(
            (cb for cb in self.callbacks if isinstance(cb, History)), None)
        self.progbar: ProgbarLogger | None = next(
            (cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if self.progbar is None and add_progbar:
            self.progbar = ProgbarLogger()
            self.callbacks.append(self.progbar)
        self.params: dict[str, Any] = {}
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback: Callback) -> None:
        """Adds a callback at the end."""
        self.callbacks.append(callback)

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model: Any) -> None:
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._call("on_train_batch_end", batch, logs)

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._call("on_test_begin", logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        self._call("on_test_end", logs)

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._call("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs: dict | None = None) -> None:
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs: dict | None = None) -> None:
        self._call("on_predict_end", logs)

    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._call("on_predict_batch_end", batch, logs)


class History(Callback):
    """Records the epoch logs; `fit` returns it.

    Attributes:
        history: dict metric name -> list of per-epoch values (`loss`, `val_loss`, ...).
        epoch: list of epoch indices seen.

    Example:
    >>> history = model.fit(x, y, epochs=3)  # doctest: +SKIP
    >>> history.history["loss"]  # doctest: +SKIP
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints progress during `fit`, `evaluate` and `predict` (added by `fit` when verbose > 0).

    Contract with the model: `set_params({"verbose": 1|2, "epochs": E, "steps": S or None})`;
    `on_train_batch_end(batch, logs)` with `logs` holding the *running means* over the epoch
    (they are displayed as given); `on_epoch_end(epoch, logs)` with the epoch values and `val_`
    metrics, printed on the final line. Validation inside `fit` (`on_test_*`) is not displayed.

    Args:
        stateful_metrics: `None` (default): all logged values are already running means and are
            shown as given. A list of names: the other values are treated as per-batch values
            and averaged over the epoch by the bar.
    """

    def __init__(self, stateful_metrics: Iterable[str] | None = None) -> None:
        super().__init__()
        self.stateful_metrics = True if stateful_metrics is None else list(stateful_metrics)
        self.progbar: ProgressBar | None = None
        self.seen = 0
        self.target: int | None = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _reset(self, description: str | None = None) -> None:
        self.seen = 0
        self.progbar = ProgressBar(self.target, verbose=self.verbose,
                                   stateful_metrics=self.stateful_metrics,
                                   description=description)

    def _update(self, batch: int, logs: dict | None) -> None:
        if self.progbar is None:
            self._reset()
        self.seen = batch + 1
        self.progbar.update(self.seen, logs or {})

    def _finalize(self, logs: dict | None) -> None:
        if self.progbar is None:
            self._reset()
        self.progbar.close(logs or {})
        self.progbar = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._called_in_fit = True

    def on_train_end(self, logs: dict | None = None) -> None:
        self._called_in_fit = False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._reset(f"Epoch {epoch + 1}/{self.epochs}" if self.epochs > 1 else None)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._update(batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._finalize(logs)

    def on_test_begin(self, logs: dict | None = None) -> None:
        if not self._called_in_fit:
            self._reset()

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs: dict | None = None) -> None:
        self._reset()

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._update(batch, None)

    def on_predict_end(self, logs: dict | None = None) -> None:
        self._finalize(None)


# ------------------------------------------------------------------------ monitoring helpers
def _auto_mode(monitor: str, model: Any) -> str:
    """'max' or 'min' for `mode='auto'`: a model metric's direction if known, else by name."""
    name = monitor[4:] if monitor.startswith("val_") else monitor
    for metric in getattr(model, "metrics", None) or []:
        if getattr(metric, "name", None) == name and hasattr(metric, "_direction"):
            return "max" if metric._direction == "up" else "min"
    if "acc" in name or name.startswith(("fmeasure", "auc")):
        return "max"
    return "min"


def _check_mode(owner: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{owner} mode {mode!r} is unknown, falling back to 'auto' mode.",
                      stacklevel=3)
        return "auto"
    return mode


def _scalar(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _missing_monitor(what: str, monitor: str, logs: dict) -> None:
    warnings.warn(f"{what} conditioned on metric `{monitor}` which is not available. Available "
                  f"metrics are: {','.join(logs.keys())}", stacklevel=3)


class EarlyStopping(Callback):
    """Stops training when a monitored metric has stopped improving.

    Args:
        monitor: quantity to watch, default `"val_loss"`.
        min_delta: a change smaller than this does not count as an improvement.
        patience: epochs without improvement after which training stops.
        verbose: 1 prints a message when stopping / restoring.
        mode: `"min"`, `"max"` or `"auto"` (`"max"` for accuracies / AUC, else `"min"`).
        baseline: training stops if the model does not beat this value within `patience`.
        restore_best_weights: at the end of training, restore the weights of the best epoch.
        start_from_epoch: epochs to wait before monitoring starts (warm-up).

    Example:
    >>> stop = EarlyStopping(patience=2, restore_best_weights=True)
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.mode = _check_mode("EarlyStopping", mode)
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None
        self.best_weights: Any = None
        self.best_epoch = 0

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self._mode == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._mode = _auto_mode(self.monitor, self.model) if self.mode == "auto" else self.mode
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not hasattr(self, "_mode"):
            self.on_train_begin()
        logs = logs or {}
        current = _scalar(logs.get(self.monitor))
        if current is None:
            _missing_monitor("Early stopping", self.monitor, logs)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Saves the model (or its weights) during training.

    Args:
        filepath: path, may contain format fields filled from the epoch (1-based), the batch
            and the logs: `"ckpt/model-{epoch:02d}-{val_loss:.2f}"`.
        monitor: metric compared when `save_best_only=True`.
        verbose: 1 prints a message on each save.
        save_best_only: only save when `monitor` improves (the latest best is kept).
        save_weights_only: call `model.save_weights(path)` instead of `model.save(path)`.
        mode: `"min"`, `"max"` or `"auto"`.
        save_freq: `"epoch"` or an integer number of batches between saves.
        initial_value_threshold: initial "best" value for `save_best_only`.
    """

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: str | int = "epoch",
                 initial_value_threshold: float | None = None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = _check_mode("ModelCheckpoint", mode)
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError("Argument `save_freq` must be 'epoch' or a positive integer; "
                             f"received save_freq={save_freq!r}.")
        self.save_freq = save_freq
        self.initial_value_threshold = initial_value_threshold
        self.best = initial_value_threshold
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = -1

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._mode = _auto_mode(self.monitor, self.model) if self.mode == "auto" else self.mode
        if self.best is None:
            self.best = math.inf if self._mode == "min" else -math.inf

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            return
        add = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._batches_seen_since_last_saving += add
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _file_path(self, epoch: int, batch: int | None, logs: dict) -> str:
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}. Available keys: epoch, batch, "
                           f"{', '.join(logs)}") from None

    def _save(self, epoch: int, batch: int | None, logs: dict | None) -> None:
        if not hasattr(self, "_mode"):
            self.on_train_begin()
        logs = logs or {}
        path = self._file_path(epoch, batch, logs)
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_best_only:
            current = _scalar(logs.get(self.monitor))
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, "
                              "skipping.", stacklevel=2)
                return
            better = current < self.best if self._mode == "min" else current > self.best
            if not better:
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class ReduceLROnPlateau(Callback):
    """Reduces the learning rate when a metric has stopped improving.

    Args:
        monitor: quantity to watch, default `"val_loss"`.
        factor: multiplier applied to the learning rate (< 1).
        patience: epochs without improvement before reducing.
        verbose: 1 prints a message on each reduction.
        mode: `"min"`, `"max"` or `"auto"`.
        min_delta: threshold for measuring a new optimum.
        cooldown: epochs to wait after a reduction before resuming normal operation.
        min_lr: lower bound on the learning rate.

    The current learning rate is added to the epoch logs as `learning_rate`.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, **kwargs: Any):
        super().__init__()
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau got unexpected argument(s): {sorted(kwargs)}.")
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.mode = _check_mode("ReduceLROnPlateau", mode)
        self.min_delta = min_delta
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.cooldown_counter = 0
        self.wait = 0
        self.best = math.inf

    def _reset(self) -> None:
        self._mode = _auto_mode(self.monitor, self.model) if self.mode == "auto" else self.mode
        self.best = math.inf if self._mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.wait = 0

    def _improved(self, current: float) -> bool:
        if self._mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not hasattr(self, "_mode"):
            self._reset()
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = _scalar(logs.get(self.monitor))
        if current is None:
            _missing_monitor("Learning rate reduction", self.monitor, logs)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(optimizer.learning_rate)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch from `schedule(epoch, lr)`.

    Args:
        schedule: function `(epoch: int (0-based), lr: float) -> float` (a one-argument
            `schedule(epoch)` is accepted too).
        verbose: 1 prints the new learning rate each epoch.

    Example:
    >>> def schedule(epoch, lr):
    ...     return lr if epoch < 10 else lr * 0.9
    >>> callback = LearningRateScheduler(schedule)
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        optimizer = self.model.optimizer
        try:
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:
            lr = self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating, np.integer)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {lr}")
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class CSVLogger(Callback):
    """Streams epoch results to a CSV file: a header `epoch,<sorted log keys>` then one row per
    epoch.

    Args:
        filename: the CSV file path.
        separator: field separator.
        append: append to an existing file (no second header) instead of overwriting.
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self.writer: csv.DictWriter | None = None
        self.csv_file: Any = None
        self.append_header = True

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as f:
                self.append_header = not bool(len(f.readline()))
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="",
                             encoding="utf-8")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.csv_file is None:
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs.keys())
            if not any(k.startswith("val_") for k in self.keys):
                # With validation_freq > 1 the first epoch has no val_ keys: reserve columns.
                self.keys.extend(["val_" + k for k in self.keys])
        if self.writer is None:
            sep = self.sep

            class _Dialect(csv.excel):
                delimiter = sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys],
                                         dialect=_Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = collections.OrderedDict({"epoch": epoch})
        row.update((k, _csv_value(logs.get(k, "NA"))) for k in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.csv_file is not None:
            self.csv_file.close()
        self.csv_file = None
        self.writer = None


def _csv_value(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, Iterable):
        return f"\"[{', '.join(map(str, value))}]\""
    return value


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch loss is NaN or infinite."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = _scalar((logs or {}).get("loss"))
        if loss is not None and (math.isnan(loss) or math.isinf(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """Builds a callback from plain functions.

    Args:
        on_epoch_begin, on_epoch_end: `f(epoch, logs)`.
        on_train_begin, on_train_end: `f(logs)`.
        on_train_batch_begin, on_train_batch_end: `f(batch, logs)`.
        **kwargs: any other hook by name (e.g. `on_test_end=f`).

    Example:
    >>> losses = []
    >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]))
    """

    def __init__(self, on_epoch_begin: Callable | None = None,
                 on_epoch_end: Callable | None = None, on_train_begin: Callable | None = None,
                 on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None,
                 on_train_batch_end: Callable | None = None, **kwargs: Callable):
        super().__init__()
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                 "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end, **kwargs}
        allowed = set(_HOOKS) | {"on_batch_begin", "on_batch_end"}
        for name, fn in hooks.items():
            if name not in allowed:
                raise TypeError(f"LambdaCallback got an unknown hook {name!r}; known hooks: "
                                f"{', '.join(sorted(allowed))}.")
            if fn is not None:
                setattr(self, name, fn)


def __getattr__(name: str) -> Any:
    # Keras' TensorBoard and BackupAndRestore callbacks live in their own modules.
    import importlib

    if name == "TensorBoard":
        return importlib.import_module("gated.callbacks_tensorboard").TensorBoard
    if name == "BackupAndRestore":
        return importlib.import_module("gated.callbacks_backup").BackupAndRestore
    raise AttributeError(f"module 'gated.callbacks' has no attribute '{name}'")
