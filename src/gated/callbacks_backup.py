"""Keras' `BackupAndRestore` callback: resume an interrupted `fit` where it stopped, bit for bit.

At every epoch end (or every `save_freq` batches) one file, `latest.gated`, is written
atomically: a gated model file (weights, optimizer state; `load_model` reads it) that also
holds the training state: the epoch and the batch reached, the model's buffers, the states of
torch's (CPU, CUDA), NumPy's and Python's random generators and of seeded layers' own
generators, and the data position (the generators' state at the start of the epoch, from
which `fit` redraws the same shuffling order and skips the batches already done; see
`gated.models.progress`). `training_metadata.json` repeats the epoch and batch for people.

A later `fit` with the same callback (the same script run again after a crash, even a
`kill -9`) restores all of it and ends with the same weights, bit for bit, as a run that was
never interrupted. A kill during a save leaves the previous backup whole; the next save
removes the temp file it left. The backup is deleted when training ends normally
(`delete_checkpoint=True`). Under `gated.distribute`, process 0 alone writes it.

Example:
>>> model.fit(x, y, epochs=10, callbacks=[BackupAndRestore("backup")])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from gated.callbacks import Callback
from gated.models.progress import capture_rng, restore_rng

__all__ = ["BackupAndRestore"]

STATE_JSON = "training_state.json"
STATE_TENSORS = "training_state.safetensors"
STATE_VERSION = 1


class BackupAndRestore(Callback):
    """Backs up the training state and restores it when `fit` starts again.

    Args:
        backup_dir: The folder of the backup (created; used by this callback alone).
        save_freq: `"epoch"` (default) or an integer: back up every that many batches
            (counted across epochs).
        double_checkpoint: Keep the previous backup too, used when the latest is unreadable.
        delete_checkpoint: Delete the backup when training ends normally.
    """

    def __init__(self, backup_dir: str | os.PathLike, save_freq: str | int = "epoch",
                 double_checkpoint: bool = False, delete_checkpoint: bool = True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Argument `backup_dir` of BackupAndRestore must be a folder; "
                             f"received backup_dir={backup_dir!r}.")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(
                save_freq, (int, np.integer)) or save_freq < 1):
            raise ValueError("Argument `save_freq` must be 'epoch' or a positive integer; "
                             f"received save_freq={save_freq!r}.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq if save_freq == "epoch" else int(save_freq)
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._state_path = os.path.join(self.backup_dir, "latest.gated")
        self._meta_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._epoch = 0
        self._batches_since_save = 0

    # ------------------------------------------------------------------ restore
    def on_train_begin(self, logs: dict | None = None) -> None:
        self._batches_since_save = 0
        for suffix in ("", ".bkp"):
            if os.path.exists(self._state_path + suffix):
                try:
                    self._restore(self._state_path + suffix)
                    return
                except ValueError:
                    if suffix or not os.path.exists(self._state_path + ".bkp"):
                        raise

    def _restore(self, state_path: str) -> None:
        from gated.models import file_checks, saving

        model = self.model
        if not model.built:
            raise ValueError("BackupAndRestore needs a built model before fit(); call the "
                             "model on a batch first or give it an Input.")

        def fail(why: str) -> ValueError:
            return ValueError(f"Cannot restore the backup '{state_path}': {why}.")

        path = Path(state_path)
        members = saving._read_zip(path, {
            "model.weights.safetensors": None, "optimizer.safetensors": None,
            "optimizer.json": file_checks.JSON_LIMIT, STATE_JSON: file_checks.JSON_LIMIT,
            STATE_TENSORS: None})
        try:
            weights = st_load(members["model.weights.safetensors"])
            meta = json.loads(members[STATE_JSON]) if members.get(STATE_JSON) else None
            tensors = st_load(members[STATE_TENSORS]) if members.get(STATE_TENSORS) else {}
        except Exception as err:  # safetensors' and json's own error types
            raise fail(f"it is truncated or corrupted ({err})") from None
        if meta is None or meta.get("version") != STATE_VERSION:
            raise fail("it holds no training state this gated reads")
        saving._assign(model, weights, fail)
        buffers = [b for _, b in model.named_buffers()]
        if len(buffers) != meta["buffers"]:
            raise fail(f"it holds {meta['buffers']} buffers, the model has {len(buffers)}")
        with torch.no_grad():
            for i, b in enumerate(buffers):
                b.copy_(tensors[f"buffer/{i}"])
        if members.get("optimizer.safetensors") and getattr(model, "optimizer", None) is not None:
            model._build_optimizer()
            model.optimizer.load_state_tensors(
                st_load(members["optimizer.safetensors"]), json.loads(members["optimizer.json"]),
                [p for p in model.parameters() if p.requires_grad])
        generators = _layer_generators(model)
        if len(generators) != meta["generators"]:
            raise fail(f"it holds {meta['generators']} seeded-layer generators, the model has "
                       f"{len(generators)}")
        for i, generator in enumerate(generators):
            generator.set_state(tensors[f"generator/{i}"])
        rng = _rng_from("rng", tensors, meta)
        restore_rng(rng)
        self._epoch = int(meta["epoch"])
        model.__dict__["_fit_resume"] = {"epoch": self._epoch, "step": int(meta["step"]),
                                         "rng": rng,
                                         "epoch_rng": _rng_from("epoch_rng", tensors, meta)}

    # ------------------------------------------------------------------ back up
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch + 1
        if self.save_freq == "epoch":
            self._save(self._epoch, 0)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch + 1)

    def _save(self, epoch: int, step: int) -> None:
        from gated.models.saving import atomic_write, save_model

        if not _is_primary():
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._state_path):
            os.replace(self._state_path, self._state_path + ".bkp")
        progress = self.model.__dict__.get("_fit_progress")
        epoch_rng = progress.epoch_rng if progress is not None and progress.epoch_rng \
            else capture_rng()
        save_model(self.model, self._state_path,
                   extra_members=_state_members(self.model, epoch, step, capture_rng(),
                                                epoch_rng))
        meta = json.dumps({"epoch": epoch, "batch": step}).encode()
        atomic_write(self._meta_path, lambda f: f.write(meta))

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.delete_checkpoint and _is_primary() and os.path.isdir(self.backup_dir):
            shutil.rmtree(self.backup_dir)


def _state_members(model: Any, epoch: int, step: int, rng: dict, epoch_rng: dict
                   ) -> dict[str, bytes]:
    """The training state beside the model file's weights and optimizer state."""
    tensors: dict[str, torch.Tensor] = {
        f"buffer/{i}": b.detach().cpu().clone().contiguous()
        for i, (_, b) in enumerate(model.named_buffers())}
    generators = _layer_generators(model)
    for i, generator in enumerate(generators):
        tensors[f"generator/{i}"] = generator.get_state()
    meta: dict[str, Any] = {"version": STATE_VERSION, "epoch": int(epoch), "step": int(step),
                            "buffers": len(list(model.named_buffers())),
                            "generators": len(generators)}
    _rng_parts(rng, "rng", tensors, meta)
    _rng_parts(epoch_rng, "epoch_rng", tensors, meta)
    return {STATE_JSON: json.dumps(meta).encode(), STATE_TENSORS: st_save(tensors)}


def _layer_generators(model: Any) -> list[torch.Generator]:
    """The private generators of seeded layers (`Dropout(seed=...)`, seeded cells), in
    module order."""
    return [m._generator for m in model.modules()
            if isinstance(getattr(m, "_generator", None), torch.Generator)]


def _is_primary() -> bool:
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _rng_parts(state: dict[str, Any], prefix: str, tensors: dict, meta: dict) -> None:
    tensors[f"{prefix}/torch"] = state["torch"].clone()
    for i, s in enumerate(state.get("cuda", [])):
        tensors[f"{prefix}/cuda/{i}"] = s.clone()
    kind, keys, pos, has_gauss, cached = state["numpy"]
    tensors[f"{prefix}/numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    version, internal, gauss_next = state["python"]
    meta[prefix] = {"numpy": [kind, int(pos), int(has_gauss), float(cached)],
                    "python": [version, list(internal), gauss_next],
                    "cuda": len(state.get("cuda", []))}


def _rng_from(prefix: str, tensors: dict, meta: dict) -> dict[str, Any]:
    info = meta[prefix]
    kind, pos, has_gauss, cached = info["numpy"]
    keys = tensors[f"{prefix}/numpy"].numpy().astype(np.uint32)
    version, internal, gauss_next = info["python"]
    state = {"torch": tensors[f"{prefix}/torch"],
             "numpy": (kind, keys, pos, has_gauss, cached),
             "python": (version, tuple(internal), gauss_next)}
    if info["cuda"]:
        state["cuda"] = [tensors[f"{prefix}/cuda/{i}"] for i in range(info["cuda"])]
    return state


