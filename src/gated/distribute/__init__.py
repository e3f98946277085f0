"""Training on many processes and machines: Keras 3's `keras.distribution`, on
`torch.distributed`.

Launched by `torchrun`, a script needs nothing extra: `fit`, `evaluate` and `predict` find the
`WORLD_SIZE` / `RANK` environment and run data-parallel (`gloo` on CPU, `nccl` on CUDA). To be
explicit, or to set the backend, use `set_distribution(DataParallel(...))`. See
`docs/distributed.md`.

Example:
>>> import gated
>>> gated.distribute.distribution() is None  # one process: nothing to distribute
True
"""

from __future__ import annotations

import os

import torch.distributed as dist

from gated.distribute.data_parallel import DataParallel

__all__ = ["DataParallel", "distribution", "set_distribution", "active"]

_current: DataParallel | None = None


def set_distribution(value: DataParallel | None) -> None:
    """Make `value` the distribution that `fit`/`evaluate`/`predict` use (None: one process).

    Args:
        value: a `DataParallel`, or None.
    """
    global _current
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError("Argument `value` of set_distribution() must be a DataParallel or "
                        f"None, received {type(value).__name__}.")
    _current = value


def distribution() -> DataParallel | None:
    """The distribution set by `set_distribution`, or None (Keras' `distribution()`)."""
    return _current


def active() -> DataParallel | None:
    """The distribution in effect: the one set, else one created from the `torchrun`
    environment (`WORLD_SIZE` > 1) on first use, else None."""
    global _current
    if _current is None and int(os.environ.get("WORLD_SIZE", "1")) > 1 \
            and dist.is_available():
        _current = DataParallel()
    if _current is not None and _current.world_size == 1:
        return None
    return _current


def is_primary() -> bool:
    """False on every process but process 0 of an initialized process group."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
