"""Keras' CIFAR-10 (`keras.datasets.cifar10`), read from Keras' cache (the archive
`~/.keras/datasets/cifar-10-batches-py-target_archive`, or the folder Keras extracted it to,
`cifar-10-batches-py-target/`); nothing is downloaded.

Example:
>>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
"""

from __future__ import annotations

import os

import numpy as np

from gated import backend
from gated.datasets import _files

__all__ = ["load_data", "load_batch"]


def load_batch(fpath: str, label_key: str = "labels") -> tuple[np.ndarray, list]:
    """One pickled CIFAR batch: `(images (n, 3, 32, 32), labels)`."""
    d = _files.load_pickle(fpath)
    data = d["data"]
    return data.reshape(data.shape[0], 3, 32, 32), d[label_key]


def images(x: np.ndarray) -> np.ndarray:
    """Channels last, unless `gated.backend.image_data_format()` is `"channels_first"`."""
    return x.transpose(0, 2, 3, 1) if backend.image_data_format() == "channels_last" else x


def load_data() -> tuple:
    """Loads the 50,000 + 10,000 32x32 colour images of 10 classes.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 32, 32, 3)` (channels
        last), uint8 labels `(n, 1)`.
    """
    root = _files.fetch("cifar-10-batches-py-target",
                        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                        extract=True)
    folder = os.path.join(root, "cifar-10-batches-py")
    batches = [load_batch(os.path.join(folder, f"data_batch_{i}")) for i in range(1, 6)]
    x_train = np.concatenate([x for x, _ in batches]).astype("uint8")
    y_train = np.concatenate([np.asarray(y) for _, y in batches]).astype("uint8")
    x_test, y_test = load_batch(os.path.join(folder, "test_batch"))
    y_train = y_train.reshape(len(y_train), 1)
    y_test = np.reshape(y_test, (len(y_test), 1)).astype(y_train.dtype)
    return (images(x_train), y_train), (images(x_test).astype(x_train.dtype), y_test)
