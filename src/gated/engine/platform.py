"""The platform engine: PyTorch's own fused RNN kernels (oneDNN on CPU, cuDNN on GPU).

A family plugs in through `spec.formulas["platform"].impl`, an object with

- `flat_weights(spec) -> (weights, has_biases)`: torch's flat weight list built from the
  Keras-layout parameters by differentiable ops on every call (gradients reach the Keras
  parameters and nothing is cached that could go stale);
- `kernel(spec)`: the `torch._VF` sequence function, and `hx(states)`: its state argument;
- `step(spec, x_t, states)`: one step with torch's fused cell kernel (or None: no such kernel);
- `why_not(spec) -> str`: the family's words for why a cell is not torch's (for messages);
- `min_steps`: below this many steps a float32 CPU call is not worth oneDNN's per-call setup.

The families' formulas list what torch computes (the standard cells, `cell.is_standard`); this
module owns the rest: masks (none, all True, or right-padded: run as a packed sequence, padded
steps then repeat the last valid output as the reference does), `reverse` (by flipping), given
initial states. Not supported (another engine runs): left-padded masks or masks with holes,
`recurrent_mask` (recurrent dropout), and every option torch's kernels do not have.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from gated.engine.spec import StepSpec, refusal, spec_of

NAME = "platform"
State = tuple[torch.Tensor, ...]

_DEVICES = ("cpu", "cuda")


def mask_pattern(mask: torch.Tensor | None) -> str:
    """'none' (no mask or all True), 'right' (right-padded: valid prefix per row) or 'other'."""
    if mask is None:
        return "none"
    if bool(mask.all()):
        return "none"
    if mask.shape[1] > 1 and bool((mask[:, 1:] & ~mask[:, :-1]).any()):
        return "other"
    return "right"


def formulas_for(cell: Any) -> tuple[StepSpec | None, Any, str]:
    """`(spec, impl, "")` when torch's kernels compute this cell's step, else why not."""
    spec, why = spec_of(cell)
    if spec is None:
        return None, None, why
    formulas, why = refusal(spec, NAME)
    if formulas is None:
        impl = spec.formulas.get(NAME)
        extra = impl.impl.why_not(spec) if impl is not None else ""
        return None, None, f"not the standard torch cell: {why}" + (f"; {extra}" if extra
                                                                     else "")
    return spec, formulas.impl, ""


def supports(cell: Any, x: torch.Tensor, mask: torch.Tensor | None = None,
             reverse: bool = False, recurrent_mask: Any = None,
             training: bool = False) -> tuple[bool, str]:
    """Whether this engine runs the configuration exactly, and why (not)."""
    spec, impl, why = formulas_for(cell)
    if spec is None:
        return False, why
    if x.device.type not in _DEVICES:
        return False, f"device {x.device.type} (platform kernels: cpu, cuda)"
    allowed = (torch.float32, torch.float64) if x.device.type == "cpu" else (
        torch.float32, torch.float64, torch.float16, torch.bfloat16)
    if x.dtype not in allowed:
        return False, f"dtype {x.dtype} on {x.device.type}"
    for p in spec.weights.values():
        if p.dtype != x.dtype or p.device != x.device:
            return False, (f"parameters are {p.dtype} on {p.device}, inputs {x.dtype} on "
                           f"{x.device}")
    if recurrent_mask is not None:
        return False, "recurrent dropout (recurrent_mask) is not in torch's kernels"
    if mask is not None:
        if mask.requires_grad:
            return False, "a mask that requires grad"
        if mask_pattern(mask) == "other":
            return False, "mask is not right-padded (left padding or holes)"
    return True, f"standard {spec.cell_type} -> torch.{impl.kernel(spec).__name__}"


def _run(spec: StepSpec, impl: Any, inputs: Any, batch_sizes: torch.Tensor | None,
         states: State, train: bool) -> tuple[torch.Tensor, State]:
    weights, has_biases = impl.flat_weights(spec)
    if inputs.device.type == "cuda":
        weights = [w.contiguous() for w in weights]
    hx = impl.hx([s.unsqueeze(0) for s in states])
    args: list[Any] = [inputs] if batch_sizes is None else [inputs, batch_sizes]
    args += [hx, weights, has_biases, 1, 0.0, train, False]
    if batch_sizes is None:
        args.append(True)  # batch_first
    with warnings.catch_warnings():
        # cuDNN compacts weights that are not one chunk; we build them per call on purpose.
        warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
        # oneDNN has no projection; torch then uses its own kernel, which is what we want.
        warnings.filterwarnings("ignore", message=".*projections is not supported with oneDNN.*")
        result = impl.kernel(spec)(*args)
    return result[0], tuple(h.squeeze(0) for h in result[1:])


def _reverse_valid(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's valid prefix `x[b, :len_b]` in time, leaving the padding in place."""
    steps = x.shape[1]
    t = torch.arange(steps, device=x.device).unsqueeze(0)
    lens = lengths.to(x.device).unsqueeze(1)
    index = torch.where(t < lens, lens - 1 - t, t)
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[2]))


def scan(cell: Any, x: torch.Tensor, states: State, mask: torch.Tensor | None = None,
         reverse: bool = False, recurrent_mask: Any = None,
         training: bool = False) -> tuple[torch.Tensor, State]:
    """Run a standard cell with torch's fused kernel; same contract as `reference.scan`."""
    ok, reason = supports(cell, x, mask, reverse, recurrent_mask, training)
    if not ok:
        raise ValueError(f"engine='platform' cannot run this configuration: {reason}.")
    spec, impl, _ = formulas_for(cell)
    states = tuple(states)
    train = torch.is_grad_enabled() and (
        x.requires_grad or any(s.requires_grad for s in states)
        or any(p.requires_grad for p in spec.weights.values()))
    if mask_pattern(mask) == "none":
        inputs = x.flip(1) if reverse else x
        ys, final = _run(spec, impl, inputs, None, states, train)
        return (ys.flip(1) if reverse else ys), final
    return _scan_right_padded(spec, impl, x, states, mask, reverse, train)


def _scan_right_padded(spec: StepSpec, impl: Any, x: torch.Tensor, states: State,
                       mask: torch.Tensor, reverse: bool, train: bool):
    batch, steps = x.shape[0], x.shape[1]
    lengths = mask.sum(1)
    empty = lengths == 0
    lengths_cpu = lengths.clamp(min=1).cpu()
    inputs = _reverse_valid(x, lengths) if reverse else x
    packed = pack_padded_sequence(inputs, lengths_cpu, batch_first=True, enforce_sorted=False)
    sorted_states = tuple(s.index_select(0, packed.sorted_indices) for s in states)
    out, final = _run(spec, impl, packed.data, packed.batch_sizes, sorted_states, train)
    final = tuple(f.index_select(0, packed.unsorted_indices) for f in final)
    ys, _ = pad_packed_sequence(
        packed._replace(data=out), batch_first=True, total_length=steps
    )
    keep = mask.unsqueeze(-1)
    if reverse:
        # Padded steps are processed first: they output zeros (nothing valid seen yet).
        ys = _reverse_valid(ys, lengths)
        ys = torch.where(keep, ys, torch.zeros((), dtype=ys.dtype, device=ys.device))
    else:
        last = ys.gather(1, (lengths_cpu.to(x.device) - 1).view(batch, 1, 1)
                         .expand(-1, 1, ys.shape[2]))
        ys = torch.where(keep, ys, last)
    if bool(empty.any()):
        # Rows with no valid step: outputs zero, states unchanged.
        row = empty.view(batch, 1, 1)
        ys = torch.where(row, torch.zeros((), dtype=ys.dtype, device=ys.device), ys)
        final = tuple(torch.where(empty.unsqueeze(1), s, f)
                      for s, f in zip(states, final, strict=True))
    return ys, final
