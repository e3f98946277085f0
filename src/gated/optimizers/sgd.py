"""SGD with Keras 3's (Nesterov) momentum rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from gated.optimizers.base import Optimizer, _check_rate

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as Keras 3.

    Update rule (`g` the gradient, `lr` the learning rate):

    - `momentum == 0`: `w = w - lr * g`
    - otherwise `velocity = momentum * velocity - lr * g`, then `w = w + velocity`,
      or with `nesterov=True`: `w = w + momentum * velocity - lr * g`.

    Args:
        learning_rate: float or schedule, default 0.01.
        momentum: float in [0, 1], default 0.
        nesterov: use Nesterov momentum.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, gradient_accumulation_steps, name: see `Optimizer`.

    Example:
    >>> opt = SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    """

    _default_name = "SGD"
    _v1_slots = {"momentum_buffer": "momentum"}

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.01,
                 momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str = "SGD", **kwargs: Any):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.momentum, self.nesterov = _check_rate("momentum", momentum), bool(nesterov)

    def _hyperparameters(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _new_slots(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"momentum": torch.zeros_like(p)} if self.momentum != 0 else {}

    def _update_step(self, params, grads, slots, lr, step):
        if self.momentum == 0:
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        velocity = [s["momentum"] for s in slots]
        torch._foreach_mul_(velocity, self.momentum)
        torch._foreach_add_(velocity, grads, alpha=-lr)
        if self.nesterov:
            torch._foreach_add_(params, grads, alpha=-lr)
            torch._foreach_add_(params, velocity, alpha=self.momentum)
        else:
            torch._foreach_add_(params, velocity)

    def _v1_value(self, slot: str, value: torch.Tensor, lr: float) -> torch.Tensor:
        # torch keeps the sum of gradients, Keras the sum of -lr * gradients
        return value * -lr
