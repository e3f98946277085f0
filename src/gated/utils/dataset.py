"""Keras' `PyDataset` (`Sequence`): a batch source indexed by batch number, and the
`(x, y, sample_weight)` packing helpers.

`fit`, `evaluate` and `predict` take a `PyDataset` as `x`: batch `i` is `dataset[i]` for `i`
in `range(len(dataset))` (in shuffled order when `fit(shuffle=True)`, as Keras), and
`on_epoch_begin()` / `on_epoch_end()` are called around each pass.

Example:
>>> class Batches(PyDataset):
...     def __init__(self, x, y, batch_size, **kwargs):
...         super().__init__(**kwargs)
...         self.x, self.y, self.batch_size = x, y, batch_size
...     def __len__(self):
...         return -(-len(self.x) // self.batch_size)
...     def __getitem__(self, i):
...         s = slice(i * self.batch_size, (i + 1) * self.batch_size)
...         return self.x[s], self.y[s]
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

__all__ = ["PyDataset", "Sequence", "pack_x_y_sample_weight", "split_dataset",
           "unpack_x_y_sample_weight"]


class PyDataset:
    """Base class of batch sources indexed by batch number (Keras' `keras.utils.PyDataset`).

    Subclasses implement `__getitem__(index)` (a batch: `x`, `(x,)`, `(x, y)` or
    `(x, y, sample_weight)`) and `__len__()` (or the `num_batches` property), and may
    implement `on_epoch_begin()` / `on_epoch_end()`.

    Args:
        workers: Accepted for Keras compatibility; batches are read in the training process.
        use_multiprocessing: Accepted for Keras compatibility.
        max_queue_size: Accepted for Keras compatibility.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError("Argument `workers` of PyDataset must be a positive integer; "
                             f"received workers={workers!r}.")
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index).")

    @property
    def num_batches(self) -> int | None:
        """The number of batches per epoch: `len(self)` (None: an endless source)."""
        if type(self).__len__ is not PyDataset.__len__:
            return len(self)
        raise NotImplementedError(f"{type(self).__name__} must implement __len__() or the "
                                  "`num_batches` property.")

    def __len__(self) -> int:
        n = self.num_batches
        if n is None:
            raise TypeError(f"{type(self).__name__} is endless (num_batches is None).")
        return n

    def __iter__(self) -> Iterator[Any]:
        count = self.num_batches
        index = 0
        while count is None or index < count:
            yield self[index]
            index += 1

    def on_epoch_begin(self) -> None:
        """Called before each pass over the batches."""

    def on_epoch_end(self) -> None:
        """Called after each pass over the batches (e.g. to reshuffle samples)."""


#: Keras 2's name of `PyDataset`, still exported by Keras 3.
Sequence = PyDataset


def epoch_items(data: Any, shuffle: bool = False) -> Iterator[Any]:
    """One pass over a `PyDataset`'s batches (shuffled batch order when asked), calling
    `on_epoch_begin()` first; the caller calls `on_epoch_end()` when the pass is done."""
    data.on_epoch_begin()
    count = data.num_batches
    if count is None:
        index = 0
        while True:
            yield data[index]
            index += 1
    order = list(range(count))
    if shuffle:
        random.shuffle(order)
    for index in order:
        yield data[index]


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> tuple:
    """`(x,)`, `(x, y)` or `(x, y, sample_weight)` (a list `x` is wrapped so that it is not
    read as `(x, y)`).

    Example:
    >>> pack_x_y_sample_weight(1, 2)
    (1, 2)
    """
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data: Any) -> tuple[Any, Any, Any]:
    """`(x, y, sample_weight)` of a batch, None for the missing parts.

    Example:
    >>> unpack_x_y_sample_weight((1, 2))
    (1, 2, None)
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if len(data) == 1:
        return (data[0], None, None)
    if len(data) == 2:
        return (data[0], data[1], None)
    if len(data) == 3:
        return (data[0], data[1], data[2])
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`; received a tuple of length {len(data)}.")


def _split_size(value: Any, total: int, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"Argument `{name}` of split_dataset() must be an int, a float or None; "
                        f"received {name}={value!r}.")
    if isinstance(value, int) and not 0 < value < total or \
            isinstance(value, float) and not 0 < value < 1:
        raise ValueError(f"Argument `{name}` of split_dataset() must be an integer in (0, "
                         f"{total}) or a float in (0, 1); received {name}={value!r}.")
    return round(value * total) if isinstance(value, float) else value


def split_dataset(dataset: Any, left_size: int | float | None = None,
                  right_size: int | float | None = None, shuffle: bool = False,
                  seed: int | None = None, preferred_backend: str | None = None) -> tuple:
    """Splits a dataset in two, as `keras.utils.split_dataset` on its torch backend.

    Args:
        dataset: A `torch.utils.data.Dataset`, an array, or a tuple/list of arrays of the
            same length (one sample is one row of each).
        left_size: Samples in the left part: an int, or a float fraction (rounded).
        right_size: Samples in the right part, likewise; one of the two may be None (the
            rest).
        shuffle: Draw the samples of each part at random (`torch.utils.data.random_split`,
            seeded by `seed`: the same split as Keras for the same seed); False keeps the
            order (Keras 3.15's torch path shuffles then too).
        seed: The seed of the shuffle.
        preferred_backend: Only None or `"torch"` (no `tf.data`).

    Returns:
        `(left, right)`: two `torch.utils.data.Subset`s; give them to a
        `torch.utils.data.DataLoader` to train on them.

    Example:
    >>> import numpy as np
    >>> left, right = split_dataset(np.arange(10), left_size=0.8)
    >>> len(left), len(right)
    (8, 2)
    """
    import numpy as np
    import torch
    from torch.utils.data import Dataset, Subset, TensorDataset, random_split

    if preferred_backend not in (None, "torch"):
        raise ValueError("Argument `preferred_backend` of split_dataset() must be None or "
                         f"'torch' (gated has no tf.data); received {preferred_backend!r}.")
    if not isinstance(dataset, Dataset):
        if isinstance(dataset, (list, tuple)):
            dataset = TensorDataset(*(torch.as_tensor(np.asarray(a)) for a in dataset))
        elif isinstance(dataset, (np.ndarray, torch.Tensor)):
            dataset = TensorDataset(torch.as_tensor(dataset))
        else:
            raise TypeError("Argument `dataset` of split_dataset() must be a torch Dataset, an "
                            "array or a tuple/list of arrays; received "
                            f"{type(dataset).__name__}.")
    total = len(dataset)
    if left_size is None and right_size is None:
        raise ValueError("split_dataset() needs `left_size` or `right_size`; received both "
                         "None.")
    left = _split_size(left_size, total, "left_size")
    right = _split_size(right_size, total, "right_size")
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total or left == 0 or right == 0:
        raise ValueError(f"split_dataset(): left_size={left_size} and right_size={right_size} "
                         f"give parts of {left} and {right} samples out of {total}; both must "
                         "be non-empty and fit.")
    left, right = int(left), int(right)
    if shuffle:
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        if left + right == total:
            parts = random_split(dataset, [left, right], generator=generator)
            return parts[0], parts[1]
        order = torch.randperm(total, generator=generator).tolist()
    else:
        order = list(range(total))
    return Subset(dataset, order[:left]), Subset(dataset, order[left:left + right])
