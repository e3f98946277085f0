"""Object (de)serialization: `{"class_name": ..., "config": ...}` dictionaries, JSON-safe.

Classes are found by name in one registry. Every layer and cell defined inside `gated` is
registered when its class is created (`Layer.__init_subclass__`); a user class is registered
with the `register` decorator (Keras' `register_keras_serializable`) or passed to the loader
in `custom_objects`. Nothing here imports a layer module, so there is no import cycle.

Example:
>>> from gated.layer import Layer
>>> @register(package="my_project")
... class Scale(Layer): ...
>>> deserialize(serialize(Scale())).__class__ is Scale
True
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable
from typing import Any

__all__ = [
    "register", "register_builtin", "get_registered_object", "get_registered_name",
    "get_custom_objects", "CustomObjectScope", "custom_object_scope", "serialize", "deserialize",
]

_REGISTRY: dict[str, type] = {}
#: Keras' global custom objects (`get_custom_objects()`): user objects by registered name.
_CUSTOM: dict[str, Any] = {}
#: The `custom_object_scope`s entered and not yet left, innermost last.
_SCOPES: list[dict[str, Any]] = []


def register_builtin(cls: type) -> type:
    """Register one of gated's own classes under its class name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def register(cls: Any = None, *, package: str = "Custom", name: str | None = None) -> Any:
    """Register a user class (or function) so that saved models can name it (a decorator).

    Usable bare (`@register`) or with Keras' arguments (`@register(package=..., name=...)`):
    the object is found under Keras' `"package>name"` key (`name` defaults to its
    `__name__`) and, for a class whose name is not one of gated's own, under its bare name.
    Registering the same key again replaces the earlier object, as in Keras.
    """
    def decorate(obj: Any) -> Any:
        if not callable(obj):
            raise TypeError(f"register() decorates a class or a function, received {obj!r}.")
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register the class {obj.__name__}: it has no "
                             "get_config() method.")
        key = name or obj.__name__
        registered = f"{package}>{key}"
        builtin = _REGISTRY.get(key)
        if isinstance(obj, type) and (builtin is None
                                      or not builtin.__module__.startswith("gated.")):
            _REGISTRY[key] = obj  # never shadows one of gated's own classes
        _REGISTRY[registered] = obj
        _CUSTOM[registered] = obj
        obj._registered_name = registered
        return obj

    return decorate(cls) if cls is not None else decorate


def get_registered_object(name: str, custom_objects: dict | None = None,
                          module_objects: dict | None = None) -> Any:
    """The object registered under `name`, else None.

    Looked up in `custom_objects`, then the open `custom_object_scope`s (innermost first),
    then Keras' global custom objects (`get_custom_objects()`), then `module_objects`, then
    the classes registered by `register` and gated's own classes.
    """
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    for scope in reversed(_SCOPES):
        if name in scope:
            return scope[name]
    if name in _CUSTOM:
        return _CUSTOM[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return _REGISTRY.get(name)


def get_registered_name(obj: Any) -> str:
    """The name `obj` (a class or function) is registered under: `"package>name"` after
    `register`, else its own `__name__` (Keras' `get_registered_name`)."""
    registered = getattr(obj, "__dict__", {}).get("_registered_name")
    return registered or obj.__name__


def get_custom_objects() -> dict[str, Any]:
    """Keras' global dictionary of custom objects (name -> object); editing it registers.

    Example:
    >>> get_custom_objects()["MyLayer"] = MyLayer  # doctest: +SKIP
    """
    return _CUSTOM


class CustomObjectScope:
    """Within this context, the given names resolve when configs are deserialized.

    Args:
        custom_objects: dictionaries `{name: class or function}` (several are merged).

    Example:
    >>> with CustomObjectScope({"MyLayer": MyLayer}):  # doctest: +SKIP
    ...     model = gated.saving.load_model("model.keras")
    """

    def __init__(self, *custom_objects: dict | None):
        merged: dict[str, Any] = {}
        for objects in custom_objects:
            if objects is None:
                continue
            if not isinstance(objects, dict):
                raise TypeError("Arguments of CustomObjectScope must be dictionaries "
                                f"{{name: object}}; received {objects!r}.")
            merged.update(objects)
        self.custom_objects = merged

    def __enter__(self) -> CustomObjectScope:
        _SCOPES.append(self.custom_objects)
        return self

    def __exit__(self, *exc: Any) -> None:
        _SCOPES.remove(self.custom_objects)


custom_object_scope = CustomObjectScope


def serialize(obj: Any) -> dict:
    """`{"class_name": ..., "config": obj.get_config()}`, with `"registered_name"` for a
    class registered by `register`."""
    out = {"class_name": type(obj).__name__, "config": obj.get_config()}
    registered = type(obj).__dict__.get("_registered_name")
    if registered:
        out["registered_name"] = registered
    return out


def deserialize(config: dict, custom_objects: dict | None = None) -> Any:
    """Rebuild an object from `serialize`'s dictionary through its class' `from_config`."""
    name = config.get("class_name")
    registered = config.get("registered_name")
    klass = get_registered_object(registered, custom_objects) if registered else None
    if klass is None:
        klass = get_registered_object(name, custom_objects)
    if klass is None:
        raise ValueError(
            f"Unknown layer class '{name}' in the saved config. Pass it in `custom_objects` "
            "or decorate it with `gated.serialization.register` (Keras' "
            "`register_keras_serializable`)."
        )
    build: Callable = klass.from_config
    return build(dict(config["config"]))


# ------------------------------------------------- Keras' (de)serialize_keras_object
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
