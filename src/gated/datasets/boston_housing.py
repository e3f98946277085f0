"""Keras' Boston housing prices (`keras.datasets.boston_housing`), read from Keras' cache
(`~/.keras/datasets/boston_housing.npz`); nothing is downloaded.

Example:
>>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from gated.datasets import _files

__all__ = ["load_data"]


def load_data(path: str = "boston_housing.npz", test_split: float = 0.2,
              seed: int = 113) -> tuple:
    """Loads the 506 houses (13 features, median value in k$), shuffled and split as Keras.

    Args:
        path: File name in Keras' cache folder (`datasets/`).
        test_split: Fraction of the samples in the test set, in [0, 1).
        seed: Seed of the shuffle (`np.random.RandomState`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`.
    """
    _files.check_test_split(test_split)
    fpath = _files.fetch(path, _files.ORIGIN + "boston_housing.npz",
                         "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5")
    with np.load(fpath, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    return _files.split(*_files.shuffled(seed, x, y), test_split)
