"""Keras' `keras.datasets`, read from the files Keras keeps in its cache folder.

Each module's `load_data` has Keras 3's arguments and returns the same arrays; the files are
looked up where Keras downloads them (`$KERAS_HOME` or `~/.keras`, then `datasets/`). There
is no download: a missing file raises `FileNotFoundError` giving the path to put it at and
the URL to get it from.

Example:
>>> import gated as keras
>>> (x_train, y_train), _ = keras.datasets.imdb.load_data(num_words=10000)  # doctest: +SKIP
"""

from gated.datasets import (
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)

__all__ = ["boston_housing", "california_housing", "cifar10", "cifar100", "fashion_mnist",
           "imdb", "mnist", "reuters"]
