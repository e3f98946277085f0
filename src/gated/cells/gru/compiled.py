"""The GRU's compiled formulas: the adapter between `GRUCell`'s spec and its Numba kernels
(`kernels.py`), for the compiled engine (`gated.engine.compiled`). Both `reset_after` forms,
with or without bias, any activation with a kernel code in `gated.activations`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gated.engine.compiled import buffers as b
from gated.engine.spec import Formulas

_loaded: dict[str, Any] = {}


def _kernels() -> Any:
    if "k" not in _loaded:
        from gated.cells.gru import kernels

        _loaded["k"] = kernels
    return _loaded["k"]


def _work(batch: int, units: int, regions: int, dt: Any) -> np.ndarray:
    """The kernels' zeroed work array: `regions` blocks of batch x units."""
    return np.zeros(regions * batch * units, dt)


class GRUKernels:
    """`spec.formulas["compiled"].impl` of the GRU (see `gated.engine.compiled`)."""

    @staticmethod
    def inputs(spec: Any, x: torch.Tensor, states: tuple) -> tuple:
        w, after = spec.weights, spec.config.reset_after
        bias = w.get("bias")
        if bias is not None and after:
            bias, brec = bias[0], bias[1]
        else:
            brec = None
        return (x, w["kernel"], bias, states[0], w["recurrent_kernel"], brec)

    @staticmethod
    def config(spec: Any, reverse: bool, has_mask: bool, has_rmask: bool) -> np.ndarray:
        k = _kernels()
        cfg = b.base_config(k.GRU_CFG_SIZE, spec.config.units, reverse, has_mask, has_rmask)
        cfg[k.G_AFTER] = int(spec.config.reset_after)
        cfg[k.G_SCODE] = spec.activation("recurrent_activation").kernel_code
        cfg[k.G_ACODE] = spec.activation("activation").kernel_code
        return cfg

    @staticmethod
    def forward(cfg, tensors, rmask, mask, store):
        x, kernel, bias, h0, U, brec = tensors
        k = _kernels()
        dt = b.NP_DTYPES[x.dtype]
        batch, steps = x.shape[0], x.shape[1]
        cfg = b.with_run(cfg, steps, batch, store)
        units = U.shape[0]
        ts = steps if store else 1
        n = batch * units
        XW = b.project(x, kernel, bias)
        ys, YS = b.new_output(batch * steps * units, x.dtype)
        S = b.POOL.take(ts * 4 * n, dt)
        HP = b.POOL.take(ts * n, dt)
        RH = b.POOL.take((ts if not cfg[k.G_AFTER] else 1) * n, dt)
        rb = np.zeros(3 * units, dt) if brec is None else b.flat(brec)
        W = _work(batch, units, 4, dt)
        with b.ONE_BLAS_THREAD:
            k.gru_forward(XW, b.flat(h0), b.flat(U), rb, rmask, mask, cfg, YS, S, HP, RH, W)
        b.POOL.give(XW)
        return cfg, ys.view(batch, steps, units), (b.as_tensor(W[:n], batch, units),), \
            (S, HP, RH)

    @staticmethod
    def backward(cfg, tensors, arrays, rmask, mask, dys, dfinal, need):
        x, kernel, bias, _h0, U, brec = tensors
        (dh,) = dfinal
        S, HP, RH = arrays
        k = _kernels()
        dt = b.NP_DTYPES[dys.dtype]
        steps, batch, units = b.dims(cfg)
        after = bool(cfg[k.G_AFTER])
        nz = 3 * units
        DX = b.POOL.take(steps * batch * nz, dt)
        DHU = b.POOL.take((steps if after else 1) * batch * nz, dt)
        dY, pooled = b.grad_in(dys)
        W = _work(batch, units, 9, dt)
        with b.ONE_BLAS_THREAD:
            k.gru_backward(dY, b.flat(dh), S, HP, b.flat(U), rmask, mask, cfg, DX, DHU, W)
        dh0 = W[:batch * units]
        dx, dk, db = b.project_grads(DX, x, kernel, bias, need[0:3])
        scale = rmask if cfg[k.C_RMASK] else None
        dU = dbrec = None
        if after:
            if need[4]:
                dU = b.weight_grad(HP, DHU, units, nz, scale)
            if brec is not None and need[5]:
                dbrec = b.as_tensor(DHU, -1, nz).sum(dim=0)
        elif need[4]:
            dxt = b.as_tensor(DX, -1, nz)
            hin = b.as_tensor(HP, -1, units)
            if scale is not None:
                hin = (hin.view(steps, batch, units)
                       * torch.from_numpy(scale.reshape(1, batch, units))).view(-1, units)
            dU = torch.cat([hin.t() @ dxt[:, :2 * units],
                            b.as_tensor(RH, -1, units).t() @ dxt[:, 2 * units:]], dim=1)
        b.POOL.give(DX, DHU, *((pooled,) if pooled is not None else ()))
        return (dx, dk, db, b.as_tensor(dh0, batch, units), dU, dbrec)

    # ------------------------------------------------------------------ streaming
    @staticmethod
    def stream_entry(spec: Any, dtype: torch.dtype) -> dict:
        dt = b.NP_DTYPES[dtype]
        _, kernel, bias, _, U, brec = GRUKernels.inputs(spec, spec.weights["kernel"],
                                                        (None,))
        n = kernel.shape[1]
        return {"cfg": GRUKernels.config(spec, False, False, False), "W": b.c2(kernel).copy(),
                "bias": b.flat(bias).copy() if bias is not None else np.zeros(n, dt),
                "U": b.flat(U).copy(),
                "brec": b.flat(brec).copy() if brec is not None else np.zeros(n, dt),
                "mask": np.ones(1, np.bool_), "rmask": b.dummy(dt), "layouts": {}}

    @staticmethod
    def stream(entry: dict, x: torch.Tensor, states: tuple) -> tuple[torch.Tensor, tuple]:
        k = _kernels()
        batch, features = x.shape
        cfg = entry["layouts"].get(batch)
        if cfg is None:
            cfg = entry["layouts"][batch] = b.with_run(entry["cfg"], 1, batch, False)
        xn = x.numpy()
        xw = (np.dot(xn, entry["W"]) + entry["bias"]).reshape(-1)
        n = xw.size // 3
        YS = np.empty(n, xn.dtype)
        work = [np.empty(4 * n, xn.dtype), np.empty(n, xn.dtype), np.empty(n, xn.dtype),
                np.zeros(4 * n, xn.dtype)]
        k.gru_forward(xw, b.np_state(states[0]), entry["U"], entry["brec"], entry["rmask"],
                      entry["mask"], cfg, YS, *work)
        out = torch.from_numpy(YS).view(batch, -1)
        return out, (out,)


FORMULAS = Formulas(backend="compiled", features=frozenset({"reset_after", "use_bias"}),
                    impl=GRUKernels)
