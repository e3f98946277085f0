"""gated: the LSTM family for Python, behind the Keras API, on PyTorch.

    from gated.models import Sequential
    from gated.layers import LSTM, Dense
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = {"activations", "callbacks", "cells", "data", "engine", "initializers", "layers",
               "losses", "metrics", "models", "optimizers", "regularizers", "utils", "viz"}


def __getattr__(name: str) -> Any:
    # Lazy, so `gated --help` and `gated.data` do not pay for importing torch.
    if name in _SUBMODULES:
        return importlib.import_module(f"gated.{name}")
    raise AttributeError(f"module 'gated' has no attribute '{name}'")
