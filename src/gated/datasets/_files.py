"""What the Keras data set loaders share: the URLs, safe `.npz`/pickle reading, and the
word-index processing of the IMDB and Reuters sequences.

Object arrays (ragged lists of word ids) are unpickled with an unpickler that admits only
NumPy's array reconstruction, so a crafted file cannot run code.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from typing import Any

import numpy as np

from gated.utils.file_utils import get_file

#: Where Keras downloads its data set files from (named in the "not found" error).
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

_ALLOWED = frozenset({("numpy", "ndarray"), ("numpy", "dtype"),
                      ("numpy.core.multiarray", "_reconstruct"),
                      ("numpy._core.multiarray", "_reconstruct")})


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"Refusing to load `{module}.{name}` from a data set file "
                                     "(only NumPy arrays are allowed): the file is corrupted "
                                     "or not the expected one.")


def fetch(fname: str, origin: str, file_hash: str | None, **kwargs: Any) -> str:
    """`get_file` at Keras' cache path (checks `file_hash`, extracts when asked)."""
    return get_file(fname=fname, origin=origin, file_hash=file_hash, **kwargs)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an `.npz` file; object arrays through the restricted unpickler."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            buffer = io.BytesIO(archive.read(member))
            try:
                value = np.lib.format.read_array(buffer, allow_pickle=False)
            except ValueError:  # an object array: pickled
                buffer.seek(0)
                major, _ = np.lib.format.read_magic(buffer)
                if major == 1:
                    np.lib.format.read_array_header_1_0(buffer)
                else:
                    np.lib.format.read_array_header_2_0(buffer)
                value = _ArrayUnpickler(buffer).load()
            arrays[member[: -len(".npy")]] = value
    return arrays


def load_pickle(path: str | os.PathLike) -> Any:
    """A pickled dictionary of arrays (the CIFAR batches), with bytes keys decoded."""
    with open(path, "rb") as f:
        data = _ArrayUnpickler(f, encoding="bytes").load()
    return {(k.decode("utf8") if isinstance(k, bytes) else k): v for k, v in data.items()}


def shuffled(seed: int, *arrays: np.ndarray) -> list[np.ndarray]:
    """The arrays in one permutation drawn by `np.random.RandomState(seed).shuffle`."""
    indices = np.arange(len(arrays[0]))
    np.random.RandomState(seed).shuffle(indices)
    return [a[indices] for a in arrays]


def check_test_split(test_split: float) -> None:
    if isinstance(test_split, bool) or not isinstance(test_split, (int, float)) \
            or not 0 <= test_split < 1:
        raise ValueError("Argument `test_split` must be a number in [0, 1); received "
                         f"test_split={test_split!r}.")


def split(x: np.ndarray, y: np.ndarray, test_split: float) -> tuple:
    """The first `(1 - test_split)` of the samples for training, the rest for testing."""
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))


def index_words(sequences: Any, start_char: int | None, index_from: int) -> list[list[int]]:
    """Shift every word id by `index_from` and prepend `start_char` (when not None)."""
    head = [] if start_char is None else [start_char]
    return [head + [w + index_from for w in seq] for seq in sequences]


def drop_long(maxlen: int | None, sequences: list, labels: Any) -> tuple[list, list]:
    """Keep only the sequences shorter than `maxlen` (Keras' `remove_long_seq`)."""
    if not maxlen:
        return sequences, list(labels)
    kept = [(s, y) for s, y in zip(sequences, labels, strict=True) if len(s) < maxlen]
    return [s for s, _ in kept], [y for _, y in kept]


def limit_vocabulary(sequences: list, num_words: int | None, skip_top: int,
                     oov_char: int | None) -> list[list[int]]:
    """Ids outside `[skip_top, num_words)` become `oov_char` (dropped when it is None)."""
    if not num_words:
        num_words = max(max(s) for s in sequences)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in s] for s in sequences]
    return [[w for w in s if skip_top <= w < num_words] for s in sequences]


def check_word_args(num_words: Any, skip_top: Any, maxlen: Any) -> None:
    for name, value, allow_none in (("num_words", num_words, True), ("skip_top", skip_top,
                                                                     False),
                                    ("maxlen", maxlen, True)):
        if value is None and allow_none:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"Argument `{name}` must be a non-negative integer"
                             + (" or None" if allow_none else "")
                             + f"; received {name}={value!r}.")


def object_array(sequences: list) -> np.ndarray:
    """`np.array(sequences, dtype=object)`, as Keras returns them: 1-D of lists when the
    lengths differ (the real data), 2-D when they are all equal."""
    return np.array(sequences, dtype="object")
