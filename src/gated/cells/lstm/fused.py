"""The LSTM family's fused formulas: one step forward and its derivative, for the fused engine.

`LSTMStepper` computes a step of `LSTMCell` (every option of its table: blocks, peepholes,
CIFG, full gate recurrence, projection, layer norm, zoneout in training and inference) in
plain torch ops and keeps what the step's backward needs; the driver (`gated.engine.fused`)
owns the loop, the masks, the direction and the autograd plumbing. Activations need a fused
derivative in `gated.activations`. Reference math: `cell.py`; these formulas must equal it
(the conformance test checks every option).
"""

from __future__ import annotations

from typing import Any

import torch

from gated.engine.fused import ChunkedGemm, by_time
from gated.engine.spec import Formulas

State = tuple[torch.Tensor, ...]

_ln = torch.native_layer_norm
_ln_backward = torch.ops.aten.native_layer_norm_backward


class LSTMStepper:
    """Forward and backward of one LSTM step, for every flag of `LSTMCell`.

    Per step it keeps: the recurrent input h_in, c_{t-1}, the gate activations, g, h(c_t),
    c_t, and with the flags the layer-norm statistics, the zoneout draws, a_{t-1}, o*h(c_t).
    """

    def __init__(self, spec: Any, weights: dict, recurrent_mask: torch.Tensor | None,
                 training: bool, save: bool) -> None:
        c = spec.config
        u = c.units
        self.u = u
        self.blocks = c.blocks
        self.gates = c.gates
        self.pos = {b: k for k, b in enumerate(self.blocks)}
        self.coupled = c.coupled_gates
        sigma, g_act, h_act = (spec.activation(role) for role in (
            "recurrent_activation", "input_activation", "output_activation"))
        self.sigma, self.g_act, self.h_act = sigma.fn, g_act.fn, h_act.fn
        self.sigma_d, self.g_d, self.h_d = sigma.derivative, g_act.derivative, h_act.derivative
        self.w = weights
        self.U, self.Ut = weights["U"], weights["U"].t()
        self.rm = recurrent_mask
        self.training = training
        self.save = save
        self.eps = c.layer_norm_epsilon
        self.layer_norm = c.layer_norm
        self.proj = bool(c.proj_size)
        if self.proj:
            self.P, self.Pt = weights["P"], weights["P"].t()
        self.fgr = c.full_gate_recurrence
        self.zc, self.zh = c.zoneout_cell, c.zoneout_hidden
        self.peep = {}
        if c.peephole:
            self.peep = dict(zip(c.peephole_gates, weights["peephole"].unbind(0),
                                 strict=True))
        # one activation call over all blocks when no peephole changes a gate's input
        self.sigma_all = not self.peep and bool(self.gates)
        if self.fgr:
            cols = [torch.arange(self.pos[g] * u, (self.pos[g] + 1) * u) for g in self.gates]
            self.gate_cols = torch.cat(cols).to(self.U.device)
            rfull = self.U.new_zeros(len(self.gates) * u, len(self.blocks) * u)
            rfull[:, self.gate_cols] = weights["R"]
            self.r_full, self.r_full_t = rfull, rfull.t()
        self.s: dict[str, list] = {k: [] for k in (
            "h_in", "c_prev", "c_new", "a_prev", "acts", "g", "hc", "m", "hu", "mean_h",
            "rstd_h", "mean_c", "rstd_c", "kc", "kh")}
        self.d: dict[str, list] = {"dy_pre": []}
        self.k = 0

    def begin_backward(self, grad_ys: torch.Tensor) -> None:
        self.d = {"dy_pre": []}
        self.k = 0
        self.Ut = self.U.t().contiguous()  # a contiguous B of A @ B is the fastest GEMM
        batch, steps = grad_ys.shape[0], grad_ys.shape[1]
        n = len(self.blocks) * self.u
        self.DZ = grad_ys.new_empty(steps, batch, n)  # time-major: dxw of the time-major xw
        if self.layer_norm:
            # dU needs the gradient of h U *before* the norm: accumulated in chunks of steps
            # rather than kept for all steps next to DZ (peak memory below the eager loop's).
            self.dU = ChunkedGemm(self.U.new_zeros(self.U.shape), batch)
            self.ln_acc = {"gamma_h": grad_ys.new_zeros(n), "gamma_c": grad_ys.new_zeros(self.u),
                           "beta_c": grad_ys.new_zeros(self.u)}

    def forward(self, t: int, xw: torch.Tensor, states: State):
        w, u, pos, save, s = self.w, self.u, self.pos, self.save, self.s
        h_prev, c_prev = states[0], states[1]
        h_in = h_prev if self.rm is None else h_prev * self.rm
        if self.layer_norm:
            hu = torch.mm(h_in, self.U)
            hu_n, mean_h, rstd_h = _ln(hu, hu.shape[-1:], w["gamma_h"], None, self.eps)
            z = xw + hu_n
            if save:
                s["hu"].append(hu)
                s["mean_h"].append(mean_h)
                s["rstd_h"].append(rstd_h)
        else:
            z = torch.addmm(xw, h_in, self.U)
        if self.fgr:
            z = torch.addmm(z, states[2], self.r_full)
        zs = z.split(u, 1)
        acts = self.sigma(z).split(u, 1) if self.sigma_all else None

        def gate(name: str, c_seen: torch.Tensor) -> torch.Tensor:
            if acts is not None:
                return acts[pos[name]]
            p = self.peep.get(name)
            zg = zs[pos[name]]
            return self.sigma(zg if p is None else torch.addcmul(zg, p, c_seen))

        i = gate("i", c_prev) if "i" in pos else None
        if self.coupled:
            f = 1.0 - i
        elif "f" in pos:
            f = gate("f", c_prev)
        else:
            f = None
        g = self.g_act(zs[pos["c"]])
        ig = g if i is None else i * g
        c_new = c_prev + ig if f is None else torch.addcmul(ig, f, c_prev)
        if self.layer_norm:
            cn, mean_c, rstd_c = _ln(c_new, c_new.shape[-1:], w["gamma_c"], w["beta_c"],
                                     self.eps)
            hc = self.h_act(cn)
            if save:
                s["mean_c"].append(mean_c)
                s["rstd_c"].append(rstd_c)
        else:
            hc = self.h_act(c_new)
        o = gate("o", c_new) if "o" in pos else None
        m = hc if o is None else o * hc
        y = torch.mm(m, self.P) if self.proj else m
        if save:
            s["h_in"].append(h_in)
            s["c_prev"].append(c_prev)
            s["c_new"].append(c_new)
            s["acts"].append((i, f, o))
            s["g"].append(g)
            s["hc"].append(hc)
            if self.proj:
                s["m"].append(m)
            if self.fgr:
                s["a_prev"].append(states[2])
        c_state = c_new
        if self.zc:
            kc = torch.bernoulli(torch.full_like(c_new, self.zc)) if self.training else self.zc
            c_state = kc * c_prev + (1.0 - kc) * c_new
            if save:
                s["kc"].append(kc)
        if self.zh:
            kh = torch.bernoulli(torch.full_like(y, self.zh)) if self.training else self.zh
            y = kh * h_prev + (1.0 - kh) * y
            if save:
                s["kh"].append(kh)
        if self.fgr:
            named = {"i": i, "f": f, "o": o}
            return y, (y, c_state, torch.cat([named[n] for n in self.gates], dim=-1))
        return y, (y, c_state)

    def backward(self, t: int, dy: torch.Tensor, drest: list) -> list:
        s, w, u = self.s, self.w, self.u
        self.k += 1
        j = -self.k  # saved lists run in processing order: walk them from the end
        dc = drest[0]
        dh_prev = None
        if self.zh:
            kh = s["kh"][j]
            dh_prev = kh * dy
            dy = (1.0 - kh) * dy
        if self.proj:
            self.d["dy_pre"].append(dy)
            dm = torch.mm(dy, self.Pt)
        else:
            dm = dy
        c_prev = s["c_prev"][j]
        i, f, o = s["acts"][j]
        g, hc = s["g"][j], s["hc"][j]
        if self.zc:
            kc = s["kc"][j]
            dc_prev = kc * dc
            dc = (1.0 - kc) * dc
        else:
            dc_prev = None
        dhc = dm if o is None else dm * o
        dcn = self.h_d(dhc, hc)
        if self.layer_norm:
            dcn, d_gamma, d_beta = _ln_backward(dcn, s["c_new"][j], (u,), s["mean_c"][j],
                                                s["rstd_c"][j], w["gamma_c"], w["beta_c"],
                                                [True, True, True])
            self.ln_acc["gamma_c"].add_(d_gamma)
            self.ln_acc["beta_c"].add_(d_beta)
        dc_new = dc + dcn
        da = {}
        if self.fgr:
            da = dict(zip(self.gates, drest[1].split(u, dim=-1), strict=True))
        dz: dict[str, torch.Tensor] = {}
        if o is not None:
            do = dm * hc
            if "o" in da:
                do = do + da["o"]
            dz["o"] = self.sigma_d(do, o)
            if "o" in self.peep:
                dc_new = torch.addcmul(dc_new, dz["o"], self.peep["o"])
        dz["c"] = self.g_d(dc_new if i is None else dc_new * i, g)
        dc_carry = dc_new if f is None else dc_new * f
        dc_prev = dc_carry if dc_prev is None else dc_prev + dc_carry
        df = dc_new * c_prev if f is not None else None
        if i is not None:
            di = dc_new * g
            if self.coupled:
                di = di - df
            if "i" in da:
                di = di + da["i"]
            dz["i"] = self.sigma_d(di, i)
        if "f" in self.pos:
            if "f" in da:
                df = df + da["f"]
            dz["f"] = self.sigma_d(df, f)
        for name in ("i", "f"):
            p = self.peep.get(name)
            if p is not None:
                dc_prev = torch.addcmul(dc_prev, dz[name], p)
        dz_all = torch.cat([dz[b] for b in self.blocks], dim=-1, out=self.DZ[t])
        if self.layer_norm:
            dhu, d_gamma, _ = _ln_backward(dz_all, s["hu"][j], dz_all.shape[-1:],
                                           s["mean_h"][j], s["rstd_h"][j], w["gamma_h"], None,
                                           [True, True, False])
            self.ln_acc["gamma_h"].add_(d_gamma)
            self.dU.add(s["h_in"][j], dhu)
        else:
            dhu = dz_all
        dh_in = torch.mm(dhu, self.Ut)
        if self.rm is not None:
            dh_in = dh_in * self.rm
        dh_prev = dh_in if dh_prev is None else dh_prev + dh_in
        out = [dh_prev, dc_prev]
        if self.fgr:
            out.append(torch.mm(dz_all, self.r_full_t))
        return out

    def dxw(self, t: int) -> torch.Tensor:
        """The gradient of step t's input projection, valid right after `backward(t)` (a
        wrapping stepper, e.g. attention with input feeding, routes it on)."""
        return self.DZ[t]

    def weight_grads(self, order: range, steps: int) -> dict:
        """One GEMM per recurrent weight over all steps; dxw in input time order."""
        s, d, u = self.s, self.d, self.u

        def rows(items: list, backward: bool = False) -> torch.Tensor:
            """(time * batch, size) in the row order of DZ: (t, b)."""
            return by_time(items[::-1] if backward else items, order, steps)

        n = self.DZ.shape[-1]
        dz_rows = self.DZ.view(-1, n)
        grads = {"xw": self.DZ}
        if self.layer_norm:
            grads["U"] = self.dU.flush()
        else:
            grads["U"] = torch.mm(rows(s["h_in"]).t(), dz_rows)
        if self.peep:
            peep = []
            for name in self.peep:
                c_seen = rows(s["c_new"] if name == "o" else s["c_prev"])
                k = self.pos[name]
                peep.append((dz_rows[:, k * u:(k + 1) * u] * c_seen).sum(0))
            grads["peephole"] = torch.stack(peep, dim=0)
        if self.fgr:
            grads["R"] = torch.mm(rows(s["a_prev"]).t(), dz_rows[:, self.gate_cols])
        if self.proj:
            grads["P"] = torch.mm(rows(s["m"]).t(), rows(d["dy_pre"], True))
        if self.layer_norm:
            grads.update(self.ln_acc)
        return grads


class LSTMFused:
    """`spec.formulas["fused"].impl` of the LSTM family (see `gated.engine.fused`)."""

    Stepper = LSTMStepper

    @staticmethod
    def recurrent_weights(spec: Any) -> dict:
        """The weights the stepper reads, by its names (the projection runs outside)."""
        w, c = spec.weights, spec.config
        out = {"U": w["recurrent_kernel"]}
        if c.peephole:
            out["peephole"] = w["peephole_kernel"]
        if c.full_gate_recurrence:
            out["R"] = w["gate_recurrent_kernel"]
        if c.proj_size:
            out["P"] = w["projection_kernel"]
        if c.layer_norm:
            out["gamma_h"] = w["recurrent_norm_gamma"]
            out["gamma_c"] = w["cell_norm_gamma"]
            out["beta_c"] = w["cell_norm_beta"]
        return out

    @staticmethod
    def project(spec: Any, x: torch.Tensor) -> torch.Tensor:
        """`cell.input_projection(x)`, TIME-MAJOR `(time, batch, n)`, bias fused into the GEMM
        (and into the input layer norm's affine part)."""
        batch, steps, features = x.shape
        x2d = x.transpose(0, 1).reshape(steps * batch, features)
        w = spec.weights
        bias = w.get("bias")
        if spec.config.layer_norm:
            xk = torch.mm(x2d, w["kernel"])
            xw = torch.nn.functional.layer_norm(xk, xk.shape[-1:], w["input_norm_gamma"], bias,
                                                spec.config.layer_norm_epsilon)
        elif bias is not None:
            xw = torch.addmm(bias, x2d, w["kernel"])
        else:
            xw = torch.mm(x2d, w["kernel"])
        return xw.view(steps, batch, -1)


FORMULAS = Formulas(
    backend="fused",
    features=frozenset({"input_gate", "forget_gate", "output_gate", "peephole",
                        "coupled_gates", "full_gate_recurrence", "proj_size", "use_bias",
                        "layer_norm", "layer_norm_epsilon", "zoneout_cell", "zoneout_hidden"}),
    impl=LSTMFused,
)
