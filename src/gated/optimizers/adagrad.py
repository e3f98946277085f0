"""Adagrad and Adadelta with Keras 3's rules: epsilon inside the square roots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from gated.optimizers.base import Optimizer, _check_rate

__all__ = ["Adagrad", "Adadelta"]


class Adagrad(Optimizer):
    """Adagrad, as Keras 3.

    Update rule: `accumulator += g**2`, then `w -= lr * g / sqrt(accumulator + epsilon)`;
    the accumulator starts at `initial_accumulator_value`.

    Args:
        learning_rate: float or schedule, default 0.001.
        initial_accumulator_value: starting value of the squared-gradient sums, default 0.1.
        epsilon: added inside the square root, default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, gradient_accumulation_steps, name: see `Optimizer`.

    Example:
    >>> opt = Adagrad(learning_rate=0.01, initial_accumulator_value=0.1)
    """

    _default_name = "adagrad"
    _v1_slots = {"sum": "accumulator"}

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001,
                 initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str = "adagrad", **kwargs: Any):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.initial_accumulator_value = _check_rate(
            "initial_accumulator_value", initial_accumulator_value, high=float("inf"))
        self.epsilon = _check_rate("epsilon", epsilon, high=float("inf"))

    def _hyperparameters(self) -> dict[str, Any]:
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}

    def _new_slots(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"accumulator": torch.full_like(p, self.initial_accumulator_value)}

    def _update_step(self, params, grads, slots, lr, step):
        accumulator = [s["accumulator"] for s in slots]
        torch._foreach_add_(accumulator, torch._foreach_mul(grads, grads))
        denominator = torch._foreach_add(accumulator, self.epsilon)
        torch._foreach_sqrt_(denominator)
        update = torch._foreach_mul(grads, lr)
        torch._foreach_div_(update, denominator)
        torch._foreach_sub_(params, update)


class Adadelta(Optimizer):
    """Adadelta, as Keras 3 (Keras defaults, not torch's).

    Update rule, with `rms(x) = sqrt(x + epsilon)`:
    `accumulated_grad = rho * accumulated_grad + (1 - rho) * g**2`,
    `delta = -rms(accumulated_delta_var) * g / rms(accumulated_grad)`,
    `accumulated_delta_var = rho * accumulated_delta_var + (1 - rho) * delta**2`,
    `w += lr * delta`.

    Args:
        learning_rate: float or schedule, default 0.001.
        rho: decay rate, default 0.95.
        epsilon: default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, gradient_accumulation_steps, name: see `Optimizer`.

    Example:
    >>> opt = Adadelta(learning_rate=1.0, rho=0.9)
    """

    _default_name = "adadelta"
    _v1_slots = {"square_avg": "accumulated_grad", "acc_delta": "accumulated_delta_var"}

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001,
                 rho: float = 0.95, epsilon: float = 1e-7, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str = "adadelta", **kwargs: Any):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho = _check_rate("rho", rho)
        self.epsilon = _check_rate("epsilon", epsilon, high=float("inf"))

    def _hyperparameters(self) -> dict[str, Any]:
        return {"rho": self.rho, "epsilon": self.epsilon}

    def _new_slots(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"accumulated_grad": torch.zeros_like(p),
                "accumulated_delta_var": torch.zeros_like(p)}

    def _rms(self, values: list[torch.Tensor]) -> list[torch.Tensor]:
        out = torch._foreach_add(values, self.epsilon)
        torch._foreach_sqrt_(out)
        return out

    def _update_step(self, params, grads, slots, lr, step):
        rho = self.rho
        grad_avg = [s["accumulated_grad"] for s in slots]
        delta_avg = [s["accumulated_delta_var"] for s in slots]
        torch._foreach_mul_(grad_avg, rho)
        torch._foreach_add_(grad_avg, torch._foreach_mul(grads, grads), alpha=1 - rho)
        delta = torch._foreach_mul(self._rms(delta_avg), grads)
        torch._foreach_div_(delta, self._rms(grad_avg))
        torch._foreach_neg_(delta)
        torch._foreach_mul_(delta_avg, rho)
        torch._foreach_add_(delta_avg, torch._foreach_mul(delta, delta), alpha=1 - rho)
        torch._foreach_add_(params, delta, alpha=lr)
