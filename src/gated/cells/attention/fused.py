"""The attention cell's fused formulas: the wrapped cell's own stepper, plus attention by hand.

`AttentionStepper` runs one decoder step as `AttentionCell.recurrent_step` (reference math in
`cell.py`) with the wrapped family's fused stepper inside, and its derivative written out:

    forward:  z = xw + ã_{t-1} W_a;  h = inner(z);  e = score(h, K);  α = softmax(e | mask)
              c = α m;  ã = tanh([c ; h] W_c + b_c)
    backward: du = dã (1 - ã²);  [dc ; dh₁] = du W_cᵀ;  dα = m dc (+ the α output's grad)
              de = α (dα - Σ α dα);  dh₂ = score'(de);  inner.backward(dh₁ + dh₂)
              dã_{t-1} = inner.dxw(t) W_aᵀ                (input feeding)

The memory's keys `K` (the memory itself, `m W_g`, or `m W_k`) are computed once per sequence
in `recurrent_weights`, outside the autograd Function: the Function returns dK and dm, and
autograd carries them on to `W_g` / `W_k` and to the encoder. The weight gradients of `W_c`,
`W_a` and `W_q` are one GEMM each over all steps.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from gated.engine.fused import by_time

State = tuple[torch.Tensor, ...]
_PREFIX = "cell."


def check_batch(memory: torch.Tensor, batch: int) -> None:
    """The bound memory and the decoder inputs must have the same batch size."""
    if memory.shape[0] != batch:
        raise ValueError(f"AttentionCell: the bound `memory` has batch size {memory.shape[0]} "
                         f"but the inputs have {batch}; they must be equal.")


def _inner_x(spec: Any) -> Any:
    """The wrapped cell's spec with only the x rows of its kernel (the fed rows go apart)."""
    inner = spec.config.inner
    kernel = inner.weights["kernel"][:spec.config.x_dim]
    return dataclasses.replace(inner, weights={**inner.weights, "kernel": kernel}, memo={})


class AttentionStepper:
    """Forward and backward of one attention decoder step around the wrapped cell's stepper."""

    def __init__(self, spec: Any, weights: dict, recurrent_mask: torch.Tensor | None,
                 training: bool, save: bool) -> None:
        c = spec.config
        inner = c.inner
        inner_weights = {n[len(_PREFIX):]: w for n, w in weights.items() if n.startswith(_PREFIX)}
        self.inner = inner.formulas["fused"].impl.Stepper(inner, inner_weights, recurrent_mask,
                                                          training, save)
        self.score = c.score
        self.feed = c.input_feeding
        self.a = c.attention_units
        self.ret = c.return_attention
        self.w = weights
        self.memory, self.keys = weights["memory"], weights["keys"]
        self.mask = c.memory_mask
        self.save = save
        self.s: dict[str, list] = {k: [] for k in (
            "feed", "h", "alpha", "cat", "att", "act", "du", "dqp")}

    def forward(self, t: int, xw: torch.Tensor, states: State):
        w, s = self.w, self.s
        fed = states[0][:, :self.a]
        z = torch.addmm(xw, fed, w["feed"]) if self.feed else xw
        h, inner_new = self.inner.forward(t, z, tuple(states[1:]))
        act = None
        if self.score in ("dot", "general"):
            e = torch.bmm(self.keys, h.unsqueeze(-1)).squeeze(-1)
        else:
            q = h @ w["query_kernel"]
            if self.score == "bahdanau":
                q = q + w["score_bias"]
            act = torch.tanh(self.keys + q.unsqueeze(1))
            e = act @ w["score_vector"]
        if self.mask is not None:
            e = torch.where(self.mask, e, torch.full_like(e, -1.0e9))
        alpha = torch.softmax(e, dim=-1)
        context = torch.bmm(alpha.unsqueeze(1), self.memory).squeeze(1)
        cat = torch.cat([context, h], dim=-1)
        pre = cat @ w["attention_kernel"]
        if "attention_bias" in w:
            pre = pre + w["attention_bias"]
        att = torch.tanh(pre)
        y = torch.cat([att, alpha], dim=-1) if self.ret else att
        if self.save:
            s["feed"].append(fed)
            s["h"].append(h)
            s["alpha"].append(alpha)
            s["cat"].append(cat)
            s["att"].append(att)
            s["act"].append(act)
        return y, (y, *inner_new)

    def begin_backward(self, grad_ys: torch.Tensor) -> None:
        self.inner.begin_backward(grad_ys)
        self.k = 0
        self.s["du"], self.s["dqp"] = [], []  # a graph may be differentiated more than once
        self.dmemory = torch.zeros_like(self.memory)
        self.dkeys = torch.zeros_like(self.keys)
        self.dv = None
        if self.score in ("concat", "bahdanau"):
            self.dv = torch.zeros_like(self.w["score_vector"])

    def backward(self, t: int, dy: torch.Tensor, drest: list) -> list:
        s, w = self.s, self.w
        self.k += 1
        j = -self.k
        alpha, att, h = s["alpha"][j], s["att"][j], s["h"][j]
        du = dy[:, :self.a] * (1.0 - att * att)
        s["du"].append(du)
        dcat = du @ w["attention_kernel"].t()
        m = self.memory.shape[-1]
        dcontext, dh = dcat[:, :m], dcat[:, m:]
        dalpha = torch.bmm(self.memory, dcontext.unsqueeze(-1)).squeeze(-1)
        if self.ret:
            dalpha = dalpha + dy[:, self.a:]
        self.dmemory.add_(alpha.unsqueeze(-1) * dcontext.unsqueeze(1))
        de = alpha * (dalpha - (alpha * dalpha).sum(-1, keepdim=True))
        if self.score in ("dot", "general"):
            dh = dh + torch.bmm(de.unsqueeze(1), self.keys).squeeze(1)
            self.dkeys.add_(de.unsqueeze(-1) * h.unsqueeze(1))
        else:
            act = s["act"][j]
            self.dv.add_(torch.einsum("bs,bsa->a", de, act))
            dpre = de.unsqueeze(-1) * w["score_vector"] * (1.0 - act * act)
            self.dkeys.add_(dpre)
            dqp = dpre.sum(1)
            s["dqp"].append(dqp)
            dh = dh + dqp @ w["query_kernel"].t()
        d_inner = self.inner.backward(t, dh + drest[0], list(drest[1:]))
        dprev = torch.zeros_like(dy)
        if self.feed:
            dprev[:, :self.a] = self.inner.dxw(t) @ w["feed"].t()
        return [dprev, *d_inner]

    def weight_grads(self, order: range, steps: int) -> dict:
        s = self.s
        inner = self.inner.weight_grads(order, steps)
        grads = {f"{_PREFIX}{n}": g for n, g in inner.items() if n != "xw"}
        dz = inner["xw"]
        grads["xw"] = dz
        du = torch.cat(s["du"][::-1])
        grads["attention_kernel"] = torch.cat(s["cat"]).t() @ du
        if "attention_bias" in self.w:
            grads["attention_bias"] = du.sum(0)
        if self.feed:
            grads["feed"] = by_time(s["feed"], order, steps).t() @ dz.reshape(-1, dz.shape[-1])
        grads["memory"] = self.dmemory
        grads["keys"] = self.dkeys
        if self.dv is not None:
            dqp = torch.cat(s["dqp"][::-1])
            grads["score_vector"] = self.dv
            grads["query_kernel"] = torch.cat(s["h"]).t() @ dqp
            if self.score == "bahdanau":
                grads["score_bias"] = dqp.sum(0)
        return grads


class AttentionFused:
    """`spec.formulas["fused"].impl` of the attention cell (see `gated.engine.fused`)."""

    Stepper = AttentionStepper

    @staticmethod
    def recurrent_weights(spec: Any) -> dict:
        """The wrapped cell's recurrent weights (prefixed `cell.`), the fed rows of its kernel,
        the memory, its keys (once per sequence) and the attention weights."""
        c, w = spec.config, spec.weights
        inner = c.inner
        out = {f"{_PREFIX}{n}": t for n, t in
               inner.formulas["fused"].impl.recurrent_weights(inner).items()}
        if c.input_feeding:
            out["feed"] = inner.weights["kernel"][c.x_dim:]
        memory = w["memory"]
        out["memory"] = memory
        if c.score == "dot":
            out["keys"] = memory
        elif c.score == "general":
            out["keys"] = memory @ w["score_kernel"]
        else:
            out["keys"] = memory @ w["memory_kernel"]
            out["query_kernel"] = w["query_kernel"]
            out["score_vector"] = w["score_vector"]
            if c.score == "bahdanau":
                out["score_bias"] = w["score_bias"]
        out["attention_kernel"] = w["attention_kernel"]
        if "attention_bias" in w:
            out["attention_bias"] = w["attention_bias"]
        return out

    @staticmethod
    def project(spec: Any, x: torch.Tensor) -> torch.Tensor:
        """The wrapped cell's time-major input projection of x (its kernel's x rows)."""
        check_batch(spec.weights["memory"], x.shape[0])
        inner = _inner_x(spec)
        return inner.formulas["fused"].impl.project(inner, x)
