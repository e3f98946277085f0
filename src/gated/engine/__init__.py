"""Engines: how a whole sequence is run. `scan` picks one; all compute the same numbers."""

from __future__ import annotations

from typing import Any

import torch

from gated.engine import reference

ENGINES = ("auto", "reference")

State = tuple[torch.Tensor, ...]


def check_engine(engine: str) -> str:
    if engine not in ENGINES:
        import difflib

        close = difflib.get_close_matches(str(engine), ENGINES, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"Unknown engine={engine!r}.{hint} Known engines: {list(ENGINES)}.")
    return engine


def scan(cell: Any, x: torch.Tensor, states: State, mask: torch.Tensor | None = None,
         reverse: bool = False, recurrent_mask: Any = None, training: bool = False,
         engine: str = "auto") -> tuple[torch.Tensor, State]:
    """Run `cell` over the sequence `x (batch, time, features)`; see `engine.reference.scan`."""
    return reference.scan(cell, x, states, mask, reverse, recurrent_mask, training)
