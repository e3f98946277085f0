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

__all__ = ["PyDataset", "Sequence", "pack_x_y_sample_weight", "unpack_x_y_sample_weight"]


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
