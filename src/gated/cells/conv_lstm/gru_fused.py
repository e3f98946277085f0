"""The ConvGRU's fused formulas: one step forward and its derivative, for the fused engine.

As the ConvLSTM's (`fused.py`): the input convolution of all steps runs before the loop as one
batched convolution; the loop holds the recurrent convolution(s); each step's gradient of the
input convolution goes into one time-major buffer, and each recurrent kernel's gradient is ONE
convolution backward over all steps. Per step the stepper keeps the recurrent input, z, r, the
candidate, and the reset-gated recurrent term (`R_h` with `reset_after`, `r ⊙ H` without).
Reference math: `gru.py`.
"""

from __future__ import annotations

from typing import Any

import torch

from gated.cells.conv_lstm.conv import (
    Conv,
    channels_last,
    empty_channels_last,
    input_convolution,
    keras_weight,
    torch_weight,
)
from gated.engine.fused import by_time
from gated.engine.spec import Formulas

State = tuple[torch.Tensor, ...]


def project(spec: Any, x: torch.Tensor) -> torch.Tensor:
    """The input convolution of all steps, TIME-MAJOR `(time, batch, 3F, *out_spatial)`."""
    bias = spec.weights.get("bias")
    if bias is not None and spec.config.reset_after:
        bias = bias[0]  # the input half of the two reset_after biases
    return input_convolution(spec, x, bias)


class ConvGRUStepper:
    """Forward and backward of one ConvGRU step (both `reset_after` forms, with or without
    bias)."""

    def __init__(self, spec: Any, weights: dict, recurrent_mask: torch.Tensor | None,
                 training: bool, save: bool) -> None:
        c = spec.config
        self.f = c.filters
        self.rank = c.rank
        self.after = c.reset_after
        self.conv = Conv(c.rank, (1,) * c.rank, (1,) * c.rank, c.recurrent_pads)
        # channels-last memory throughout (oneDNN's fastest convolutions on CPU)
        self.U = channels_last(torch_weight(weights["U"]).contiguous(), c.rank)
        f = self.f
        self.U_zr = channels_last(self.U[:2 * f], c.rank)
        self.U_h = channels_last(self.U[2 * f:], c.rank)
        flip = self.conv.flipped
        self.flipped = {name: channels_last(flip(w), c.rank) for name, w in (
            ("U", self.U), ("U_zr", self.U_zr), ("U_h", self.U_h))}
        bias = weights.get("bias")
        self.b_rec = bias[1] if (bias is not None and self.after) else None
        sigma, act = spec.activation("recurrent_activation"), spec.activation("activation")
        self.sigma, self.act = sigma.fn, act.fn
        self.sigma_d, self.act_d = sigma.derivative, act.derivative
        self.rm = recurrent_mask
        self.save = save
        self.s: dict[str, list] = {k: [] for k in ("h_in", "h_prev", "acts", "gated")}
        self.k = 0

    def forward(self, t: int, xw: torch.Tensor, states: State):
        f = self.f
        h_prev = channels_last(states[0], self.rank)
        h_in = h_prev if self.rm is None else h_prev * self.rm
        if self.after:
            hu = self.conv(h_in, self.U, self.b_rec)
            zr = self.sigma(hu[:, :2 * f].add_(xw[:, :2 * f]))
            z, r = zr[:, :f], zr[:, f:]
            gated = hu[:, 2 * f:]
            cand = self.act(torch.addcmul(xw[:, 2 * f:], r, gated))
        else:
            zr = self.sigma(self.conv(h_in, self.U_zr).add_(xw[:, :2 * f]))
            z, r = zr[:, :f], zr[:, f:]
            gated = r * h_in
            cand = self.act(self.conv(gated, self.U_h).add_(xw[:, 2 * f:]))
        h = torch.addcmul(cand, z, h_prev - cand)
        if self.save:
            s = self.s
            s["h_in"].append(h_in)
            s["h_prev"].append(h_prev)
            s["acts"].append((z, r, cand))
            # the h block of the recurrent convolution alone (not the whole output)
            s["gated"].append(gated.contiguous() if self.after else gated)
        return h, (h,)

    def begin_backward(self, grad_ys: torch.Tensor) -> None:
        batch, steps = grad_ys.shape[0], grad_ys.shape[1]
        shape = (steps, batch, 3 * self.f, *grad_ys.shape[3:])

        def buffer() -> torch.Tensor:
            return empty_channels_last((steps * batch, *shape[2:]), grad_ys,
                                       self.rank).view(shape)

        self.DZ = buffer()
        # the gradient of the recurrent convolution's output (differs from DZ in block h)
        self.DR = buffer() if self.after else None
        self.k = 0

    def backward(self, t: int, dy: torch.Tensor, drest: list) -> list:
        s, f = self.s, self.f
        self.k += 1
        j = -self.k
        z, r, cand = s["acts"][j]
        h_in, h_prev, gated = s["h_in"][j], s["h_prev"][j], s["gated"][j]
        dz_all = self.DZ[t]
        dz_all[:, :f].copy_(self.sigma_d(dy * (h_prev - cand), z))
        d_cand = self.act_d(dy - dy * z, cand)
        dz_all[:, 2 * f:].copy_(d_cand)
        if self.after:
            dr = self.DR[t]
            dr[:, 2 * f:].copy_(d_cand * r)
            dz_all[:, f:2 * f].copy_(self.sigma_d(d_cand * gated, r))
            dr[:, :2 * f].copy_(dz_all[:, :2 * f])
            dh_in = self.conv.input_grad(dr, h_in.shape, self.U, self.flipped["U"])
        else:
            d_gated = self.conv.input_grad(d_cand, h_in.shape, self.U_h, self.flipped["U_h"])
            dz_all[:, f:2 * f].copy_(self.sigma_d(d_gated * h_in, r))
            dh_in = torch.addcmul(self.conv.input_grad(dz_all[:, :2 * f], h_in.shape,
                                                       self.U_zr, self.flipped["U_zr"]),
                                  d_gated, r)
        if self.rm is not None:
            dh_in = dh_in * self.rm
        return [torch.addcmul(dh_in, dy, z)]

    def weight_grads(self, order: range, steps: int) -> dict:
        """Each recurrent kernel's gradient as ONE convolution backward over all steps."""
        rows = self.DZ.view(-1, *self.DZ.shape[2:])
        h_rows = by_time(self.s["h_in"], order, steps)
        f = self.f
        grads: dict[str, Any] = {"xw": self.DZ}
        if self.after:
            d_rows = self.DR.view_as(rows)
            d_u = self.conv.weight_grad(d_rows, h_rows, self.U)
            if self.b_rec is not None:
                d_b = d_rows.sum(dim=(0, *range(2, d_rows.ndim)))
                grads["bias"] = torch.stack([torch.zeros_like(d_b), d_b])
        else:
            d_zr = self.conv.weight_grad(rows[:, :2 * f], h_rows, self.U_zr)
            gated_rows = by_time(self.s["gated"], order, steps)
            d_h = self.conv.weight_grad(rows[:, 2 * f:], gated_rows, self.U_h)
            d_u = torch.cat([d_zr, d_h], dim=0)
        grads["U"] = keras_weight(d_u).contiguous()
        return grads


class ConvGRUFused:
    """`spec.formulas["fused"].impl` of the ConvGRU family (see `gated.engine.fused`)."""

    Stepper = ConvGRUStepper
    project = staticmethod(project)

    @staticmethod
    def recurrent_weights(spec: Any) -> dict:
        out = {"U": spec.weights["recurrent_kernel"]}
        if spec.config.reset_after and "bias" in spec.weights:
            out["bias"] = spec.weights["bias"]
        return out


FORMULAS = Formulas(backend="fused", features=frozenset({"reset_after", "use_bias"}),
                    impl=ConvGRUFused)
