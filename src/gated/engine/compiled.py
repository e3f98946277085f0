"""The `compiled` engine: Numba CPU kernels for the LSTM family, the GRU and the SimpleRNN.

Each family runs as one `torch.autograd.Function` whose inputs are x, the projection weights
(`kernel`, `bias`), the initial states and the recurrent weights. Forward: the input projection
of every step is one GEMM with the bias fused (`torch.addmm`, time-major); the recurrence is one
compiled loop over time (per step a BLAS product `h @ U` accumulated straight into that step's
projection, then vectorised elementwise passes for the gates); it stores only what backward
needs (gate activations, c_{t-1}, h_{t-1}). Backward runs the reverse loop and forms every
weight gradient with one GEMM over all steps. The cells' `input_projection` is exactly
`x @ kernel + bias` for what `supports` accepts, so the numbers are the reference engine's.

Supported: every `LSTMCell` flag except `layer_norm` and zoneout (all presets of
`gated.cells.lstm.VARIANTS`, peepholes, CIFG, missing gates, full gate recurrence, projection,
the activations below), `GRUCell` (both `reset_after` forms), `SimpleRNNCell`; masks,
`reverse`, carried states, `recurrent_mask`; float32 and float64; CPU. Activations: `tanh`,
`sigmoid`, `relu`, `linear`, `tanh2`, `half_tanh`, `hard_sigmoid`. `streaming_step` runs one
inference step of a cell (real-time use at batch 1).

Where it is fast: small and medium recurrent products (the seed example's 32 x 100 x 1 x 50),
where per-step overheads dominate. Its BLAS is scipy's OpenBLAS, slower than torch's MKL on large
products (batch 64 x 256 units and up), where the `fused` engine is the better choice.

The kernels are compiled on first use and cached on disk by Numba (`cache=True`): next to the
package when it is writable, else in Numba's user-wide cache directory (`NUMBA_CACHE_DIR`
overrides both). numba (with scipy) is optional: without it `supports` says so and neither is
imported.
"""

from __future__ import annotations

import importlib.util
import operator
import threading
import weakref
from typing import Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

State = tuple[torch.Tensor, ...]

#: Activation names the kernels implement, with their kernel codes.
ACTIVATION_CODES = {
    "linear": 0, "tanh": 1, "sigmoid": 2, "relu": 3, "tanh2": 4, "half_tanh": 5,
    "hard_sigmoid": 6,
}
_NP_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}

_loaded: dict[str, Any] = {}


def is_available() -> bool:
    """Whether numba and scipy (Numba's BLAS) can be imported (checked once, importing
    neither)."""
    if "available" not in _loaded:
        _loaded["available"] = all(importlib.util.find_spec(name) is not None
                                   for name in ("numba", "scipy"))
    return _loaded["available"]


def _kernels() -> Any:
    if "kernels" not in _loaded:
        from gated.engine import _compiled_kernels

        _loaded["kernels"] = _compiled_kernels
    return _loaded["kernels"]


# ----------------------------------------------------------------------------- support
def _activation_code(activation: Any) -> int | None:
    if activation is None:
        return ACTIVATION_CODES["linear"]
    if isinstance(activation, str):
        return ACTIVATION_CODES.get(activation)
    from gated import activations

    for name, fn in activations._BY_NAME.items():
        if fn is activation:
            return ACTIVATION_CODES.get(name)
    return None


def _family(cell: Any) -> str | None:
    from gated.cells import GRUCell, LSTMCell, SimpleRNNCell

    for cls, name in ((LSTMCell, "lstm"), (GRUCell, "gru"), (SimpleRNNCell, "rnn")):
        if isinstance(cell, cls):
            kind = type(cell)
            same = (kind.recurrent_step is cls.recurrent_step
                    and kind.input_projection is cls.input_projection)
            return name if same else None
    return None


def _activations(cell: Any, family: str) -> dict[str, Any]:
    if family == "lstm":
        return {"input_activation": cell.input_activation_name,
                "output_activation": cell.output_activation_name,
                "recurrent_activation": cell.recurrent_activation_name}
    if family == "gru":
        return {"activation": cell.activation_name,
                "recurrent_activation": cell.recurrent_activation_name}
    return {"activation": cell.activation_name}


def supports(cell: Any, x: torch.Tensor, mask: torch.Tensor | None = None,
             reverse: bool = False, recurrent_mask: Any = None,
             training: bool = False) -> tuple[bool, str]:
    """Whether `scan` runs this configuration, and why (not).

    Returns:
        `(True, what runs)` or `(False, the reason)`.
    """
    if not is_available():
        return False, "numba (with scipy, its BLAS) is not installed (pip install numba scipy)"
    family = _family(cell)
    if family is None:
        return False, (f"{type(cell).__name__} is not one of LSTMCell, GRUCell, SimpleRNNCell "
                       "(user cells and StackedRNNCells are not compiled)")
    if not getattr(cell, "built", False):
        return False, "the cell is not built"
    if not isinstance(x, torch.Tensor) or x.ndim != 3:
        return False, "inputs must be a (batch, timesteps, features) tensor"
    if x.device.type != "cpu":
        return False, f"CPU tensors only, received inputs on {x.device.type}"
    if x.dtype not in _NP_DTYPES:
        return False, f"float32 or float64 only, received {str(x.dtype).replace('torch.', '')}"
    if x.shape[0] == 0 or x.shape[1] == 0:
        return False, f"empty batch or sequence, received shape {tuple(x.shape)}"
    for name, param in cell.named_parameters():
        if param.dtype != x.dtype or param.device.type != "cpu":
            return False, (f"weight {name} is {param.dtype} on {param.device.type}, inputs are "
                           f"{x.dtype} on cpu")
    if family == "lstm":
        if cell.layer_norm:
            return False, "layer_norm=True is not implemented by the compiled kernels"
        if cell.zoneout_cell or cell.zoneout_hidden:
            return False, "zoneout is not implemented by the compiled kernels"
    for arg, activation in _activations(cell, family).items():
        if _activation_code(activation) is None:
            return False, (f"{arg}={activation!r} is not compiled (compiled activations: "
                           f"{sorted(ACTIVATION_CODES)})")
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.device.type != "cpu":
            return False, "mask must be a CPU tensor"
        if tuple(mask.shape) != tuple(x.shape[:2]):
            return False, (f"mask must have shape (batch, timesteps), received "
                           f"{tuple(mask.shape)}")
    if recurrent_mask is not None:
        if not isinstance(recurrent_mask, torch.Tensor) or recurrent_mask.device.type != "cpu":
            return False, "recurrent_mask must be a CPU tensor"
        if recurrent_mask.requires_grad:
            return False, "recurrent_mask requires grad (it is a dropout mask)"
        try:
            torch.broadcast_shapes(tuple(recurrent_mask.shape),
                                   (x.shape[0], cell.recurrent_size))
        except RuntimeError:
            return False, (f"recurrent_mask of shape {tuple(recurrent_mask.shape)} does not "
                           f"broadcast to (batch, {cell.recurrent_size})")
    return True, (f"Numba kernels for {type(cell).__name__} "
                  f"({str(x.dtype).replace('torch.', '')}, CPU)")


# ----------------------------------------------------------------------------- helpers
# Arrays cross into the kernels flat (1-D); states and outputs in torch's batch-major layout,
# the per-step sequences time-major (see `_compiled_kernels`).
def _flat(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().numpy()).reshape(-1)


def _c2(t: torch.Tensor) -> np.ndarray:
    """A C-contiguous 2-D array of a weight."""
    return np.ascontiguousarray(t.detach().numpy())


def _t(a: np.ndarray, *shape: int) -> torch.Tensor:
    return torch.from_numpy(a.reshape(shape))


def _dummy(dtype: Any, ndim: int = 1) -> np.ndarray:
    return np.zeros((1,) * ndim, dtype)


def _opt(t: torch.Tensor | None, dtype: Any) -> np.ndarray:
    return _flat(t) if t is not None else _dummy(dtype)


def _weight_grad(a: np.ndarray, b: np.ndarray, rows: int, cols: int,
                 scale: np.ndarray | None = None) -> torch.Tensor:
    """sum over steps and batch of a^T b for (T, B, rows) and (T, B, cols): one GEMM."""
    left = torch.from_numpy(a.reshape(-1, rows))
    if scale is not None:  # the recurrent (dropout) mask applied to h_{t-1}, (B, rows)
        left = (left.view(-1, scale.size // rows, rows)
                * torch.from_numpy(scale.reshape(1, -1, rows))).view(-1, rows)
    return left.t() @ torch.from_numpy(b.reshape(-1, cols))


def _lstm_cfg(cell: Any, reverse: bool, has_mask: bool, has_rmask: bool) -> np.ndarray:
    k = _kernels()
    units = cell.units
    offsets = {name: i * units for i, name in enumerate(cell.blocks)}
    peep = {g: i for i, g in enumerate(getattr(cell, "peephole_gates", ()))}
    gates = {g: i for i, g in enumerate(cell.gates)} if cell.full_gate_recurrence else {}
    cfg = np.zeros(k.LSTM_CFG_SIZE, np.int64)
    cfg[k.C_UNITS] = units
    cfg[k.C_REVERSE], cfg[k.C_MASK], cfg[k.C_RMASK] = int(reverse), int(has_mask), int(has_rmask)
    cfg[k.L_H] = cell.proj_size or units
    cfg[k.L_PROJ] = cell.proj_size
    cfg[k.L_K] = len(cell.gates) * units if cell.full_gate_recurrence else 1
    for slot, name in ((k.L_OI, "i"), (k.L_OF, "f"), (k.L_OC, "c"), (k.L_OO, "o")):
        cfg[slot] = offsets.get(name, -1)
    cfg[k.L_FMODE] = (k.F_COUPLED if cell.coupled_gates
                      else k.F_OWN if "f" in cell.blocks else k.F_NONE)
    for slot, name in ((k.L_PI, "i"), (k.L_PF, "f"), (k.L_PO, "o")):
        cfg[slot] = peep.get(name, -1)
    cfg[k.L_FGR] = int(cell.full_gate_recurrence)
    for slot, name in ((k.L_AI, "i"), (k.L_AF, "f"), (k.L_AO, "o")):
        cfg[slot] = gates.get(name, -1)
    cfg[k.L_GCODE] = _activation_code(cell.input_activation_name)
    cfg[k.L_HCODE] = _activation_code(cell.output_activation_name)
    cfg[k.L_SCODE] = _activation_code(cell.recurrent_activation_name)
    return cfg


def _gru_cfg(cell: Any, reverse: bool, has_mask: bool, has_rmask: bool) -> np.ndarray:
    k = _kernels()
    cfg = np.zeros(k.GRU_CFG_SIZE, np.int64)
    cfg[k.C_UNITS] = cell.units
    cfg[k.C_REVERSE], cfg[k.C_MASK], cfg[k.C_RMASK] = int(reverse), int(has_mask), int(has_rmask)
    cfg[k.G_AFTER] = int(cell.reset_after)
    cfg[k.G_SCODE] = _activation_code(cell.recurrent_activation_name)
    cfg[k.G_ACODE] = _activation_code(cell.activation_name)
    return cfg


def _rnn_cfg(cell: Any, reverse: bool, has_mask: bool, has_rmask: bool) -> np.ndarray:
    k = _kernels()
    cfg = np.zeros(k.RNN_CFG_SIZE, np.int64)
    cfg[k.C_UNITS] = cell.units
    cfg[k.C_REVERSE], cfg[k.C_MASK], cfg[k.C_RMASK] = int(reverse), int(has_mask), int(has_rmask)
    cfg[k.R_ACODE] = _activation_code(cell.activation_name)
    return cfg


def _with_run(cfg: np.ndarray, steps: int, batch: int, store: bool) -> np.ndarray:
    k = _kernels()
    cfg = cfg.copy()
    cfg[k.C_STEPS], cfg[k.C_BATCH], cfg[k.C_STORE] = steps, batch, int(store)
    return cfg


def _dims(cfg: np.ndarray) -> tuple[int, int, int]:
    k = _kernels()
    return int(cfg[k.C_STEPS]), int(cfg[k.C_BATCH]), int(cfg[k.C_UNITS])


# ----------------------------------------------------------------------------- BLAS threads
class _OneBlasThread:
    """Runs the kernels' many small BLAS calls on one thread (set, then restored).

    Numba's BLAS is scipy's OpenBLAS; its worker threads only add synchronisation to products
    this small, and on a busy machine they spin against other work (seen: 5x slower steps).
    Linux only (the library is found among the loaded ones); elsewhere a no-op.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = 1
        self._fns: tuple | None = None

    def _load(self) -> tuple | None:
        if self._fns is None:
            self._fns = ()
            try:
                import ctypes

                import scipy.linalg.cython_blas  # noqa: F401  (loads the library)

                with open("/proc/self/maps") as maps:
                    paths = {line.split()[-1] for line in maps
                             if "openblas" in line.lower() and "/" in line}
                for path in sorted(paths):
                    lib = ctypes.CDLL(path)
                    for prefix in ("scipy_openblas", "openblas"):
                        get = getattr(lib, f"{prefix}_get_num_threads", None)
                        set_ = getattr(lib, f"{prefix}_set_num_threads", None)
                        if get is not None and set_ is not None and "scipy.libs" in path:
                            get.restype, set_.argtypes = ctypes.c_int, [ctypes.c_int]
                            self._fns = (get, set_)
                            return self._fns
            except Exception:  # no /proc, another BLAS: leave the threads alone
                self._fns = ()
        return self._fns

    def __enter__(self) -> _OneBlasThread:
        fns = self._load()
        if fns:
            with self._lock:
                if self._depth == 0:
                    self._saved = fns[0]()
                    if self._saved != 1:
                        fns[1](1)
                self._depth += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        fns = self._fns
        if fns:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._saved != 1:
                    fns[1](self._saved)


_ONE_BLAS_THREAD = _OneBlasThread()


# ----------------------------------------------------------------------------- buffers
class _Pool:
    """Reuses the large work arrays of the kernels (the stored activations) across calls.

    A fresh multi-megabyte array page-faults on first touch, on every call: thousands of faults
    per training step, as much time as the recurrence itself. Arrays come back to the pool
    when the autograd graph that saved them is freed (`_Saved`).
    """

    MIN_SIZE = 1 << 14  # elements; smaller arrays come from the heap anyway
    MAX_BYTES = 1 << 28  # at most 256 MiB kept

    def __init__(self) -> None:
        self._free: dict[tuple[int, str], list[np.ndarray]] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def take(self, size: int, dtype: Any) -> np.ndarray:
        if size >= self.MIN_SIZE:
            key = (size, np.dtype(dtype).str)
            with self._lock:
                free = self._free.get(key)
                if free:
                    array = free.pop()
                    self._bytes -= array.nbytes
                    return array
        return np.empty(size, dtype)

    def give(self, *arrays: np.ndarray) -> None:
        with self._lock:
            for array in arrays:
                if array.size < self.MIN_SIZE or self._bytes + array.nbytes > self.MAX_BYTES:
                    continue
                self._free.setdefault((array.size, array.dtype.str), []).append(array)
                self._bytes += array.nbytes


_POOL = _Pool()


class _Saved:
    """What a Function keeps for backward; its pooled arrays go back to the pool with it."""

    def __init__(self, cfg: np.ndarray, rmask: np.ndarray, mask: np.ndarray,
                 *arrays: np.ndarray) -> None:
        self.cfg, self.rmask, self.mask, self.arrays = cfg, rmask, mask, arrays
        weakref.finalize(self, _POOL.give, *arrays)


def _grad_in(g: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
    """A flat C-contiguous array of an incoming gradient (pooled when it must be copied)."""
    a = g.detach().numpy()
    if a.flags.c_contiguous:
        return a.reshape(-1), None
    flat = _POOL.take(a.size, a.dtype)
    np.copyto(flat.reshape(a.shape), a)
    return flat, flat


def _new(size: int, dtype: torch.dtype) -> tuple[torch.Tensor, np.ndarray]:
    """A fresh tensor the caller will own (outputs), and its flat array."""
    t = torch.empty(size, dtype=dtype)
    return t, t.numpy()


# ----------------------------------------------------------------------------- projection
def _project(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None) -> np.ndarray:
    """`x @ kernel + bias` for every step in one GEMM (bias fused), time-major `(T, B, n)`,
    into a pooled array (the kernels overwrite it with the pre-activations).

    This is `cell.input_projection` of the supported cells (`supports` refuses layer norm and
    subclasses that override it); its gradients are `_project_grads`.
    """
    batch, steps, feat = x.shape
    XW = _POOL.take(steps * batch * kernel.shape[1], _NP_DTYPES[x.dtype])
    out = torch.from_numpy(XW).view(steps * batch, kernel.shape[1])
    xt = x.detach().transpose(0, 1).reshape(steps * batch, feat)
    with torch.no_grad():
        if bias is None:
            torch.mm(xt, kernel.detach(), out=out)
        else:
            torch.addmm(bias.detach(), xt, kernel.detach(), out=out)
    return XW


def _project_grads(DZ: np.ndarray, x: torch.Tensor, kernel: torch.Tensor,
                   bias: torch.Tensor | None, need: tuple) -> tuple:
    """Gradients of x, kernel and bias from the gradient DZ (T, B, n) of the projection."""
    batch, steps, feat = x.shape
    dz = torch.from_numpy(DZ).view(steps * batch, kernel.shape[1])
    dx = dk = db = None
    if need[0]:
        dx = (dz @ kernel.detach().t()).view(steps, batch, feat).transpose(0, 1).contiguous()
    if need[1]:
        dk = x.detach().transpose(0, 1).reshape(steps * batch, feat).t() @ dz
    if need[2] and bias is not None:
        db = dz.sum(dim=0)
    return dx, dk, db


# ----------------------------------------------------------------------------- LSTM
def _lstm_run(cfg, x, kernel, bias, h0, c0, a0, U, P, R, Pj, rmask, mask, store):
    """Project and run the LSTM forward kernel. Returns (cfg, ys, final states, arrays)."""
    k = _kernels()
    dt = _NP_DTYPES[x.dtype]
    batch, steps = x.shape[0], x.shape[1]
    cfg = _with_run(cfg, steps, batch, store)
    units, rows, K = int(cfg[k.C_UNITS]), int(cfg[k.L_H]), int(cfg[k.L_K])
    fgr = bool(cfg[k.L_FGR])
    ts = steps if store else 1
    XW = _project(x, kernel, bias)
    ys, YS = _new(batch * steps * rows, x.dtype)
    S = _POOL.take(ts * 6 * batch * units, dt)
    HP = _POOL.take(ts * batch * rows, dt)
    AP = _POOL.take((ts if fgr else 1) * batch * K, dt)
    a = _flat(a0) if a0 is not None else np.zeros(batch, dt)
    (ho, co, ao, *_), size = k.lstm_forward_work(batch, units, rows, K, rows)
    W = np.zeros(size, dt)
    with _ONE_BLAS_THREAD:
        k.lstm_forward(XW, _flat(h0), _flat(c0), a, _flat(U), _opt(R, dt), _opt(P, dt),
                       _opt(Pj, dt), rmask, mask, cfg, YS, S, HP, AP, W)
    _POOL.give(XW)
    final = (_t(W[ho:co], batch, rows), _t(W[co:ao], batch, units))
    final += (_t(W[ao:ao + batch * K], batch, K),) if a0 is not None else ()
    return cfg, ys.view(batch, steps, rows), final, (S, HP, AP)


class _LSTMScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cfg, rmask, mask, x, kernel, bias, h0, c0, a0, U, P, R, Pj):
        cfg, ys, final, arrays = _lstm_run(cfg, x, kernel, bias, h0, c0, a0, U, P, R, Pj,
                                           rmask, mask, True)
        ctx.save_for_backward(x, kernel, bias, U, P, R, Pj)
        ctx.saved = _Saved(cfg, rmask, mask, *arrays)
        return (ys, *final)

    @staticmethod
    @once_differentiable
    def backward(ctx, dys, dh, dc, *rest):
        k = _kernels()
        x, kernel, bias, U, P, R, Pj = ctx.saved_tensors
        saved = ctx.saved
        cfg, (S, HP, AP) = saved.cfg, saved.arrays
        dt = _NP_DTYPES[dys.dtype]
        steps, batch, units = _dims(cfg)
        rows, K, p = int(cfg[k.L_H]), int(cfg[k.L_K]), int(cfg[k.L_PROJ])
        nz = U.shape[1]
        out = p or units
        DZ = _POOL.take(steps * batch * nz, dt)
        DY = _POOL.take((steps if p else 1) * batch * out, dt)
        YP = _POOL.take((steps if p else 1) * batch * units, dt)
        dY, pooled = _grad_in(dys)
        da = _flat(rest[0]) if rest else np.zeros(batch, dt)
        P_ = _opt(P, dt)
        (dho, dco, dao, dPo, *_), size = k.lstm_backward_work(batch, units, rows, K, out,
                                                              P_.size)
        W = np.zeros(size, dt)
        with _ONE_BLAS_THREAD:
            k.lstm_backward(dY, _flat(dh), _flat(dc), da, S, _flat(U), _opt(R, dt), P_,
                            _opt(Pj, dt), saved.rmask, saved.mask, cfg, DZ, DY, YP, W)
        dh0, dc0, da0, dP = W[dho:dco], W[dco:dao], W[dao:dPo], W[dPo:dPo + P_.size]
        need = ctx.needs_input_grad
        dx, dk, db = _project_grads(DZ, x, kernel, bias, need[3:6])
        dU = dP_ = dR = dPj = None
        if need[9]:
            dU = _weight_grad(HP, DZ, rows, nz, saved.rmask if cfg[k.C_RMASK] else None)
        if P is not None and need[10]:
            dP_ = _t(dP, *P.shape)
        if R is not None and need[11]:  # per gate: the gate's columns of dz
            ap, dz = _t(AP, -1, K).t(), _t(DZ, -1, nz)
            offsets = [int(cfg[s]) for s in (k.L_OI, k.L_OF, k.L_OO)]
            order = [int(cfg[s]) for s in (k.L_AI, k.L_AF, k.L_AO)]
            parts = sorted((q, off) for q, off in zip(order, offsets, strict=True) if q >= 0)
            dR = torch.cat([ap @ dz[:, off:off + units] for _, off in parts], dim=1)
        if Pj is not None and need[12]:
            dPj = _weight_grad(YP, DY, units, p)
        _POOL.give(DZ, DY, YP, *((pooled,) if pooled is not None else ()))
        da0_t = _t(da0, batch, K) if rest else None
        return (None, None, None, dx, dk, db, _t(dh0, batch, rows), _t(dc0, batch, units),
                da0_t, dU, dP_, dR, dPj)


def _lstm_params(cell: Any) -> tuple:
    return (cell.recurrent_kernel, getattr(cell, "peephole_kernel", None),
            getattr(cell, "gate_recurrent_kernel", None),
            getattr(cell, "projection_kernel", None))


# ----------------------------------------------------------------------------- GRU
def _gru_run(cfg, x, kernel, bias, h0, U, brec, rmask, mask, store):
    """Project and run the GRU forward kernel. Returns (cfg, ys, final states, arrays)."""
    k = _kernels()
    dt = _NP_DTYPES[x.dtype]
    batch, steps = x.shape[0], x.shape[1]
    cfg = _with_run(cfg, steps, batch, store)
    units = U.shape[0]
    ts = steps if store else 1
    n = batch * units
    XW = _project(x, kernel, bias)
    ys, YS = _new(batch * steps * units, x.dtype)
    S = _POOL.take(ts * 4 * n, dt)
    HP = _POOL.take(ts * n, dt)
    RH = _POOL.take((ts if not cfg[k.G_AFTER] else 1) * n, dt)
    b = np.zeros(3 * units, dt) if brec is None else _flat(brec)
    W = np.zeros(k.rnn_work(batch, units, 4)[1], dt)
    with _ONE_BLAS_THREAD:
        k.gru_forward(XW, _flat(h0), _flat(U), b, rmask, mask, cfg, YS, S, HP, RH, W)
    _POOL.give(XW)
    return cfg, ys.view(batch, steps, units), (_t(W[:n], batch, units),), (S, HP, RH)


class _GRUScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cfg, rmask, mask, x, kernel, bias, h0, U, brec):
        cfg, ys, final, arrays = _gru_run(cfg, x, kernel, bias, h0, U, brec, rmask, mask, True)
        ctx.save_for_backward(x, kernel, bias, U)
        ctx.saved = _Saved(cfg, rmask, mask, *arrays)
        ctx.has_brec = brec is not None
        return (ys, *final)

    @staticmethod
    @once_differentiable
    def backward(ctx, dys, dh):
        k = _kernels()
        x, kernel, bias, U = ctx.saved_tensors
        saved = ctx.saved
        cfg, (S, HP, RH) = saved.cfg, saved.arrays
        dt = _NP_DTYPES[dys.dtype]
        steps, batch, units = _dims(cfg)
        after = bool(cfg[k.G_AFTER])
        nz = 3 * units
        DX = _POOL.take(steps * batch * nz, dt)
        DHU = _POOL.take((steps if after else 1) * batch * nz, dt)
        dY, pooled = _grad_in(dys)
        W = np.zeros(k.rnn_work(batch, units, 9)[1], dt)
        with _ONE_BLAS_THREAD:
            k.gru_backward(dY, _flat(dh), S, HP, _flat(U), saved.rmask, saved.mask, cfg, DX,
                           DHU, W)
        dh0 = W[:batch * units]
        need = ctx.needs_input_grad
        dx, dk, db = _project_grads(DX, x, kernel, bias, need[3:6])
        scale = saved.rmask if cfg[k.C_RMASK] else None
        dU = dbrec = None
        if after:
            if need[7]:
                dU = _weight_grad(HP, DHU, units, nz, scale)
            if ctx.has_brec and need[8]:
                dbrec = _t(DHU, -1, nz).sum(dim=0)
        elif need[7]:
            dxt = _t(DX, -1, nz)
            hin = _t(HP, -1, units)
            if scale is not None:
                hin = (hin.view(steps, batch, units)
                       * torch.from_numpy(scale.reshape(1, batch, units))).view(-1, units)
            dU = torch.cat([hin.t() @ dxt[:, :2 * units],
                            _t(RH, -1, units).t() @ dxt[:, 2 * units:]], dim=1)
        _POOL.give(DX, DHU, *((pooled,) if pooled is not None else ()))
        return (None, None, None, dx, dk, db, _t(dh0, batch, units), dU, dbrec)


def _gru_brec(cell: Any) -> torch.Tensor | None:
    return cell.bias[1] if cell.reset_after and cell.use_bias else None


# ----------------------------------------------------------------------------- SimpleRNN
def _rnn_run(cfg, x, kernel, bias, h0, U, rmask, mask, store):
    """Project and run the SimpleRNN forward kernel. Returns (cfg, ys, final, arrays)."""
    k = _kernels()
    dt = _NP_DTYPES[x.dtype]
    batch, steps = x.shape[0], x.shape[1]
    cfg = _with_run(cfg, steps, batch, store)
    units = U.shape[0]
    ts = steps if store else 1
    XW = _project(x, kernel, bias)
    ys, YS = _new(batch * steps * units, x.dtype)
    S = _POOL.take(ts * batch * units, dt)
    HP = _POOL.take(ts * batch * units, dt)
    W = np.zeros(k.rnn_work(batch, units, 3)[1], dt)
    with _ONE_BLAS_THREAD:
        k.rnn_forward(XW, _flat(h0), _flat(U), rmask, mask, cfg, YS, S, HP, W)
    _POOL.give(XW)
    return cfg, ys.view(batch, steps, units), (_t(W[:batch * units], batch, units),), (S, HP)


class _RNNScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cfg, rmask, mask, x, kernel, bias, h0, U):
        cfg, ys, final, arrays = _rnn_run(cfg, x, kernel, bias, h0, U, rmask, mask, True)
        ctx.save_for_backward(x, kernel, bias, U)
        ctx.saved = _Saved(cfg, rmask, mask, *arrays)
        return (ys, *final)

    @staticmethod
    @once_differentiable
    def backward(ctx, dys, dh):
        k = _kernels()
        x, kernel, bias, U = ctx.saved_tensors
        saved = ctx.saved
        cfg, (S, HP) = saved.cfg, saved.arrays
        dt = _NP_DTYPES[dys.dtype]
        steps, batch, units = _dims(cfg)
        DX = _POOL.take(steps * batch * units, dt)
        dY, pooled = _grad_in(dys)
        W = np.zeros(k.rnn_work(batch, units, 4)[1], dt)
        with _ONE_BLAS_THREAD:
            k.rnn_backward(dY, _flat(dh), S, _flat(U), saved.rmask, saved.mask, cfg, DX, W)
        dh0 = W[:batch * units]
        need = ctx.needs_input_grad
        dx, dk, db = _project_grads(DX, x, kernel, bias, need[3:6])
        dU = None
        if need[7]:
            dU = _weight_grad(HP, DX, units, units, saved.rmask if cfg[k.C_RMASK] else None)
        _POOL.give(DX, *((pooled,) if pooled is not None else ()))
        return (None, None, None, dx, dk, db, _t(dh0, batch, units), dU)


# ----------------------------------------------------------------------------- scan
def _projection_bias(cell: Any, family: str) -> torch.Tensor | None:
    if not cell.use_bias:
        return None
    return cell.bias[0] if family == "gru" and cell.reset_after else cell.bias


def _check_states(cell: Any, states: State, batch: int) -> State:
    states = (states,) if isinstance(states, torch.Tensor) else tuple(states)
    sizes = tuple(cell.state_size)
    shapes = [tuple(s.shape) for s in states]
    if shapes != [(batch, n) for n in sizes]:
        raise ValueError(
            f"engine='compiled': {type(cell).__name__} expects states of shapes "
            f"{[(batch, n) for n in sizes]}, received {shapes}."
        )
    return states


def scan(cell: Any, x: torch.Tensor, states: State, mask: torch.Tensor | None = None,
         reverse: bool = False, recurrent_mask: Any = None,
         training: bool = False) -> tuple[torch.Tensor, State]:
    """Run `cell` over `x (batch, time, features)` with the compiled kernels.

    Same semantics as `gated.engine.reference.scan` (outputs in input time order, masked steps
    carry the state and the previous output, zero before the first unmasked step).

    Returns:
        `(ys, final_states)`: `ys (batch, time, cell.output_size)` and the final states.

    Raises:
        ValueError: when `supports(...)` is False for this configuration (the reason is named).
    """
    ok, reason = supports(cell, x, mask, reverse, recurrent_mask, training)
    if not ok:
        raise ValueError(f"engine='compiled' cannot run this configuration: {reason}.")
    family = _family(cell)
    batch = x.shape[0]
    states = _check_states(cell, states, batch)
    states = tuple(s.to(x.dtype) for s in states)
    dt = _NP_DTYPES[x.dtype]
    has_mask = mask is not None
    mask_np = _flat(mask.to(torch.bool)) if has_mask else np.ones(1, np.bool_)
    has_rmask = recurrent_mask is not None
    rmask_np = (_flat(recurrent_mask.to(x.dtype).expand(batch, cell.recurrent_size))
                if has_rmask else _dummy(dt))
    proj = (x, cell.kernel, _projection_bias(cell, family))
    if family == "lstm":
        cfg = _lstm_cfg(cell, reverse, has_mask, has_rmask)
        a0 = states[2] if cell.full_gate_recurrence else None
        tensors = (*proj, states[0], states[1], a0, *_lstm_params(cell))
        function, run = _LSTMScan, _lstm_run
    elif family == "gru":
        cfg = _gru_cfg(cell, reverse, has_mask, has_rmask)
        tensors = (*proj, states[0], cell.recurrent_kernel, _gru_brec(cell))
        function, run = _GRUScan, _gru_run
    else:
        cfg = _rnn_cfg(cell, reverse, has_mask, has_rmask)
        tensors = (*proj, states[0], cell.recurrent_kernel)
        function, run = _RNNScan, _rnn_run
    if _needs_grad(tensors):
        outs = function.apply(cfg, rmask_np, mask_np, *tensors)
        return outs[0], tuple(outs[1:])
    with torch.no_grad():
        _, ys, final, arrays = run(cfg, *tensors, rmask_np, mask_np, False)
    _POOL.give(*arrays)
    return ys, final


def _needs_grad(tensors: tuple) -> bool:
    return torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in tensors)


# ----------------------------------------------------------------------------- streaming
_stream_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _stamp(cell: Any) -> tuple[list, list]:
    """The cell's parameters and their versions: an in-place update moves a version, a new
    Parameter object changes the identity."""
    params = [p for p in cell._parameters.values() if p is not None]
    return params, [p._version for p in params]


def _stamp_matches(cell: Any, stamp: tuple[list, list]) -> bool:
    params, versions = stamp
    current = [p for p in cell._parameters.values() if p is not None]
    return (len(current) == len(params) and all(map(operator.is_, current, params))
            and [p._version for p in params] == versions)


def _stream_entry(cell: Any, x_t: torch.Tensor) -> dict:
    """Contiguous weight copies for `streaming_step`, rebuilt when a parameter changes."""
    entry = _stream_cache.get(cell)
    if entry is not None and entry["dtype"] == x_t.dtype and _stamp_matches(cell, entry["stamp"]):
        return entry
    ok, reason = supports(cell, x_t.unsqueeze(1))
    if not ok:
        raise ValueError(f"engine='compiled' cannot stream this cell: {reason}.")
    family = _family(cell)
    dt = _NP_DTYPES[x_t.dtype]
    k = _kernels()
    kernel = _c2(cell.kernel)
    n = kernel.shape[1]
    entry = {"stamp": _stamp(cell), "dtype": x_t.dtype, "family": family, "layouts": {}}
    if family == "lstm":
        cfg = _lstm_cfg(cell, False, False, False)
        entry["K"] = int(cfg[k.L_K])
        entry["cfg"] = cfg
        entry["W"] = np.concatenate([kernel, _c2(cell.recurrent_kernel)]).reshape(-1)
        entry["bias"] = _flat(cell.bias).copy() if cell.use_bias else np.zeros(n, dt)
        peephole = getattr(cell, "peephole_kernel", None)
        entry["P"] = _flat(peephole).copy() if peephole is not None else _dummy(dt)
        entry["R"] = _opt(getattr(cell, "gate_recurrent_kernel", None), dt).copy()
        entry["Pj"] = _opt(getattr(cell, "projection_kernel", None), dt).copy()
    else:
        entry["W"] = kernel.copy()
        if not cell.use_bias:
            entry["bias"] = np.zeros(n, dt)
        else:
            entry["bias"] = _flat(cell.bias[0] if family == "gru" and cell.reset_after
                                  else cell.bias).copy()
        entry["U"] = _flat(cell.recurrent_kernel).copy()
        if family == "gru":
            entry["cfg"] = _gru_cfg(cell, False, False, False)
            entry["brec"] = (_flat(cell.bias[1]).copy() if cell.reset_after and cell.use_bias
                             else np.zeros(n, dt))
        else:
            entry["cfg"] = _rnn_cfg(cell, False, False, False)
        entry["mask"] = np.ones(1, np.bool_)
        entry["rmask"] = _dummy(dt)
    _stream_cache[cell] = entry
    return entry


def _stream_layout(cell: Any, entry: dict, batch: int, features: int) -> tuple:
    """(cfg, work size, output regions) of a streaming step at this batch size (cached)."""
    layout = entry["layouts"].get((batch, features))
    if layout is None:
        k = _kernels()
        cfg = _with_run(entry["cfg"], 1, batch, False)
        units = cell.units
        if entry["family"] == "lstm":
            p, K = cell.proj_size, entry["K"]
            (_, _, _, _, cn, ypre, an, yo), size = k.lstm_stream_work(
                batch, units, features, p or units, K, entry["bias"].size, p)
            y = (yo, yo + batch * p) if p else (ypre, an)
            layout = (cfg, size, y, (cn, ypre), (an, an + batch * K))
        else:
            layout = (cfg, batch * units)
        entry["layouts"][(batch, features)] = layout
    return layout


def _np_state(t: torch.Tensor) -> np.ndarray:
    a = (t.detach() if t.requires_grad else t).numpy()
    return a.reshape(-1)


def streaming_step(cell: Any, x_t: torch.Tensor, states: State) -> tuple[torch.Tensor, State]:
    """One inference step `cell.step(x_t, states)` (no autograd) with one compiled call.

    Aimed at real-time streaming at batch 1: the weights are copied once into contiguous
    arrays (the copy is refreshed when a parameter changes: its `_version` moves, or it is
    replaced) and each step of the LSTM family is one fused kernel with one matrix product
    over `[x, h] @ [W; U]` (BLAS gemv at batch 1).

    Args:
        cell: A built `LSTMCell` / `GRUCell` / `SimpleRNNCell` that `supports` accepts.
        x_t: `(batch, features)` or `(features,)` inputs of one step.
        states: The cell's states, `(batch, n)` each (as returned by the previous step).

    Returns:
        `(y_t, new_states)` as `cell.step` (1-D inputs give 1-D outputs and states).

    Raises:
        ValueError: when `supports` rejects the cell (the reason is named).

    Example:
        >>> states = cell.get_initial_state(1)
        >>> y, states = streaming_step(cell, torch.randn(1, 64), states)
    """
    squeeze = x_t.ndim == 1
    x = x_t.detach() if x_t.requires_grad else x_t
    if squeeze:
        x = x.unsqueeze(0)
        states = tuple(s.unsqueeze(0) for s in states)
    entry = _stream_entry(cell, x)
    batch, features = x.shape
    xn = x.numpy().reshape(-1)
    k = _loaded["kernels"]
    layout = _stream_layout(cell, entry, batch, features)
    if entry["family"] == "lstm":
        cfg, size, y, c, a = layout
        fgr = len(states) == 3
        a0 = _np_state(states[2]) if fgr else np.zeros(batch, xn.dtype)
        W = np.zeros(size, xn.dtype)
        k.lstm_stream(xn, _np_state(states[0]), _np_state(states[1]), a0, entry["W"],
                      entry["bias"], entry["P"], entry["R"], entry["Pj"], cfg, W)
        out = torch.from_numpy(W[y[0]:y[1]].reshape(batch, -1))
        new = (out, torch.from_numpy(W[c[0]:c[1]].reshape(batch, -1)))
        if fgr:
            new += (torch.from_numpy(W[a[0]:a[1]].reshape(batch, -1)),)
    else:
        cfg, n = layout
        xw = (np.dot(xn.reshape(batch, features), entry["W"]) + entry["bias"]).reshape(-1)
        h0 = _np_state(states[0])
        YS = np.empty(n, xn.dtype)
        if entry["family"] == "gru":
            work = [np.empty(4 * n, xn.dtype), np.empty(n, xn.dtype), np.empty(n, xn.dtype),
                    np.zeros(4 * n, xn.dtype)]
            k.gru_forward(xw, h0, entry["U"], entry["brec"], entry["rmask"], entry["mask"], cfg,
                          YS, *work)
        else:
            work = [np.empty(n, xn.dtype), np.empty(n, xn.dtype), np.zeros(3 * n, xn.dtype)]
            k.rnn_forward(xw, h0, entry["U"], entry["rmask"], entry["mask"], cfg, YS, *work)
        out = torch.from_numpy(YS).view(batch, -1)
        new = (out,)
    if squeeze:
        return out[0], tuple(s[0] for s in new)
    return out, new


__all__ = ["ACTIVATION_CODES", "is_available", "scan", "streaming_step", "supports"]
