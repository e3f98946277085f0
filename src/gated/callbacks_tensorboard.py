"""Keras' `TensorBoard` callback, writing TensorBoard event files with torch's `SummaryWriter`.

Needs the `tensorboard` package (`pip install gated[tensorboard]`). The layout and tags are
Keras': `log_dir/train` and `log_dir/validation`, `epoch_loss`, `epoch_<metric>` (validation
values without their `val_` prefix), `epoch_learning_rate`, `batch_<name>` with `update_freq`,
and weight histograms `<parameter>/histogram` every `histogram_freq` epochs.

Example:
>>> model.fit(x, y, epochs=5, callbacks=[TensorBoard("logs")])  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from typing import Any

from gated.callbacks import Callback

__all__ = ["TensorBoard"]


def _writer(folder: str) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch raises ImportError when tensorboard is missing
        raise ImportError("The TensorBoard callback needs the `tensorboard` package: "
                          "pip install tensorboard (or gated[tensorboard]).") from None
    return SummaryWriter(log_dir=folder)


class TensorBoard(Callback):
    """Writes the training curves (and optionally weight histograms) for TensorBoard.

    Args:
        log_dir: The folder; `train/` and `validation/` are written inside.
        histogram_freq: Every how many epochs to write weight histograms (0: never).
        write_graph: Accepted for Keras compatibility (no graph is written).
        write_images: Accepted for Keras compatibility (no weight images are written).
        write_steps_per_second: Also log `steps_per_second` (per epoch or per batch).
        update_freq: `"epoch"`, `"batch"` or an integer N: also write `batch_<name>` every N
            training batches.
        profile_batch: Only 0 (profiling is not supported).
        embeddings_freq: Only 0 (embedding projections are not supported).
        embeddings_metadata: Only None.
    """

    def __init__(self, log_dir: str | os.PathLike = "logs", histogram_freq: int = 0,
                 write_graph: bool = True, write_images: bool = False,
                 write_steps_per_second: bool = False, update_freq: str | int = "epoch",
                 profile_batch: int = 0, embeddings_freq: int = 0,
                 embeddings_metadata: Any = None):
        super().__init__()
        if update_freq not in ("epoch", "batch") and (isinstance(update_freq, bool)
                                                      or not isinstance(update_freq, int)
                                                      or update_freq < 1):
            raise ValueError("Argument `update_freq` must be 'epoch', 'batch' or a positive "
                             f"integer; received update_freq={update_freq!r}.")
        for name, value in (("profile_batch", profile_batch),
                            ("embeddings_freq", embeddings_freq)):
            if value:
                raise ValueError(f"Argument `{name}` of TensorBoard is not supported by gated; "
                                 f"received {name}={value!r} (use 0).")
        if embeddings_metadata is not None:
            raise ValueError("Argument `embeddings_metadata` of TensorBoard is not supported "
                             "by gated; received a value (use None).")
        self.log_dir = str(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph, self.write_images = write_graph, write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._train = self._val = None
        self._global_batch = 0
        self._batch_start = self._epoch_start = 0.0
        self._epoch_batches = 0

    def _writers(self) -> tuple[Any, Any]:
        if self._train is None:
            self._train = _writer(os.path.join(self.log_dir, "train"))
            self._val = _writer(os.path.join(self.log_dir, "validation"))
        return self._train, self._val

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._writers()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start, self._epoch_batches = time.time(), 0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._batch_start = time.time()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._global_batch += 1
        self._epoch_batches += 1
        if self.update_freq == "epoch" or self._global_batch % self.update_freq:
            return
        train, _ = self._writers()
        step = self._global_batch  # Keras counts training batches from 1
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._batch_start, 1e-12)
            train.add_scalar("batch_steps_per_second", 1.0 / elapsed, step)
        for name, value in (logs or {}).items():
            train.add_scalar(f"batch_{name}", float(value), step)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        train, val = self._writers()
        logs = dict(logs or {})
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and "learning_rate" not in train_logs:
            try:
                train_logs["learning_rate"] = float(optimizer.learning_rate)
            except (TypeError, ValueError, AttributeError):
                pass
        if self.write_steps_per_second:
            train_logs["steps_per_second"] = self._epoch_batches / max(
                time.time() - self._epoch_start, 1e-12)
        for name, value in train_logs.items():
            train.add_scalar(f"epoch_{name}", float(value), epoch)
        for name, value in logs.items():
            if name.startswith("val_"):
                val.add_scalar(f"epoch_{name[4:]}", float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for name, param in self.model.named_parameters():
                train.add_histogram(f"{name}/histogram", param.detach().cpu(), epoch)
        train.flush()
        val.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        for writer in (self._train, self._val):
            if writer is not None:
                writer.close()
        self._train = self._val = None
