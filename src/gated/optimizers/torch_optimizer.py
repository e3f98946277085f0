"""`TorchOptimizer`: a ready `torch.optim.Optimizer` behind the gated optimizer API."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import torch

from gated._checks import type_name
from gated.optimizers.base import Optimizer, _check_learning_rate, apply_constraints

__all__ = ["TorchOptimizer"]


class TorchOptimizer(Optimizer):
    """Wraps a ready `torch.optim.Optimizer` so it can be passed to `compile`.

    The wrapped optimizer keeps its own update rule, hyperparameters and parameter groups;
    `learning_rate` reads the first group's `lr` and sets every group's. `build(parameters)`
    only checks that the optimizer holds the model's parameters. `step()` clips the
    gradients in place (`clipnorm`, `global_clipnorm` or `clipvalue`), then steps it.

    Args:
        optimizer: the torch optimizer.
        clipnorm, clipvalue, global_clipnorm: gradient clipping, see `Optimizer`.
        name: defaults to the lower-cased torch class name.

    Example:
    >>> model = torch.nn.Linear(2, 1)
    >>> opt = TorchOptimizer(torch.optim.SGD(model.parameters(), lr=0.1))
    """

    def __init__(self, optimizer: torch.optim.Optimizer, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str | None = None):
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"Argument `optimizer` must be a torch.optim.Optimizer; received "
                            f"{type_name(optimizer)}.")
        lr = optimizer.param_groups[0]["lr"]
        super().__init__(learning_rate=float(lr) if float(lr) > 0 else 1.0, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         name=name or type(optimizer).__name__.lower())
        self.torch_optimizer = optimizer
        self._parameters = self._all_parameters()
        self._positions = {id(p): i for i, p in enumerate(self._parameters)}
        self.built = True

    @property
    def learning_rate(self) -> float:
        return float(self.torch_optimizer.param_groups[0]["lr"])

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = _check_learning_rate(value, allow_zero=True)
        self._set_group_lr(self._learning_rate)

    def build(self, parameters: Iterable[Any]) -> None:
        params, names = self._split_named(parameters)
        held = {id(p) for p in self._all_parameters()}
        missing = [i for i, p in enumerate(params) if id(p) not in held]
        if len(missing) == len(params):
            raise ValueError(
                f"The torch optimizer given to compile holds none of the model's {len(params)} "
                "parameters; create it from this model's parameters (model.parameters())."
            )
        if missing:
            warnings.warn(f"The torch optimizer does not hold {len(missing)} of the model's "
                          f"{len(params)} trainable parameters; they will not be updated.",
                          stacklevel=2)
        self._parameters, self._parameter_names = params, names
        self._positions = {id(p): i for i, p in enumerate(params)}
        self._apply_pending_state()

    def step(self) -> None:
        """Clips the gradients in place, steps the torch optimizer, increments `iterations`."""
        with torch.no_grad():
            params = [p for p in self._all_parameters() if p.grad is not None]
            if params:
                clipped = self._clip_gradients([p.grad for p in params])
                for p, g in zip(params, clipped, strict=True):
                    if g is not p.grad:
                        p.grad.copy_(g)
        self.torch_optimizer.step()
        apply_constraints(self._all_parameters())
        self._iterations += 1

    def _apply_pairs(self, pairs: list[tuple[Any, torch.Tensor]]) -> None:
        for g, p in pairs:
            p.grad = torch.as_tensor(g).detach().to(device=p.device, dtype=p.dtype)
        self.step()

    def _from_v1(self, per_param: dict[int, dict[str, Any]], metadata: dict[str, Any]
                 ) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]:
        return per_param, metadata.get("param_groups", [])  # torch's own slots, unchanged

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "learning_rate": self.learning_rate,
                "torch_class": type(self.torch_optimizer).__name__, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        raise NotImplementedError(
            "A wrapped torch.optim optimizer cannot be rebuilt from a config (it needs the "
            "parameters); pass a gated optimizer or re-create the torch optimizer."
        )
