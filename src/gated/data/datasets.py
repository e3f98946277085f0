"""Loaders for the built-in sunspot series and for public data sets the user has on disk.

Nothing is downloaded: each loader takes a path (the file itself or the folder holding it)
and raises `FileNotFoundError` naming that path when it is missing. Only the standard library
and NumPy are used (WAV files are read with `wave`, JSON with `json`).
"""

from __future__ import annotations

import csv
import json
import os
import wave
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "load_sunspots",
    "ETTData",
    "load_ett",
    "load_jsb_chorales",
    "load_tiny_shakespeare",
    "FSDDRecording",
    "load_fsdd",
    "split_fsdd",
    "read_wav",
]

PathLike = str | os.PathLike


def _resolve(path: PathLike, default_names: tuple[str, ...], what: str) -> Path:
    """Returns `path` if it is a file, else the first of `default_names` inside the folder."""
    root = Path(path).expanduser()
    if root.is_file():
        return root
    if root.is_dir():
        for name in default_names:
            candidate = root / name
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(
            f"No {what} file found in folder '{root}': looked for "
            + ", ".join(f"'{name}'" for name in default_names)
            + "."
        )
    raise FileNotFoundError(f"{what} path '{root}' does not exist.")


# --------------------------------------------------------------------------- sunspots


def load_sunspots() -> tuple[np.ndarray, np.ndarray]:
    """Loads the yearly mean sunspot numbers 1700-2008 shipped with gated.

    The series (309 values, SIDC / WDC-SILSO, Royal Observatory of Belgium; the same series
    that statsmodels distributes as `sunspots`) has a ~11-year solar cycle.

    Returns:
        Tuple `(years, values)`: `years` an int64 array `1700..2008`, `values` a float32 array
        of the yearly mean sunspot numbers.

    Example:

    >>> years, values = load_sunspots()
    >>> int(years[0]), float(values[0]), len(values)
    (1700, 5.0, 309)
    """
    source = resources.files("gated.data").joinpath("builtin", "sunspots.csv")
    text = source.read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip() for c in rows[0]] != ["year", "sunspots"]:
        raise ValueError("Corrupt built-in sunspots.csv: expected the header 'year,sunspots'.")
    body = [row for row in rows[1:] if row]
    years = np.array([int(row[0]) for row in body], dtype=np.int64)
    values = np.array([float(row[1]) for row in body], dtype=np.float32)
    return years, values


# --------------------------------------------------------------------------- ETT


@dataclass(frozen=True)
class ETTData:
    """An Electricity Transformer Temperature table and its standard split.

    Attributes:
        dates: `datetime64[s]` array of shape `(timesteps,)`.
        values: float32 array of shape `(timesteps, features)`: the target column alone for
            `features='S'`, all columns (file order) for `'M'` and `'MS'`.
        columns: names of the columns of `values`.
        target: name of the target column.
        target_index: position of the target column in `values`.
        splits: `{"train", "val", "test"}` -> `slice` of rows, the Informer (Zhou et al., AAAI
            2021) 12/4/4-month boundaries. Informer also lets the input windows of the val and
            test parts reach back `seq_len` rows into the preceding part; the slices here are
            the plain row ranges of the targets.
    """

    dates: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]
    target: str
    target_index: int
    splits: dict[str, slice] = field(default_factory=dict)

    @property
    def train(self) -> np.ndarray:
        """Rows of the training part (first 12 months)."""
        return self.values[self.splits["train"]]

    @property
    def val(self) -> np.ndarray:
        """Rows of the validation part (next 4 months)."""
        return self.values[self.splits["val"]]

    @property
    def test(self) -> np.ndarray:
        """Rows of the test part (next 4 months)."""
        return self.values[self.splits["test"]]


def load_ett(
    path: PathLike, target: str = "OT", features: str = "S", name: str = "ETTh1"
) -> ETTData:
    """Loads an ETT (Electricity Transformer Temperature) CSV file.

    Args:
        path: the CSV file (`ETTh1.csv`, `ETTh2.csv`, `ETTm1.csv` ...) or the folder holding it.
        target: target column (default `"OT"`, oil temperature).
        features: `"S"` (the target alone), `"M"` (all columns) or `"MS"` (all columns as input,
            the target as output; `values` is the same as for `"M"`).
        name: file stem looked up when `path` is a folder.

    Returns:
        An `ETTData`; its `splits` are the Informer boundaries: train = first 12*30 days,
        val = next 4*30 days, test = next 4*30 days (in rows: 24 per day for the hourly files,
        96 for the 15-minute ones, inferred from the timestamps).

    Example:

    ```python
    ett = load_ett("../shared/data/ett", features="M")
    scaler = StandardScaler().fit(ett.train)   # Informer z-scores with train statistics
    ```
    """
    if features not in ("S", "M", "MS"):
        raise ValueError(f"`features` must be 'S', 'M' or 'MS'; received {features!r}.")
    file = _resolve(path, (f"{name}.csv",), "ETT CSV")
    with open(file, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"ETT file '{file}' is empty.") from None
        rows = [row for row in reader if row]
    if not header or header[0].strip().lower() != "date":
        raise ValueError(f"ETT file '{file}' must start with a 'date' column; header {header}.")
    names = [h.strip() for h in header[1:]]
    if target not in names:
        raise ValueError(f"`target` must be one of the columns {names}; received {target!r}.")
    dates = np.array([row[0] for row in rows], dtype="datetime64[s]")
    table = np.array([row[1:] for row in rows], dtype=np.float64).astype(np.float32)
    target_column = names.index(target)
    if features == "S":
        values = table[:, [target_column]]
        columns: tuple[str, ...] = (target,)
        target_index = 0
    else:
        values = table
        columns = tuple(names)
        target_index = target_column

    rows_per_day = 24
    if len(dates) > 1:
        step = int((dates[1] - dates[0]) / np.timedelta64(1, "s"))
        if step > 0 and 86400 % step == 0:
            rows_per_day = 86400 // step
    month = 30 * rows_per_day
    bounds = (0, 12 * month, 16 * month, 20 * month)
    if len(values) < bounds[-1]:
        raise ValueError(
            f"ETT file '{file}' has {len(values)} rows; the standard 12/4/4-month split needs "
            f"{bounds[-1]}."
        )
    splits = {
        "train": slice(bounds[0], bounds[1]),
        "val": slice(bounds[1], bounds[2]),
        "test": slice(bounds[2], bounds[3]),
    }
    return ETTData(dates, values, columns, target, target_index, splits)


# --------------------------------------------------------------------------- JSB chorales

_LOWEST_PITCH = 21  # A0
_PIANO_KEYS = 88  # A0..C8 = MIDI 21..108


def load_jsb_chorales(path: PathLike, resolution: str = "quarter") -> dict[str, list[np.ndarray]]:
    """Loads the JSB Chorales (Boulanger-Lewandowski et al., 2012 split) as piano rolls.

    Args:
        path: `jsb-chorales-<resolution>.json` or the folder holding it. The JSON maps
            `"train"`, `"valid"`, `"test"` to lists of chorales; a chorale is a list of time
            steps, a time step a list of sounding MIDI pitches.
        resolution: `"quarter"` (quarter-note steps) or `"16th"`; picks the file in a folder.

    Returns:
        Dict `{"train", "valid", "test"}` -> list of float32 arrays of shape `(timesteps, 88)`,
        column `k` is MIDI pitch `21 + k` (piano keys A0..C8), 1.0 where the note sounds.

    Example:

    ```python
    rolls = load_jsb_chorales("../shared/data/jsb_chorales")
    len(rolls["train"]), rolls["train"][0].shape   # 229, (T, 88)
    ```
    """
    if resolution not in ("quarter", "16th"):
        raise ValueError(f"`resolution` must be 'quarter' or '16th'; received {resolution!r}.")
    file = _resolve(path, (f"jsb-chorales-{resolution}.json",), "JSB Chorales JSON")
    with open(file, encoding="utf-8") as handle:
        raw = json.load(handle)
    missing = {"train", "valid", "test"} - set(raw)
    if missing:
        raise ValueError(f"JSB file '{file}' lacks the splits {sorted(missing)}.")
    rolls: dict[str, list[np.ndarray]] = {}
    for split in ("train", "valid", "test"):
        rolls[split] = []
        for number, chorale in enumerate(raw[split]):
            roll = np.zeros((len(chorale), _PIANO_KEYS), dtype=np.float32)
            for step, pitches in enumerate(chorale):
                for pitch in pitches:
                    key = int(pitch) - _LOWEST_PITCH
                    if not 0 <= key < _PIANO_KEYS:
                        raise ValueError(
                            f"JSB file '{file}', {split} chorale {number}, step {step}: MIDI "
                            f"pitch must be in [21, 108]; received {pitch}."
                        )
                    roll[step, key] = 1.0
            rolls[split].append(roll)
    return rolls


# --------------------------------------------------------------------------- tiny shakespeare


def load_tiny_shakespeare(path: PathLike) -> str:
    """Loads Karpathy's Tiny Shakespeare (about 1.1 million characters) as one string.

    Args:
        path: `input.txt` or the folder holding it.

    Returns:
        The whole text (UTF-8).

    Example:

    ```python
    text = load_tiny_shakespeare("../shared/data/tinyshakespeare")
    vocab = CharVocabulary().adapt(text)
    ```
    """
    file = _resolve(
        path, ("input.txt", "tinyshakespeare.txt", "tiny_shakespeare.txt"), "Tiny Shakespeare text"
    )
    return file.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- FSDD


class FSDDRecording(NamedTuple):
    """One Free Spoken Digit Dataset recording (a tuple, unpackable in this order)."""

    waveform: np.ndarray
    sample_rate: int
    digit: int
    speaker: str
    index: int


def read_wav(path: PathLike) -> tuple[np.ndarray, int]:
    """Reads a 16-bit PCM WAV file with the standard library.

    Args:
        path: the `.wav` file.

    Returns:
        Tuple `(waveform, sample_rate)`; `waveform` is float32 in [-1, 1) of shape
        `(frames,)` (multi-channel files are averaged to mono).
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"WAV file '{file}' does not exist.")
    with wave.open(str(file), "rb") as handle:
        channels = handle.getnchannels()
        width = handle.getsampwidth()
        rate = handle.getframerate()
        frames = handle.readframes(handle.getnframes())
    if width != 2:
        raise ValueError(
            f"WAV file '{file}' must be 16-bit PCM (2 bytes per sample); received {width} "
            "bytes per sample."
        )
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples, rate


def load_fsdd(path: PathLike) -> list[FSDDRecording]:
    """Loads the Free Spoken Digit Dataset (Jakobovski et al.) from its WAV files.

    Args:
        path: the folder of `{digit}_{speaker}_{index}.wav` files, or a folder holding it as
            `recordings/`.

    Returns:
        List of `FSDDRecording(waveform, sample_rate, digit, speaker, index)`, sorted by
        speaker, digit and index. Waveforms are float32 in [-1, 1), 8 kHz mono in the
        official release. Use `split_fsdd` for the official train/test split.

    Example:

    ```python
    train, test = split_fsdd(load_fsdd("../shared/data/fsdd"))   # 2700, 300
    ```
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"FSDD folder '{root}' does not exist.")
    folder = root / "recordings" if (root / "recordings").is_dir() else root
    recordings: list[FSDDRecording] = []
    for file in folder.glob("*.wav"):
        parts = file.stem.split("_")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
            continue  # not an FSDD recording name
        waveform, rate = read_wav(file)
        recordings.append(FSDDRecording(waveform, rate, int(parts[0]), parts[1], int(parts[2])))
    if not recordings:
        raise FileNotFoundError(
            f"No FSDD recordings ('{{digit}}_{{speaker}}_{{index}}.wav') found in '{folder}'."
        )
    recordings.sort(key=lambda r: (r.speaker, r.digit, r.index))
    return recordings


def split_fsdd(
    recordings: list[FSDDRecording] | list[Any], test_indices: int = 5
) -> tuple[list[Any], list[Any]]:
    """Official FSDD split: recordings with index 0-4 of every speaker/digit are the test set.

    Args:
        recordings: output of `load_fsdd` (any tuples whose 5th field is the index).
        test_indices: recordings with `index < test_indices` go to the test set.

    Returns:
        Tuple `(train, test)` of lists.
    """
    train = [r for r in recordings if r[4] >= test_indices]
    test = [r for r in recordings if r[4] < test_indices]
    return train, test
