"""Keras' `keras.config`: global settings (float type, epsilon, image layout, logging).

Example:
>>> import gated as keras
>>> keras.config.backend()
'torch'
"""

from __future__ import annotations

from gated.backend import (
    backend,
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)

__all__ = [
    "backend", "disable_interactive_logging", "disable_unsafe_deserialization",
    "enable_interactive_logging", "enable_unsafe_deserialization", "epsilon", "floatx",
    "image_data_format", "is_interactive_logging_enabled", "set_epsilon", "set_floatx",
    "set_image_data_format",
]

_FLAGS = {"interactive_logging": True, "unsafe_deserialization": False}


def enable_interactive_logging() -> None:
    """Turns interactive logging (progress bars) on (the default)."""
    _FLAGS["interactive_logging"] = True


def disable_interactive_logging() -> None:
    """Turns interactive logging off."""
    _FLAGS["interactive_logging"] = False


def is_interactive_logging_enabled() -> bool:
    """Whether interactive logging is on."""
    return _FLAGS["interactive_logging"]


def enable_unsafe_deserialization() -> None:
    """Accepted for Keras compatibility. gated never runs code from a saved file (no pickle,
    no lambdas), so there is nothing unsafe to enable."""
    _FLAGS["unsafe_deserialization"] = True


def disable_unsafe_deserialization() -> None:
    """Accepted for Keras compatibility (see `enable_unsafe_deserialization`)."""
    _FLAGS["unsafe_deserialization"] = False
