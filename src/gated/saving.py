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

import importlib
import os
import types
from collections.abc import Callable
from typing import Any

from gated.serialization import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register,
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


_PLAIN = (str, int, float, bool, type(None))


def serialize_keras_object(obj: Any) -> Any:
    """A JSON-safe description of `obj` that `deserialize_keras_object` turns back into it.

    Plain values and lists/tuples/dicts of them are returned as they are (tuples as
    `{"class_name": "__tuple__", ...}` like Keras); an object with `get_config` becomes
    `{"module", "class_name", "config", "registered_name"}`; a function its name.

    Args:
        obj: The object.

    Returns:
        The description (dict, list or plain value).
    """
    if isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        items = [serialize_keras_object(v) for v in obj]
        return items if isinstance(obj, list) else {
            "class_name": "__tuple__", "config": {"value": items}}
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, types.FunctionType):
        return {"module": obj.__module__, "class_name": "function",
                "config": obj.__name__, "registered_name": get_registered_name(obj)}
    if hasattr(obj, "get_config"):
        cls = type(obj)
        return {"module": cls.__module__, "class_name": cls.__name__,
                "config": serialize_keras_object(obj.get_config()),
                "registered_name": get_registered_name(cls)}
    raise TypeError(f"Cannot serialize {obj!r}: it has no get_config() method and is not a "
                    "plain value, a list/tuple/dict or a function.")


_NAMESPACES = ("layers", "models", "optimizers", "optimizers.schedules", "losses", "metrics",
               "activations", "initializers", "regularizers", "constraints", "callbacks")


def _from_module(module: str | None, name: str) -> Any:
    """`name` from a gated module, or from the gated namespace matching a Keras module path
    (`"keras.layers"`, `"keras.src.optimizers.schedules.learning_rate_schedule"`, or any
    `keras.src...` path: then every Keras-like gated namespace is searched)."""
    if not module:
        return None
    parts = module.split(".")
    if parts[0] == "keras":
        rest = [p for p in parts[1:] if p != "src"]
        prefixes = [".".join(rest[:k]) for k in range(min(len(rest), 2), 0, -1)]
        candidates = [f"gated.{p}" for p in prefixes if p in _NAMESPACES]
        candidates += [f"gated.{n}" for n in _NAMESPACES if f"gated.{n}" not in candidates]
    elif parts[0] == "gated":
        candidates = [module, ".".join(parts[:2])]
    else:
        return None
    for candidate in candidates:
        try:
            found = getattr(importlib.import_module(candidate), name, None)
        except ImportError:
            continue
        if isinstance(found, type) or callable(found):
            return found
    return None


def deserialize_keras_object(config: Any, custom_objects: dict | None = None,
                             safe_mode: bool = True, **kwargs: Any) -> Any:
    """Rebuilds an object from `serialize_keras_object`'s description.

    A string is looked up as a registered name; a dict with `class_name` is rebuilt with its
    class' `from_config` (classes found in `custom_objects`, the open scopes, the registered
    objects, then the gated module named by `module`).

    Args:
        config: The description.
        custom_objects: `{name: class or function}`.
        safe_mode: Accepted for Keras compatibility (nothing here runs stored code).
        **kwargs: Ignored (Keras' internal arguments).

    Returns:
        The object.

    Raises:
        ValueError: a class or function that cannot be found (named in the message).
    """
    if config is None or isinstance(config, (int, float, bool)):
        return config
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects)
        if found is None:
            raise ValueError(f"Could not find a registered object named {config!r}: register "
                             "it or pass it in `custom_objects`.")
        return found
    if isinstance(config, list):
        return [deserialize_keras_object(v, custom_objects) for v in config]
    if not isinstance(config, dict):
        raise TypeError(f"Cannot deserialize {config!r}: expected a dict, a list or a name.")
    name = config.get("class_name")
    if name is None:
        return {k: deserialize_keras_object(v, custom_objects) if isinstance(v, dict) else v
                for k, v in config.items()}
    if name == "__tuple__":
        return tuple(deserialize_keras_object(v, custom_objects)
                     for v in config["config"]["value"])
    registered = config.get("registered_name")
    if name == "function":
        fn_name = config["config"]
        found = (get_registered_object(registered, custom_objects) if registered else None) \
            or get_registered_object(fn_name, custom_objects) \
            or _from_module(config.get("module"), fn_name)
        if found is None:
            raise ValueError(f"Could not find the function {fn_name!r}: register it or pass "
                             "it in `custom_objects`.")
        return found
    cls = (get_registered_object(registered, custom_objects) if registered else None) \
        or get_registered_object(name, custom_objects) \
        or _from_module(config.get("module"), name)
    if cls is None:
        raise ValueError(f"Could not find the class {name!r}"
                         + (f" (registered as {registered!r})" if registered else "")
                         + ": register it with register_keras_serializable or pass it in "
                           "`custom_objects`.")
    inner = config.get("config", {})
    if not isinstance(inner, dict):
        raise TypeError(f"The config of {name!r} must be a dict, received {inner!r}.")
    return cls.from_config(inner)
