"""Keras' Reuters newswire topics data set (`keras.datasets.reuters`), read from Keras'
cache (`~/.keras/datasets/reuters.npz`, `reuters_word_index.json`); nothing is downloaded.

Example:
>>> (x_train, y_train), (x_test, y_test) = load_data(num_words=10000)  # doctest: +SKIP
"""

from __future__ import annotations

import json

import numpy as np

from gated.datasets import _files

__all__ = ["load_data", "get_word_index", "get_label_names"]

_LABELS = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)


def load_data(path: str = "reuters.npz", num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, test_split: float = 0.2, seed: int = 113,
              start_char: int | None = 1, oov_char: int | None = 2,
              index_from: int = 3) -> tuple:
    """Loads the 11,228 Reuters newswires (46 topics) as word-id sequences, as Keras does.

    The newswires are shuffled with `np.random.RandomState(seed)`, ids shifted by
    `index_from`, `start_char` prepended, sequences of `maxlen` or more dropped, ids outside
    `[skip_top, num_words)` replaced by `oov_char`, then the last `test_split` is the test set.

    Args:
        path: File name in Keras' cache folder (`datasets/`).
        num_words: Keep the `num_words` most frequent ids; None keeps all.
        skip_top: Ids below it become `oov_char`.
        maxlen: Drop sequences of this length or longer; None keeps all.
        test_split: Fraction of the newswires in the test set, in [0, 1).
        seed: Seed of the shuffle.
        start_char: First id of every sequence; None for none.
        oov_char: Id of cut-out words; None drops them.
        index_from: Offset added to every word id.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: object arrays of lists of ints, int labels.
    """
    _files.check_word_args(num_words, skip_top, maxlen)
    _files.check_test_split(test_split)
    fpath = _files.fetch(path, _files.ORIGIN + "reuters.npz",
                         "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916")
    data = _files.load_npz(fpath)
    xs, labels = _files.shuffled(seed, data["x"], data["y"])
    xs = _files.index_words(xs, start_char, index_from)
    xs, labels = _files.drop_long(maxlen, xs, labels)
    xs = _files.limit_vocabulary(xs, num_words, skip_top, oov_char)
    cut = int(len(xs) * (1 - test_split))
    labels = np.array(labels, dtype=data["y"].dtype)
    return ((_files.object_array(xs[:cut]), np.array(labels[:cut])),
            (_files.object_array(xs[cut:]), np.array(labels[cut:])))


def get_word_index(path: str = "reuters_word_index.json") -> dict[str, int]:
    """The word -> id dictionary of `load_data`'s ids (before the `index_from` shift)."""
    fpath = _files.fetch(path, _files.ORIGIN + "reuters_word_index.json",
                         "4d44cc38712099c9e383dc6e5f11a921")
    with open(fpath) as f:
        return json.load(f)


def get_label_names() -> tuple[str, ...]:
    """The 46 topic names, indexed by label."""
    return _LABELS
