"""The `compiled` engine: Numba CPU kernels, one autograd Function for every family.

A family plugs in through `spec.formulas["compiled"].impl`, an object with

- `inputs(spec, x, states) -> tuple`: the Function's tensor inputs (x, the projection kernel and
  bias first, then states and recurrent weights; None where absent);
- `config(spec, reverse, has_mask, has_rmask) -> cfg`: the family's int64 kernel config;
- `forward(cfg, tensors, rmask, mask, store) -> (cfg, ys, final_states, arrays)`;
- `backward(cfg, tensors, arrays, rmask, mask, dys, dfinal, needs) -> grads`, one per input;
- `stream_entry(spec, dtype) -> dict` and `stream(entry, x, states) -> (y, new_states)` for a
  single inference step (`streaming_step`).

This module owns what is common: the checks, the masks and dropout masks as arrays, the autograd
plumbing, pooled work arrays, one BLAS thread around the kernels, the streaming weight cache.
Forward projects the inputs of every step with one GEMM (bias fused, time-major), then runs the
recurrence in one compiled loop; backward forms every weight gradient with one GEMM over all
steps. The kernels are compiled on first use and cached on disk by Numba (`cache=True`): next to
the package when it is writable, else in Numba's user cache (`NUMBA_CACHE_DIR` overrides).
numba (with scipy, its BLAS) is the `gated[compiled]` extra: without it `supports` says so.

Where it is fast: small and medium recurrent products (the seed example's 32 x 100 x 1 x 50),
where per-step overheads dominate. Its BLAS is scipy's OpenBLAS, slower than torch's MKL on
large products, where the `fused` engine is the better choice (`auto` knows).
"""

from __future__ import annotations

import importlib.util
import weakref
from typing import Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from gated.engine.compiled import buffers
from gated.engine.spec import refusal, spec_of

NAME = "compiled"
State = tuple[torch.Tensor, ...]

_loaded: dict[str, Any] = {}


def is_available() -> bool:
    """Whether numba and scipy (Numba's BLAS) can be imported (checked once, importing
    neither)."""
    if "available" not in _loaded:
        _loaded["available"] = all(importlib.util.find_spec(name) is not None
                                   for name in ("numba", "scipy"))
    return _loaded["available"]


def _has_kernel_code(entry: Any) -> bool:
    return entry.kernel_code is not None


def supports(cell: Any, x: torch.Tensor, mask: torch.Tensor | None = None,
             reverse: bool = False, recurrent_mask: Any = None,
             training: bool = False) -> tuple[bool, str]:
    """Whether `scan` runs this configuration exactly, and why (not)."""
    if not is_available():
        return False, ("numba (with scipy, its BLAS) is not installed "
                       "(pip install 'gated[compiled]')")
    spec, why = spec_of(cell)
    if spec is None:
        return False, why
    formulas, why = refusal(spec, NAME, _has_kernel_code, "is not compiled")
    if formulas is None:
        return False, why
    if not isinstance(x, torch.Tensor) or x.ndim != 3:
        return False, "inputs must be a (batch, timesteps, features) tensor"
    if x.device.type != "cpu":
        return False, f"CPU tensors only, received inputs on {x.device.type}"
    if x.dtype not in buffers.NP_DTYPES:
        return False, f"float32 or float64 only, received {str(x.dtype).replace('torch.', '')}"
    if x.shape[0] == 0 or x.shape[1] == 0:
        return False, f"empty batch or sequence, received shape {tuple(x.shape)}"
    for name, param in spec.weights.items():
        if param.dtype != x.dtype or param.device.type != "cpu":
            return False, (f"weight {name} is {param.dtype} on {param.device.type}, inputs are "
                           f"{x.dtype} on cpu")
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.device.type != "cpu":
            return False, "mask must be a CPU tensor"
        if tuple(mask.shape) != tuple(x.shape[:2]):
            return False, (f"mask must have shape (batch, timesteps), received "
                           f"{tuple(mask.shape)}")
    if recurrent_mask is not None:
        if not isinstance(recurrent_mask, torch.Tensor) or recurrent_mask.device.type != "cpu":
            return False, "recurrent_mask must be a CPU tensor"
        if recurrent_mask.requires_grad:
            return False, "recurrent_mask requires grad (it is a dropout mask)"
        try:
            torch.broadcast_shapes(tuple(recurrent_mask.shape),
                                   (x.shape[0], spec.recurrent_size))
        except RuntimeError:
            return False, (f"recurrent_mask of shape {tuple(recurrent_mask.shape)} does not "
                           f"broadcast to (batch, {spec.recurrent_size})")
    return True, (f"Numba kernels for {spec.cell_type} "
                  f"({str(x.dtype).replace('torch.', '')}, CPU)")


class CompiledScan(torch.autograd.Function):
    """`(ys, *final) = CompiledScan.apply(impl, cfg, rmask, mask, *tensors)`."""

    @staticmethod
    def forward(ctx: Any, impl: Any, cfg: np.ndarray, rmask: np.ndarray, mask: np.ndarray,
                *tensors: Any):
        cfg, ys, final, arrays = impl.forward(cfg, tensors, rmask, mask, True)
        ctx.save_for_backward(*tensors)
        ctx.impl = impl
        ctx.saved = buffers.Saved(cfg, rmask, mask, *arrays)
        return (ys, *final)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dys: torch.Tensor, *dfinal: torch.Tensor):
        saved = ctx.saved
        grads = ctx.impl.backward(saved.cfg, ctx.saved_tensors, saved.arrays, saved.rmask,
                                  saved.mask, dys, dfinal, ctx.needs_input_grad[4:])
        return (None, None, None, None, *grads)


def _check_states(spec: Any, states: State, batch: int) -> State:
    states = (states,) if isinstance(states, torch.Tensor) else tuple(states)
    shapes = [tuple(s.shape) for s in states]
    if shapes != [(batch, n) for n in spec.state_sizes]:
        raise ValueError(
            f"engine='compiled': {spec.cell_type} expects states of shapes "
            f"{[(batch, n) for n in spec.state_sizes]}, received {shapes}."
        )
    return states


def scan(cell: Any, x: torch.Tensor, states: State, mask: torch.Tensor | None = None,
         reverse: bool = False, recurrent_mask: Any = None,
         training: bool = False) -> tuple[torch.Tensor, State]:
    """Run `cell` over `x (batch, time, features)` with the compiled kernels.

    Same semantics as `gated.engine.reference.scan` (outputs in input time order, masked steps
    carry the state and the previous output, zero before the first unmasked step).

    Raises:
        ValueError: when `supports(...)` is False for this configuration (the reason is named).
    """
    ok, reason = supports(cell, x, mask, reverse, recurrent_mask, training)
    if not ok:
        raise ValueError(f"engine='compiled' cannot run this configuration: {reason}.")
    spec, _ = spec_of(cell)
    impl = spec.formulas[NAME].impl
    batch = x.shape[0]
    states = tuple(s.to(x.dtype) for s in _check_states(spec, states, batch))
    dt = buffers.NP_DTYPES[x.dtype]
    has_mask = mask is not None
    mask_np = buffers.flat(mask.to(torch.bool)) if has_mask else np.ones(1, np.bool_)
    has_rmask = recurrent_mask is not None
    rmask_np = (buffers.flat(recurrent_mask.to(x.dtype).expand(batch, spec.recurrent_size))
                if has_rmask else buffers.dummy(dt))
    cfg = impl.config(spec, reverse, has_mask, has_rmask)
    tensors = impl.inputs(spec, x, states)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
        outs = CompiledScan.apply(impl, cfg, rmask_np, mask_np, *tensors)
        return outs[0], tuple(outs[1:])
    with torch.no_grad():
        _, ys, final, arrays = impl.forward(cfg, tensors, rmask_np, mask_np, False)
    buffers.POOL.give(*arrays)
    return ys, final


# ----------------------------------------------------------------------------- streaming
_stream_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _stream_entry(cell: Any, x_t: torch.Tensor) -> tuple[Any, dict]:
    """The family's contiguous weight copies for `streaming_step`, rebuilt when a parameter
    changes (its `_version` moves, or it is replaced)."""
    cached = _stream_cache.get(cell)
    if cached is not None and cached[2] == x_t.dtype and buffers.stamp_matches(cell, cached[3]):
        return cached[0], cached[1]
    ok, reason = supports(cell, x_t.unsqueeze(1))
    if not ok:
        raise ValueError(f"engine='compiled' cannot stream this cell: {reason}.")
    spec, _ = spec_of(cell)
    impl = spec.formulas[NAME].impl
    entry = impl.stream_entry(spec, x_t.dtype)
    _stream_cache[cell] = (impl, entry, x_t.dtype, buffers.stamp(cell))
    return impl, entry


def streaming_step(cell: Any, x_t: torch.Tensor, states: State) -> tuple[torch.Tensor, State]:
    """One inference step `cell.step(x_t, states)` (no autograd) with one compiled call.

    Aimed at real-time streaming at batch 1: the weights are copied once into contiguous
    arrays (refreshed when a parameter changes) and each step is one fused kernel call.

    Args:
        cell: A built cell that `supports` accepts.
        x_t: `(batch, features)` or `(features,)` inputs of one step.
        states: The cell's states, `(batch, n)` each (as returned by the previous step).

    Returns:
        `(y_t, new_states)` as `cell.step` (1-D inputs give 1-D outputs and states).

    Raises:
        ValueError: when `supports` rejects the cell (the reason is named).

    Example:
        >>> states = cell.get_initial_state(1)
        >>> y, states = streaming_step(cell, torch.randn(1, 64), states)
    """
    squeeze = x_t.ndim == 1
    x = x_t.detach() if x_t.requires_grad else x_t
    if squeeze:
        x = x.unsqueeze(0)
        states = tuple(s.unsqueeze(0) for s in states)
    impl, entry = _stream_entry(cell, x)
    out, new = impl.stream(entry, x, tuple(states))
    if squeeze:
        return out[0], tuple(s[0] for s in new)
    return out, new


__all__ = ["CompiledScan", "is_available", "scan", "streaming_step", "supports"]
