"""Layer (de)serialization: `{"class_name": ..., "config": ...}` dictionaries, JSON-safe."""

from __future__ import annotations

from typing import Any

_CUSTOM: dict[str, type] = {}


def register(cls: type) -> type:
    """Register a user layer or cell class so saved models can name it (decorator)."""
    _CUSTOM[cls.__name__] = cls
    return cls


def _registry() -> dict[str, type]:
    import gated.cells as cells
    import gated.layers as layers

    found: dict[str, type] = {}
    for module in (layers, cells):
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if isinstance(obj, type):
                found[name] = obj
    found.update(_CUSTOM)
    return found


def serialize(layer: Any) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config: dict, custom_objects: dict | None = None) -> Any:
    registry = _registry()
    if custom_objects:
        registry.update(custom_objects)
    name = config.get("class_name")
    if name not in registry:
        raise ValueError(
            f"Unknown layer class '{name}' in the saved config. Pass it in `custom_objects` "
            "or decorate it with `gated.layers.serialization.register`."
        )
    return registry[name].from_config(dict(config["config"]))
