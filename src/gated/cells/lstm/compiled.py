"""The LSTM family's compiled formulas: the adapter between `LSTMCell`'s spec and its Numba
kernels (`kernels.py`), for the compiled engine (`gated.engine.compiled`).

Implements every option of `OPTIONS` but layer norm and zoneout (presets, peepholes, CIFG,
missing gates, full gate recurrence, projection, no bias), with any activation that has a
kernel code in `gated.activations`. The cell's layout becomes the integer `cfg` of the kernels
(block offsets, peephole rows, forget-gate mode, activation codes).
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
        from gated.cells.lstm import kernels

        _loaded["k"] = kernels
    return _loaded["k"]


def _code(spec: Any, role: str) -> int:
    return spec.activation(role).kernel_code


class LSTMKernels:
    """`spec.formulas["compiled"].impl` of the LSTM family (see `gated.engine.compiled`)."""

    @staticmethod
    def inputs(spec: Any, x: torch.Tensor, states: tuple) -> tuple:
        w = spec.weights
        a0 = states[2] if spec.config.full_gate_recurrence else None
        return (x, w["kernel"], w.get("bias"), states[0], states[1], a0, w["recurrent_kernel"],
                w.get("peephole_kernel"), w.get("gate_recurrent_kernel"),
                w.get("projection_kernel"))

    @staticmethod
    def config(spec: Any, reverse: bool, has_mask: bool, has_rmask: bool) -> np.ndarray:
        k, c = _kernels(), spec.config
        units = c.units
        offsets = {name: i * units for i, name in enumerate(c.blocks)}
        peep = {g: i for i, g in enumerate(c.peephole_gates)}
        gates = {g: i for i, g in enumerate(c.gates)} if c.full_gate_recurrence else {}
        cfg = b.base_config(k.LSTM_CFG_SIZE, units, reverse, has_mask, has_rmask)
        cfg[k.L_H] = c.proj_size or units
        cfg[k.L_PROJ] = c.proj_size
        cfg[k.L_K] = len(c.gates) * units if c.full_gate_recurrence else 1
        for slot, name in ((k.L_OI, "i"), (k.L_OF, "f"), (k.L_OC, "c"), (k.L_OO, "o")):
            cfg[slot] = offsets.get(name, -1)
        cfg[k.L_FMODE] = (k.F_COUPLED if c.coupled_gates
                          else k.F_OWN if "f" in c.blocks else k.F_NONE)
        for slot, name in ((k.L_PI, "i"), (k.L_PF, "f"), (k.L_PO, "o")):
            cfg[slot] = peep.get(name, -1)
        cfg[k.L_FGR] = int(c.full_gate_recurrence)
        for slot, name in ((k.L_AI, "i"), (k.L_AF, "f"), (k.L_AO, "o")):
            cfg[slot] = gates.get(name, -1)
        cfg[k.L_GCODE] = _code(spec, "input_activation")
        cfg[k.L_HCODE] = _code(spec, "output_activation")
        cfg[k.L_SCODE] = _code(spec, "recurrent_activation")
        return cfg

    @staticmethod
    def forward(cfg, tensors, rmask, mask, store):
        """Project and run the forward kernel. Returns (cfg, ys, final states, arrays)."""
        x, kernel, bias, h0, c0, a0, U, P, R, Pj = tensors
        k = _kernels()
        dt = b.NP_DTYPES[x.dtype]
        batch, steps = x.shape[0], x.shape[1]
        cfg = b.with_run(cfg, steps, batch, store)
        units, rows, K = int(cfg[k.C_UNITS]), int(cfg[k.L_H]), int(cfg[k.L_K])
        fgr = bool(cfg[k.L_FGR])
        ts = steps if store else 1
        XW = b.project(x, kernel, bias)
        ys, YS = b.new_output(batch * steps * rows, x.dtype)
        S = b.POOL.take(ts * 6 * batch * units, dt)
        HP = b.POOL.take(ts * batch * rows, dt)
        AP = b.POOL.take((ts if fgr else 1) * batch * K, dt)
        a = b.flat(a0) if a0 is not None else np.zeros(batch, dt)
        (ho, co, ao, *_), size = k.lstm_forward_work(batch, units, rows, K, rows)
        W = np.zeros(size, dt)
        with b.ONE_BLAS_THREAD:
            k.lstm_forward(XW, b.flat(h0), b.flat(c0), a, b.flat(U), b.optional(R, dt),
                           b.optional(P, dt), b.optional(Pj, dt), rmask, mask, cfg, YS, S, HP,
                           AP, W)
        b.POOL.give(XW)
        final = (b.as_tensor(W[ho:co], batch, rows), b.as_tensor(W[co:ao], batch, units))
        final += (b.as_tensor(W[ao:ao + batch * K], batch, K),) if a0 is not None else ()
        return cfg, ys.view(batch, steps, rows), final, (S, HP, AP)

    @staticmethod
    def backward(cfg, tensors, arrays, rmask, mask, dys, dfinal, need):
        x, kernel, bias, _h0, _c0, a0, U, P, R, Pj = tensors
        dh, dc, *rest = dfinal
        S, HP, AP = arrays
        k = _kernels()
        dt = b.NP_DTYPES[dys.dtype]
        steps, batch, units = b.dims(cfg)
        rows, K, p = int(cfg[k.L_H]), int(cfg[k.L_K]), int(cfg[k.L_PROJ])
        nz = U.shape[1]
        out = p or units
        DZ = b.POOL.take(steps * batch * nz, dt)
        DY = b.POOL.take((steps if p else 1) * batch * out, dt)
        YP = b.POOL.take((steps if p else 1) * batch * units, dt)
        dY, pooled = b.grad_in(dys)
        da = b.flat(rest[0]) if rest else np.zeros(batch, dt)
        P_ = b.optional(P, dt)
        (dho, dco, dao, dPo, *_), size = k.lstm_backward_work(batch, units, rows, K, out,
                                                              P_.size)
        W = np.zeros(size, dt)
        with b.ONE_BLAS_THREAD:
            k.lstm_backward(dY, b.flat(dh), b.flat(dc), da, S, b.flat(U), b.optional(R, dt), P_,
                            b.optional(Pj, dt), rmask, mask, cfg, DZ, DY, YP, W)
        dh0, dc0, da0, dP = W[dho:dco], W[dco:dao], W[dao:dPo], W[dPo:dPo + P_.size]
        dx, dk, db = b.project_grads(DZ, x, kernel, bias, need[0:3])
        dU = dP_ = dR = dPj = None
        if need[6]:
            dU = b.weight_grad(HP, DZ, rows, nz, rmask if cfg[k.C_RMASK] else None)
        if P is not None and need[7]:
            dP_ = b.as_tensor(dP, *P.shape)
        if R is not None and need[8]:  # per gate: the gate's columns of dz
            ap, dz = b.as_tensor(AP, -1, K).t(), b.as_tensor(DZ, -1, nz)
            offsets = [int(cfg[s]) for s in (k.L_OI, k.L_OF, k.L_OO)]
            order = [int(cfg[s]) for s in (k.L_AI, k.L_AF, k.L_AO)]
            parts = sorted((q, off) for q, off in zip(order, offsets, strict=True) if q >= 0)
            dR = torch.cat([ap @ dz[:, off:off + units] for _, off in parts], dim=1)
        if Pj is not None and need[9]:
            dPj = b.weight_grad(YP, DY, units, p)
        b.POOL.give(DZ, DY, YP, *((pooled,) if pooled is not None else ()))
        da0_t = b.as_tensor(da0, batch, K) if a0 is not None else None
        return (dx, dk, db, b.as_tensor(dh0, batch, rows), b.as_tensor(dc0, batch, units),
                da0_t, dU, dP_, dR, dPj)

    # ------------------------------------------------------------------ streaming
    @staticmethod
    def stream_entry(spec: Any, dtype: torch.dtype) -> dict:
        """Contiguous weight copies: `[kernel; recurrent_kernel]` for one product per step."""
        dt = b.NP_DTYPES[dtype]
        w = spec.weights
        kernel = b.c2(w["kernel"])
        n = kernel.shape[1]
        cfg = LSTMKernels.config(spec, False, False, False)
        k = _kernels()
        return {
            "cfg": cfg, "K": int(cfg[k.L_K]), "units": spec.config.units,
            "proj": spec.config.proj_size, "layouts": {},
            "W": np.concatenate([kernel, b.c2(w["recurrent_kernel"])]).reshape(-1),
            "bias": b.flat(w["bias"]).copy() if "bias" in w else np.zeros(n, dt),
            "P": b.optional(w.get("peephole_kernel"), dt).copy(),
            "R": b.optional(w.get("gate_recurrent_kernel"), dt).copy(),
            "Pj": b.optional(w.get("projection_kernel"), dt).copy(),
        }

    @staticmethod
    def stream(entry: dict, x: torch.Tensor, states: tuple) -> tuple[torch.Tensor, tuple]:
        k = _kernels()
        batch, features = x.shape
        layout = entry["layouts"].get((batch, features))
        if layout is None:
            cfg = b.with_run(entry["cfg"], 1, batch, False)
            p, K = entry["proj"], entry["K"]
            (_, _, _, _, cn, ypre, an, yo), size = k.lstm_stream_work(
                batch, entry["units"], features, p or entry["units"], K, entry["bias"].size, p)
            y = (yo, yo + batch * p) if p else (ypre, an)
            layout = (cfg, size, y, (cn, ypre), (an, an + batch * K))
            entry["layouts"][(batch, features)] = layout
        cfg, size, y, c, a = layout
        xn = x.numpy().reshape(-1)
        fgr = len(states) == 3
        a0 = b.np_state(states[2]) if fgr else np.zeros(batch, xn.dtype)
        W = np.zeros(size, xn.dtype)
        k.lstm_stream(xn, b.np_state(states[0]), b.np_state(states[1]), a0, entry["W"],
                      entry["bias"], entry["P"], entry["R"], entry["Pj"], cfg, W)
        out = torch.from_numpy(W[y[0]:y[1]].reshape(batch, -1))
        new = (out, torch.from_numpy(W[c[0]:c[1]].reshape(batch, -1)))
        if fgr:
            new += (torch.from_numpy(W[a[0]:a[1]].reshape(batch, -1)),)
        return out, new


FORMULAS = Formulas(
    backend="compiled",
    features=frozenset({"input_gate", "forget_gate", "output_gate", "peephole",
                        "coupled_gates", "full_gate_recurrence", "proj_size", "use_bias"}),
    impl=LSTMKernels,
)
