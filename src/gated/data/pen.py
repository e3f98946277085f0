"""Pen-stroke handwriting in the UNIPEN-style text of the UCI pen data sets.

A file is a list of `.SEGMENT <KIND> <strokes> ? "<label>"` headers, each followed by
`.PEN_DOWN` ... `.PEN_UP` blocks of integer `x y` tablet points (other dot-lines such as
`.COMMENT` and `.DT` are skipped). `load_unipen` parses one file into `PenSample`s;
`load_pendigits` (UCI pen-based digits, writer-independent train/test files) and
`load_ujipenchars` (UJI pen characters, one file per writer) name the files; `to_sequence`
turns a sample into the `(points, 3)` sequence a recurrent network reads: pen offsets
`(dx, dy)` in a size-normalised frame and a pen-up flag on the last point of every stroke.

Example:
>>> train, test = load_pendigits("../shared/data/pendigits")   # doctest: +SKIP
>>> to_sequence(train[0]).shape                                 # doctest: +SKIP
(57, 3)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["PenSample", "load_pendigits", "load_ujipenchars", "load_unipen", "to_sequence",
           "resample"]

PathLike = str | os.PathLike
_SEGMENT = re.compile(r'^\.SEGMENT\s+\S+\s+\S+\s+\S+\s+"(.*)"\s*$')


class PenSample(NamedTuple):
    """One handwritten symbol: its label and its strokes, each an `(n, 2)` int array."""

    label: str
    strokes: list[np.ndarray]
    writer: str = ""


def load_unipen(path: PathLike, writer: str = "") -> list[PenSample]:
    """Parses one UNIPEN-style file of segments and pen strokes.

    Args:
        path: the file.
        writer: a writer name stored in every sample (UJI: one file per writer).

    Returns:
        The samples in file order.

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: naming the file and line of a malformed point or a stroke outside a segment.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pen data file not found: '{path}'.")
    samples: list[PenSample] = []
    label, strokes, stroke = None, [], None
    for number, raw in enumerate(path.read_text(encoding="latin-1").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(".SEGMENT"):
            if label is not None:
                samples.append(PenSample(label, strokes, writer))
            match = _SEGMENT.match(line)
            if match is None:
                raise ValueError(f"{path}:{number}: malformed .SEGMENT line {raw!r}.")
            label, strokes, stroke = match.group(1), [], None
        elif line.startswith(".PEN_DOWN"):
            if label is None:
                raise ValueError(f"{path}:{number}: .PEN_DOWN before any .SEGMENT.")
            stroke = []
        elif line.startswith(".PEN_UP"):
            if stroke:
                strokes.append(np.asarray(stroke, dtype=np.int32))
            stroke = None
        elif line.startswith("."):
            continue
        elif stroke is not None:
            parts = line.split()
            if len(parts) != 2:
                raise ValueError(f"{path}:{number}: expected a point 'x y', got {raw!r}.")
            stroke.append((int(parts[0]), int(parts[1])))
    if label is not None:
        samples.append(PenSample(label, strokes, writer))
    return samples


def load_pendigits(path: PathLike) -> tuple[list[PenSample], list[PenSample]]:
    """The UCI pen-based digits with their original trajectories: (train, test).

    Args:
        path: the folder holding `pendigits-orig.tra` and `pendigits-orig.tes` (30 training
            writers, 14 other test writers: the writer-independent split).

    Returns:
        `(train, test)` lists of `PenSample`s, labels `"0"`..`"9"` (7,494 and 3,498 digits).
    """
    folder = Path(path)
    return (load_unipen(folder / "pendigits-orig.tra"),
            load_unipen(folder / "pendigits-orig.tes"))


def load_ujipenchars(path: PathLike) -> list[PenSample]:
    """UJI Pen Characters v1: every writer's file (`UJIpenchars-w01` ... `-w11`).

    Labels are merged into the set's 35 classes: a letter's two cases into the lower case,
    and `0`, `o`, `O` into `o`. The y axis of this set points down.

    Args:
        path: the folder holding the per-writer files.

    Returns:
        The samples of all writers, each with its `writer` (e.g. `"w01"`).
    """
    files = sorted(Path(path).glob("UJIpenchars-w*"))
    if not files:
        raise FileNotFoundError(f"no UJIpenchars-wNN files in '{path}'.")
    out = []
    for file in files:
        writer = file.name.rsplit("-", 1)[-1].split(".")[0]
        for sample in load_unipen(file, writer):
            label = sample.label.lower()
            out.append(sample._replace(label="o" if label == "0" else label))
    return out


def _normalise(strokes: list[np.ndarray]) -> list[np.ndarray]:
    points = np.concatenate(strokes).astype(np.float64)
    low, high = points.min(0), points.max(0)
    scale = max(float((high - low).max()), 1.0)
    centre = (low + high) / 2
    return [(s - centre) / scale for s in strokes]


def to_sequence(sample: PenSample, flip_y: bool = False) -> np.ndarray:
    """The network input of one sample: `(points, 3)` float32 rows `(dx, dy, pen_up)`.

    The symbol is centred and scaled so that its larger side is 1; row 0 holds the first
    point's position (offsets from the centre), every later row the offset from the previous
    point; `pen_up` is 1 on the last point of each stroke.

    Args:
        sample: a `PenSample`.
        flip_y: negate y (for sets whose y axis points down).

    Returns:
        A float32 array of shape `(total points, 3)`.
    """
    if not sample.strokes:
        raise ValueError(f"sample {sample.label!r} has no strokes.")
    strokes = _normalise(sample.strokes)
    points = np.concatenate(strokes)
    if flip_y:
        points[:, 1] = -points[:, 1]
    offsets = np.diff(points, axis=0, prepend=np.zeros((1, 2)))
    up = np.zeros((len(points), 1))
    up[np.cumsum([len(s) for s in strokes]) - 1] = 1.0
    return np.concatenate([offsets, up], axis=1).astype(np.float32)


def resample(sample: PenSample, points: int = 8) -> np.ndarray:
    """`points` positions evenly spaced along the pen path (all strokes joined), flattened.

    The representation of Alimoglu & Alpaydin's k-NN baseline (8 points, 16 features),
    computed on the size-normalised symbol.

    Args:
        sample: a `PenSample`.
        points: how many positions.

    Returns:
        A float64 array of shape `(2 * points,)`.
    """
    path = np.concatenate(_normalise(sample.strokes))
    lengths = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))]
    if lengths[-1] == 0:
        return np.repeat(path[:1], points, axis=0).ravel()
    targets = np.linspace(0.0, lengths[-1], points)
    return np.stack([np.interp(targets, lengths, path[:, k]) for k in range(2)], 1).ravel()
