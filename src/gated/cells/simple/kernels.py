r"""Compiled (Numba) kernels of the SimpleRNN: forward and backward.

Built from the row passes of `gated.engine.compiled.toolkit`; imported lazily.
"""

from __future__ import annotations

from numba import njit

from gated.engine.compiled.toolkit import (
    _TOP,
    C_BATCH,
    C_FAMILY,
    C_MASK,
    C_REVERSE,
    C_RMASK,
    C_STEPS,
    C_STORE,
    C_UNITS,
    _act,
    _copy,
    _dact,
    _emit,
    _gemm,
    _mul,
    _out_grad,
    _select,
    _zero_masked,
)

R_ACODE = C_FAMILY
RNN_CFG_SIZE = 8
# ----------------------------------------------------------------------------- SimpleRNN
@njit(**_TOP)
def rnn_forward(XW, h0, U, rmask, mask, cfg, YS, S, HP, W):
    """Forward of the SimpleRNN (flat arrays). Overwrites XW with the pre-activations, fills
    YS, S (steps, B, u): the cell's new output, HP (steps, B, u); the final h is the first
    region of the zeroed work array W (`rnn_work`, 3 regions)."""
    T, B, Un = cfg[C_STEPS], cfg[C_BATCH], cfg[C_UNITS]
    reverse, has_mask, has_rmask, store = cfg[C_REVERSE], cfg[C_MASK], cfg[C_RMASK], cfg[C_STORE]
    acode = cfg[R_ACODE]
    k0 = cfg[C_STEPS] - cfg[C_STEPS]
    k1 = k0 + 1
    n = B * Un
    ho, hi, yp = k0, n, 2 * n
    hin = hi if has_rmask else ho
    _copy(k1, n, h0, k0, k0, W, ho, k0)
    for step in range(T):
        t = T - 1 - step if reverse else step
        ts = t if store else 0
        if store:
            _copy(k1, n, W, ho, k0, HP, ts * n, k0)
        if has_rmask:
            _mul(k1, n, W, ho, k0, rmask, k0, k0, W, hin, k0)
        _gemm(W, hin, Un, k0, U, k0, Un, k0, XW, t * n, Un, B, Un, Un, 1.0)
        _act(k1, n, XW, t * n, k0, S, ts * n, k0, acode)
        _emit(B, Un, S, ts * n, Un, W, ho, yp, YS, t, T, mask, has_mask)


@njit(**_TOP)
def rnn_backward(dYS, dhT, S, U, rmask, mask, cfg, DX, W):
    """Backward of `rnn_forward`. Fills DX (T, B, u); dh0 is the first region of the zeroed
    work array W (`rnn_work`, 4 regions)."""
    T, B, Un = cfg[C_STEPS], cfg[C_BATCH], cfg[C_UNITS]
    reverse, has_mask, has_rmask = cfg[C_REVERSE], cfg[C_MASK], cfg[C_RMASK]
    acode = cfg[R_ACODE]
    k0 = cfg[C_STEPS] - cfg[C_STEPS]
    k1 = k0 + 1
    n = B * Un
    dho, cao, dyo, dhin = k0, n, 2 * n, 3 * n
    _copy(k1, n, dhT, k0, k0, W, dho, k0)
    for step in range(T):
        t = step if reverse else T - 1 - step
        _out_grad(B, Un, dYS, t, T, W, dho, cao, dyo, mask, has_mask)
        _dact(k1, n, W, dyo, k0, S, t * n, k0, DX, t * n, k0, acode)
        if has_mask:
            _zero_masked(B, Un, DX, t * n, Un, mask, t, T)
        _gemm(DX, t * n, Un, k0, U, k0, Un, k1, W, dhin, Un, B, Un, Un, 0.0)
        if has_rmask:
            _mul(k1, n, W, dhin, k0, rmask, k0, k0, W, dhin, k0)
        _select(B, Un, W, dhin, Un, W, dho, Un, mask, t, T, has_mask)
