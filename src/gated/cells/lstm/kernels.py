r"""Compiled (Numba) kernels of the LSTM family: forward, backward and one streaming step.

Every `LSTMCell` option the compiled formulas list (`cells/lstm/compiled.py`) is an entry of
the integer `cfg` array (slots below, after the shared ones of the toolkit), read at run time:
one compiled kernel per dtype serves every variant. Built from the row passes of
`gated.engine.compiled.toolkit`; imported lazily, only when a compiled LSTM runs.
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
    _col_dot_acc,
    _copy,
    _dact,
    _dot2,
    _emit,
    _gemm,
    _gemv,
    _mul,
    _mulsub,
    _one_minus,
    _ones,
    _out_grad,
    _row_add,
    _row_scale_add,
    _select,
    _zero_masked,
)

(L_H, L_PROJ, L_OI, L_OF, L_OC, L_OO, L_FMODE, L_PI, L_PF, L_PO, L_FGR, L_AI, L_AF, L_AO,
 L_GCODE, L_HCODE, L_SCODE, L_K) = range(C_FAMILY, C_FAMILY + 18)
LSTM_CFG_SIZE = 25
F_NONE, F_OWN, F_COUPLED = 0, 1, 2  # forget-gate modes
# ----------------------------------------------------------------------------- work arrays
# Each kernel works in one zeroed work array W that the caller allocates (and reuses): the
# regions below, in order. Plain functions, used by the Python side and (inlined) the kernels.
def lstm_forward_work(B, U, H, K, out):
    """Regions h, c, a, h_in, a @ R, c_new, y_pre, y (projected), y_prev; total size."""
    h = 0 * B
    c = h + B * H
    a = c + B * U
    hin = a + B * K
    fg = hin + B * H
    cn = fg + B * K
    ypre = cn + B * U
    y = ypre + B * U
    prev = y + B * out
    return (h, c, a, hin, fg, cn, ypre, y, prev), prev + B * out


def lstm_backward_work(B, U, H, K, out, nP):
    """Regions dh, dc, da, dP, carry, dy, dy_pre, dcc, dc_prev, c_t, dh_in, dz of the gates,
    da_prev; total size."""
    n = B * U
    dh = 0 * B
    dc = dh + B * H
    da = dc + n
    dP = da + B * K
    carry = dP + nP
    dy = carry + B * out
    dyp = dy + B * out
    dcc = dyp + n
    dcp = dcc + n
    ct = dcp + n
    dhin = ct + n
    dzg = dhin + B * H
    dap = dzg + B * K
    return (dh, dc, da, dP, carry, dy, dyp, dcc, dcp, ct, dhin, dzg, dap), dap + B * K


def lstm_stream_work(B, U, F, H, K, nz, p):
    """Regions [x, h], z, a @ R, gates (i, f, g, o), c_new, y_pre, a_new, y (projected);
    total size."""
    n = B * U
    xh = 0 * B
    z = xh + B * (F + H)
    fg = z + B * nz
    g = fg + B * K
    cn = g + 4 * n
    ypre = cn + n
    an = ypre + n
    y = an + B * K
    return (xh, z, fg, g, cn, ypre, an, y), y + B * max(p, 1)


_lstm_forward_work = njit(inline="always")(lstm_forward_work)
_lstm_backward_work = njit(inline="always")(lstm_backward_work)
_lstm_stream_work = njit(inline="always")(lstm_stream_work)


# ----------------------------------------------------------------------------- LSTM
@njit(**_TOP)
def lstm_forward(XW, h0, c0, a0, U, R, P, Pj, rmask, mask, cfg, YS, S, HP, AP, W):
    """Forward of the LSTM family (flat arrays). Overwrites XW with the pre-activations,
    fills YS, S, HP, AP; the final h, c, a are the first three regions of the zeroed work
    array W (`lstm_work`).

    S (steps, 6, B, units) slots: 0 c_{t-1}, 1 i, 2 f, 3 g(z_c), 4 o, 5 h(c_t); absent gates
    hold ones. HP (steps, B, h): h before each step; AP (steps, B, k): the gate state (FGR).
    """
    T, B, Un = cfg[C_STEPS], cfg[C_BATCH], cfg[C_UNITS]
    reverse, has_mask, has_rmask, store = cfg[C_REVERSE], cfg[C_MASK], cfg[C_RMASK], cfg[C_STORE]
    H, p, K = cfg[L_H], cfg[L_PROJ], cfg[L_K]
    oi, of, oc, oo = cfg[L_OI], cfg[L_OF], cfg[L_OC], cfg[L_OO]
    fmode, pi, pf, po = cfg[L_FMODE], cfg[L_PI], cfg[L_PF], cfg[L_PO]
    fgr, ai, af, ao = cfg[L_FGR], cfg[L_AI], cfg[L_AF], cfg[L_AO]
    gcode, hcode, scode = cfg[L_GCODE], cfg[L_HCODE], cfg[L_SCODE]
    k0 = cfg[C_STEPS] - cfg[C_STEPS]  # 0 and 1 that are not literals (one compile per helper)
    k1 = k0 + 1
    out = p if p > 0 else Un
    n = B * Un
    nz = U.size // H
    (ho, co, ao_, hi, fo, cno, yo, yb, yp), _ = _lstm_forward_work(B, Un, H, K, out)
    hin = hi if has_rmask else ho
    y = yb if p > 0 else yo
    _copy(k1, B * H, h0, k0, k0, W, ho, k0)
    _copy(k1, n, c0, k0, k0, W, co, k0)
    _copy(k1, B * K, a0, k0, k0, W, ao_, k0)
    for step in range(T):
        t = T - 1 - step if reverse else step
        ts = t if store else 0
        so = ts * 6 * n
        si, sf, sg, sO, sh = so + n, so + 2 * n, so + 3 * n, so + 4 * n, so + 5 * n
        zo = t * B * nz
        _copy(k1, n, W, co, k0, S, so, k0)
        if store:
            _copy(k1, B * H, W, ho, k0, HP, ts * B * H, k0)
            if fgr:
                _copy(k1, B * K, W, ao_, k0, AP, ts * B * K, k0)
        if has_rmask:
            _mul(k1, B * H, W, ho, k0, rmask, k0, k0, W, hin, k0)
        _gemm(W, hin, H, k0, U, k0, nz, k0, XW, zo, nz, B, nz, H, 1.0)
        if fgr:  # one GEMM for all gates, then into each gate's block
            _gemm(W, ao_, K, k0, R, k0, K, k0, W, fo, K, B, K, K, 0.0)
            for q, off in ((ai, oi), (af, of), (ao, oo)):
                if q >= 0:
                    _add(B, Un, XW, zo + off, nz, W, fo + q * Un, K, XW, zo + off, nz)
        if pi >= 0:
            _row_scale_add(B, Un, XW, zo + oi, nz, P, pi * Un, S, so, Un)
        if pf >= 0:
            _row_scale_add(B, Un, XW, zo + of, nz, P, pf * Un, S, so, Un)
        if oi >= 0:
            _act(B, Un, XW, zo + oi, nz, S, si, Un, scode)
        else:
            _ones(k1, n, S, si, k0)
        if fmode == F_OWN:
            _act(B, Un, XW, zo + of, nz, S, sf, Un, scode)
        elif fmode == F_COUPLED:
            _one_minus(n, S, si, S, sf)
        else:
            _ones(k1, n, S, sf, k0)
        _act(B, Un, XW, zo + oc, nz, S, sg, Un, gcode)
        _dot2(n, S, sf, S, so, S, si, S, sg, W, cno)
        if oo >= 0:
            if po >= 0:
                _row_scale_add(B, Un, XW, zo + oo, nz, P, po * Un, W, cno, Un)
            _act(B, Un, XW, zo + oo, nz, S, sO, Un, scode)
        else:
            _ones(k1, n, S, sO, k0)
        _act(k1, n, W, cno, k0, S, sh, k0, hcode)
        _mul(k1, n, S, sO, k0, S, sh, k0, W, yo, k0)
        if p > 0:
            _gemm(W, yo, Un, k0, Pj, k0, p, k0, W, yb, p, B, p, Un, 0.0)
        _emit(B, out, W, y, out, W, ho, yp, YS, t, T, mask, has_mask)
        _select(B, Un, W, cno, Un, W, co, Un, mask, t, T, has_mask)
        if fgr:
            for q, slot in ((ai, si), (af, sf), (ao, sO)):
                if q >= 0:
                    _select(B, Un, S, slot, Un, W, ao_ + q * Un, K, mask, t, T, has_mask)


@njit(**_TOP)
def lstm_backward(dYS, dhT, dcT, daT, S, U, R, P, Pj, rmask, mask, cfg, DZ, DY, YP, W):
    """Backward of `lstm_forward`. Fills DZ (T, B, n) (the gradient of xw), DY (T, B, p) and
    YP (T, B, units) (for the projection gradient); dh0, dc0, da0, dP are the first four
    regions of the zeroed work array W (`lstm_backward_work`)."""
    T, B, Un = cfg[C_STEPS], cfg[C_BATCH], cfg[C_UNITS]
    reverse, has_mask, has_rmask = cfg[C_REVERSE], cfg[C_MASK], cfg[C_RMASK]
    H, p, K = cfg[L_H], cfg[L_PROJ], cfg[L_K]
    oi, of, oc, oo = cfg[L_OI], cfg[L_OF], cfg[L_OC], cfg[L_OO]
    fmode, pi, pf, po = cfg[L_FMODE], cfg[L_PI], cfg[L_PF], cfg[L_PO]
    fgr, ai, af, ao = cfg[L_FGR], cfg[L_AI], cfg[L_AF], cfg[L_AO]
    gcode, hcode, scode = cfg[L_GCODE], cfg[L_HCODE], cfg[L_SCODE]
    k0 = cfg[C_STEPS] - cfg[C_STEPS]
    k1 = k0 + 1
    out = p if p > 0 else Un
    n = B * Un
    nz = U.size // H
    regions, _ = _lstm_backward_work(B, Un, H, K, out, P.size)
    dho, dco, dao, dPo, cao, dyo, dypo, dcc, dcp, cto, dhin, dzg, dap = regions
    dyp = dypo if p > 0 else dyo
    _copy(k1, B * H, dhT, k0, k0, W, dho, k0)
    _copy(k1, n, dcT, k0, k0, W, dco, k0)
    _copy(k1, B * K, daT, k0, k0, W, dao, k0)
    for step in range(T):
        t = step if reverse else T - 1 - step
        so = t * 6 * n
        si, sf, sg, sO, sh = so + n, so + 2 * n, so + 3 * n, so + 4 * n, so + 5 * n
        zo = t * B * nz
        _out_grad(B, out, dYS, t, T, W, dho, cao, dyo, mask, has_mask)
        if p > 0:
            _copy(k1, B * out, W, dyo, k0, DY, t * B * out, k0)
            _mul(k1, n, S, sO, k0, S, sh, k0, YP, t * n, k0)
            _gemm(W, dyo, p, k0, Pj, k0, p, k1, W, dypo, Un, B, Un, p, 0.0)
        # output gate, then the total gradient of c_t (dcc)
        if oo >= 0:
            _mul(B, Un, W, dyp, Un, S, sh, Un, DZ, zo + oo, nz)
            if ao >= 0:
                _add(B, Un, DZ, zo + oo, nz, W, dao + ao * Un, K, DZ, zo + oo, nz)
            _dact(B, Un, DZ, zo + oo, nz, S, sO, Un, DZ, zo + oo, nz, scode)
            _mul(k1, n, W, dyp, k0, S, sO, k0, W, dcp, k0)
            _dact(k1, n, W, dcp, k0, S, sh, k0, W, dcc, k0, hcode)
        else:
            _dact(k1, n, W, dyp, k0, S, sh, k0, W, dcc, k0, hcode)
        _add(k1, n, W, dcc, k0, W, dco, k0, W, dcc, k0)
        if po >= 0:
            _row_scale_add(B, Un, W, dcc, Un, P, po * Un, DZ, zo + oo, nz)
        # input gate (coupled: f = 1 - i routes the forget gradient into i, negated)
        if oi >= 0:
            _mul(B, Un, W, dcc, Un, S, sg, Un, DZ, zo + oi, nz)
            if fmode == F_COUPLED:
                _mulsub(B, Un, W, dcc, Un, S, so, Un, DZ, zo + oi, nz, DZ, zo + oi, nz)
            if ai >= 0:
                _add(B, Un, DZ, zo + oi, nz, W, dao + ai * Un, K, DZ, zo + oi, nz)
            _dact(B, Un, DZ, zo + oi, nz, S, si, Un, DZ, zo + oi, nz, scode)
        if fmode == F_OWN:
            _mul(B, Un, W, dcc, Un, S, so, Un, DZ, zo + of, nz)
            if af >= 0:
                _add(B, Un, DZ, zo + of, nz, W, dao + af * Un, K, DZ, zo + of, nz)
            _dact(B, Un, DZ, zo + of, nz, S, sf, Un, DZ, zo + of, nz, scode)
        _mul(B, Un, W, dcc, Un, S, si, Un, DZ, zo + oc, nz)
        _dact(B, Un, DZ, zo + oc, nz, S, sg, Un, DZ, zo + oc, nz, gcode)
        if has_mask:
            _zero_masked(B, nz, DZ, zo, nz, mask, t, T)
        # gradient of c_{t-1}, peephole gradients
        _mul(k1, n, W, dcc, k0, S, sf, k0, W, dcp, k0)
        if pi >= 0:
            _row_scale_add(B, Un, W, dcp, Un, P, pi * Un, DZ, zo + oi, nz)
            _col_dot_acc(B, Un, W, dPo + pi * Un, DZ, zo + oi, nz, S, so, Un)
        if pf >= 0:
            _row_scale_add(B, Un, W, dcp, Un, P, pf * Un, DZ, zo + of, nz)
            _col_dot_acc(B, Un, W, dPo + pf * Un, DZ, zo + of, nz, S, so, Un)
        if po >= 0:
            _dot2(n, S, sf, S, so, S, si, S, sg, W, cto)
            _col_dot_acc(B, Un, W, dPo + po * Un, DZ, zo + oo, nz, W, cto, Un)
        _select(B, Un, W, dcp, Un, W, dco, Un, mask, t, T, has_mask)
        # recurrent products: dh_in = dz @ U^T, da = dz of the gates @ R^T
        _gemm(DZ, zo, nz, k0, U, k0, nz, k1, W, dhin, H, B, H, nz, 0.0)
        if has_rmask:
            _mul(k1, B * H, W, dhin, k0, rmask, k0, k0, W, dhin, k0)
        _select(B, H, W, dhin, H, W, dho, H, mask, t, T, has_mask)
        if fgr:
            for q, off in ((ai, oi), (af, of), (ao, oo)):
                if q >= 0:
                    _copy(B, Un, DZ, zo + off, nz, W, dzg + q * Un, K)
            _gemm(W, dzg, K, k0, R, k0, K, k1, W, dap, K, B, K, K, 0.0)
            _select(B, K, W, dap, K, W, dao, K, mask, t, T, has_mask)


@njit(**_TOP)
def lstm_stream(x, h, c, a, Wxh, bias, P, R, Pj, cfg, W):
    """One inference step (no mask, nothing stored) of cfg[C_BATCH] rows, flat arrays:
    z = [x, h] @ [Wx; U] + b in one GEMM. The new y, c and a are regions of the zeroed work
    array W (`lstm_stream_work`)."""
    B, Un = cfg[C_BATCH], cfg[C_UNITS]
    H, p, K = cfg[L_H], cfg[L_PROJ], cfg[L_K]
    oi, of, oc, oo = cfg[L_OI], cfg[L_OF], cfg[L_OC], cfg[L_OO]
    fmode, pi, pf, po = cfg[L_FMODE], cfg[L_PI], cfg[L_PF], cfg[L_PO]
    fgr, ai, af, ao = cfg[L_FGR], cfg[L_AI], cfg[L_AF], cfg[L_AO]
    gcode, hcode, scode = cfg[L_GCODE], cfg[L_HCODE], cfg[L_SCODE]
    k0 = cfg[C_UNITS] - cfg[C_UNITS]
    k1 = k0 + 1
    n = B * Un
    nz = bias.size
    F = x.size // B
    (xh, z, fg, g, cn, ypre, an, y), _ = _lstm_stream_work(B, Un, F, H, K, nz, p)
    gi, gf, gg, go = g, g + n, g + 2 * n, g + 3 * n
    _copy(B, F, x, k0, F, W, xh, F + H)
    _copy(B, H, h, k0, H, W, xh + F, F + H)
    if B == 1:
        _gemv(Wxh, k0, nz, W, xh, W, z, F + H, nz)
        _add(k1, nz, W, z, k0, bias, k0, k0, W, z, k0)
    else:
        _row_add(B, nz, W, z, nz, bias, k0)
        _gemm(W, xh, F + H, k0, Wxh, k0, nz, k0, W, z, nz, B, nz, F + H, 1.0)
    if fgr:
        _gemm(a, k0, K, k0, R, k0, K, k0, W, fg, K, B, K, K, 0.0)
        for q, off in ((ai, oi), (af, of), (ao, oo)):
            if q >= 0:
                _add(B, Un, W, z + off, nz, W, fg + q * Un, K, W, z + off, nz)
    _ones(k1, 4 * n, W, g, k0)
    if pi >= 0:
        _row_scale_add(B, Un, W, z + oi, nz, P, pi * Un, c, k0, Un)
    if pf >= 0:
        _row_scale_add(B, Un, W, z + of, nz, P, pf * Un, c, k0, Un)
    if oi >= 0:
        _act(B, Un, W, z + oi, nz, W, gi, Un, scode)
    if fmode == F_OWN:
        _act(B, Un, W, z + of, nz, W, gf, Un, scode)
    elif fmode == F_COUPLED:
        _one_minus(n, W, gi, W, gf)
    _act(B, Un, W, z + oc, nz, W, gg, Un, gcode)
    _dot2(n, W, gf, c, k0, W, gi, W, gg, W, cn)
    if oo >= 0:
        if po >= 0:
            _row_scale_add(B, Un, W, z + oo, nz, P, po * Un, W, cn, Un)
        _act(B, Un, W, z + oo, nz, W, go, Un, scode)
    _act(k1, n, W, cn, k0, W, ypre, k0, hcode)
    _mul(k1, n, W, go, k0, W, ypre, k0, W, ypre, k0)
    if fgr:
        for q, gate in ((ai, gi), (af, gf), (ao, go)):
            if q >= 0:
                _copy(B, Un, W, gate, Un, W, an + q * Un, K)
    if p > 0:
        _gemm(W, ypre, Un, k0, Pj, k0, p, k0, W, y, p, B, p, Un, 0.0)
