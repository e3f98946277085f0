"""Keras' `keras.saving`: save/load models and name custom objects, on gated's own saving.

Models are written by `gated.models.saving` (`model.save`), classes are found through the
registry of `gated.serialization`; this module gives them Keras 3's names and arguments.

Example:
>>> import gated as keras
>>> @keras.saving.register_keras_serializable(package="MyPkg")
... class ScaledDense(keras.layers.Dense):
...     def __init__(self, units, scale=1.0, **kwargs):
...         super().__init__(units, **kwargs)
...         self.scale = scale
...     def get_config(self):
...         return {**super().get_config(), "scale": self.scale}
>>> keras.saving.get_registered_name(ScaledDense)
'MyPkg>ScaledDense'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from gated.serialization import (
    CustomObjectScope,
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register,
    serialize_keras_object,
)

__all__ = [
    "CustomObjectScope", "custom_object_scope", "deserialize_keras_object",
    "get_custom_objects", "get_registered_name", "get_registered_object", "load_model",
    "load_weights", "register_keras_serializable", "save_model", "save_weights",
    "serialize_keras_object",
]


def register_keras_serializable(package: str = "Custom", name: str | None = None
                                ) -> Callable[[Any], Any]:
    """Registers a class or function under `"package>name"` for saving and loading.

    Args:
        package: The package part of the registered name (default `"Custom"`).
        name: The name part; default the object's `__name__`.

    Returns:
        A decorator returning the object unchanged.

    Example:
    >>> @register_keras_serializable(package="MyPkg")  # doctest: +SKIP
    ... class MyLayer(gated.layers.Dense): ...
    """
    if not isinstance(package, str) or (name is not None and not isinstance(name, str)):
        raise TypeError("Arguments `package` and `name` of register_keras_serializable() are "
                        f"strings (use it with parentheses); received package={package!r}, "
                        f"name={name!r}.")
    return register(package=package, name=name)


def save_model(model: Any, filepath: str | os.PathLike, overwrite: bool = True,
               zipped: bool | None = None, **kwargs: Any) -> None:
    """Saves `model` to `filepath`, as `model.save(filepath, overwrite=overwrite)`.

    Args:
        model: The model.
        filepath: Where to write (`.keras` by convention).
        overwrite: Replace an existing file (default True).
        zipped: Keras' unzipped folder form is not supported; None or True only.
        **kwargs: Nothing else is accepted.
    """
    if zipped is False:
        raise ValueError("Argument `zipped` of save_model(): gated writes one zip file; "
                         "received zipped=False.")
    if kwargs:
        raise TypeError(f"save_model() got unexpected arguments {sorted(kwargs)}.")
    model.save(filepath, overwrite=overwrite)


def load_model(filepath: str | os.PathLike, custom_objects: dict | None = None,
               compile: bool = True, safe_mode: bool = True) -> Any:
    """Loads a model saved by `save_model` / `model.save`.

    Classes are found in `custom_objects`, the open `custom_object_scope`s, the registered
    objects and gated's own classes. gated's files hold no code (no lambdas, no pickle), so
    `safe_mode` has nothing to refuse.

    Args:
        filepath: The saved file.
        custom_objects: `{name: class or function}` for the user's objects.
        compile: Restore the compile settings and the optimizer state (default True).
        safe_mode: Accepted for Keras compatibility.

    Returns:
        The model.
    """
    from gated.models import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile)


def save_weights(model: Any, filepath: str | os.PathLike, overwrite: bool = True,
                 **kwargs: Any) -> None:
    """`model.save_weights(filepath, overwrite=overwrite)`."""
    model.save_weights(filepath, overwrite=overwrite, **kwargs)


def load_weights(model: Any, filepath: str | os.PathLike, skip_mismatch: bool = False,
                 **kwargs: Any) -> None:
    """`model.load_weights(filepath)`; `skip_mismatch=True` is not supported."""
    if skip_mismatch:
        raise ValueError("Argument `skip_mismatch` of load_weights(): gated loads all weights "
                         "or raises; received skip_mismatch=True.")
    model.load_weights(filepath, **kwargs)
