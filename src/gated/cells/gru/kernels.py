r"""Compiled (Numba) kernels of the GRU: forward and backward, both `reset_after` forms.

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
    _add,
    _blend,
    _copy,
    _dact,
    _emit,
    _gemm,
    _mul,
    _mul_diff,
    _muladd,
    _one_minus,
    _out_grad,
    _row_add,
    _select,
    _zero_masked,
)

G_AFTER, G_SCODE, G_ACODE = range(C_FAMILY, C_FAMILY + 3)
GRU_CFG_SIZE = 10
# ----------------------------------------------------------------------------- GRU
@njit(**_TOP)
def gru_forward(XW, h0, U, brec, rmask, mask, cfg, YS, S, HP, RH, W):
    """Forward of the GRU (both forms; flat arrays). Overwrites XW with the pre-activations,
    fills YS, S, HP, RH; the final h is the first region of the zeroed work array W
    (`rnn_work`, 4 regions).

    S (steps, 4, B, units) slots: 0 z, 1 r, 2 candidate, 3 the recurrent part of the
    candidate block (reset_after) or r * h_in (reset_before, also stored as RH (T, B, u)).
    HP (T, B, u): h before each step."""
    T, B, Un = cfg[C_STEPS], cfg[C_BATCH], cfg[C_UNITS]
    reverse, has_mask, has_rmask, store = cfg[C_REVERSE], cfg[C_MASK], cfg[C_RMASK], cfg[C_STORE]
    after, scode, acode = cfg[G_AFTER], cfg[G_SCODE], cfg[G_ACODE]
    k0 = cfg[C_STEPS] - cfg[C_STEPS]
    k1 = k0 + 1
    n = B * Un
    nz = 3 * Un
    ho, hi, hno, yp = k0, n, 2 * n, 3 * n
    hin = hi if has_rmask else ho
    _copy(k1, n, h0, k0, k0, W, ho, k0)
    for step in range(T):
        t = T - 1 - step if reverse else step
        ts = t if store else 0
        so = ts * 4 * n
        zo = t * B * nz
        if store:
            _copy(k1, n, W, ho, k0, HP, ts * n, k0)
        if has_rmask:
            _mul(k1, n, W, ho, k0, rmask, k0, k0, W, hin, k0)
        _gemm(W, hin, Un, k0, U, k0, nz, k0, XW, zo, nz, B, 2 * Un, Un, 1.0)
        if after:
            _row_add(B, 2 * Un, XW, zo, nz, brec, k0)
            _gemm(W, hin, Un, k0, U, 2 * Un, nz, k0, S, so + 3 * n, Un, B, Un, Un, 0.0)
            _row_add(B, Un, S, so + 3 * n, Un, brec, 2 * Un)
        _act(B, Un, XW, zo, nz, S, so, Un, scode)
        _act(B, Un, XW, zo + Un, nz, S, so + n, Un, scode)
        if after:
            _muladd(B, Un, S, so + n, Un, S, so + 3 * n, Un, XW, zo + 2 * Un, nz,
                    S, so + 2 * n, Un)
            _act(k1, n, S, so + 2 * n, k0, S, so + 2 * n, k0, acode)
        else:
            _mul(k1, n, S, so + n, k0, W, hin, k0, S, so + 3 * n, k0)
            if store:
                _copy(k1, n, S, so + 3 * n, k0, RH, ts * n, k0)
            _gemm(S, so + 3 * n, Un, k0, U, 2 * Un, nz, k0, XW, zo + 2 * Un, nz, B, Un, Un,
                  1.0)
            _act(B, Un, XW, zo + 2 * Un, nz, S, so + 2 * n, Un, acode)
        _blend(n, S, so, W, ho, S, so + 2 * n, W, hno)
        _emit(B, Un, W, hno, Un, W, ho, yp, YS, t, T, mask, has_mask)


@njit(**_TOP)
def gru_backward(dYS, dhT, S, HP, U, rmask, mask, cfg, DX, DHU, W):
    """Backward of `gru_forward`. Fills DX (T, B, 3u) (gradient of xw) and DHU (T, B, 3u)
    (gradient of the recurrent product, reset_after); dh0 is the first region of the zeroed
    work array W (`rnn_work`, 9 regions)."""
    T, B, Un = cfg[C_STEPS], cfg[C_BATCH], cfg[C_UNITS]
    reverse, has_mask, has_rmask = cfg[C_REVERSE], cfg[C_MASK], cfg[C_RMASK]
    after, scode, acode = cfg[G_AFTER], cfg[G_SCODE], cfg[G_ACODE]
    k0 = cfg[C_STEPS] - cfg[C_STEPS]
    k1 = k0 + 1
    n = B * Un
    nz = 3 * Un
    dho, cao, dyo, dn, dhp, hin, dxc, dhin, drh = (k0, n, 2 * n, 3 * n, 4 * n, 5 * n, 6 * n,
                                                   7 * n, 8 * n)
    _copy(k1, n, dhT, k0, k0, W, dho, k0)
    for step in range(T):
        t = step if reverse else T - 1 - step
        so = t * 4 * n
        xo = t * B * nz
        _out_grad(B, Un, dYS, t, T, W, dho, cao, dyo, mask, has_mask)
        _mul_diff(B, Un, W, dyo, Un, HP, t * n, Un, S, so + 2 * n, Un, DX, xo, nz)
        _dact(B, Un, DX, xo, nz, S, so, Un, DX, xo, nz, scode)
        _one_minus(n, S, so, W, dn)
        _mul(k1, n, W, dyo, k0, W, dn, k0, W, dn, k0)
        _dact(k1, n, W, dn, k0, S, so + 2 * n, k0, W, dxc, k0, acode)
        _copy(B, Un, W, dxc, Un, DX, xo + 2 * Un, nz)
        _mul(k1, n, W, dyo, k0, S, so, k0, W, dhp, k0)
        if after:
            _mul(B, Un, W, dxc, Un, S, so + 3 * n, Un, DX, xo + Un, nz)
            _dact(B, Un, DX, xo + Un, nz, S, so + n, Un, DX, xo + Un, nz, scode)
            if has_mask:
                _zero_masked(B, nz, DX, xo, nz, mask, t, T)
            _copy(B, 2 * Un, DX, xo, nz, DHU, xo, nz)
            _mul(B, Un, DX, xo + 2 * Un, nz, S, so + n, Un, DHU, xo + 2 * Un, nz)
            _gemm(DHU, xo, nz, k0, U, k0, nz, k1, W, dhin, Un, B, Un, nz, 0.0)
        else:
            _gemm(W, dxc, Un, k0, U, 2 * Un, nz, k1, W, drh, Un, B, Un, Un, 0.0)
            if has_rmask:
                _mul(k1, n, HP, t * n, k0, rmask, k0, k0, W, hin, k0)
            else:
                _copy(k1, n, HP, t * n, k0, W, hin, k0)
            _mul(B, Un, W, drh, Un, W, hin, Un, DX, xo + Un, nz)
            _dact(B, Un, DX, xo + Un, nz, S, so + n, Un, DX, xo + Un, nz, scode)
            if has_mask:
                _zero_masked(B, nz, DX, xo, nz, mask, t, T)
            _mul(k1, n, W, drh, k0, S, so + n, k0, W, dhin, k0)
            _gemm(DX, xo, nz, k0, U, k0, nz, k1, W, dhin, Un, B, Un, 2 * Un, 1.0)
        if has_rmask:
            _mul(k1, n, W, dhin, k0, rmask, k0, k0, W, dhin, k0)
        _add(k1, n, W, dhp, k0, W, dhin, k0, W, dhp, k0)
        _select(B, Un, W, dhp, Un, W, dho, Un, mask, t, T, has_mask)
