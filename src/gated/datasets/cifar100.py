"""Keras' CIFAR-100 (`keras.datasets.cifar100`), read from Keras' cache (the archive
`~/.keras/datasets/cifar-100-python-target_archive`, or the folder Keras extracted it to,
`cifar-100-python-target/`); nothing is downloaded.

Example:
>>> (x_train, y_train), (x_test, y_test) = load_data(label_mode="coarse")  # doctest: +SKIP
"""

from __future__ import annotations

import os

import numpy as np

from gated.datasets import _files
from gated.datasets.cifar10 import images, load_batch

__all__ = ["load_data"]


def load_data(label_mode: str = "fine") -> tuple:
    """Loads the 50,000 + 10,000 32x32 colour images of 100 classes (20 superclasses).

    Args:
        label_mode: `"fine"` (100 classes) or `"coarse"` (20 superclasses).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 32, 32, 3)`, labels
        `(n, 1)`.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError("Argument `label_mode` must be 'fine' or 'coarse'; received "
                         f"label_mode={label_mode!r}.")
    root = _files.fetch("cifar-100-python-target",
                        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                        "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
                        extract=True)
    folder = os.path.join(root, "cifar-100-python")
    out = []
    for part in ("train", "test"):
        x, y = load_batch(os.path.join(folder, part), label_key=f"{label_mode}_labels")
        out.append((images(x), np.reshape(y, (len(y), 1))))
    return tuple(out)
