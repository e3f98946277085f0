"""RMSprop with Keras 3's rule: epsilon inside the square root."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from gated.optimizers.base import Optimizer, _check_rate

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, as Keras 3.

    Update rule (`g` the gradient, `lr` the learning rate):

    - `velocity = rho * velocity + (1 - rho) * g**2`
    - `denominator = velocity + epsilon`; with `centered=True` also
      `average_gradient = rho * average_gradient + (1 - rho) * g` and
      `denominator -= average_gradient**2`
    - `increment = lr * g / sqrt(denominator)`
    - `momentum > 0`: `m = momentum * m + increment`, `w -= m`; otherwise `w -= increment`.

    Args:
        learning_rate: float or schedule, default 0.001.
        rho: decay of the squared-gradient average, default 0.9.
        momentum: default 0.
        epsilon: added inside the square root, default 1e-7.
        centered: normalise by the estimated variance instead of the second moment.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, gradient_accumulation_steps, name: see `Optimizer`.

    Example:
    >>> opt = RMSprop(learning_rate=0.01, momentum=0.9, centered=True)
    """

    _default_name = "rmsprop"
    _v1_slots = {"square_avg": "velocity", "grad_avg": "average_gradient",
                 "momentum_buffer": "momentum"}

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001, rho: float = 0.9,
                 momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str = "rmsprop", **kwargs: Any):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho = _check_rate("rho", rho)
        self.momentum = _check_rate("momentum", momentum, high=float("inf"))
        self.epsilon = _check_rate("epsilon", epsilon, high=float("inf"))
        self.centered = bool(centered)

    def _hyperparameters(self) -> dict[str, Any]:
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}

    def _new_slots(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        slots = {"velocity": torch.zeros_like(p)}
        if self.momentum > 0:
            slots["momentum"] = torch.zeros_like(p)
        if self.centered:
            slots["average_gradient"] = torch.zeros_like(p)
        return slots

    def _update_step(self, params, grads, slots, lr, step):
        rho = self.rho
        velocity = [s["velocity"] for s in slots]
        torch._foreach_mul_(velocity, rho)
        torch._foreach_add_(velocity, torch._foreach_mul(grads, grads), alpha=1 - rho)
        denominator = torch._foreach_add(velocity, self.epsilon)
        if self.centered:
            average = [s["average_gradient"] for s in slots]
            torch._foreach_mul_(average, rho)
            torch._foreach_add_(average, grads, alpha=1 - rho)
            torch._foreach_add_(denominator, torch._foreach_mul(average, average), alpha=-1)
        torch._foreach_sqrt_(denominator)
        increment = torch._foreach_mul(grads, lr)
        torch._foreach_div_(increment, denominator)
        if self.momentum > 0:
            momentum = [s["momentum"] for s in slots]
            torch._foreach_mul_(momentum, self.momentum)
            torch._foreach_add_(momentum, increment)
            torch._foreach_sub_(params, momentum)
        else:
            torch._foreach_sub_(params, increment)

    def _v1_value(self, slot: str, value: torch.Tensor, lr: float) -> torch.Tensor:
        # torch's momentum buffer is in gradient units, Keras' in parameter units
        return value * lr if slot == "momentum" else value
