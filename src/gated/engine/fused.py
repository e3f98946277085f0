"""The fused engine: hand-written BPTT as a `torch.autograd.Function`, in plain torch ops.

A family plugs in through `spec.formulas["fused"].impl`, an object with

- `project(spec, x)`: the input projection of all steps, TIME-MAJOR `(time, batch, n)`, equal
  to `cell.input_projection` (outside the Function: autograd handles kernel, bias, input norm);
- `recurrent_weights(spec) -> dict`: the weights the step reads, by the stepper's names;
- `Stepper(spec, weights, recurrent_mask, training, save)` with `forward(t, xw_t, states)`,
  `begin_backward(grad_ys)`, `backward(t, dy, d_other_states)` and
  `weight_grads(order, steps) -> {"xw": ..., name: ...}`.

This module writes the rest once for every family: the forward loop with Keras' mask semantics,
the reverse loop that routes gradients through masked steps, the Function that keeps only what
the steppers save, and helpers for the steppers (`ChunkedGemm`, `by_time`). Steppers write each
step's gate gradients into one time-major buffer (the gradient of the projection) and form each
recurrent weight gradient with one GEMM over all steps, so peak training memory stays below the
eager autograd loop's.

Runs: masks of any pattern, `reverse`, initial states with gradients, `recurrent_mask`
(recurrent dropout), states of any rank (`(batch, n)`, or feature maps `(batch, channels,
*spatial)` of the convolutional families). Refuses (the reference engine runs them): cells
without fused formulas, options or activations the family's formulas do not list, masks or
recurrent masks that require grad, parameters whose dtype or device differ from the input's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from gated.engine.spec import refusal, spec_of

NAME = "fused"
State = tuple[torch.Tensor, ...]


def _has_derivative(entry: Any) -> bool:
    return entry.derivative is not None


def supports(cell: Any, x: torch.Tensor, mask: torch.Tensor | None = None,
             reverse: bool = False, recurrent_mask: Any = None,
             training: bool = False) -> tuple[bool, str]:
    """Whether this engine runs the configuration exactly, and why (not)."""
    spec, why = spec_of(cell)
    if spec is None:
        return False, why
    formulas, why = refusal(spec, NAME, _has_derivative, "has no fused derivative")
    if formulas is None:
        return False, why
    if not x.is_floating_point():
        return False, f"dtype {x.dtype}"
    for p in spec.weights.values():
        if p.dtype != x.dtype or p.device != x.device:
            return False, (f"parameters are {p.dtype} on {p.device}, inputs {x.dtype} on "
                           f"{x.device}")
    if recurrent_mask is not None:
        if not isinstance(recurrent_mask, torch.Tensor):
            return False, "recurrent_mask is not a tensor"
        if recurrent_mask.requires_grad:
            return False, "a recurrent_mask that requires grad"
    if mask is not None and mask.requires_grad:
        return False, "a mask that requires grad"
    return True, f"{spec.cell_type}: fused BPTT in torch ops"


def _dims(size: Any) -> tuple[int, ...]:
    """A step output size as a shape: `5` -> `(5,)`, `(4, 8, 8)` (a spatial state) as is."""
    return (int(size),) if isinstance(size, int) else tuple(int(d) for d in size)


def _rows(keep: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A `(batch, 1)` step mask shaped to select whole rows of `like`, whatever its rank
    (states with more axes than `(batch, n)`, e.g. the feature maps of a convolutional cell)."""
    return keep if like.ndim == 2 else keep.view(-1, *([1] * (like.ndim - 1)))


# ====================================================================== the drivers
def _run_forward(stepper: Any, xs: tuple, states: State, masks: tuple | None, order: range,
                 out_size: int) -> tuple[torch.Tensor, State]:
    """The forward loop with Keras' mask semantics around `stepper.forward(t, xw_t, states)`."""
    outputs: list = [None] * len(xs)
    y_prev = None
    if masks is not None:
        x0 = xs[0]
        y_prev = x0.new_zeros(x0.shape[0], *_dims(out_size))
    for t in order:
        y, new_states = stepper.forward(t, xs[t], states)
        if masks is not None:
            keep = masks[t]
            y = torch.where(_rows(keep, y), y, y_prev)
            new_states = tuple(torch.where(_rows(keep, n), n, s)
                               for n, s in zip(new_states, states, strict=True))
            y_prev = y
        outputs[t] = y
        states = new_states
    return torch.stack(outputs, dim=1), states


def _run_backward(stepper: Any, grad_ys: torch.Tensor, grad_states: tuple, masks: tuple | None,
                  order: range) -> tuple:
    """Reverse loop: returns the grads of the initial states (state 0 is the step output)."""
    dys = grad_ys.unbind(1)
    dstates = list(grad_states)
    carry = None
    zero = torch.zeros((), dtype=grad_ys.dtype, device=grad_ys.device)
    for t in reversed(order):
        g = dys[t]
        if masks is None:
            dprev = stepper.backward(t, g + dstates[0], dstates[1:])
            dstates = list(dprev)
            continue
        keep = masks[t]
        if carry is not None:
            g = g + carry
        dy = torch.where(_rows(keep, g), g, zero)
        carry = torch.where(_rows(keep, g), zero, g)
        new = [torch.where(_rows(keep, d), d, zero) for d in dstates]
        passed = [torch.where(_rows(keep, d), zero, d) for d in dstates]
        dprev = stepper.backward(t, dy + new[0], new[1:])
        dstates = [a + b for a, b in zip(dprev, passed, strict=True)]
    return tuple(dstates)


class ChunkedGemm:
    """`acc += sum_t left_t^T @ right_t`, one GEMM per `chunk` steps (bounded extra memory)."""

    def __init__(self, acc: torch.Tensor, batch: int, chunk: int = 16) -> None:
        self.acc = acc
        self.lefts: list[torch.Tensor] = []
        self.buffer = acc.new_empty(chunk * batch, acc.shape[1])
        self.batch = batch
        self.chunk = chunk

    def add(self, left: torch.Tensor, right: torch.Tensor) -> None:
        k = len(self.lefts)
        self.buffer[k * self.batch:(k + 1) * self.batch].copy_(right)
        self.lefts.append(left)
        if len(self.lefts) == self.chunk:
            self.flush()

    def flush(self) -> torch.Tensor:
        if self.lefts:
            rows = len(self.lefts) * self.batch
            self.acc.addmm_(torch.cat(self.lefts).t(), self.buffer[:rows])
            self.lefts = []
        return self.acc


def cat_rows(items: list) -> torch.Tensor:
    return torch.cat(items, dim=0)


def by_time(items: list, order: range, steps: int) -> torch.Tensor:
    """Stack per-step `(batch, n)` tensors listed in processing order into `(time * batch, n)`
    rows in time order: the row order of the time-major `(time, batch, n)` gradient buffers."""
    by_time = [None] * steps
    for k, t in enumerate(order):
        by_time[t] = items[k]
    return torch.cat(by_time, dim=0)


def project_time_major(x: torch.Tensor, kernel: torch.Tensor,
                       bias: torch.Tensor | None) -> torch.Tensor:
    """`x @ kernel + bias` of every step as one GEMM (bias fused), TIME-MAJOR `(time, batch,
    n)`: each step's slice (and its gradient slice) is then contiguous."""
    batch, steps, features = x.shape
    x2d = x.transpose(0, 1).reshape(steps * batch, features)
    xw = torch.mm(x2d, kernel) if bias is None else torch.addmm(bias, x2d, kernel)
    return xw.view(steps, batch, -1)


# ====================================================================== the Function
class FusedScan(torch.autograd.Function):
    """`(ys, *final_states) = FusedScan.apply(plan, xw, *states, *weights)`.

    `xw` is the input projection of all steps, time-major `(time, batch, n)`; `ys` is
    batch-first `(batch, time, out)` as every engine returns. `plan` (from `build_plan`) holds
    what is not a differentiable tensor: the spec, the stepper class, the weight names (in the
    order of the trailing arguments), the mask, the recurrent mask, the direction and the
    training flag. Gradients are returned for `xw`, every state and every weight.
    """

    @staticmethod
    def forward(ctx: Any, plan: dict, xw: torch.Tensor, *tensors: torch.Tensor):
        n_states = plan["n_states"]
        states = tuple(tensors[:n_states])
        weights = dict(zip(plan["weight_names"], tensors[n_states:], strict=True))
        stepper = plan["stepper"](plan["spec"], weights, plan["recurrent_mask"],
                                  plan["training"], save=True)
        ys, final = _run_forward(stepper, xw.unbind(0), states, plan["masks"], plan["order"],
                                 plan["spec"].output_size)
        ctx.stepper = stepper
        ctx.plan = plan
        ctx.steps = xw.shape[0]
        # final states may be the initial ones unchanged (all steps masked): copy so that
        # autograd sees fresh outputs.
        final = tuple(f.clone() if any(f is s for s in states) else f for f in final)
        return (ys, *final)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_ys: torch.Tensor, *grad_states: torch.Tensor):
        plan, stepper = ctx.plan, ctx.stepper
        stepper.begin_backward(grad_ys)
        dstates0 = _run_backward(stepper, grad_ys, grad_states, plan["masks"], plan["order"])
        grads = stepper.weight_grads(plan["order"], ctx.steps)
        weight_grads = [grads.get(name) for name in plan["weight_names"]]
        return (None, grads["xw"], *dstates0, *weight_grads)


def build_plan(cell: Any, x: torch.Tensor, states: State, mask: torch.Tensor | None = None,
               reverse: bool = False, recurrent_mask: Any = None,
               training: bool = False) -> tuple[dict, dict]:
    """`(plan, weights)` for `FusedScan.apply(plan, project(plan, x), *states, *weights)`."""
    spec, why = spec_of(cell)
    if spec is None:
        raise ValueError(f"engine='fused' cannot run this cell: {why}.")
    impl = spec.formulas[NAME].impl
    steps = x.shape[1]
    masks = None
    if mask is not None and not bool(mask.all()):
        masks = tuple(m.unsqueeze(-1) for m in mask.to(device=x.device, dtype=torch.bool)
                      .unbind(1))
    weights = impl.recurrent_weights(spec)
    plan = {"spec": spec, "impl": impl, "stepper": impl.Stepper, "n_states": len(states),
            "weight_names": tuple(weights), "masks": masks,
            "order": range(steps - 1, -1, -1) if reverse else range(steps),
            "recurrent_mask": recurrent_mask, "training": training}
    return plan, weights


def project(plan: dict, x: torch.Tensor) -> torch.Tensor:
    """The family's time-major input projection of `x` for this plan."""
    return plan["impl"].project(plan["spec"], x)


def scan(cell: Any, x: torch.Tensor, states: State, mask: torch.Tensor | None = None,
         reverse: bool = False, recurrent_mask: Any = None,
         training: bool = False) -> tuple[torch.Tensor, State]:
    """Run `cell` with the fused BPTT engine; same contract as `reference.scan`."""
    ok, reason = supports(cell, x, mask, reverse, recurrent_mask, training)
    if not ok:
        raise ValueError(f"engine='fused' cannot run this configuration: {reason}.")
    states = tuple(states)
    plan, weights = build_plan(cell, x, states, mask, reverse, recurrent_mask, training)
    xw = project(plan, x)
    tensors = (xw, *states, *weights.values())
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        ys, *final = FusedScan.apply(plan, *tensors)
        return ys, tuple(final)
    with torch.no_grad():
        stepper = plan["stepper"](plan["spec"], weights, recurrent_mask, training, save=False)
        return _run_forward(stepper, xw.unbind(0), states, plan["masks"], plan["order"],
                            plan["spec"].output_size)


__all__ = ["ChunkedGemm", "FusedScan", "build_plan", "by_time", "cat_rows", "project",
           "project_time_major", "scan", "supports"]
