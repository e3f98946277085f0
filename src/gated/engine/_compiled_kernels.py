r"""Numba kernels of the `compiled` engine (imported lazily by `gated.engine.compiled`).

Layout: batch-major rows, as torch: a per-step quantity is a `(batch, columns)` block, so
states and gradients cross the boundary without a transpose (as flat 1-D arrays; the Python
side reshapes them). Sequences are time-major so that a step is one contiguous block:
`XW (T, B, n)` (projected by the caller from `x.transpose(0, 1)`; the forward kernels
overwrite it with the pre-activations), the stored activations `S (T, slots, B, units)`, h
before each step `HP (T, B, h)`, gradients of the pre-activations `DZ (T, B, n)`; only the
outputs `YS (B, T, out)` (and their gradients) are batch-major, as the layers want them. `T` is
input-time order whatever the direction; a mask is `(B, T)`.

The recurrent products call BLAS `gemm` (the `numba_xxgemm` helper that Numba's own `np.dot`
uses) through `_gemm`, with offsets, leading dimensions, transposes and `beta = 1`: each step
accumulates `h @ U` straight into its block of XW. Every elementwise pass is a shared helper
over `rows x cols` with (array, offset, row stride) per operand: compiled once per dtype, kept
out of line, with unsigned indices so that LLVM vectorises the inner loop (a signed index
costs a negative-index check that defeats vectorisation). The exponentials are pure arithmetic
for the same reason (`math.exp` is a libm call). Slicing, reshaping and literal arguments at
many call sites of the kernel bodies would multiply compile time; the bodies avoid them.

Few kernels, many variants: every LSTM flag, activation and mask option is an entry of an
integer `cfg` array read at run time, so one compiled kernel per family and dtype serves them
all (`cache=True` keeps the machine code on disk across processes).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from numba.np.linalg import ensure_blas

_JIT = {"cache": True, "fastmath": False, "error_model": "numpy", "nogil": True}
# Helpers: no Python entry points (less to compile).
_HELP = dict(_JIT, no_cpython_wrapper=True, no_cfunc_wrapper=True)
# Kernels: called from Python only.
_TOP = dict(_JIT, no_cfunc_wrapper=True)

# Activation codes (the Python side maps names to these).
LINEAR, TANH, SIGMOID, RELU, TANH2, HALF_TANH, HARD_SIGMOID = range(7)

# cfg slots shared by the families, then each family's own.
C_STEPS, C_BATCH, C_UNITS, C_REVERSE, C_MASK, C_RMASK, C_STORE = range(7)
(L_H, L_PROJ, L_OI, L_OF, L_OC, L_OO, L_FMODE, L_PI, L_PF, L_PO, L_FGR, L_AI, L_AF, L_AO,
 L_GCODE, L_HCODE, L_SCODE, L_K) = range(7, 25)
LSTM_CFG_SIZE = 25
F_NONE, F_OWN, F_COUPLED = 0, 1, 2  # forget-gate modes
G_AFTER, G_SCODE, G_ACODE = range(7, 10)
GRU_CFG_SIZE = 10
R_ACODE = 7
RNN_CFG_SIZE = 8


# ----------------------------------------------------------------------------- scalar math
@intrinsic
def _bits_to_float(typingctx, bits):
    """Reinterpret int64 (int32) bits as float64 (float32): builds 2**k for exp."""
    if bits == types.int64:
        sig, llty = types.float64(types.int64), ir.DoubleType()
    elif bits == types.int32:
        sig, llty = types.float32(types.int32), ir.FloatType()
    else:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llty)

    return sig, codegen


@intrinsic
def _gemm(typingctx, A, ao, lda, ta, B, bo, ldb, tb, C, co, ldc, m, n, k, beta):
    """C[co:] (m x n, row stride ldc) = op(A) @ op(B) + beta * C, row-major; op transposes
    when its flag is non-zero. A, B, C: 1-D arrays of one float dtype, addressed from the
    offsets with the leading dimensions. Calls BLAS through Numba's `numba_xxgemm`."""
    ensure_blas()  # Numba's BLAS is scipy's: a clear ImportError at compile time without it
    arrays = (A, B, C)
    if not all(isinstance(x, types.Array) and x.ndim == 1 for x in arrays):
        return None
    if not A.dtype == B.dtype == C.dtype or A.dtype not in (types.float32, types.float64):
        return None
    sig = types.void(A, ao, lda, ta, B, bo, ldb, tb, C, co, ldc, m, n, k, beta)

    def codegen(context, builder, signature, args):
        tys = signature.args
        ll_char = ir.IntType(8)
        void_p = ll_char.as_pointer()
        intp = cgutils.intp_t
        fnty = ir.FunctionType(ir.IntType(32), [ll_char, ll_char, ll_char, intp, intp, intp,
                                                void_p, void_p, intp, void_p, intp, void_p,
                                                void_p, intp])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        dtype = tys[0].dtype

        def num(i):
            return context.cast(builder, args[i], tys[i], types.intp)

        def ptr(i):
            ary = context.make_array(tys[i])(context, builder, args[i])
            return builder.bitcast(builder.gep(ary.data, [num(i + 1)]), void_p)

        def flag(i):
            transposed = builder.icmp_signed("!=", num(i), ir.Constant(intp, 0))
            return builder.select(transposed, ir.Constant(ll_char, ord("t")),
                                  ir.Constant(ll_char, ord("n")))

        alpha = cgutils.alloca_once_value(builder, context.get_constant(dtype, 1.0))
        beta_ = cgutils.alloca_once_value(builder, context.cast(builder, args[14], tys[14],
                                                                dtype))
        kind = ir.Constant(ll_char, ord("s" if dtype == types.float32 else "d"))
        # Column-major BLAS on row-major data: C^T = op(B)^T op(A)^T.
        builder.call(fn, (kind, flag(7), flag(3), num(12), num(11), num(13),
                          builder.bitcast(alpha, void_p), ptr(4), num(6), ptr(0), num(2),
                          builder.bitcast(beta_, void_p), ptr(8), num(10)))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _gemv(typingctx, A, ao, lda, x, xo, y, yo, m, n):
    """y[yo:] (n) = x[xo:] (m) @ A, A (m x n) row-major at A[ao:] with row stride lda: the
    batch-1 case of `_gemm` (BLAS gemv streams the matrix once; gemm would pack it)."""
    ensure_blas()
    arrays = (A, x, y)
    if not all(isinstance(v, types.Array) and v.ndim == 1 for v in arrays):
        return None
    if not A.dtype == x.dtype == y.dtype or A.dtype not in (types.float32, types.float64):
        return None
    sig = types.void(A, ao, lda, x, xo, y, yo, m, n)

    def codegen(context, builder, signature, args):
        tys = signature.args
        ll_char = ir.IntType(8)
        void_p = ll_char.as_pointer()
        intp = cgutils.intp_t
        fnty = ir.FunctionType(ir.IntType(32), [ll_char, ll_char, intp, intp, void_p, void_p,
                                                intp, void_p, void_p, void_p])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemv")
        dtype = tys[0].dtype

        def num(i):
            return context.cast(builder, args[i], tys[i], types.intp)

        def ptr(i):
            ary = context.make_array(tys[i])(context, builder, args[i])
            return builder.bitcast(builder.gep(ary.data, [num(i + 1)]), void_p)

        alpha = cgutils.alloca_once_value(builder, context.get_constant(dtype, 1.0))
        beta = cgutils.alloca_once_value(builder, context.get_constant(dtype, 0.0))
        kind = ir.Constant(ll_char, ord("s" if dtype == types.float32 else "d"))
        # Row-major A (m x n) is the column-major (n x m) matrix A^T: y = A^T x, no transpose.
        builder.call(fn, (kind, ir.Constant(ll_char, ord("n")), num(8), num(7),
                          builder.bitcast(alpha, void_p), ptr(0), num(2), ptr(3),
                          builder.bitcast(beta, void_p), ptr(5)))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _noinline(typingctx):
    """Mark the calling function `noinline`: a helper stays one shared function in the
    machine code instead of being re-inlined (and re-vectorised) at every call site, which
    keeps compile time low; a call costs nanoseconds."""
    def codegen(context, builder, signature, args):
        builder.function.attributes.add("noinline")
        return context.get_dummy_value()

    return types.none(), codegen


def _c(x, v):  # pragma: no cover - replaced by the overload inside compiled code
    """The constant `v` in the float type of `x` (keeps float32 arithmetic in float32)."""
    raise NotImplementedError


@overload(_c, inline="always")
def _c_overload(x, v):
    if x == types.float32:
        return lambda x, v: np.float32(v)
    return lambda x, v: np.float64(v)


def _exp(x):  # pragma: no cover - replaced by the overload inside compiled code
    raise NotImplementedError


@overload(_exp, inline="always")
def _exp_overload(x):
    """exp by Cody-Waite reduction and a polynomial: ~1 ulp, vectorisable, never inf."""
    if x == types.float32:
        def exp32(x):
            x = min(max(x, np.float32(-87.0)), np.float32(88.0))
            k = np.floor(x * np.float32(1.44269504088896341) + np.float32(0.5))
            r = x - k * np.float32(0.693359375)
            r = r - k * np.float32(-2.12194440e-4)
            p = np.float32(1.9875691500e-4)
            p = p * r + np.float32(1.3981999507e-3)
            p = p * r + np.float32(8.3334519073e-3)
            p = p * r + np.float32(4.1665795894e-2)
            p = p * r + np.float32(1.6666665459e-1)
            p = p * r + np.float32(5.0000001201e-1)
            e = p * r * r + r + np.float32(1.0)
            return e * _bits_to_float(np.int32((np.int32(k) + np.int32(127)) << np.int32(23)))

        return exp32

    def exp64(x):
        x = min(max(x, -708.0), 709.0)
        k = np.floor(x * 1.4426950408889634 + 0.5)
        r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        return p * _bits_to_float((np.int64(k) + 1023) << 52)

    return exp64


# ----------------------------------------------------------------------------- row passes
# Each helper runs over R rows of C columns; operand X is (array, offset, row stride).
@njit(**_HELP)
def _act(R, C, x, xo, xs, y, yo, ys, code):
    """y = act(x); y may be x.

    The squashing functions share one loop, a / (1 + exp(-s x)) + b: sigmoid (1, 1, 0),
    tanh (2, 2, -1), tanh2 = 2 tanh(x/2) (4, 1, -2), half_tanh = tanh(x/2) (2, 1, -1);
    relu and hard_sigmoid = relu6(x + 3) / 6 share a clipped one.
    """
    _noinline()
    if R <= 0 or C <= 0:
        return
    Cu = np.uint64(C)
    x0 = x[xo]
    if code == LINEAR:
        for r in range(R):
            xb, yb = np.uint64(xo + r * xs), np.uint64(yo + r * ys)
            for k in range(Cu):
                y[yb + k] = x[xb + k]
    elif code == RELU or code == HARD_SIGMOID:
        shift, top, scale = 0.0, np.inf, 1.0
        if code == HARD_SIGMOID:
            shift, top, scale = 3.0, 6.0, 6.0
        shift_, top_, scale_, zero = _c(x0, shift), _c(x0, top), _c(x0, scale), _c(x0, 0.0)
        for r in range(R):
            xb, yb = np.uint64(xo + r * xs), np.uint64(yo + r * ys)
            for k in range(Cu):
                v = x[xb + k] + shift_
                y[yb + k] = min(max(v, zero), top_) / scale_
    else:
        a, s, b = 1.0, 1.0, 0.0
        if code == TANH:
            a, s, b = 2.0, 2.0, -1.0
        elif code == TANH2:
            a, s, b = 4.0, 1.0, -2.0
        elif code == HALF_TANH:
            a, s, b = 2.0, 1.0, -1.0
        a_, s_, b_, one = _c(x0, a), _c(x0, -s), _c(x0, b), _c(x0, 1.0)
        for r in range(R):
            xb, yb = np.uint64(xo + r * xs), np.uint64(yo + r * ys)
            for k in range(Cu):
                y[yb + k] = a_ / (one + _exp(s_ * x[xb + k])) + b_


@njit(**_HELP)
def _dact(R, C, g, go, gs, y, yo, ys, d, do, ds, code):
    """d = g * act'(x), written with the output y = act(x); d may be g.

    Smooth ones: act' = a0 + a1 y + a2 y^2 (sigmoid y - y^2, tanh 1 - y^2, tanh2 1 - y^2/4,
    half_tanh (1 - y^2)/2); relu / hard_sigmoid: a slope inside an open window of y.
    """
    _noinline()
    if R <= 0 or C <= 0:
        return
    Cu = np.uint64(C)
    y0 = y[yo]
    if code == LINEAR:
        for r in range(R):
            gb, db = np.uint64(go + r * gs), np.uint64(do + r * ds)
            for k in range(Cu):
                d[db + k] = g[gb + k]
    elif code == RELU or code == HARD_SIGMOID:
        top, slope = np.inf, 1.0
        if code == HARD_SIGMOID:
            top, slope = 1.0, 1.0 / 6.0
        top_, slope_, zero = _c(y0, top), _c(y0, slope), _c(y0, 0.0)
        for r in range(R):
            gb, yb, db = np.uint64(go + r * gs), np.uint64(yo + r * ys), np.uint64(do + r * ds)
            for k in range(Cu):
                v = y[yb + k]
                inside = (v > zero) & (v < top_)
                d[db + k] = g[gb + k] * slope_ if inside else zero
    else:
        a0, a1, a2 = 0.0, 1.0, -1.0
        if code == TANH:
            a0, a1, a2 = 1.0, 0.0, -1.0
        elif code == TANH2:
            a0, a1, a2 = 1.0, 0.0, -0.25
        elif code == HALF_TANH:
            a0, a1, a2 = 0.5, 0.0, -0.5
        a0_, a1_, a2_ = _c(y0, a0), _c(y0, a1), _c(y0, a2)
        for r in range(R):
            gb, yb, db = np.uint64(go + r * gs), np.uint64(yo + r * ys), np.uint64(do + r * ds)
            for k in range(Cu):
                v = y[yb + k]
                d[db + k] = g[gb + k] * (a0_ + v * (a1_ + a2_ * v))


# Elementwise operations of `_ew` (one shared helper: each separately compiled helper costs
# about 0.1 s more at the first call, in every kernel that links it).
(E_COPY, E_ONES, E_ADD, E_MUL, E_MULADD, E_MULSUB, E_DOT2, E_ONE_MINUS, E_BLEND,
 E_MUL_DIFF) = range(10)


@njit(**_HELP)
def _ew(op, R, C, a, ao, as_, b, bo, bs, c, co, cs, d, do, ds, y, yo, ys):
    """y = op(a, b, c, d) over R rows of C columns; a row stride of 0 repeats one row (a
    vector broadcast over the rows, or, for y, a sum over the rows)."""
    _noinline()
    Cu = np.uint64(C)
    for r in range(R):
        ab, bb, cb = np.uint64(ao + r * as_), np.uint64(bo + r * bs), np.uint64(co + r * cs)
        db, yb = np.uint64(do + r * ds), np.uint64(yo + r * ys)
        if op == E_COPY:
            for k in range(Cu):
                y[yb + k] = a[ab + k]
        elif op == E_ONES:
            for k in range(Cu):
                y[yb + k] = 1
        elif op == E_ADD:
            for k in range(Cu):
                y[yb + k] = a[ab + k] + b[bb + k]
        elif op == E_MUL:
            for k in range(Cu):
                y[yb + k] = a[ab + k] * b[bb + k]
        elif op == E_MULADD:
            for k in range(Cu):
                y[yb + k] = a[ab + k] * b[bb + k] + c[cb + k]
        elif op == E_MULSUB:
            for k in range(Cu):
                y[yb + k] = c[cb + k] - a[ab + k] * b[bb + k]
        elif op == E_DOT2:
            for k in range(Cu):
                y[yb + k] = a[ab + k] * b[bb + k] + c[cb + k] * d[db + k]
        elif op == E_ONE_MINUS:
            for k in range(Cu):
                y[yb + k] = 1 - a[ab + k]
        elif op == E_BLEND:
            for k in range(Cu):
                y[yb + k] = a[ab + k] * b[bb + k] + (1 - a[ab + k]) * c[cb + k]
        elif op == E_MUL_DIFF:
            for k in range(Cu):
                y[yb + k] = a[ab + k] * (b[bb + k] - c[cb + k])


# Named forms of `_ew`, inlined where they are used (no compile of their own). The op codes
# go in as int64 values, not literals, so that `_ew` compiles once per dtype.
@njit(inline="always")
def _copy(R, C, x, xo, xs, y, yo, ys):
    _ew(np.int64(E_COPY), R, C, x, xo, xs, x, xo, xs, x, xo, xs, x, xo, xs, y, yo, ys)


@njit(inline="always")
def _ones(R, C, y, yo, ys):
    _ew(np.int64(E_ONES), R, C, y, yo, ys, y, yo, ys, y, yo, ys, y, yo, ys, y, yo, ys)


@njit(inline="always")
def _add(R, C, a, ao, as_, b, bo, bs, y, yo, ys):
    """y = a + b"""
    _ew(np.int64(E_ADD), R, C, a, ao, as_, b, bo, bs, a, ao, as_, a, ao, as_, y, yo, ys)


@njit(inline="always")
def _mul(R, C, a, ao, as_, b, bo, bs, y, yo, ys):
    """y = a * b"""
    _ew(np.int64(E_MUL), R, C, a, ao, as_, b, bo, bs, a, ao, as_, a, ao, as_, y, yo, ys)


@njit(inline="always")
def _muladd(R, C, a, ao, as_, b, bo, bs, c, co, cs, y, yo, ys):
    """y = a * b + c"""
    _ew(np.int64(E_MULADD), R, C, a, ao, as_, b, bo, bs, c, co, cs, a, ao, as_, y, yo, ys)


@njit(inline="always")
def _mulsub(R, C, a, ao, as_, b, bo, bs, c, co, cs, y, yo, ys):
    """y = c - a * b"""
    _ew(np.int64(E_MULSUB), R, C, a, ao, as_, b, bo, bs, c, co, cs, a, ao, as_, y, yo, ys)


@njit(inline="always")
def _dot2(n, a, ao, b, bo, c, co, d, do, y, yo):
    """y = a * b + c * d over n contiguous elements."""
    _ew(np.int64(E_DOT2), np.int64(1), n, a, ao, n, b, bo, n, c, co, n, d, do, n, y, yo, n)


@njit(inline="always")
def _one_minus(n, a, ao, y, yo):
    """y = 1 - a over n contiguous elements."""
    _ew(np.int64(E_ONE_MINUS), np.int64(1), n, a, ao, n, a, ao, n, a, ao, n, a, ao, n, y, yo, n)


@njit(inline="always")
def _blend(n, z, zo, a, ao, b, bo, y, yo):
    """y = z * a + (1 - z) * b over n contiguous elements."""
    _ew(np.int64(E_BLEND), np.int64(1), n, z, zo, n, a, ao, n, b, bo, n, z, zo, n, y, yo, n)


@njit(inline="always")
def _mul_diff(R, C, g, go, gs, a, ao, as_, b, bo, bs, y, yo, ys):
    """y = g * (a - b)"""
    _ew(np.int64(E_MUL_DIFF), R, C, g, go, gs, a, ao, as_, b, bo, bs, g, go, gs, y, yo, ys)


@njit(inline="always")
def _row_scale_add(R, C, z, zo, zs, p, po, s, so, ss):
    """z[r, k] += p[k] * s[r, k] (peephole terms)."""
    _ew(np.int64(E_MULADD), R, C, p, po, np.int64(0), s, so, ss, z, zo, zs, z, zo, zs, z, zo, zs)


@njit(inline="always")
def _col_dot_acc(R, C, acc, ao, a, aoff, as_, s, so, ss):
    """acc[k] += sum_r a[r, k] * s[r, k] (peephole gradients)."""
    zero = np.int64(0)
    _ew(np.int64(E_MULADD), R, C, a, aoff, as_, s, so, ss, acc, ao, zero, a, aoff, as_, acc, ao,
        zero)


@njit(inline="always")
def _row_add(R, C, z, zo, zs, v, vo):
    """z[r, k] += v[k] (a bias)."""
    _ew(np.int64(E_ADD), R, C, z, zo, zs, v, vo, np.int64(0), z, zo, zs, z, zo, zs, z, zo, zs)


# ----------------------------------------------------------------------------- masks
@njit(**_HELP)
def _emit(R, C, y, yo, ys, w, ho, po, YS, t, T, mask, has_mask):
    """Write the step output into YS (B, T, C) (a masked step repeats the previous output,
    kept at w[po:]) and the new h (at w[ho:]) where the step is kept."""
    _noinline()
    Cu = np.uint64(C)
    for r in range(R):
        yb, hb = np.uint64(yo + r * ys), np.uint64(ho + r * C)
        pb, ob = np.uint64(po + r * C), np.uint64((r * T + t) * C)
        if not has_mask or mask[r * T + t]:
            for k in range(Cu):
                w[hb + k] = y[yb + k]
                w[pb + k] = y[yb + k]
        for k in range(Cu):
            YS[ob + k] = w[pb + k]


@njit(**_HELP)
def _masked(zero, R, C, x, xo, xs, s, so, ss, mask, t, T, has_mask):
    """s = x on the rows whose step t is kept (all rows without a mask); with `zero`, s = 0
    on the rows whose step is masked instead."""
    _noinline()
    Cu = np.uint64(C)
    for r in range(R):
        keep = not has_mask or mask[r * T + t]
        sb = np.uint64(so + r * ss)
        if zero:
            if not keep:
                for k in range(Cu):
                    s[sb + k] = 0
        elif keep:
            xb = np.uint64(xo + r * xs)
            for k in range(Cu):
                s[sb + k] = x[xb + k]


@njit(inline="always")
def _select(R, C, x, xo, xs, s, so, ss, mask, t, T, has_mask):
    """s = x on the rows whose step is kept (all rows without a mask)."""
    _masked(np.int64(0), R, C, x, xo, xs, s, so, ss, mask, t, T, has_mask)


@njit(inline="always")
def _zero_masked(R, C, d, do, ds, mask, t, T):
    _masked(np.int64(1), R, C, d, do, ds, d, do, ds, mask, t, T, np.int64(1))


@njit(**_HELP)
def _out_grad(R, C, dYS, t, T, w, dho, cao, dyo, mask, has_mask):
    """Gradient reaching the cell output of step t (into w[dyo:]): the output's own, the
    carried one of later masked steps that repeated it (w[cao:]), and the state's (w[dho:]);
    masked rows get zero."""
    _noinline()
    Cu = np.uint64(C)
    for r in range(R):
        ib = np.uint64((r * T + t) * C)
        hb, cb, yb = np.uint64(dho + r * C), np.uint64(cao + r * C), np.uint64(dyo + r * C)
        if not has_mask:
            for k in range(Cu):
                w[yb + k] = dYS[ib + k] + w[hb + k]
        elif mask[r * T + t]:
            for k in range(Cu):
                w[yb + k] = dYS[ib + k] + w[cb + k] + w[hb + k]
                w[cb + k] = 0
        else:
            for k in range(Cu):
                w[cb + k] += dYS[ib + k]
                w[yb + k] = 0


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


def rnn_work(B, U, count):
    """`count` regions of B * U (GRU forward: h, h_in, h_new, y_prev; GRU backward: dh,
    carry, dy, dn, dh_prev, h_in, dxc, dh_in, d(r h); SimpleRNN forward: h, h_in, y_prev;
    backward: dh, carry, dy, dh_in); total size."""
    return B * U, count * B * U


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
