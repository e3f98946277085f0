"""The mLSTM's fused formulas: the stabilized recurrent step and its hand-derived backward,
for the fused engine (masks, direction and autograd are the driver's, `gated.engine.fused`).

Backward of one step per head (dh, dC, dn, dm: the gradients reaching h_t, C_t, n_t, m_t;
den = max(|qᵀn|, e^{-m}) + ε, h̃ = Cᵀq / den):

    dõ = dh h̃ σ'(õ),   dh̃ = dh o,   dnum = dh̃ / den,   dden = -Σ dh̃ h̃ / den
    d|qᵀn| = dden [|qᵀn| > e^{-m}],  dm -= dden [|qᵀn| <= e^{-m}] e^{-m}   (ties halved)
    dq = C dnum + d(qᵀn) n,   dC += q dnumᵀ,   dn += d(qᵀn) q
    df' = Σ dC ⊙ C_{t-1} + dn · n_{t-1},   di' = kᵀ dC v + dn · k
    dk = i' (dC v + dn),   dv = i' dCᵀ k,   dC_{t-1} = f' dC,   dn_{t-1} = f' dn
    then the stabilizer exactly as the sLSTM's (`gated.cells.slstm.fused`).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from gated.engine.fused import project_time_major
from gated.engine.spec import Formulas

State = tuple[torch.Tensor, ...]


class MLSTMStepper:
    """The stabilized mLSTM step; per step it keeps q, k, v, the previous and new C and n,
    the gates, the denominator and which side of each max won."""

    def __init__(self, spec: Any, weights: dict, recurrent_mask: torch.Tensor | None,
                 training: bool, save: bool) -> None:
        c = spec.config
        self.u, self.h, self.d = c.units, c.num_heads, c.head_units
        self.exp_forget = c.forget_gate == "exponential"
        self.eps = c.epsilon
        self.scale = 1.0 / math.sqrt(self.d)
        self.save = save
        self.s: list[dict] = []
        self.k = 0

    def forward(self, t: int, xw: torch.Tensor, states: State):
        _, c_prev, n_prev, m_prev = states
        b, u, h, d = xw.shape[0], self.u, self.h, self.d
        q, k_raw, v, i_raw, f_raw, o_raw = xw.split((u, u, u, h, h, u), dim=1)
        q, v = q.reshape(b, h, d), v.reshape(b, h, d)
        k = k_raw.reshape(b, h, d) * self.scale
        if self.exp_forget:
            log_f, sig_f = f_raw, None
        else:
            log_f, sig_f = torch.nn.functional.logsigmoid(f_raw), torch.sigmoid(f_raw)
        a = log_f + m_prev
        m = torch.maximum(a, i_raw)
        fp = torch.exp(a - m)
        ip = torch.exp(i_raw - m)
        c = fp[..., None, None] * c_prev + (ip[..., None] * k).unsqueeze(-1) * v.unsqueeze(-2)
        n = fp[..., None] * n_prev + ip[..., None] * k
        num = torch.einsum("bhd,bhde->bhe", q, c)
        qn = (q * n).sum(-1)
        bound = torch.exp(-m)
        den = torch.maximum(qn.abs(), bound) + self.eps
        ht = num / den[..., None]
        o = torch.sigmoid(o_raw)
        y = o * ht.reshape(b, u)
        if self.save:
            self.s.append({
                "q": q, "k": k, "v": v, "c_prev": c_prev, "n_prev": n_prev, "c": c, "n": n,
                "fp": fp, "ip": ip, "qn": qn, "bound": bound, "den": den, "ht": ht, "o": o,
                "sig_f": sig_f,
                "a_wins": (a > i_raw).to(a.dtype) + 0.5 * (a == i_raw).to(a.dtype),
                "abs_wins": ((qn.abs() > bound).to(a.dtype)
                             + 0.5 * (qn.abs() == bound).to(a.dtype)),
            })
        return y, (y, c, n, m)

    def begin_backward(self, grad_ys: torch.Tensor) -> None:
        self.k = 0
        batch, steps = grad_ys.shape[0], grad_ys.shape[1]
        self.DZ = grad_ys.new_empty(steps, batch, 4 * self.u + 2 * self.h)

    def backward(self, t: int, dy: torch.Tensor, drest: list) -> list:
        self.k += 1
        s = self.s[-self.k]
        dc, dn, dm = drest
        b, u, h, d = dy.shape[0], self.u, self.h, self.d
        o, ht, den, q, k, v = s["o"], s["ht"], s["den"], s["q"], s["k"], s["v"]
        do_raw = dy * ht.reshape(b, u) * o * (1.0 - o)
        dht = (dy * o).reshape(b, h, d)
        dnum = dht / den[..., None]
        dden = -(dht * ht).sum(-1) / den
        wins = s["abs_wins"]
        dqn = dden * wins * torch.sign(s["qn"])
        dm = dm - dden * (1.0 - wins) * s["bound"]
        dq = torch.einsum("bhde,bhe->bhd", s["c"], dnum) + dqn[..., None] * s["n"]
        dc = dc + q.unsqueeze(-1) * dnum.unsqueeze(-2)
        dn = dn + dqn[..., None] * q
        fp, ip = s["fp"], s["ip"]
        dc_v = torch.einsum("bhde,bhe->bhd", dc, v)
        dfp = (dc * s["c_prev"]).sum((-1, -2)) + (dn * s["n_prev"]).sum(-1)
        dip = (dc_v * k).sum(-1) + (dn * k).sum(-1)
        dk = ip[..., None] * (dc_v + dn)
        dv = ip[..., None] * torch.einsum("bhde,bhd->bhe", dc, k)
        dfp, dip = dfp * fp, dip * ip
        dm = dm - dfp - dip
        a_wins = s["a_wins"]
        da = dfp + dm * a_wins
        di_raw = dip + dm * (1.0 - a_wins)
        df_raw = da if self.exp_forget else da * (1.0 - s["sig_f"])
        torch.cat([dq.reshape(b, u), (dk * self.scale).reshape(b, u), dv.reshape(b, u),
                   di_raw, df_raw, do_raw], dim=1, out=self.DZ[t])
        return [torch.zeros_like(dy), fp[..., None, None] * dc, fp[..., None] * dn, da]

    def weight_grads(self, order: range, steps: int) -> dict:
        return {"xw": self.DZ}


class MLSTMFused:
    """`spec.formulas["fused"].impl` of the mLSTM (see `gated.engine.fused`)."""

    Stepper = MLSTMStepper

    @staticmethod
    def recurrent_weights(spec: Any) -> dict:
        return {}

    @staticmethod
    def project(spec: Any, x: torch.Tensor) -> torch.Tensor:
        """`cell.input_projection(x)`, TIME-MAJOR `(time, batch, 4 units + 2 heads)`."""
        return project_time_major(x, spec.weights["kernel"], spec.weights.get("bias"))


FORMULAS = Formulas(backend="fused",
                    features=frozenset({"forget_gate", "num_heads", "use_bias", "epsilon"}),
                    impl=MLSTMFused)
