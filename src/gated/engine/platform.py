"""The platform engine: PyTorch's own fused RNN kernels (oneDNN on CPU, cuDNN on GPU).

It runs a cell that is exactly `torch.nn.LSTM` / `nn.GRU` / `nn.RNN`'s (`cell.is_standard`)
through `torch._VF.lstm` / `gru` / `rnn_tanh` / `rnn_relu`, with the flat torch weights built
from the Keras-layout parameters by differentiable ops on every call (so gradients reach the
Keras parameters and nothing is cached that could go stale):

- LSTM: `weight_ih = kernel.T` (Keras' gate order i, f, c, o is torch's i, f, g, o: no reorder),
  `weight_hh = recurrent_kernel.T`, `bias_ih = bias`, `bias_hh = 0`,
  `weight_hr = projection_kernel.T` with `proj_size`;
- GRU (`reset_after=True` only): Keras' blocks z, r, h become torch's r, z, n; bias row 0 is
  `bias_ih`, row 1 `bias_hh`;
- SimpleRNN (tanh or relu): `weight_ih = kernel.T`, `bias_ih = bias`, `bias_hh = 0`.

Supported: no mask, an all-True mask, or a right-padded mask (every row valid up to its length,
run as a packed sequence; padded steps then repeat the last valid output, as the reference
does); `reverse` (by flipping); given initial states. Not supported (another engine runs):
left-padded masks or masks with holes, `recurrent_mask` (recurrent dropout), zoneout, layer
norm, peepholes and every other non-standard flag.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import _VF
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

State = tuple[torch.Tensor, ...]

_STEP_METHODS = ("input_projection", "recurrent_step", "step", "build")
_DEVICES = ("cpu", "cuda")


def cell_family(cell: Any) -> str | None:
    """'lstm', 'gru' or 'simple' when `cell` is one of gated's cells with its own step math.

    A subclass that overrides the step (or the input projection), or a class whose step was
    replaced, computes something the engines do not know, so it gets `None` (the reference
    engine runs it).
    """
    from gated.cells import GRUCell, LSTMCell, SimpleRNNCell  # lazy: cells import layers

    for family, base in (("lstm", LSTMCell), ("gru", GRUCell), ("simple", SimpleRNNCell)):
        if isinstance(cell, base):
            klass = type(cell)
            for name in _STEP_METHODS:
                fn = getattr(klass, name)
                # overridden by a subclass, or patched on the class itself
                if fn is not getattr(base, name) or not getattr(
                        fn, "__module__", "").startswith("gated."):
                    return None
            return family
    return None


def family_reason(cell: Any) -> str:
    """Why `cell_family(cell)` is None (empty string when it is not)."""
    if cell_family(cell) is not None:
        return ""
    from gated.cells import GRUCell, LSTMCell, SimpleRNNCell

    if isinstance(cell, (LSTMCell, GRUCell, SimpleRNNCell)):
        return (f"{type(cell).__name__} overrides or replaces the step methods "
                f"({', '.join(_STEP_METHODS)}): only the reference engine runs its math")
    return f"{type(cell).__name__} is not a built-in LSTM/GRU/SimpleRNN cell"


def mask_pattern(mask: torch.Tensor | None) -> str:
    """'none' (no mask or all True), 'right' (right-padded: valid prefix per row) or 'other'."""
    if mask is None:
        return "none"
    if bool(mask.all()):
        return "none"
    if mask.shape[1] > 1 and bool((mask[:, 1:] & ~mask[:, :-1]).any()):
        return "other"
    return "right"


def nonstandard_reason(cell: Any) -> str:
    """Why a cell is not exactly the torch one (empty string when it is)."""
    family = cell_family(cell)
    if family is None:
        return family_reason(cell)
    if family == "lstm":
        parts = []
        if cell.blocks != ("i", "f", "c", "o"):
            parts.append(f"gate blocks {''.join(cell.blocks)}")
        for flag in ("peephole", "full_gate_recurrence", "layer_norm"):
            if getattr(cell, flag):
                parts.append(flag)
        if cell.zoneout_cell or cell.zoneout_hidden:
            parts.append("zoneout")
        for what, name, want in (("input", cell.input_activation_name, "tanh"),
                                 ("output", cell.output_activation_name, "tanh"),
                                 ("recurrent", cell.recurrent_activation_name, "sigmoid")):
            if name != want:
                parts.append(f"{what} activation {_name(name)} (torch: {want})")
        if not parts and not cell.is_standard:
            parts.append("cell.is_standard is False")
        return ", ".join(parts)
    if family == "gru":
        parts = []
        if not cell.reset_after:
            parts.append("reset_after=False")
        if cell.activation_name != "tanh":
            parts.append(f"activation {_name(cell.activation_name)} (torch: tanh)")
        if cell.recurrent_activation_name != "sigmoid":
            parts.append(f"recurrent activation {_name(cell.recurrent_activation_name)}")
        return ", ".join(parts)
    if cell.activation_name not in ("tanh", "relu"):
        return f"activation {_name(cell.activation_name)} (torch: tanh or relu)"
    return ""


def _name(fn: Any) -> str:
    return repr(fn) if isinstance(fn, str) else getattr(fn, "__name__", repr(fn))


def supports(cell: Any, x: torch.Tensor, mask: torch.Tensor | None = None,
             reverse: bool = False, recurrent_mask: Any = None,
             training: bool = False) -> tuple[bool, str]:
    """Whether this engine runs the configuration exactly, and why (not)."""
    family = cell_family(cell)
    if family is None:
        return False, nonstandard_reason(cell)
    reason = nonstandard_reason(cell)
    if reason or not cell.is_standard:
        return False, f"not the standard torch cell: {reason or 'is_standard is False'}"
    if not getattr(cell, "built", False):
        return False, "the cell is not built"
    if x.device.type not in _DEVICES:
        return False, f"device {x.device.type} (platform kernels: cpu, cuda)"
    allowed = (torch.float32, torch.float64) if x.device.type == "cpu" else (
        torch.float32, torch.float64, torch.float16, torch.bfloat16)
    if x.dtype not in allowed:
        return False, f"dtype {x.dtype} on {x.device.type}"
    for p in cell.parameters():
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
    return True, f"standard {type(cell).__name__} -> torch.{_KERNEL[family]}"


_KERNEL = {"lstm": "lstm", "gru": "gru", "simple": "rnn"}


# ---------------------------------------------------------------------- weights
def flat_weights(cell: Any) -> tuple[list[torch.Tensor], bool]:
    """Torch's flat weight list for the cell, built differentiably; and `has_biases`."""
    family = cell_family(cell)
    u = cell.units
    if family == "gru":
        def reorder(w: torch.Tensor) -> torch.Tensor:  # z, r, h -> r, z, n (last axis)
            return torch.cat([w[..., u:2 * u], w[..., :u], w[..., 2 * u:]], dim=-1)

        weights = [reorder(cell.kernel).t(), reorder(cell.recurrent_kernel).t()]
        if cell.use_bias:
            bias = reorder(cell.bias)
            weights += [bias[0], bias[1]]
        return weights, cell.use_bias
    weights = [cell.kernel.t(), cell.recurrent_kernel.t()]
    if cell.use_bias:
        weights += [cell.bias, torch.zeros_like(cell.bias)]
    if family == "lstm" and cell.proj_size:
        weights.append(cell.projection_kernel.t())
    return weights, cell.use_bias


def _run(family: str, cell: Any, inputs: Any, batch_sizes: torch.Tensor | None,
         states: State, train: bool) -> tuple[torch.Tensor, State]:
    weights, has_biases = flat_weights(cell)
    if inputs.device.type == "cuda":
        weights = [w.contiguous() for w in weights]
    hx = [s.unsqueeze(0) for s in states]
    args: list[Any] = [inputs] if batch_sizes is None else [inputs, batch_sizes]
    if family == "lstm":
        args.append(tuple(hx[:2]))
    else:
        args.append(hx[0])
    args += [weights, has_biases, 1, 0.0, train, False]
    if batch_sizes is None:
        args.append(True)  # batch_first
    if family == "lstm":
        fn = _VF.lstm
    elif family == "gru":
        fn = _VF.gru
    else:
        fn = _VF.rnn_relu if cell.activation_name == "relu" else _VF.rnn_tanh
    with warnings.catch_warnings():
        # cuDNN compacts weights that are not one chunk; we build them per call on purpose.
        warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
        # oneDNN has no projection; torch then uses its own kernel, which is what we want.
        warnings.filterwarnings("ignore", message=".*projections is not supported with oneDNN.*")
        result = fn(*args)
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
    family = cell_family(cell)
    states = tuple(states)
    train = torch.is_grad_enabled() and (
        x.requires_grad or any(s.requires_grad for s in states)
        or any(p.requires_grad for p in cell.parameters()))
    if mask_pattern(mask) == "none":
        inputs = x.flip(1) if reverse else x
        ys, final = _run(family, cell, inputs, None, states, train)
        return (ys.flip(1) if reverse else ys), final
    return _scan_right_padded(family, cell, x, states, mask, reverse, train)


def _scan_right_padded(family: str, cell: Any, x: torch.Tensor, states: State,
                       mask: torch.Tensor, reverse: bool, train: bool):
    batch, steps = x.shape[0], x.shape[1]
    lengths = mask.sum(1)
    empty = lengths == 0
    lengths_cpu = lengths.clamp(min=1).cpu()
    inputs = _reverse_valid(x, lengths) if reverse else x
    packed = pack_padded_sequence(inputs, lengths_cpu, batch_first=True, enforce_sorted=False)
    sorted_states = tuple(s.index_select(0, packed.sorted_indices) for s in states)
    out, final = _run(family, cell, packed.data, packed.batch_sizes, sorted_states, train)
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
