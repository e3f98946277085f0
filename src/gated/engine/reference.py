"""The reference engine: a plain autograd loop over `cell.recurrent_step`.

It is the oracle every faster engine is tested against, and the engine of last resort: it runs
any cell, with any mask, direction and state, on any device and dtype.

Semantics shared by all engines (Keras'):
- `ys[:, t]` is the output at input step t, whatever the direction (a layer with
  `go_backwards=True` flips them into processing order itself);
- a masked step (mask False) carries the state and the previous output forward unchanged;
  the output before the first unmasked step is zero.
"""

from __future__ import annotations

from typing import Any

import torch

State = tuple[torch.Tensor, ...]


def scan(cell: Any, x: torch.Tensor, states: State, mask: torch.Tensor | None = None,
         reverse: bool = False, recurrent_mask: Any = None,
         training: bool = False) -> tuple[torch.Tensor, State]:
    """Run `cell` over `x (batch, time, features)` from `states`.

    Returns:
        `(ys, final_states)`: `ys (batch, time, cell.output_size)` in input time order and the
        state after the last processed step.
    """
    steps = x.shape[1]
    # unbind, not x[:, t]: indexing inside the loop makes the backward pass O(T^2).
    xw_steps = cell.input_projection(x).unbind(1)
    mask_steps = mask.unbind(1) if mask is not None else None
    outputs: list[torch.Tensor | None] = [None] * steps
    y_prev = None
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    for t in order:
        y, new_states = cell.recurrent_step(xw_steps[t], states, recurrent_mask, training)
        if mask_steps is not None:
            if y_prev is None:  # the output before the first unmasked step is zero
                y_prev = torch.zeros_like(y)
            keep = mask_steps[t]
            y = torch.where(_rows(keep, y), y, y_prev)
            new_states = tuple(torch.where(_rows(keep, n), n, s)
                               for n, s in zip(new_states, states, strict=True))
            y_prev = y
        outputs[t] = y
        states = new_states
    return torch.stack(outputs, dim=1), tuple(states)


def _rows(keep: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A `(batch,)` step mask shaped to select whole rows of `like` (states of any rank)."""
    return keep.view(-1, *([1] * (like.ndim - 1)))
