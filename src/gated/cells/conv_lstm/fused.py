"""The ConvLSTM's fused formulas: one step forward and its derivative, for the fused engine.

The input convolution of every step runs before the loop as one batched convolution over
`(time * batch, C, *spatial)` (`ConvLSTMFused.project`, under autograd); the loop holds only
the recurrent convolution. Per step the stepper keeps the recurrent input, the four gate
activations and tanh(C_t) (and C_t with an output peephole), nothing else; the backward pass
writes each step's gate gradient into one time-major buffer (the gradient of the projection)
and forms the recurrent kernel's gradient with ONE convolution backward over all steps.
Reference math: `cell.py`; the conformance test holds these formulas to it.
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
    """The input convolution of all steps, TIME-MAJOR `(time, batch, G*F, *out_spatial)`."""
    return input_convolution(spec, x, spec.weights.get("bias"))


def peephole_rows(kernel: torch.Tensor, mode: str, rank: int) -> torch.Tensor:
    """The stored peephole kernel as channels-first `(3, F, 1.., 1)` / `(3, F, *spatial)`."""
    if mode == "channel":
        return kernel.view(*kernel.shape, *([1] * rank))
    return kernel.permute(0, rank + 1, *range(1, rank + 1))


def peephole_stored(grad: torch.Tensor, mode: str, rank: int) -> torch.Tensor:
    """A channels-first peephole gradient back in the stored layout."""
    if mode == "channel":
        return grad.reshape(grad.shape[0], grad.shape[1])
    return grad.permute(0, *range(2, rank + 2), 1).contiguous()


class ConvLSTMStepper:
    """Forward and backward of one ConvLSTM step (every option of `ConvLSTMCell`)."""

    def __init__(self, spec: Any, weights: dict, recurrent_mask: torch.Tensor | None,
                 training: bool, save: bool) -> None:
        c = spec.config
        self.f = c.filters
        self.rank = c.rank
        self.conv = Conv(c.rank, (1,) * c.rank, (1,) * c.rank, c.recurrent_pads)
        # channels-last memory throughout (oneDNN's fastest convolutions on CPU)
        self.U = channels_last(torch_weight(weights["U"]).contiguous(), c.rank)
        self.U_flipped = channels_last(self.conv.flipped(self.U), c.rank)
        sigma, act = spec.activation("recurrent_activation"), spec.activation("activation")
        self.sigma, self.act = sigma.fn, act.fn
        self.sigma_d, self.act_d = sigma.derivative, act.derivative
        self.mode = c.peephole
        self.peep = (peephole_rows(weights["peephole"], self.mode, c.rank)
                     if self.mode else None)
        self.rm = recurrent_mask
        self.save = save
        self.s: dict[str, list] = {k: [] for k in ("h_in", "c_prev", "acts", "c_new")}
        self.k = 0

    def forward(self, t: int, xw: torch.Tensor, states: State):
        h_prev, c_prev = channels_last(states[0], self.rank), channels_last(states[1], self.rank)
        h_in = h_prev if self.rm is None else h_prev * self.rm
        z = self.conv(h_in, self.U).add_(xw)
        f = self.f
        if self.peep is None:
            gates = self.sigma(z)
            i, fg, o = gates[:, :f], gates[:, f:2 * f], gates[:, 3 * f:]
            g = self.act(z[:, 2 * f:3 * f])
            c_new = torch.addcmul(i * g, fg, c_prev)
        else:
            p_i, p_f, p_o = self.peep
            i = self.sigma(torch.addcmul(z[:, :f], p_i, c_prev))
            fg = self.sigma(torch.addcmul(z[:, f:2 * f], p_f, c_prev))
            g = self.act(z[:, 2 * f:3 * f])
            c_new = torch.addcmul(i * g, fg, c_prev)
            o = self.sigma(torch.addcmul(z[:, 3 * f:], p_o, c_new))
        hc = self.act(c_new)
        h = o * hc
        if self.save:
            s = self.s
            s["h_in"].append(h_in)
            s["c_prev"].append(c_prev)
            s["acts"].append((i, fg, g, o, hc))
            if self.peep is not None:
                s["c_new"].append(c_new)
        return h, (h, c_new)

    def begin_backward(self, grad_ys: torch.Tensor) -> None:
        batch, steps = grad_ys.shape[0], grad_ys.shape[1]
        self.DZ = empty_channels_last((steps * batch, 4 * self.f, *grad_ys.shape[3:]),
                                      grad_ys, self.rank).view(steps, batch, -1,
                                                               *grad_ys.shape[3:])
        self.k = 0
        if self.peep is not None:
            self.dpeep = torch.zeros_like(self.peep)

    def _peep_grad(self, dz: torch.Tensor, c_seen: torch.Tensor) -> torch.Tensor:
        prod = dz * c_seen
        if self.mode == "channel":
            return prod.sum(dim=(0, *range(2, prod.ndim))).view(self.peep.shape[1:])
        return prod.sum(dim=0)

    def backward(self, t: int, dy: torch.Tensor, drest: list) -> list:
        s = self.s
        self.k += 1
        j = -self.k  # saved lists run in processing order: walk them from the end
        i, fg, g, o, hc = s["acts"][j]
        c_prev = s["c_prev"][j]
        dz = self.DZ[t]
        f = self.f
        dz_i, dz_f, dz_c, dz_o = dz[:, :f], dz[:, f:2 * f], dz[:, 2 * f:3 * f], dz[:, 3 * f:]
        dz_o.copy_(self.sigma_d(dy * hc, o))
        dc = channels_last(drest[0], self.rank) + self.act_d(dy * o, hc)
        if self.peep is not None:
            dc = torch.addcmul(dc, dz_o, self.peep[2])
        dz_c.copy_(self.act_d(dc * i, g))
        dz_i.copy_(self.sigma_d(dc * g, i))
        dz_f.copy_(self.sigma_d(dc * c_prev, fg))
        dc_prev = dc * fg
        if self.peep is not None:
            dc_prev = torch.addcmul(torch.addcmul(dc_prev, dz_i, self.peep[0]), dz_f,
                                    self.peep[1])
            self.dpeep[0] += self._peep_grad(dz_i, c_prev)
            self.dpeep[1] += self._peep_grad(dz_f, c_prev)
            self.dpeep[2] += self._peep_grad(dz_o, s["c_new"][j])
        h_in = s["h_in"][j]
        dh = self.conv.input_grad(dz, h_in.shape, self.U, self.U_flipped)
        if self.rm is not None:
            dh = dh * self.rm
        return [dh, dc_prev]

    def weight_grads(self, order: range, steps: int) -> dict:
        """The recurrent kernel's gradient as ONE convolution backward over all steps."""
        dz_rows = self.DZ.view(-1, *self.DZ.shape[2:])
        h_rows = by_time(self.s["h_in"], order, steps)
        d_u = self.conv.weight_grad(dz_rows, h_rows, self.U)
        grads = {"xw": self.DZ, "U": keras_weight(d_u).contiguous()}
        if self.peep is not None:
            grads["peephole"] = peephole_stored(self.dpeep, self.mode, self.rank)
        return grads


class ConvLSTMFused:
    """`spec.formulas["fused"].impl` of the ConvLSTM family (see `gated.engine.fused`)."""

    Stepper = ConvLSTMStepper
    project = staticmethod(project)

    @staticmethod
    def recurrent_weights(spec: Any) -> dict:
        out = {"U": spec.weights["recurrent_kernel"]}
        if spec.config.peephole:
            out["peephole"] = spec.weights["peephole_kernel"]
        return out


FORMULAS = Formulas(backend="fused", features=frozenset({"peephole", "use_bias"}),
                    impl=ConvLSTMFused)
