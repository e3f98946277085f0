"""The SimpleRNN's fused formulas: one step forward and its derivative, for the fused engine
(`gated.engine.fused` owns the loop, masks, direction and autograd plumbing).
"""

from __future__ import annotations

from typing import Any

import torch

from gated.engine.fused import by_time, cat_rows, project_time_major
from gated.engine.spec import Formulas

State = tuple[torch.Tensor, ...]


class SimpleRNNStepper:
    """`h = phi(xw + h_in U)`; per step it keeps h_in and h."""

    def __init__(self, spec: Any, weights: dict, recurrent_mask: torch.Tensor | None,
                 training: bool, save: bool) -> None:
        phi = spec.activation("activation")
        self.phi, self.phi_d = phi.fn, phi.derivative
        self.U, self.Ut = weights["U"], weights["U"].t()
        self.rm = recurrent_mask
        self.save = save
        self.s: dict[str, list] = {"h_in": [], "h": []}
        self.d: dict[str, list] = {"dz": []}

    def begin_backward(self, grad_ys: torch.Tensor) -> None:
        self.d = {"dz": []}
        self.Ut = self.U.t().contiguous()

    def forward(self, t: int, xw: torch.Tensor, states: State):
        h_prev = states[0]
        h_in = h_prev if self.rm is None else h_prev * self.rm
        h = self.phi(torch.addmm(xw, h_in, self.U))
        if self.save:
            self.s["h_in"].append(h_in)
            self.s["h"].append(h)
        return h, (h,)

    def backward(self, t: int, dh: torch.Tensor, drest: list) -> list:
        dz = self.phi_d(dh, self.s["h"][-1 - len(self.d["dz"])])
        self.d["dz"].append(dz)
        dh_in = torch.mm(dz, self.Ut)
        return [dh_in if self.rm is None else dh_in * self.rm]

    def dxw(self, t: int) -> torch.Tensor:
        """The gradient of step t's input projection, valid right after `backward(t)` (a
        wrapping stepper, e.g. attention with input feeding, routes it on)."""
        return self.d["dz"][-1]

    def weight_grads(self, order: range, steps: int) -> dict:
        dz = self.d["dz"][::-1]
        dz_rows = by_time(dz, order, steps)
        return {"xw": dz_rows.view(steps, -1, dz_rows.shape[-1]),
                "U": torch.mm(cat_rows(self.s["h_in"]).t(), cat_rows(dz))}


class SimpleRNNFused:
    """`spec.formulas["fused"].impl` of the SimpleRNN (see `gated.engine.fused`)."""

    Stepper = SimpleRNNStepper

    @staticmethod
    def recurrent_weights(spec: Any) -> dict:
        return {"U": spec.weights["recurrent_kernel"]}

    @staticmethod
    def project(spec: Any, x: torch.Tensor) -> torch.Tensor:
        return project_time_major(x, spec.weights["kernel"], spec.weights.get("bias"))


FORMULAS = Formulas(backend="fused", features=frozenset({"use_bias"}), impl=SimpleRNNFused)
