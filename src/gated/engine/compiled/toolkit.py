r"""The building blocks of compiled step kernels (Numba): BLAS calls, vectorised row passes,
mask handling. Each family writes its own kernels with them (`cells/<family>/kernels.py`);
this module knows no family. Imported lazily (only when a compiled kernel runs).

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

Few kernels, many variants: every option of a family, activation and mask is an entry of an
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

from gated.activations import ACTIVATIONS
from gated.engine.compiled.buffers import (  # noqa: F401  (the shared cfg slots, for the families)
    C_BATCH,
    C_FAMILY,
    C_MASK,
    C_REVERSE,
    C_RMASK,
    C_STEPS,
    C_STORE,
    C_UNITS,
)

_JIT = {"cache": True, "fastmath": False, "error_model": "numpy", "nogil": True}
# Helpers: no Python entry points (less to compile).
_HELP = dict(_JIT, no_cpython_wrapper=True, no_cfunc_wrapper=True)
# Kernels: called from Python only.
_TOP = dict(_JIT, no_cfunc_wrapper=True)

# Activation codes of `_act`/`_dact`: the `kernel_code` column of `gated.activations`.
LINEAR, TANH, SIGMOID, RELU, TANH2, HALF_TANH, HARD_SIGMOID = (
    ACTIVATIONS[name].kernel_code for name in (
        "linear", "tanh", "sigmoid", "relu", "tanh2", "half_tanh", "hard_sigmoid"))



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
def rnn_work(B, U, count):
    """`count` regions of B * U (GRU forward: h, h_in, h_new, y_prev; GRU backward: dh,
    carry, dy, dn, dh_prev, h_in, dxc, dh_in, d(r h); SimpleRNN forward: h, h_in, y_prev;
    backward: dh, carry, dy, dh_in); total size."""
    return B * U, count * B * U


