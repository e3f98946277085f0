"""The file boundary of `load_model` / `load_weights`: what a hostile or broken file can do is
checked here, before anything large is read or allocated, and every refusal names the file.

- Only regular files are opened (a path to `/dev/zero` or a FIFO would never end).
- Only the members gated knows are read, each under a size cap decided before reading, and
  read in chunks that stop as soon as a member inflates past its declared size (zip bombs).
- JSON must be an object, nested no deeper than Python can parse (a `RecursionError` becomes a
  clear error), with a `format_version` this gated can read.
- Weights must have the dtype and shape of the model's parameters, and be finite.
- Temp files left by a killed `atomic_write` are removed when their writer is gone.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import torch

JSON_LIMIT = 64 * 2**20  # bytes: a config or metadata file is a few KB


def check_regular_file(path: Path, what: str) -> None:
    """`path` exists and is a regular file (links to one are fine)."""
    if not path.exists():
        raise FileNotFoundError(f"No {what} at '{path}'.")
    if not path.is_file():
        raise ValueError(f"Cannot load the {what} '{path}': it is not a regular file "
                         "(a folder, a device or a pipe).")


def read_members(path: Path, limits: dict[str, int | None],
                 fail: Callable[[str], Exception]) -> dict[str, bytes]:
    """Read the members named in `limits` (absent ones are skipped) from the zip `path`.

    Each member's declared size must be within its limit (None: within `1000 x` the whole
    file's size, gated's files compress far less); reading stops as soon as a member inflates
    past its declared size. Other members are never read.
    """
    file_size = path.stat().st_size
    out: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {info.filename: info for info in zf.infolist()}
            for name, limit in limits.items():
                info = infos.get(name)
                if info is None:
                    continue
                cap = limit if limit is not None else 1000 * max(file_size, 2**20)
                if info.file_size > cap:
                    raise fail(f"member '{name}' declares {info.file_size} bytes, more than "
                               f"the {cap} allowed for it (a zip bomb?)")
                out[name] = _read_capped(zf, info, fail)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError) as err:
        raise fail(f"it is truncated or corrupted, or not a gated file ({err})") from None
    except zipfile.LargeZipFile as err:
        raise fail(str(err)) from None
    return out


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo,
                 fail: Callable[[str], Exception]) -> bytes:
    chunks, total = [], 0
    with zf.open(info) as member:  # checks the CRC at the end of the member
        while True:
            chunk = member.read(2**20)
            if not chunk:
                break
            total += len(chunk)
            if total > info.file_size:
                raise fail(f"member '{info.filename}' inflates beyond its declared "
                           f"{info.file_size} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(raw: bytes, member: str, fail: Callable[[str], Exception]) -> dict:
    """A JSON object (not a list or a scalar), refused clearly when nested too deeply."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise fail(f"'{member}' is nested too deeply to be a gated file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise fail(f"'{member}' is invalid JSON ({err})") from None
    if not isinstance(value, dict):
        raise fail(f"'{member}' must hold a JSON object, it holds a {type(value).__name__}")
    return value


def check_format_version(metadata: dict, current: int, fail: Callable[[str], Exception]
                         ) -> None:
    """The file's `format_version` is one this gated reads (not one from the future)."""
    version = metadata.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= current:
        raise fail(f"format_version is {version!r}, this gated reads versions 1..{current} "
                   "(a file from a newer gated? upgrade gated)")


def check_weight(name: str, saved: torch.Tensor, param: torch.Tensor,
                 fail: Callable[[str], Exception]) -> None:
    """A saved weight matches its parameter's dtype and holds finite values."""
    if saved.dtype != param.dtype:
        raise fail(f"weight '{name}' is stored as {saved.dtype}, the model's parameter is "
                   f"{param.dtype}")
    if saved.is_floating_point() and not bool(torch.isfinite(saved).all()):
        raise fail(f"weight '{name}' holds NaN or infinite values")


def remove_orphan_temps(path: Path) -> list[Path]:
    """Remove `.{name}.{pid}.*.tmp` files next to `path` whose writing process is gone (a
    save killed before its rename); returns them."""
    removed = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid_text = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
