"""Keras' IMDB movie-review sentiment data set (`keras.datasets.imdb`), read from Keras'
cache (`~/.keras/datasets/imdb.npz`, `imdb_word_index.json`); nothing is downloaded.

Example:
>>> (x_train, y_train), (x_test, y_test) = load_data(num_words=10000)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from gated.datasets import _files

__all__ = ["load_data", "get_word_index"]


def load_data(path: str = "imdb.npz", num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, seed: int = 113, start_char: int | None = 1,
              oov_char: int | None = 2, index_from: int = 3, **kwargs: Any) -> tuple:
    """Loads the 25,000 + 25,000 IMDB reviews as word-id sequences, as Keras does.

    Word ids rank words by frequency (1 = the most frequent). Each split is shuffled with
    `np.random.RandomState(seed)`, ids are shifted by `index_from`, `start_char` starts each
    review, reviews of `maxlen` words or more are dropped, and ids outside
    `[skip_top, num_words)` become `oov_char` (or are removed when it is None).

    Args:
        path: File name in Keras' cache folder (`datasets/`).
        num_words: Keep the `num_words` most frequent ids (after the shift); None keeps all.
        skip_top: Ids below it become `oov_char`.
        maxlen: Drop sequences of this length or longer; None keeps all.
        seed: Seed of the shuffle.
        start_char: First id of every sequence; None for none.
        oov_char: Id of cut-out words; None drops them.
        index_from: Offset added to every word id.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: object arrays of lists of ints, int labels.

    Raises:
        FileNotFoundError: `imdb.npz` is not in the cache (the message says where to put it).
    """
    if kwargs:
        raise TypeError(f"load_data() got unexpected arguments {sorted(kwargs)}.")
    _files.check_word_args(num_words, skip_top, maxlen)
    fpath = _files.fetch(path, _files.ORIGIN + "imdb.npz",
                         "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f")
    data = _files.load_npz(fpath)
    rng = np.random.RandomState(seed)
    parts = []
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        x, y = data[x_key], data[y_key]
        order = np.arange(len(x))
        rng.shuffle(order)  # one generator for both splits, as Keras
        xs = _files.index_words(x[order], start_char, index_from)
        parts.append(_files.drop_long(maxlen, xs, y[order]))
    (x_train, y_train), (x_test, y_test) = parts
    if maxlen and (not x_train or not x_test):
        raise ValueError(f"After dropping the sequences of maxlen={maxlen} words or more, no "
                         "sequence is left; increase `maxlen`.")
    xs = _files.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([np.asarray(y_train, dtype=data["y_train"].dtype),
                             np.asarray(y_test, dtype=data["y_test"].dtype)])
    cut = len(x_train)
    return ((_files.object_array(xs[:cut]), labels[:cut]),
            (_files.object_array(xs[cut:]), labels[cut:]))


def get_word_index(path: str = "imdb_word_index.json") -> dict[str, int]:
    """The word -> id dictionary of `load_data`'s ids (before the `index_from` shift).

    Args:
        path: File name in Keras' cache folder (`datasets/`).

    Returns:
        The dictionary.
    """
    fpath = _files.fetch(path, _files.ORIGIN + "imdb_word_index.json",
                         "bfafd718b763782e994055a2d397834f")
    with open(fpath) as f:
        return json.load(f)
