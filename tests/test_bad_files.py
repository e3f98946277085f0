"""Hostile or broken model files are refused with an error naming the file, before anything
large is read; saving keeps links and cleans up after killed saves (file_checks.py)."""

from __future__ import annotations

import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from gated.layers import LSTM, Dense
from gated.models import Sequential, load_model


@pytest.fixture()
def saved(tmp_path) -> Path:
    torch.manual_seed(0)
    model = Sequential([LSTM(3), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 2, 2), "float32"), np.ones((4, 1), "float32"), verbose=0)
    path = tmp_path / "m.gated"
    model.save(path)
    return path


def _rewrite(path: Path, **changes: bytes) -> Path:
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members.update(changes)
    out = path.with_name("bad.gated")
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out


def _weights(path: Path) -> dict[str, torch.Tensor]:
    with zipfile.ZipFile(path) as zf:
        return st_load(zf.read("model.weights.safetensors"))


@pytest.mark.parametrize(("config", "why"), [
    (b"[1, 2, 3]", "'config.json' must hold a JSON object, it holds a list"),
    (b"[" * 100_000 + b"]" * 100_000, "'config.json' is nested too deeply"),
    (b'{"class_name": "Sequential", "config": [1]}', "'config.json' needs a 'config' object"),
])
def test_config_not_an_object(saved, config, why):
    with pytest.raises(ValueError, match=rf"'.*bad.gated': {why}"):
        load_model(_rewrite(saved, **{"config.json": config}))


def test_bad_layer_config_names_the_file(saved):
    config = json.loads(zipfile.ZipFile(saved).read("config.json"))
    config["config"]["layers"][-1]["config"]["units"] = "many"
    with pytest.raises(ValueError, match=r"bad.gated': invalid model config"):
        load_model(_rewrite(saved, **{"config.json": json.dumps(config).encode()}))


def test_format_version_from_the_future(saved):
    meta = json.loads(zipfile.ZipFile(saved).read("metadata.json"))
    meta["format_version"] = 99
    with pytest.raises(ValueError, match=r"bad.gated': format_version is 99, this gated reads "
                                         r"versions 1..1"):
        load_model(_rewrite(saved, **{"metadata.json": json.dumps(meta).encode()}))


def test_zip_bomb_members_are_never_inflated(saved, tmp_path):
    bomb = _rewrite(saved)
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED) as zf, \
            zf.open("extra.bin", "w") as member:
        block = bytes(2**20)
        for _ in range(256):  # 256 MiB of zeros in a few hundred KiB
            member.write(block)
    assert bomb.stat().st_size < 2**21
    tracemalloc.start()
    load_model(bomb)  # the unknown member is not read
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 32 * 2**20
    # a known member declaring far more than the model's weights take is refused unread
    big = _rewrite(saved, **{"model.weights.safetensors": bytes(64 * 2**20)})
    with pytest.raises(ValueError, match=r"bad.gated': member 'model.weights.safetensors' "
                                         r"declares 67108864 bytes, more than"):
        load_model(big)


@pytest.mark.parametrize("kind", ["float16", "int32", "bool", "nan"])
def test_weights_of_another_dtype_or_nan(saved, kind):
    weights = _weights(saved)
    key = sorted(weights)[0]
    if kind == "nan":
        weights[key] = weights[key].clone()
        weights[key].view(-1)[0] = float("nan")
        why = "holds NaN or infinite values"
    else:
        weights[key] = weights[key].to(getattr(torch, kind))
        why = f"is stored as torch.{kind}, the model's parameter is torch.float32"
    with pytest.raises(ValueError, match=rf"bad.gated': weight '.*' {why}"):
        load_model(_rewrite(saved, **{"model.weights.safetensors": st_save(weights)}))


def test_not_a_regular_file(tmp_path):
    with pytest.raises(ValueError, match=r"'/dev/zero': it is not a regular file"):
        load_model("/dev/zero")
    with pytest.raises(ValueError, match="not a regular file"):
        load_model(tmp_path)


def test_save_of_an_unbuilt_model(tmp_path):
    model = Sequential([LSTM(3), Dense(1)])
    with pytest.raises(ValueError, match=r"Cannot save model '.*' to '.*unbuilt.gated': it is "
                                         r"not built yet"):
        model.save(tmp_path / "unbuilt.gated")
    assert not (tmp_path / "unbuilt.gated").exists()


def test_save_through_a_symlink_replaces_the_target(saved, tmp_path):
    target = tmp_path / "real" / "model.gated"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "link.gated"
    link.symlink_to(target)
    load_model(saved).save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert load_model(target).count_params() == load_model(saved).count_params()


def test_orphan_temp_files_of_killed_saves_are_removed(saved):
    dead = saved.with_name(f".{saved.name}.999999999.x1y2.tmp")  # no such process
    alive = saved.with_name(f".{saved.name}.{os.getpid()}.z3.tmp")  # a save in progress
    dead.write_bytes(b"half")
    alive.write_bytes(b"busy")
    load_model(saved).save(saved)
    assert not dead.exists() and alive.exists()
    assert [p.name for p in saved.parent.glob(".*.tmp")] == [alive.name]
