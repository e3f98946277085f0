"""The GRU's fused formulas: one step forward and its derivative, for the fused engine
(`gated.engine.fused` owns the loop, masks, direction and autograd plumbing). Both
`reset_after` forms; activations need a fused derivative in `gated.activations`.
"""

from __future__ import annotations

from typing import Any

import torch

from gated.engine.fused import by_time, project_time_major
from gated.engine.spec import Formulas

State = tuple[torch.Tensor, ...]


class GRUStepper:
    """GRU step, both forms (`reset_after` True: cuDNN form; False: original form).

    `h = z h_prev + (1 - z) n` is computed as `n + z (h_prev - n)`; per step it keeps the
    recurrent input, [z, r], n, `h_prev - n` and the recurrent candidate part (`U_h h` or `r h`).
    """

    def __init__(self, spec: Any, weights: dict, recurrent_mask: torch.Tensor | None,
                 training: bool, save: bool) -> None:
        c = spec.config
        u = c.units
        self.u = u
        self.after = c.reset_after
        sigma, phi = spec.activation("recurrent_activation"), spec.activation("activation")
        self.sigma, self.phi = sigma.fn, phi.fn
        self.sigma_d, self.phi_d = sigma.derivative, phi.derivative
        self.b_rec = weights.get("b_rec")
        self.U, self.Ut = weights["U"], weights["U"].t()
        if not self.after:
            self.u_zr, self.u_h = self.U[:, :2 * u], self.U[:, 2 * u:]
            self.u_zr_t, self.u_h_t = self.u_zr.t(), self.u_h.t()
        self.rm = recurrent_mask
        self.save = save
        self.s: dict[str, list] = {k: [] for k in ("h_in", "zr", "n", "diff", "cand")}
        self.k = 0

    def begin_backward(self, grad_ys: torch.Tensor) -> None:
        self.k = 0
        self.Ut = self.U.t().contiguous()
        if not self.after:
            self.u_zr_t = self.Ut[:2 * self.u]
            self.u_h_t = self.Ut[2 * self.u:]
        batch, steps = grad_ys.shape[0], grad_ys.shape[1]
        self.DZ = grad_ys.new_empty(steps, batch, 3 * self.u)
        self.DHU = self.DZ.new_empty(self.DZ.shape) if self.after else None

    def forward(self, t: int, xw: torch.Tensor, states: State):
        u = self.u
        h_prev = states[0]
        h_in = h_prev if self.rm is None else h_prev * self.rm
        x_zr, x_h = xw.split((2 * u, u), 1)
        if self.after:
            hu = torch.mm(h_in, self.U) if self.b_rec is None else torch.addmm(
                self.b_rec, h_in, self.U)
            h_zr, cand = hu.split((2 * u, u), 1)
            zr = self.sigma(x_zr + h_zr)
            z, r = zr.split(u, 1)
            n = self.phi(torch.addcmul(x_h, r, cand))
        else:
            zr = self.sigma(torch.addmm(x_zr, h_in, self.u_zr))
            z, r = zr.split(u, 1)
            cand = r * h_in
            n = self.phi(torch.addmm(x_h, cand, self.u_h))
        diff = h_prev - n
        h = torch.addcmul(n, z, diff)
        if self.save:
            s = self.s
            s["h_in"].append(h_in)
            s["zr"].append(zr)
            s["n"].append(n)
            s["diff"].append(diff)
            s["cand"].append(cand)
        return h, (h,)

    def backward(self, t: int, dh: torch.Tensor, drest: list) -> list:
        s, u = self.s, self.u
        self.k += 1
        j = -self.k
        zr = s["zr"][j]
        z, r = zr.split(u, 1)
        dh_keep = dh * z
        dpre_n = self.phi_d(dh - dh_keep, s["n"][j])
        dz_gate = dh * s["diff"][j]
        if self.after:
            dr = dpre_n * s["cand"][j]
            dzr = self.sigma_d(torch.cat([dz_gate, dr], dim=-1), zr)
            dhu = torch.cat([dzr, dpre_n * r], dim=-1, out=self.DHU[t])
            dh_in = torch.mm(dhu, self.Ut)
        else:
            drh = torch.mm(dpre_n, self.u_h_t)
            dzr = self.sigma_d(torch.cat([dz_gate, drh * s["h_in"][j]], dim=-1), zr)
            dh_in = torch.addmm(drh * r, dzr, self.u_zr_t)
        torch.cat([dzr, dpre_n], dim=-1, out=self.DZ[t])
        if self.rm is not None:
            dh_in = dh_in * self.rm
        return [dh_keep + dh_in]

    def dxw(self, t: int) -> torch.Tensor:
        """The gradient of step t's input projection, valid right after `backward(t)` (a
        wrapping stepper, e.g. attention with input feeding, routes it on)."""
        return self.DZ[t]

    def weight_grads(self, order: range, steps: int) -> dict:
        s, u = self.s, self.u
        grads = {"xw": self.DZ}
        h_rows_t = by_time(s["h_in"], order, steps).t()
        if self.after:
            dhu = self.DHU.view(-1, 3 * u)
            grads["U"] = torch.mm(h_rows_t, dhu)
            grads["b_rec"] = dhu.sum(0)
        else:
            dz_rows = self.DZ.view(-1, 3 * u)
            cand_t = by_time(s["cand"], order, steps).t()
            grads["U"] = torch.cat([torch.mm(h_rows_t, dz_rows[:, :2 * u]),
                                    torch.mm(cand_t, dz_rows[:, 2 * u:])], dim=1)
        return grads


class GRUFused:
    """`spec.formulas["fused"].impl` of the GRU (see `gated.engine.fused`)."""

    Stepper = GRUStepper

    @staticmethod
    def recurrent_weights(spec: Any) -> dict:
        w = spec.weights
        out = {"U": w["recurrent_kernel"]}
        if spec.config.reset_after and "bias" in w:
            out["b_rec"] = w["bias"][1]
        return out

    @staticmethod
    def project(spec: Any, x: torch.Tensor) -> torch.Tensor:
        """`cell.input_projection(x)`, TIME-MAJOR `(time, batch, 3 units)`, bias fused."""
        bias = spec.weights.get("bias")
        if bias is not None and spec.config.reset_after:
            bias = bias[0]
        return project_time_major(x, spec.weights["kernel"], bias)


FORMULAS = Formulas(backend="fused", features=frozenset({"reset_after", "use_bias"}),
                    impl=GRUFused)
