"""Object (de)serialization: `{"class_name": ..., "config": ...}` dictionaries, JSON-safe.

Classes are found by name in one registry. Every layer and cell defined inside `gated` is
registered when its class is created (`Layer.__init_subclass__`); a user class is registered
with the `register` decorator (Keras' `register_keras_serializable`) or passed to the loader
in `custom_objects`. Nothing here imports a layer module, so there is no import cycle.

Example:
>>> @register(package="my_project")
... class Scale(Layer): ...
>>> deserialize(serialize(Scale())).__class__ is Scale
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["register", "register_builtin", "get_registered_object", "serialize", "deserialize"]

_REGISTRY: dict[str, type] = {}


def register_builtin(cls: type) -> type:
    """Register one of gated's own classes under its class name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def register(cls: type | None = None, *, package: str = "Custom",
             name: str | None = None) -> Any:
    """Register a user class so that saved models can name it (a decorator).

    Usable bare (`@register`) or with Keras' arguments (`@register(package=..., name=...)`);
    the class is found under its name and under Keras' `"package>name"` key.
    """
    def decorate(klass: type) -> type:
        if not isinstance(klass, type):
            raise TypeError(f"register() decorates a class, received {klass!r}.")
        key = name or klass.__name__
        _REGISTRY[key] = klass
        _REGISTRY[f"{package}>{key}"] = klass
        klass._registered_name = f"{package}>{key}"
        return klass

    return decorate(cls) if cls is not None else decorate


def get_registered_object(name: str, custom_objects: dict | None = None) -> Any:
    """The class registered under `name` (or found in `custom_objects`), else None."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return _REGISTRY.get(name)


def serialize(obj: Any) -> dict:
    """`{"class_name": ..., "config": obj.get_config()}`."""
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


def deserialize(config: dict, custom_objects: dict | None = None) -> Any:
    """Rebuild an object from `serialize`'s dictionary through its class' `from_config`."""
    name = config.get("class_name")
    registered = config.get("registered_name")
    klass = get_registered_object(name, custom_objects)
    if klass is None and registered:
        klass = get_registered_object(registered, custom_objects)
    if klass is None:
        raise ValueError(
            f"Unknown layer class '{name}' in the saved config. Pass it in `custom_objects` "
            "or decorate it with `gated.serialization.register` (Keras' "
            "`register_keras_serializable`)."
        )
    build: Callable = klass.from_config
    return build(dict(config["config"]))
