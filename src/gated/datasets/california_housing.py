"""Keras' California housing prices (`keras.datasets.california_housing`), read from Keras'
cache (`~/.keras/datasets/california_housing.npz`); nothing is downloaded.

Example:
>>> (x_train, y_train), (x_test, y_test) = load_data(version="small")  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from gated.datasets import _files

__all__ = ["load_data"]


def load_data(version: str = "large", path: str = "california_housing.npz",
              test_split: float = 0.2, seed: int = 113) -> tuple:
    """Loads the 20,640 districts (8 features, median house value), shuffled and split.

    Args:
        version: `"large"` (all samples) or `"small"` (the first 600).
        path: File name in Keras' cache folder (`datasets/`).
        test_split: Fraction of the samples in the test set, in [0, 1).
        seed: Seed of the shuffle (`np.random.RandomState`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`.
    """
    _files.check_test_split(test_split)
    if version not in ("small", "large"):
        raise ValueError("Argument `version` must be 'small' or 'large'; received "
                         f"version={version!r}.")
    fpath = _files.fetch(path, _files.ORIGIN + "california_housing.npz",
                         "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f")
    with np.load(fpath, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    return _files.split(*_files.shuffled(seed, x, y), test_split)
