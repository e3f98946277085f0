"""Adam, AdamW, Adamax and Nadam with Keras 3's rules (epsilon outside the uncorrected root)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from gated.optimizers.base import Optimizer, _check_rate

__all__ = ["Adam", "AdamW", "Adamax", "Nadam"]


class _BetasOptimizer(Optimizer):
    """Shared by the Adam family: `beta_1`, `beta_2`, `epsilon` and the moment slots."""

    _v1_slots = {"exp_avg": "momentum", "exp_avg_sq": "velocity"}

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str | None = None, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1, self.beta_2 = _check_rate("beta_1", beta_1), _check_rate("beta_2", beta_2)
        self.epsilon = _check_rate("epsilon", epsilon, high=float("inf"))

    def _hyperparameters(self) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _new_slots(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"momentum": torch.zeros_like(p), "velocity": torch.zeros_like(p)}

    def _moments(self, grads: list[torch.Tensor], slots: list[dict[str, torch.Tensor]]
                 ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """`m = b1 * m + (1 - b1) * g`, `v = b2 * v + (1 - b2) * g**2`, in place."""
        m = [s["momentum"] for s in slots]
        v = [s["velocity"] for s in slots]
        torch._foreach_mul_(m, self.beta_1)
        torch._foreach_add_(m, grads, alpha=1 - self.beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_add_(v, torch._foreach_mul(grads, grads), alpha=1 - self.beta_2)
        return m, v


class Adam(_BetasOptimizer):
    """Adam (Kingma & Ba), as Keras 3.

    Update rule at step `t` (from 1): the moments `m`, `v` as usual, then
    `w -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)`: epsilon is
    added to the root of the uncorrected `v` (torch adds it to the corrected one). With
    `amsgrad=True`, `v` is replaced by its running maximum `velocity_hat`.

    Args:
        learning_rate: float or schedule, default 0.001.
        beta_1: decay of the first-moment estimate, default 0.9.
        beta_2: decay of the second-moment estimate, default 0.999.
        epsilon: numerical stability constant, default 1e-7.
        amsgrad: use the AMSGrad variant.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, gradient_accumulation_steps, name: see `Optimizer`.

    Example:
    >>> opt = Adam(learning_rate=1e-3, clipnorm=1.0)
    """

    _default_name = "adam"
    _v1_slots = {**_BetasOptimizer._v1_slots, "max_exp_avg_sq": "velocity_hat"}

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str = "adam", **kwargs: Any):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **kwargs)
        self.amsgrad = bool(amsgrad)

    def _hyperparameters(self) -> dict[str, Any]:
        return {**super()._hyperparameters(), "amsgrad": self.amsgrad}

    def _new_slots(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        slots = super()._new_slots(p)
        if self.amsgrad:
            slots["velocity_hat"] = torch.zeros_like(p)
        return slots

    def _update_step(self, params, grads, slots, lr, step):
        alpha = lr * math.sqrt(1 - self.beta_2**step) / (1 - self.beta_1**step)
        m, v = self._moments(grads, slots)
        if self.amsgrad:
            v_hat = [s["velocity_hat"] for s in slots]
            torch._foreach_maximum_(v_hat, v)
            v = v_hat
        denominator = torch._foreach_sqrt(v)
        torch._foreach_add_(denominator, self.epsilon)
        update = torch._foreach_mul(m, alpha)
        torch._foreach_div_(update, denominator)
        torch._foreach_sub_(params, update)


class AdamW(Adam):
    """Adam with decoupled weight decay, as Keras 3: `Adam` whose `weight_decay` defaults
    to 0.004 and may not be None.

    Args:
        learning_rate: default 0.001.
        weight_decay: default 0.004; each step first multiplies the weights by
            `1 - lr * weight_decay`.
        beta_1, beta_2, epsilon, amsgrad: as `Adam` (defaults 0.9, 0.999, 1e-7, False).
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
        gradient_accumulation_steps, name: see `Optimizer`.

    Example:
    >>> opt = AdamW(learning_rate=1e-3, weight_decay=0.01)
    """

    _default_name = "adamw"

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001,
                 weight_decay: float = 0.004, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str = "adamw", **kwargs: Any):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float for AdamW; received None.")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)


class Adamax(_BetasOptimizer):
    """Adamax (Adam with the infinity norm), as Keras 3.

    Update rule at step `t`: `m = beta_1 * m + (1 - beta_1) * g`,
    `norm = max(beta_2 * norm, |g|)`, `w -= lr * m / ((1 - beta_1**t) * (norm + epsilon))`.

    Args:
        learning_rate: float or schedule, default 0.001.
        beta_1: default 0.9.
        beta_2: default 0.999.
        epsilon: default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, gradient_accumulation_steps, name: see `Optimizer`
        (`name` defaults to `"adamax"`).

    Example:
    >>> opt = Adamax(learning_rate=0.002)
    """

    _default_name = "adamax"
    _v1_slots = {"exp_avg": "momentum", "exp_inf": "norm"}

    def _new_slots(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"momentum": torch.zeros_like(p), "norm": torch.zeros_like(p)}

    def _update_step(self, params, grads, slots, lr, step):
        m = [s["momentum"] for s in slots]
        u = [s["norm"] for s in slots]
        torch._foreach_mul_(m, self.beta_1)
        torch._foreach_add_(m, grads, alpha=1 - self.beta_1)
        torch._foreach_mul_(u, self.beta_2)
        torch._foreach_maximum_(u, torch._foreach_abs(grads))
        denominator = torch._foreach_add(u, self.epsilon)
        torch._foreach_mul_(denominator, 1 - self.beta_1**step)
        update = torch._foreach_mul(m, lr)
        torch._foreach_div_(update, denominator)
        torch._foreach_sub_(params, update)


def _nadam_mu(beta_1: float, step: int) -> float:
    """Keras' Nadam momentum schedule `beta_1 * (1 - 0.5 * 0.96**step)`."""
    return beta_1 * (1.0 - 0.5 * 0.96**step)


class Nadam(_BetasOptimizer):
    """Nadam (Adam with Nesterov momentum, Dozat 2015), as Keras 3.

    Update rule at step `t`, with `mu_t = beta_1 * (1 - 0.5 * 0.96**t)` and
    `u_product` the product of `mu_1 ... mu_t` (kept in `param_groups[0]["u_product"]`):
    the moments `m`, `v` as Adam, then
    `m_hat = mu_{t+1} * m / (1 - u_product * mu_{t+1}) + (1 - mu_t) * g / (1 - u_product)`,
    `v_hat = v / (1 - beta_2**t)`, `w -= lr * m_hat / (sqrt(v_hat) + epsilon)`.

    Args:
        learning_rate: float or schedule, default 0.001.
        beta_1: default 0.9.
        beta_2: default 0.999.
        epsilon: default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, gradient_accumulation_steps, name: see `Optimizer`
        (`name` defaults to `"nadam"`).

    Example:
    >>> opt = Nadam(learning_rate=0.002)
    """

    _default_name = "nadam"

    def _group_defaults(self) -> dict[str, Any]:
        return {"u_product": 1.0}

    def _update_step(self, params, grads, slots, lr, step):
        group = self.torch_optimizer.param_groups[0]
        mu_t, mu_next = _nadam_mu(self.beta_1, step), _nadam_mu(self.beta_1, step + 1)
        u_product = group["u_product"] * mu_t
        group["u_product"] = u_product
        m, v = self._moments(grads, slots)
        m_hat = torch._foreach_mul(m, mu_next)
        torch._foreach_div_(m_hat, 1 - u_product * mu_next)
        g_part = torch._foreach_mul(grads, 1 - mu_t)
        torch._foreach_div_(g_part, 1 - u_product)
        torch._foreach_add_(m_hat, g_part)
        denominator = torch._foreach_div(v, 1 - self.beta_2**step)
        torch._foreach_sqrt_(denominator)
        torch._foreach_add_(denominator, self.epsilon)
        torch._foreach_mul_(m_hat, lr)
        torch._foreach_div_(m_hat, denominator)
        torch._foreach_sub_(params, m_hat)

    def _v1_groups(self, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"u_product": math.prod(_nadam_mu(self.beta_1, s)
                                        for s in range(1, int(metadata["iterations"]) + 1))}]
