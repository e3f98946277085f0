"""Saving and loading models: one zip of JSON config + safetensors weights, never pickle.

Layout of a `.gated` / `.keras`-style zip file:

    metadata.json               format name and version, gated version, date
    config.json                 {"class_name", "config", "compile_config"}
    model.weights.safetensors   every parameter, keyed by its module path
    optimizer.safetensors       optimizer state tensors (when the model was trained)
    optimizer.json              optimizer metadata (step counts, learning rate, param groups)

Files are written atomically: to a temporary file in the target folder, flushed and fsynced,
then renamed over the target. A save that fails midway leaves the previous file untouched.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from gated.models import file_checks

FORMAT = "gated.model"
FORMAT_VERSION = 1


def atomic_write(path: str | os.PathLike, write: Any, overwrite: bool = True) -> Path:
    """Call `write(file_object)` on a temp file next to `path`, then rename it into place.

    Under a data-parallel run (`gated.distribute`), only process 0 writes; the others return
    the path at once (every process holds the same weights)."""
    from gated.distribute import is_primary

    path = Path(path)
    if not is_primary():
        return path
    if path.is_symlink():  # replace the file the link points to, and keep the link
        path = Path(os.path.realpath(path))
    if path.exists() and not overwrite:
        raise FileExistsError(f"'{path}' exists and overwrite=False.")
    if path.is_dir():
        raise IsADirectoryError(f"Cannot save to '{path}': it is a directory.")
    path.parent.mkdir(parents=True, exist_ok=True)
    file_checks.remove_orphan_temps(path)  # left by a save that was killed
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _state_tensors(model: Any) -> dict[str, torch.Tensor]:
    """Parameters keyed `"00003:lstm.cell.kernel"`: position (Keras order) and module path."""
    return {f"{k:05d}:{name}": p.detach().cpu().contiguous()
            for k, (name, p) in enumerate(model.named_parameters())}


def _ordered(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Undo `_state_tensors`' keys: module path -> tensor, in saved (Keras) order."""
    out = {}
    for key in sorted(weights):
        _, _, name = key.partition(":")
        out[name or key] = weights[key]
    return out


def _compile_config(model: Any) -> dict | None:
    if not getattr(model, "compiled", False):
        return None
    from gated import losses
    from gated.optimizers import TorchOptimizer

    opt = model.optimizer
    # A raw torch.optim optimizer has no config without its parameters: not restorable.
    opt_config = None if isinstance(opt, TorchOptimizer) else {
        "class_name": type(opt).__name__, "config": opt.get_config()}
    config: dict[str, Any] = {
        "optimizer": opt_config,
        "loss": None,
        "metrics": list(getattr(model, "_metric_identifiers", [])),
    }
    if model.loss is not None:
        try:
            config["loss"] = losses.serialize(model.loss)
        except (ValueError, TypeError, AttributeError):
            config["loss"] = None
    config["metrics"] = [m for m in config["metrics"] if isinstance(m, str)]
    return config


def save_model(model: Any, filepath: str | os.PathLike, overwrite: bool = True,
               extra_members: dict[str, bytes] | None = None) -> Path:
    """Write `model` (config, weights, optimizer state) to the zip file `filepath`;
    `extra_members` (name -> bytes) go into the same zip, in the same atomic write (the
    training state of `BackupAndRestore`); `load_model` does not read them."""
    import gated

    _check_built(model, filepath)
    config = {
        "class_name": type(model).__name__,
        "config": model.get_config(),
        "compile_config": _compile_config(model),
    }
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "gated_version": gated.__version__,
        "torch_version": torch.__version__,
        "date_saved": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    weights = st_save(_state_tensors(model))
    opt_blob = opt_meta = None
    opt = getattr(model, "optimizer", None)
    compile_config = config["compile_config"]
    if opt is not None and getattr(opt, "built", False) and compile_config \
            and compile_config["optimizer"] is not None:
        tensors, meta = opt.state_tensors()
        opt_blob = st_save({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
        opt_meta = meta

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("metadata.json", json.dumps(metadata, indent=2))
            zf.writestr("config.json", json.dumps(config, indent=2))
            zf.writestr("model.weights.safetensors", weights)
            if opt_blob is not None:
                zf.writestr("optimizer.safetensors", opt_blob)
                zf.writestr("optimizer.json", json.dumps(opt_meta))
            for name, data in (extra_members or {}).items():
                zf.writestr(name, data)

    return atomic_write(filepath, write, overwrite)


_JSON_MEMBERS = ("metadata.json", "config.json", "optimizer.json")


def _check_built(model: Any, filepath: Any) -> None:
    """A model without weights yet cannot be saved: its file could never be loaded."""
    unbuilt = [layer.name for layer in getattr(model, "layers", [])
               if not getattr(layer, "built", True)]
    if not getattr(model, "built", True) or unbuilt:
        raise ValueError(
            f"Cannot save model '{model.name}' to '{filepath}': it is not built yet"
            + (f" (layers {unbuilt})" if unbuilt else "") + ", so it has no weights. Call it "
            "on data, fit it, or call model.build(input_shape) first.")


def _read_zip(filepath: Path, limits: dict[str, int | None] | None = None) -> dict[str, bytes]:
    """The members named in `limits` (default: the JSON ones), read under their size caps
    (see `file_checks.read_members`); the names of the others map to `b""` unread."""
    file_checks.check_regular_file(filepath, "model file")

    def fail(why: str) -> ValueError:
        return ValueError(f"Cannot load the model file '{filepath}': {why}.")

    limits = limits or {name: file_checks.JSON_LIMIT for name in _JSON_MEMBERS}
    try:
        with zipfile.ZipFile(filepath) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        raise fail(f"it is truncated or corrupted, or not a gated model file ({err})") \
            from None
    members = dict.fromkeys(names, b"")
    members.update(file_checks.read_members(filepath, limits, fail))
    return members


def load_model(filepath: str | os.PathLike, custom_objects: dict | None = None,
               compile: bool = True) -> Any:
    """Load a model written by `model.save(filepath)`.

    Args:
        filepath: The zip file.
        custom_objects: `{name: class}` for user layers/cells/models in the config.
        compile: Restore the compile settings and optimizer state (default True).

    Raises:
        ValueError: the file is truncated, corrupted or not a gated model (names the file).
    """
    filepath = Path(filepath)
    members = _read_zip(filepath)
    if "model.weights.h5" in members and "model.weights.safetensors" not in members:
        from gated.export.keras_read import load_keras  # a Keras 3 .keras file

        return load_keras(filepath, compile=compile)

    def fail(why: str) -> ValueError:
        return ValueError(f"Cannot load the model file '{filepath}': {why}.")

    for required in ("metadata.json", "config.json", "model.weights.safetensors"):
        if required not in members:
            raise fail(f"'{required}' is missing")
    metadata = file_checks.parse_json_object(members["metadata.json"], "metadata.json", fail)
    config = file_checks.parse_json_object(members["config.json"], "config.json", fail)
    if metadata.get("format") != FORMAT:
        raise fail(f"format is {metadata.get('format')!r}, expected {FORMAT!r}")
    file_checks.check_format_version(metadata, FORMAT_VERSION, fail)
    model = _build_from_config(config, custom_objects, fail)
    # The weights' size is known from the model: nothing larger is read.
    expected = sum(p.numel() * p.element_size() for p in model.parameters())
    margin = 2**16 + 512 * len(list(model.parameters()))
    members.update(file_checks.read_members(filepath, {
        "model.weights.safetensors": expected + margin,
        "optimizer.safetensors": 4 * expected + margin}, fail))
    try:
        weights = st_load(members["model.weights.safetensors"])
    except Exception as err:  # safetensors raises its own error types
        raise fail(f"the weights are corrupted ({err})") from None
    _assign(model, weights, fail)
    compile_config = config.get("compile_config")
    if compile and compile_config:
        _restore_compile(model, compile_config, members, fail)
    return model


def _build_from_config(config: dict, custom_objects: dict | None, fail: Any) -> Any:
    from gated.serialization import get_registered_object

    name = config.get("class_name")
    cls = get_registered_object("Model" if name == "Functional" else name, custom_objects)
    if cls is None:
        raise fail(f"unknown model class {config.get('class_name')!r}; pass it in "
                   "custom_objects")
    if not isinstance(config.get("config"), dict):
        raise fail(f"'config.json' needs a 'config' object, received "
                   f"{type(config.get('config')).__name__}")
    try:
        model = cls.from_config(config["config"], custom_objects=custom_objects)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError,
            RecursionError) as err:
        raise fail(f"invalid model config ({type(err).__name__}: {err})") from None
    if not model.built:
        raise fail("the saved model has no input shape, so its weights cannot be rebuilt")
    return model


def _assign(model: Any, weights: dict[str, torch.Tensor], fail: Any) -> None:
    """Copy `weights` into the model: by parameter name when the names match (a model rebuilt
    from its config), else by position (a separately built model of the same architecture,
    whose auto-numbered layer names differ), as Keras' `load_weights` does."""
    params = dict(model.named_parameters())
    weights = _ordered(weights)
    if set(params) == set(weights):
        pairs = [(name, p, weights[name]) for name, p in params.items()]
    else:
        saved = list(weights.items())
        if len(saved) != len(params):
            raise fail(f"the file holds {len(saved)} weights, the model has {len(params)}")
        pairs = [(f"{name} (saved as {saved_name})", p, w)
                 for (name, p), (saved_name, w) in zip(params.items(), saved, strict=True)]
    for name, p, w in pairs:
        if tuple(w.shape) != tuple(p.shape):
            raise fail(f"weight '{name}' has shape {tuple(w.shape)}, the model expects "
                       f"{tuple(p.shape)}")
        file_checks.check_weight(name, w, p, fail)
    with torch.no_grad():
        for _, p, w in pairs:
            p.copy_(w.to(p.dtype))


def _restore_compile(model: Any, cfg: dict, members: dict[str, bytes], fail: Any) -> None:
    import warnings

    from gated import losses
    from gated import optimizers as optimizers_module

    opt_cfg = cfg["optimizer"]
    loss = losses.deserialize(cfg["loss"]) if cfg.get("loss") else None
    if opt_cfg is None or loss is None:
        warnings.warn(
            "The saved model was compiled with a custom loss or a raw torch.optim optimizer, "
            "which cannot be restored from the file; compile() the loaded model again before "
            "training it.",
            stacklevel=3,
        )
        return
    try:
        optimizer = optimizers_module.deserialize(opt_cfg)
    except ValueError as err:
        raise fail(f"unknown optimizer in the compile config ({err})") from None
    model.compile(optimizer=optimizer, loss=loss, metrics=cfg.get("metrics") or None)
    if "optimizer.safetensors" in members:
        try:
            tensors = st_load(members["optimizer.safetensors"])
            meta = json.loads(members["optimizer.json"])
        except Exception as err:
            raise fail(f"the optimizer state is corrupted ({err})") from None
        model._build_optimizer()
        model.optimizer.load_state_tensors(tensors, meta,
                                           [p for p in model.parameters() if p.requires_grad])


def save_weights(model: Any, filepath: str | os.PathLike, overwrite: bool = True) -> Path:
    """Write the model's weights alone to a safetensors file, atomically."""
    _check_built(model, filepath)
    blob = st_save(_state_tensors(model), metadata={"format": "gated.weights"})
    return atomic_write(filepath, lambda f: f.write(blob), overwrite)


def load_weights(model: Any, filepath: str | os.PathLike) -> None:
    """Load weights saved by `save_weights` (or the weights inside a saved model zip)."""
    filepath = Path(filepath)
    file_checks.check_regular_file(filepath, "weights file")

    def fail(why: str) -> ValueError:
        return ValueError(f"Cannot load weights from '{filepath}': {why}.")

    expected = sum(p.numel() * p.element_size() for p in model.parameters())
    limit = expected + 2**16 + 512 * len(list(model.parameters()))
    with open(filepath, "rb") as f:
        head = f.read(2)
    if head == b"PK":
        members = _read_zip(filepath, {"model.weights.safetensors": limit})
        raw = members.get("model.weights.safetensors", b"")
    else:
        if filepath.stat().st_size > limit:
            raise fail(f"it holds {filepath.stat().st_size} bytes, more than the {limit} "
                       "that this model's weights take")
        raw = filepath.read_bytes()
    try:
        weights = st_load(raw)
    except Exception as err:
        raise fail(f"the file is truncated or corrupted ({err})") from None
    _assign(model, weights, fail)
