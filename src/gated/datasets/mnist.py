"""Keras' MNIST digits (`keras.datasets.mnist`), read from Keras' cache
(`~/.keras/datasets/mnist.npz`); nothing is downloaded.

Example:
>>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from gated.datasets import _files

__all__ = ["load_data"]


def load_data(path: str = "mnist.npz") -> tuple:
    """Loads the 60,000 + 10,000 28x28 grey digits.

    Args:
        path: File name in Keras' cache folder (`datasets/`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 28, 28)`, uint8 labels.
    """
    fpath = _files.fetch(path, _files.ORIGIN + "mnist.npz",
                         "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")
    with np.load(fpath, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
