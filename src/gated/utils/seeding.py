"""Keras' `set_random_seed`: one seed for Python, NumPy and torch.

Example:
>>> set_random_seed(42)
"""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["set_random_seed"]


def set_random_seed(seed: int) -> None:
    """Seeds Python's `random`, NumPy's global generator and torch (all devices).

    After it, weight initialization, dropout, `fit(shuffle=True)` and `gated.random` draws
    without a seed repeat from run to run.

    Args:
        seed: A non-negative integer.

    Example:
    >>> set_random_seed(0); a = torch.rand(2)
    >>> set_random_seed(0); bool((a == torch.rand(2)).all())
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError("Argument `seed` of set_random_seed() must be an integer; received "
                         f"seed={seed!r} (of type {type(seed).__name__}).")
    if seed < 0:
        raise ValueError("Argument `seed` of set_random_seed() must be non-negative; "
                         f"received seed={seed}.")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
