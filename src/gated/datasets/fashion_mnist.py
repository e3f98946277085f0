"""Keras' Fashion-MNIST (`keras.datasets.fashion_mnist`), read from Keras' cache
(`~/.keras/datasets/fashion-mnist/*-ubyte.gz`); nothing is downloaded.

Example:
>>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from gated.datasets import _files

__all__ = ["load_data"]

_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
          "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")


def _read(path: str, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load_data() -> tuple:
    """Loads the 60,000 + 10,000 28x28 grey images of 10 clothing classes (IDX files).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 28, 28)`, uint8 labels.
    """
    subdir = os.path.join("datasets", "fashion-mnist")
    paths = [_files.fetch(name, _files.ORIGIN + name, None, cache_subdir=subdir)
             for name in _FILES]
    y_train = _read(paths[0], 8)
    x_train = _read(paths[1], 16).reshape(len(y_train), 28, 28)
    y_test = _read(paths[2], 8)
    x_test = _read(paths[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
