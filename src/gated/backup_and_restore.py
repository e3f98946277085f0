"""`BackupAndRestore`: crash-safe training, resumed bit for bit (Keras 3's callback, extended).

A backup holds everything the rest of a `fit` depends on: the model's weights and buffers,
the optimizer's slots and step counter, the epoch and the batch reached, the random
generators (torch CPU and CUDA, NumPy, Python, and the private generators of seeded layers
such as `Dropout(seed=...)`) and the data position (the generators' state at the start of the
epoch, from which `fit` redraws the same shuffling order; see `gated.models.progress`). It is
one zip file of JSON and safetensors (no pickle), written atomically: a process killed while
saving leaves the previous backup loadable, and the next run removes the temp file it left.

Running the same script again continues the run, and ends with the same weights, bit for
bit, as a run that was never interrupted (same machine, same library versions).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from gated.models.progress import capture_rng, restore_rng
from gated.models.saving import atomic_write

FORMAT = "gated.backup"
FORMAT_VERSION = 1
LATEST = "backup.latest.zip"
PREVIOUS = "backup.previous.zip"


class BackupAndRestoreMixin:
    """Back up the training state during `fit`, and restore it when `fit` starts again.

    (The logic of `gated.callbacks.BackupAndRestore`, which adds the `Callback` base.)

    Args:
        backup_dir: Folder for the backup files (used by this callback alone).
        save_freq: `"epoch"` (back up at the end of each epoch) or an integer `N` (back up
            every `N` batches, counted across epochs).
        double_checkpoint: Keep the previous backup too, and fall back to it when the latest
            cannot be read.
        delete_checkpoint: Delete the backups when `fit` completes.

    Example:
        >>> backup = BackupAndRestore("/tmp/run1_backup", save_freq=100)
        >>> # model.fit(x, y, epochs=50, callbacks=[backup])  # rerun the script after a crash
    """

    def __init__(self, backup_dir: str | os.PathLike, save_freq: Any = "epoch",
                 double_checkpoint: bool = False, delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not isinstance(backup_dir, (str, os.PathLike)) or not str(backup_dir):
            raise ValueError("Argument `backup_dir` of BackupAndRestore must be a folder path, "
                             f"received backup_dir={backup_dir!r}.")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(
                save_freq, (int, np.integer)) or save_freq < 1):
            raise ValueError("Argument `save_freq` of BackupAndRestore must be 'epoch' or a "
                             f"positive integer (batches), received save_freq={save_freq!r}.")
        self.backup_dir = Path(backup_dir)
        self.save_freq = save_freq if save_freq == "epoch" else int(save_freq)
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._epoch = 0
        self._batches_since_save = 0

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs: dict | None = None) -> None:
        remove_orphans(self.backup_dir)
        self._batches_since_save = 0
        candidates = [self.backup_dir / LATEST]
        if self.double_checkpoint:
            candidates.append(self.backup_dir / PREVIOUS)
        errors = []
        for path in candidates:
            if not path.exists():
                continue
            try:
                state = read_backup(path)
            except ValueError as err:
                errors.append(str(err))
                continue
            self._restore(state)
            return
        if errors:
            raise ValueError("No usable backup in '{}': {}".format(self.backup_dir,
                                                                   "; ".join(errors)))

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch + 1)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch + 1, 0)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.delete_checkpoint and _is_primary():
            for name in (LATEST, PREVIOUS):
                (self.backup_dir / name).unlink(missing_ok=True)
            try:
                self.backup_dir.rmdir()
            except OSError:
                pass  # not empty (the user's own files) or already gone

    # ------------------------------------------------------------------ state
    def _save(self, epoch: int, step: int) -> None:
        if not _is_primary():
            return
        progress = self.model.__dict__.get("_fit_progress")
        epoch_rng = progress.epoch_rng if progress is not None else capture_rng()
        blob = backup_bytes(self.model, epoch, step, capture_rng(), epoch_rng)
        latest = self.backup_dir / LATEST
        if self.double_checkpoint and latest.exists():
            os.replace(latest, self.backup_dir / PREVIOUS)
        atomic_write(latest, lambda f: f.write(blob))

    def _restore(self, state: dict[str, Any]) -> None:
        model = self.model
        model.load_state_dict(_match_state(model, state["model"], state["path"]), strict=True)
        if state["optimizer"] is not None:
            tensors, meta = state["optimizer"]
            model.optimizer.load_state_tensors(tensors, meta)
        generators = _layer_generators(model)
        if len(generators) != len(state["generators"]):
            raise ValueError(f"Cannot restore the backup '{state['path']}': it holds "
                             f"{len(state['generators'])} seeded-layer generators, the model "
                             f"has {len(generators)}.")
        for generator, gen_state in zip(generators, state["generators"], strict=True):
            generator.set_state(gen_state)
        restore_rng(state["rng"])
        model.__dict__["_fit_resume"] = {"epoch": state["epoch"], "step": state["step"],
                                         "rng": state["rng"], "epoch_rng": state["epoch_rng"]}
        self._epoch = state["epoch"]


def _match_state(model: Any, saved: dict[str, torch.Tensor], path: Path
                 ) -> dict[str, torch.Tensor]:
    """The saved tensors keyed for `model.state_dict()`: by name, else by position (a model
    rebuilt in the same process gets other auto-numbered layer names)."""
    current = model.state_dict()
    ordered = [(key.partition(":")[2], saved[key]) for key in sorted(saved)]
    if {name for name, _ in ordered} == set(current):
        return dict(ordered)
    if len(ordered) != len(current) or any(
            tuple(t.shape) != tuple(c.shape)
            for (_, t), c in zip(ordered, current.values(), strict=True)):
        raise ValueError(
            f"Cannot restore the backup '{path}': it holds {len(ordered)} tensors "
            f"{[(n, tuple(t.shape)) for n, t in ordered][:6]}..., the model has "
            f"{len(current)} {[(n, tuple(t.shape)) for n, t in current.items()][:6]}...; "
            "was it written by another model? Delete the backup folder to start afresh.")
    return {name: tensor for name, (_, tensor) in zip(current, ordered, strict=True)}


def _layer_generators(model: Any) -> list[torch.Generator]:
    """The private generators of seeded layers (`Dropout(seed=...)`, seeded cells), in
    module order."""
    return [m._generator for m in model.modules()
            if isinstance(getattr(m, "_generator", None), torch.Generator)]


def _is_primary() -> bool:
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def remove_orphans(folder: Path) -> list[Path]:
    """Delete the temp files (`.<name>.<random>.tmp`) that a killed `atomic_write` left in
    `folder` for the backup files; returns them."""
    removed = []
    if folder.is_dir():
        for name in (LATEST, PREVIOUS):
            for tmp in folder.glob(f".{name}.*.tmp"):
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed


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


def backup_bytes(model: Any, epoch: int, step: int, rng: dict, epoch_rng: dict) -> bytes:
    """The backup zip of `model`'s training state at (`epoch`, `step` batches done)."""
    tensors: dict[str, torch.Tensor] = {
        f"model/{i:05d}:{k}": v.detach().cpu().clone().contiguous()
        for i, (k, v) in enumerate(model.state_dict().items())}
    meta: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION,
                            "epoch": int(epoch), "step": int(step), "optimizer": None,
                            "generators": []}
    opt = getattr(model, "optimizer", None)
    if opt is not None and getattr(opt, "built", False) and hasattr(opt, "state_tensors"):
        opt_tensors, meta["optimizer"] = opt.state_tensors()
        tensors.update({f"optimizer/{k}": v.detach().cpu().contiguous()
                        for k, v in opt_tensors.items()})
    for i, generator in enumerate(_layer_generators(model)):
        tensors[f"generator/{i}"] = generator.get_state()
        meta["generators"].append(i)
    _rng_parts(rng, "rng", tensors, meta)
    _rng_parts(epoch_rng, "epoch_rng", tensors, meta)
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("backup.json", json.dumps(meta))
        zf.writestr("state.safetensors", st_save(tensors))
    return buffer.getvalue()


def read_backup(path: Path) -> dict[str, Any]:
    """Parse a backup file; a `ValueError` naming the file when it is not a readable backup."""
    def fail(why: str) -> ValueError:
        return ValueError(f"Cannot restore the backup '{path}': {why}.")

    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("backup.json"))
            tensors = st_load(zf.read("state.safetensors"))
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, json.JSONDecodeError) as err:
        raise fail(f"truncated or corrupted ({err})") from None
    except Exception as err:  # safetensors' own error types
        raise fail(f"corrupted tensors ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise fail(f"not a gated backup (format {found!r}, expected {FORMAT!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise fail(f"format_version {meta.get('format_version')!r}, this gated reads "
                   f"{FORMAT_VERSION}")
    optimizer = None
    if meta["optimizer"] is not None:
        optimizer = ({k[len("optimizer/"):]: v for k, v in tensors.items()
                      if k.startswith("optimizer/")}, meta["optimizer"])
    return {
        "path": path, "epoch": int(meta["epoch"]), "step": int(meta["step"]),
        "model": {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")},
        "optimizer": optimizer,
        "generators": [tensors[f"generator/{i}"] for i in meta["generators"]],
        "rng": _rng_from("rng", tensors, meta),
        "epoch_rng": _rng_from("epoch_rng", tensors, meta),
    }
