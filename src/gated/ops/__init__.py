"""Keras 3's `keras.ops` on torch: the functions custom layers and cells are written with.

NumPy names and arguments (`axis=`, `keepdims=`, dtype names such as `"float32"`); inputs may
be NumPy arrays, Python numbers or lists and torch tensors; results are torch tensors, so
gradients flow through them. `ops.shape` returns a tuple. The `nn` functions are also here at
the top (`ops.softmax`), as in Keras; `ops.numpy`, `ops.nn`, `ops.linalg`, `ops.math` and
`ops.core` are the submodules.

Example:
>>> from gated import ops
>>> ops.sum(ops.ones((2, 3)), axis=1)
tensor([3., 3.])
"""

from gated.ops import core, linalg, math, nn, numpy  # noqa: F401
from gated.ops.core import *  # noqa: F403
from gated.ops.linalg import cholesky, det, eigh, inv, qr, solve, svd  # noqa: F401
from gated.ops.math import *  # noqa: F403
from gated.ops.nn import *  # noqa: F403
from gated.ops.numpy import *  # noqa: F403

__all__ = sorted({*core.__all__, *math.__all__, *nn.__all__, *numpy.__all__,
                  "core", "linalg", "math", "nn", "numpy"})
