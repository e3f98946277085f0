"""Where `fit` stands, so that an interrupted run can continue exactly where it stopped.

`fit` draws its data order (the shuffling permutation of arrays, the batches of a
DataLoader) from the random generators at the start of each epoch. `FitProgress` records the
state of every generator (torch CPU and CUDA, NumPy's global one, Python's `random`) at that
moment; together with the number of batches done, that is the *position in the data*. A
resumed run sets the generators back to the epoch's start, draws the same order, skips the
batches already trained on, then sets the generators to where the interrupted run was after
its last saved batch (`gated.callbacks.BackupAndRestore` provides that state).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch


def capture_rng() -> dict[str, Any]:
    """The states of torch's (CPU and CUDA), NumPy's global and Python's generators."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Set the generators to a `capture_rng()` state."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class FitProgress:
    """The data position of one `fit` call: the generators' state at the start of the current
    epoch. A pending resume (`model._fit_resume`, set by `BackupAndRestore` in
    `on_train_begin`) moves the start epoch and skips the batches already done.

    Args:
        model: the model being fitted (it holds the pending resume, and this object as
            `model._fit_progress` while `fit` runs).
        initial_epoch: `fit`'s own `initial_epoch`.
    """

    def __init__(self, model: Any, initial_epoch: int) -> None:
        self.resume: dict[str, Any] | None = model.__dict__.pop("_fit_resume", None)
        self.initial_epoch = int(self.resume["epoch"]) if self.resume else initial_epoch
        self.epoch_rng: dict[str, Any] | None = None
        model.__dict__["_fit_progress"] = self

    def epoch_batches(self, epoch: int, make: Callable[[], Iterator]) -> tuple[int, Iterator]:
        """Start epoch `epoch`'s batches: returns `(first_step, batches)`; `first_step > 0`
        when resuming in the middle of this epoch (those batches are drawn and dropped)."""
        resume, self.resume = self.resume, None
        if resume is None or int(resume["epoch"]) != epoch or int(resume["step"]) == 0:
            self.epoch_rng = capture_rng()
            return 0, make()
        self.epoch_rng = resume["epoch_rng"]
        restore_rng(self.epoch_rng)
        batches = make()
        skip = int(resume["step"])
        for _ in range(skip):
            if next(batches, None) is None:
                break
        restore_rng(resume["rng"])
        return skip, batches
