"""The SimpleRNN's compiled formulas: the adapter between `SimpleRNNCell`'s spec and its Numba
kernels (`kernels.py`), for the compiled engine (`gated.engine.compiled`).
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
        from gated.cells.simple import kernels

        _loaded["k"] = kernels
    return _loaded["k"]


class SimpleRNNKernels:
    """`spec.formulas["compiled"].impl` of the SimpleRNN (see `gated.engine.compiled`)."""

    @staticmethod
    def inputs(spec: Any, x: torch.Tensor, states: tuple) -> tuple:
        w = spec.weights
        return (x, w["kernel"], w.get("bias"), states[0], w["recurrent_kernel"])

    @staticmethod
    def config(spec: Any, reverse: bool, has_mask: bool, has_rmask: bool) -> np.ndarray:
        k = _kernels()
        cfg = b.base_config(k.RNN_CFG_SIZE, spec.config.units, reverse, has_mask, has_rmask)
        cfg[k.R_ACODE] = spec.activation("activation").kernel_code
        return cfg

    @staticmethod
    def forward(cfg, tensors, rmask, mask, store):
        x, kernel, bias, h0, U = tensors
        k = _kernels()
        dt = b.NP_DTYPES[x.dtype]
        batch, steps = x.shape[0], x.shape[1]
        cfg = b.with_run(cfg, steps, batch, store)
        units = U.shape[0]
        ts = steps if store else 1
        XW = b.project(x, kernel, bias)
        ys, YS = b.new_output(batch * steps * units, x.dtype)
        S = b.POOL.take(ts * batch * units, dt)
        HP = b.POOL.take(ts * batch * units, dt)
        W = np.zeros(3 * batch * units, dt)
        with b.ONE_BLAS_THREAD:
            k.rnn_forward(XW, b.flat(h0), b.flat(U), rmask, mask, cfg, YS, S, HP, W)
        b.POOL.give(XW)
        return cfg, ys.view(batch, steps, units), \
            (b.as_tensor(W[:batch * units], batch, units),), (S, HP)

    @staticmethod
    def backward(cfg, tensors, arrays, rmask, mask, dys, dfinal, need):
        x, kernel, bias, _h0, U = tensors
        (dh,) = dfinal
        S, HP = arrays
        k = _kernels()
        dt = b.NP_DTYPES[dys.dtype]
        steps, batch, units = b.dims(cfg)
        DX = b.POOL.take(steps * batch * units, dt)
        dY, pooled = b.grad_in(dys)
        W = np.zeros(4 * batch * units, dt)
        with b.ONE_BLAS_THREAD:
            k.rnn_backward(dY, b.flat(dh), S, b.flat(U), rmask, mask, cfg, DX, W)
        dh0 = W[:batch * units]
        dx, dk, db = b.project_grads(DX, x, kernel, bias, need[0:3])
        dU = None
        if need[4]:
            dU = b.weight_grad(HP, DX, units, units, rmask if cfg[k.C_RMASK] else None)
        b.POOL.give(DX, *((pooled,) if pooled is not None else ()))
        return (dx, dk, db, b.as_tensor(dh0, batch, units), dU)

    # ------------------------------------------------------------------ streaming
    @staticmethod
    def stream_entry(spec: Any, dtype: torch.dtype) -> dict:
        dt = b.NP_DTYPES[dtype]
        w = spec.weights
        kernel = b.c2(w["kernel"])
        return {"cfg": SimpleRNNKernels.config(spec, False, False, False),
                "W": kernel.copy(),
                "bias": b.flat(w["bias"]).copy() if "bias" in w
                else np.zeros(kernel.shape[1], dt),
                "U": b.flat(w["recurrent_kernel"]).copy(),
                "mask": np.ones(1, np.bool_), "rmask": b.dummy(dt), "layouts": {}}

    @staticmethod
    def stream(entry: dict, x: torch.Tensor, states: tuple) -> tuple[torch.Tensor, tuple]:
        k = _kernels()
        batch = x.shape[0]
        cfg = entry["layouts"].get(batch)
        if cfg is None:
            cfg = entry["layouts"][batch] = b.with_run(entry["cfg"], 1, batch, False)
        xn = x.numpy()
        xw = (np.dot(xn, entry["W"]) + entry["bias"]).reshape(-1)
        n = xw.size
        YS = np.empty(n, xn.dtype)
        work = [np.empty(n, xn.dtype), np.empty(n, xn.dtype), np.zeros(3 * n, xn.dtype)]
        k.rnn_forward(xw, b.np_state(states[0]), entry["U"], entry["rmask"], entry["mask"], cfg,
                      YS, *work)
        out = torch.from_numpy(YS).view(batch, -1)
        return out, (out,)


FORMULAS = Formulas(backend="compiled", features=frozenset({"use_bias"}),
                    impl=SimpleRNNKernels)
