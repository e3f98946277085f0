"""Exact gradients of NumPy code by the complex-step method (test_lstm_variants, test_gru_simple).

df/dx = Im f(x + i*eps) / eps with eps = 1e-30: no subtractive cancellation, so the derivative
is exact to rounding and can be compared with torch autograd at 1e-10. A plain module, not a
test module: pytest's default (`prepend`) import mode puts tests/ on `sys.path`.
"""

from __future__ import annotations

import numpy as np


def complex_step_grad(fn, arrays, eps=1e-30):
    """Gradient of the real scalar `fn(*arrays)` w.r.t. every entry of every array.

    All perturbations run in one call: entry j is perturbed by `i*eps` in row j of a new
    leading axis, so `fn` must broadcast over a leading axis and return one value per row.
    """
    sizes = [a.size for a in arrays]
    cuts = np.cumsum(sizes)[:-1]
    m = sum(sizes)
    flat = np.concatenate([a.ravel() for a in arrays]).astype(np.complex128)
    rows = flat[None, :] + 1j * eps * np.eye(m)
    perturbed = [p.reshape(m, *a.shape) for p, a in zip(np.split(rows, cuts, axis=1), arrays,
                                                         strict=True)]
    grad = np.asarray(fn(*perturbed)).imag / eps
    return [g.reshape(a.shape) for g, a in zip(np.split(grad, cuts), arrays, strict=True)]
