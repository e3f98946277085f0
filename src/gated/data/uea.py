"""Multivariate time-series classification sets in the sktime/UEA `.ts` text format.

After `@`-header lines (`@dimensions`, `@classLabel true A B ...`, `@data`), each case is one
line: the channels separated by `:`, each a comma-separated series, the class label last.
`load_uea_ts` reads equal-length sets into an array `(cases, time, channels)` (batch-first,
ready for a recurrent layer); `load_basicmotions` names the UEA BasicMotions files.

Example:
>>> (x, y), (x_test, y_test), classes = load_basicmotions("../shared/data/basicmotions")
... # doctest: +SKIP
>>> x.shape, classes                                                    # doctest: +SKIP
((40, 100, 6), ['Standing', 'Running', 'Walking', 'Badminton'])
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["load_basicmotions", "load_uea_ts"]


def load_uea_ts(path: str | os.PathLike,
                classes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Reads one `.ts` file of equal-length multivariate series with class labels.

    Args:
        path: the file.
        classes: the class names in index order; default: the order of `@classLabel`.

    Returns:
        `(x, y, classes)`: `x` float32 `(cases, time, channels)`, `y` int64 class indices.

    Raises:
        ValueError: naming the file and line for a ragged case, a missing `@data`, or a label
            that is not a declared class.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"'.ts' file not found: '{path}'.")
    declared: list[str] = []
    cases, labels, in_data = [], [], False
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            lower = line.lower()
            if lower.startswith("@classlabel"):
                parts = line.split()
                declared = parts[2:] if len(parts) > 2 and parts[1].lower() == "true" else []
            elif lower.startswith("@data"):
                in_data = True
            continue
        *channels, label = line.split(":")
        try:
            series = [np.array(c.split(","), dtype=np.float32) for c in channels]
        except ValueError as error:
            raise ValueError(f"{path}:{number}: {error}") from None
        if len({len(s) for s in series}) != 1:
            raise ValueError(f"{path}:{number}: channels of different lengths "
                             f"{[len(s) for s in series]}; only equal-length sets are read.")
        cases.append(np.stack(series, axis=1))
        labels.append(label.strip())
    if not in_data:
        raise ValueError(f"{path}: no @data section.")
    if len({c.shape for c in cases}) > 1:
        raise ValueError(f"{path}: cases differ in shape {sorted({c.shape for c in cases})}.")
    names = list(classes or declared or sorted(set(labels)))
    unknown = sorted(set(labels) - set(names))
    if unknown:
        raise ValueError(f"{path}: labels {unknown} are not among the classes {names}.")
    y = np.array([names.index(label) for label in labels], dtype=np.int64)
    return np.stack(cases), y, names


def load_basicmotions(path: str | os.PathLike):
    """UEA BasicMotions (smart-watch accelerometer + gyroscope, 6 channels x 100 steps).

    Args:
        path: the folder holding `BasicMotions_TRAIN.ts` and `BasicMotions_TEST.ts`.

    Returns:
        `((x_train, y_train), (x_test, y_test), classes)`, 40 cases each.
    """
    folder = Path(path)
    x, y, classes = load_uea_ts(folder / "BasicMotions_TRAIN.ts")
    x_test, y_test, _ = load_uea_ts(folder / "BasicMotions_TEST.ts", classes)
    return (x, y), (x_test, y_test), classes
