"""Keras' `keras.ops.numpy`: the NumPy-like ops, on torch (see `gated.ops`)."""

from gated.ops.linalg import norm  # noqa: F401
from gated.ops.numpy_arrays import *  # noqa: F403
from gated.ops.numpy_arrays import __all__ as _arrays
from gated.ops.numpy_math import *  # noqa: F403
from gated.ops.numpy_math import __all__ as _math

__all__ = sorted([*_arrays, *_math, "norm"])
