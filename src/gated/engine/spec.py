"""The step contract: what a cell tells an engine about its step, and what a backend claims.

A cell that a fast backend may run returns a `StepSpec` from `cell.step_spec()`: a frozen
description of one step that names the family, the *features* the cell uses (every entry of
the family's options table that is not at its default), the activation of each role by its
table name, the sizes, the weights by name, and the family's formula objects, one per backend
(`formulas["fused"]`, `formulas["compiled"]`, `formulas["platform"]`). The engine reads
nothing else from the cell.

A formula object (`Formulas`) says which features and activations it implements. A backend
runs a cell only if the spec has formulas for it and every declared feature is in that set;
otherwise `refusal` names the first feature missing. So an option added to a family's table
that no formula lists is refused by every fast backend, and only the reference engine (the
autograd loop over `cell.step`) runs it: a new option can never run silently wrong.

Cells that are compositions (a stack of cells) return no spec; they may instead offer
`sequence_parts(training)`: cells that, run one after the other over the whole sequence,
compute the same numbers (see `gated.engine.dispatch`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch

from gated import activations


class Config(Mapping):
    """A read-only mapping with attribute access: `config.units`, `config["units"]`."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", MappingProxyType(dict(values)))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"step config has no entry {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a step config is read-only")

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Config({dict(self._values)!r})"


@dataclass(frozen=True)
class Formulas:
    """What one family's fast form of the step implements, for one backend.

    Args:
        backend: The backend it plugs into (`"fused"`, `"compiled"`, `"platform"`).
        features: The options of the family's table it computes (every other option is
            refused by name).
        activations: Per activation role, the names it accepts; a role absent here accepts
            whatever the backend's own rule allows (a fused derivative, a kernel code).
        impl: The backend-specific implementation (a stepper class, kernel adapters, ...):
            the driver of that backend defines what it must provide.
    """

    backend: str
    features: frozenset[str]
    impl: Any
    activations: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StepSpec:
    """A frozen description of one cell's step, for the engines.

    Attributes:
        family: The family's name (`"lstm"`, `"gru"`, `"simple"`, ...).
        cell_type: The cell's class name, for messages.
        features: The options of the family's table that are not at their default.
        activations: Activation role -> table name (None for a callable not in the table).
        state_sizes: Size of each state tensor.
        output_size: Size of the step output.
        recurrent_size: Size of the state multiplied by the recurrent kernel (dropout masks).
        step_macs: Multiply-adds of the recurrent product per batch row (dispatch sizing).
        weights: The parameters by the family's names.
        config: Whatever else the formulas need (block layout, epsilons, rates), read-only.
        formulas: Backend name -> `Formulas`.
    """

    family: str
    cell_type: str
    features: frozenset[str]
    activations: Mapping[str, str | None]
    state_sizes: tuple[int, ...]
    output_size: int
    recurrent_size: int
    step_macs: int
    weights: Mapping[str, torch.Tensor]
    config: Config
    formulas: Mapping[str, Formulas]
    #: refusal() results by backend (a spec is immutable, so they cannot go stale)
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    def activation(self, role: str) -> activations.Activation | None:
        """The table entry of a role's activation (None for a user callable)."""
        return activations.lookup(self.activations[role])


def spec_of(cell: Any) -> tuple[StepSpec | None, str]:
    """`(cell.step_spec(), "")`, or `(None, why the cell has none)`."""
    make = getattr(cell, "step_spec", None)
    name = type(cell).__name__
    if make is not None and not getattr(cell, "built", False):
        return None, "the cell is not built"
    spec = make() if make is not None else None
    if spec is None:
        return None, (f"{name} has no step spec (a user cell, a stack of cells, or a subclass "
                      "that overrides the step methods): only the reference engine runs its math")
    return spec, ""


def features_of(cell: Any, options: Mapping[str, tuple[Any, Any]]) -> frozenset[str]:
    """The options of a family's table (`name -> (default, example)`) not at their default."""
    return frozenset(name for name, (default, _) in options.items()
                     if getattr(cell, name) != default)


def refusal(spec: StepSpec | None, backend: str,
            allowed: Callable[[activations.Activation], bool] | None = None,
            rule: str = "") -> tuple[Formulas | None, str]:
    """`(formulas, "")` when `backend` implements this step, else `(None, the reason)`.

    Args:
        spec: The cell's spec (None for a cell that has none: a user cell, a stack).
        backend: The backend's name.
        allowed: The backend's own rule for activations (e.g. "has a fused derivative").
        rule: How that rule reads in a message ("has no fused derivative").
    """
    if spec is None:
        return None, "no step spec: only the reference engine runs this cell"
    found = spec.memo.get((backend, rule))
    if found is None:
        found = spec.memo[(backend, rule)] = _refusal(spec, backend, allowed, rule)
    return found


def _refusal(spec: StepSpec, backend: str, allowed: Any, rule: str) -> tuple[Any, str]:
    formulas = spec.formulas.get(backend)
    if formulas is None:
        return None, f"{spec.cell_type} has no {backend} formulas"
    missing = sorted(spec.features - formulas.features)
    if missing:
        shown = [f"{name}={spec.config.get(name)!r}" for name in missing]
        return None, (f"{spec.cell_type} option {shown[0]} is not implemented by the {backend} "
                      "formulas" + (f" (nor {', '.join(shown[1:])})" if shown[1:] else ""))
    for role, name in spec.activations.items():
        accepted = formulas.activations.get(role)
        entry = activations.lookup(name)
        if accepted is not None and name not in accepted:
            return None, (f"{role} {name!r} is not in the {backend} formulas "
                          f"(accepted: {sorted(accepted)})")
        if allowed is not None and (entry is None or not allowed(entry)):
            shown = name if name is not None else "a user callable"
            return None, f"{role} {shown!r} {rule}"
    return formulas, ""


__all__ = ["Config", "Formulas", "StepSpec", "features_of", "refusal", "spec_of"]
