"""The Python side of the compiled engine, shared by every family's kernel adapter.

Flat NumPy views of tensors for the kernels, a pool of reused work arrays, one BLAS thread
around the kernels' many small products, the time-major input projection (one GEMM) and its
gradients, and the weight-gradient GEMM over all steps. Knows no family.
"""

from __future__ import annotations

import operator
import threading
import weakref
from typing import Any

import numpy as np
import torch

NP_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}

# cfg slots every family's kernels share (an int64 array read at run time by the kernels); a
# family's own slots start at C_FAMILY.
C_STEPS, C_BATCH, C_UNITS, C_REVERSE, C_MASK, C_RMASK, C_STORE = range(7)
C_FAMILY = 7


# ----------------------------------------------------------------------------- helpers
# Arrays cross into the kernels flat (1-D); states and outputs in torch's batch-major layout,
# the per-step sequences time-major (see `gated.engine.compiled.toolkit`).
def flat(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().numpy()).reshape(-1)


def c2(t: torch.Tensor) -> np.ndarray:
    """A C-contiguous 2-D array of a weight."""
    return np.ascontiguousarray(t.detach().numpy())


def as_tensor(a: np.ndarray, *shape: int) -> torch.Tensor:
    return torch.from_numpy(a.reshape(shape))


def dummy(dtype: Any, ndim: int = 1) -> np.ndarray:
    return np.zeros((1,) * ndim, dtype)


def optional(t: torch.Tensor | None, dtype: Any) -> np.ndarray:
    return flat(t) if t is not None else dummy(dtype)


def weight_grad(a: np.ndarray, b: np.ndarray, rows: int, cols: int,
                 scale: np.ndarray | None = None) -> torch.Tensor:
    """sum over steps and batch of a^T b for (T, B, rows) and (T, B, cols): one GEMM."""
    left = torch.from_numpy(a.reshape(-1, rows))
    if scale is not None:  # the recurrent (dropout) mask applied to h_{t-1}, (B, rows)
        left = (left.view(-1, scale.size // rows, rows)
                * torch.from_numpy(scale.reshape(1, -1, rows))).view(-1, rows)
    return left.t() @ torch.from_numpy(b.reshape(-1, cols))



def base_config(size: int, units: int, reverse: bool, has_mask: bool,
                has_rmask: bool) -> np.ndarray:
    """A family's cfg array of `size` slots with the shared slots filled in."""
    cfg = np.zeros(size, np.int64)
    cfg[C_UNITS] = units
    cfg[C_REVERSE], cfg[C_MASK], cfg[C_RMASK] = int(reverse), int(has_mask), int(has_rmask)
    return cfg


def with_run(cfg: np.ndarray, steps: int, batch: int, store: bool) -> np.ndarray:
    cfg = cfg.copy()
    cfg[C_STEPS], cfg[C_BATCH], cfg[C_STORE] = steps, batch, int(store)
    return cfg


def dims(cfg: np.ndarray) -> tuple[int, int, int]:
    return int(cfg[C_STEPS]), int(cfg[C_BATCH]), int(cfg[C_UNITS])


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


ONE_BLAS_THREAD = _OneBlasThread()


# ----------------------------------------------------------------------------- buffers
class _Pool:
    """Reuses the large work arrays of the kernels (the stored activations) across calls.

    A fresh multi-megabyte array page-faults on first touch, on every call: thousands of faults
    per training step, as much time as the recurrence itself. Arrays come back to the pool
    when the autograd graph that saved them is freed (`Saved`).
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


POOL = _Pool()


class Saved:
    """What a Function keeps for backward; its pooled arrays go back to the pool with it."""

    def __init__(self, cfg: np.ndarray, rmask: np.ndarray, mask: np.ndarray,
                 *arrays: np.ndarray) -> None:
        self.cfg, self.rmask, self.mask, self.arrays = cfg, rmask, mask, arrays
        weakref.finalize(self, POOL.give, *arrays)


def grad_in(g: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
    """A flat C-contiguous array of an incoming gradient (pooled when it must be copied)."""
    a = g.detach().numpy()
    if a.flags.c_contiguous:
        return a.reshape(-1), None
    flat = POOL.take(a.size, a.dtype)
    np.copyto(flat.reshape(a.shape), a)
    return flat, flat


def new_output(size: int, dtype: torch.dtype) -> tuple[torch.Tensor, np.ndarray]:
    """A fresh tensor the caller will own (outputs), and its flat array."""
    t = torch.empty(size, dtype=dtype)
    return t, t.numpy()


# ----------------------------------------------------------------------------- projection
def project(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None) -> np.ndarray:
    """`x @ kernel + bias` for every step in one GEMM (bias fused), time-major `(T, B, n)`,
    into a pooled array (the kernels overwrite it with the pre-activations).

    This is `cell.input_projection` of the supported cells (`supports` refuses layer norm and
    subclasses that override it); its gradients are `project_grads`.
    """
    batch, steps, feat = x.shape
    XW = POOL.take(steps * batch * kernel.shape[1], NP_DTYPES[x.dtype])
    out = torch.from_numpy(XW).view(steps * batch, kernel.shape[1])
    xt = x.detach().transpose(0, 1).reshape(steps * batch, feat)
    with torch.no_grad():
        if bias is None:
            torch.mm(xt, kernel.detach(), out=out)
        else:
            torch.addmm(bias.detach(), xt, kernel.detach(), out=out)
    return XW


def project_grads(DZ: np.ndarray, x: torch.Tensor, kernel: torch.Tensor,
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

# ----------------------------------------------------------------------------- streaming
def stamp(module: Any) -> tuple[list, list]:
    """A module's own parameters and their versions: an in-place update moves a version, a
    new Parameter object changes the identity (to refresh cached weight copies)."""
    params = [p for p in module._parameters.values() if p is not None]
    return params, [p._version for p in params]


def stamp_matches(module: Any, saved: tuple[list, list]) -> bool:
    params, versions = saved
    current = [p for p in module._parameters.values() if p is not None]
    return (len(current) == len(params) and all(map(operator.is_, current, params))
            and [p._version for p in params] == versions)


def np_state(t: torch.Tensor) -> np.ndarray:
    """A flat array view of a state tensor (detached)."""
    a = (t.detach() if t.requires_grad else t).numpy()
    return a.reshape(-1)
