"""Saving and loading a `Forecaster`: one zip of JSON and safetensors, written atomically.

    metadata.json               format name and version, gated version, date
    config.json                 the Forecaster's arguments, its columns, the network's config
                                and the StandardScaler's state
    model.weights.safetensors   the network's parameters, keyed by module path

Loading executes no code (no pickle): the network is rebuilt from its config and the tensors
are copied into it by name. `Forecaster.save` / `Forecaster.load` call these functions.
"""

from __future__ import annotations

import datetime
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from gated.forecasting.network import ForecastNetwork
from gated.forecasting.scaling import scaler_state
from gated.models.saving import atomic_write

__all__ = ["FORMAT", "columns_of", "forecaster_state", "read_forecaster", "write_forecaster"]

FORMAT = "gated.forecaster"
FORMAT_VERSION = 1


def _column(name: Any) -> dict:
    """A column name as JSON that keeps its type (pandas allows int names)."""
    return {"int": int(name)} if isinstance(name, int) else {"str": str(name)}


def _uncolumn(entry: dict) -> Any:
    return int(entry["int"]) if "int" in entry else entry["str"]


def forecaster_state(forecaster: Any) -> dict:
    """The JSON part of a fitted forecaster: arguments, columns, network config, scaler."""
    return {
        "forecaster": forecaster.get_config(),
        "target": [_column(c) for c in forecaster.target],
        "covariates": [_column(c) for c in forecaster.covariates],
        "future_covariates": [_column(c) for c in forecaster.future_covariates],
        "calendar": forecaster.calendar,
        "network": forecaster.network.get_config(),
        "scaler": scaler_state(forecaster.scaler),
        "history": {k: [float(v) for v in vals] for k, vals in
                    (getattr(forecaster.history, "history", None) or {}).items()},
    }


def write_forecaster(path: str | os.PathLike, config: dict, network: Any,
                     overwrite: bool = True) -> Path:
    """Writes `config` (from `forecaster_state`) and the network's weights as one zip.

    Returns:
        The path written.
    """
    import gated

    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "gated_version": gated.__version__,
                "date_saved": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    weights = st_save({name: p.detach().cpu().contiguous()
                       for name, p in network.named_parameters()})

    def write(handle: Any) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("metadata.json", json.dumps(metadata, indent=2))
            archive.writestr("config.json", json.dumps(config, indent=2))
            archive.writestr("model.weights.safetensors", weights)

    return atomic_write(path, write, overwrite)


def read_forecaster(path: str | os.PathLike) -> tuple[dict, ForecastNetwork]:
    """Reads a file of `write_forecaster`: its config and the network with its weights.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: not a forecaster file, or truncated/corrupted (names the file).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No forecaster file at '{path}'.")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        metadata = json.loads(members["metadata.json"])
        config = json.loads(members["config.json"])
        weights = st_load(members["model.weights.safetensors"])
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as error:
        raise ValueError(f"Cannot load the forecaster file '{path}': it is truncated, "
                         f"corrupted or not a forecaster file ({error}).") from None
    except Exception as error:  # safetensors raises its own error types
        raise ValueError(f"Cannot load the forecaster file '{path}': {error}.") from None
    if metadata.get("format") != FORMAT:
        raise ValueError(f"Cannot load '{path}': its format is {metadata.get('format')!r}, "
                         f"expected {FORMAT!r} (a gated model? use gated.models.load_model).")
    network_config = dict(config["network"])
    network_config.pop("name", None)
    network = ForecastNetwork(**network_config)
    params = dict(network.named_parameters())
    if set(params) != set(weights):
        raise ValueError(f"Cannot load '{path}': its weights {sorted(weights)} do not match "
                         f"the network's {sorted(params)}.")
    with torch.no_grad():
        for name, parameter in params.items():
            if tuple(weights[name].shape) != tuple(parameter.shape):
                raise ValueError(f"Cannot load '{path}': weight {name!r} has shape "
                                 f"{tuple(weights[name].shape)}, expected "
                                 f"{tuple(parameter.shape)}.")
            parameter.copy_(weights[name].to(parameter.dtype))
    network.eval()
    return config, network


def columns_of(config: dict, role: str) -> list:
    """The column names of one role (`"target"`, `"covariates"`, ...) of a saved config."""
    return [_uncolumn(c) for c in config[role]]
