"""Keras' `BackupAndRestore` callback: resume an interrupted `fit` where it stopped.

At every epoch end (or every `save_freq` batches) the model's weights and optimizer state are
written to `backup_dir` (gated's model file, atomically) with the epoch reached; a later `fit`
with the same callback loads them and continues from that epoch. The backup is deleted when
training ends normally (`delete_checkpoint=True`).

Example:
>>> model.fit(x, y, epochs=10, callbacks=[BackupAndRestore("backup")])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from gated.callbacks import Callback

__all__ = ["BackupAndRestore"]


class BackupAndRestore(Callback):
    """Backs up the training state and restores it when `fit` starts again.

    Args:
        backup_dir: The folder of the backup (created).
        save_freq: `"epoch"` (default) or an integer: back up every that many batches.
        double_checkpoint: Keep the previous backup too, used when the latest is unreadable.
        delete_checkpoint: Delete the backup when training ends normally.
    """

    def __init__(self, backup_dir: str | os.PathLike, save_freq: str | int = "epoch",
                 double_checkpoint: bool = False, delete_checkpoint: bool = True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Argument `backup_dir` of BackupAndRestore must be a folder; "
                             f"received backup_dir={backup_dir!r}.")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq < 1):
            raise ValueError("Argument `save_freq` must be 'epoch' or a positive integer; "
                             f"received save_freq={save_freq!r}.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq, self.double_checkpoint = save_freq, double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._state_path = os.path.join(self.backup_dir, "latest.gated")
        self._meta_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._epoch = 0
        self._batches_since_save = 0

    # ------------------------------------------------------------------ restore
    def on_train_begin(self, logs: dict | None = None) -> None:
        for suffix in ("", ".bkp"):
            if os.path.exists(self._state_path + suffix):
                try:
                    self._restore(self._state_path + suffix, self._meta_path + suffix)
                    return
                except ValueError:
                    if suffix or not os.path.exists(self._state_path + ".bkp"):
                        raise

    def _restore(self, state_path: str, meta_path: str) -> None:
        from safetensors.torch import load as st_load

        from gated.models import saving

        model = self.model
        if not model.built:
            raise ValueError("BackupAndRestore needs a built model before fit(); call the "
                             "model on a batch first or give it an Input.")

        def fail(why: str) -> ValueError:
            return ValueError(f"Cannot restore the backup '{state_path}': {why}.")

        members = saving._read_zip(Path(state_path))
        saving._assign(model, st_load(members["model.weights.safetensors"]), fail)
        if "optimizer.safetensors" in members and getattr(model, "optimizer", None) is not None:
            model._build_optimizer()
            model.optimizer.load_state_tensors(
                st_load(members["optimizer.safetensors"]), json.loads(members["optimizer.json"]),
                [p for p in model.parameters() if p.requires_grad])
        if os.path.exists(meta_path):
            with open(meta_path) as f:
                self._epoch = int(json.load(f)["epoch"])
            model._initial_epoch = self._epoch

    # ------------------------------------------------------------------ back up
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch + 1
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save()

    def _save(self) -> None:
        from gated.models.saving import atomic_write, save_model

        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for path in (self._state_path, self._meta_path):
                if os.path.exists(path):
                    shutil.copyfile(path, path + ".bkp")
        save_model(self.model, self._state_path)
        meta = json.dumps({"epoch": self._epoch}).encode()
        atomic_write(self._meta_path, lambda f: f.write(meta))

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.delete_checkpoint and os.path.isdir(self.backup_dir):
            shutil.rmtree(self.backup_dir)
