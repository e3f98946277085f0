"""gated: the LSTM family for Python, behind the Keras API, on PyTorch.

A Keras 3 program runs with only its import line changed::

    import gated as keras

    model = keras.Sequential([keras.Input((10, 3)), keras.layers.LSTM(50),
                              keras.layers.Dense(1)])

or, name by name::

    from gated.models import Sequential
    from gated.layers import LSTM, Dense

Everything is imported on first use (module `__getattr__`), so `import gated` and the
`gated` command do not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = frozenset({
    "activations", "backend", "callbacks", "cells", "config", "constraints", "data",
    "datasets", "engine", "initializers", "layers", "losses", "metrics", "models", "ops",
    "optimizers", "preprocessing", "random", "regularizers", "saving", "tree", "utils", "viz",
    "runtime", "export",
    "distribute",
})

# Keras 3's top-level names -> the gated module that defines them.
_TOP_LEVEL = {
    "Sequential": "gated.models",
    "Model": "gated.models",
    "Input": "gated.layers",
    "InputLayer": "gated.layers",
    "Layer": "gated.layer",
    "KerasTensor": "gated.layer",
    "Loss": "gated.losses",
    "Metric": "gated.metrics",
    "Optimizer": "gated.optimizers",
    "Initializer": "gated.initializers",
    "Regularizer": "gated.regularizers",
    "Constraint": "gated.constraints",
    "Variable": "gated.variable",
}

__all__ = sorted(_SUBMODULES | set(_TOP_LEVEL) | {"__version__", "version"})


def version() -> str:
    """The version of gated (Keras' `keras.version()`).

    Returns:
        The version string, e.g. `"0.1.0"`.
    """
    return __version__


def __getattr__(name: str) -> Any:
    # Lazy, so `gated --help` and `gated.data` do not pay for importing torch.
    if name in _SUBMODULES:
        return importlib.import_module(f"gated.{name}")
    if name in _TOP_LEVEL:
        value = getattr(importlib.import_module(_TOP_LEVEL[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gated' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
