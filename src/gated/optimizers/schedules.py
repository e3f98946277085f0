"""Learning-rate schedules with Keras 3 names: `gated.optimizers.schedules.ExponentialDecay`.

A schedule maps the optimizer's step count to a learning rate; pass one as `learning_rate=`.

Example:
>>> from gated.optimizers.schedules import ExponentialDecay
>>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(10)
0.05
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay",
           "PiecewiseConstantDecay", "CosineDecay"]


class LearningRateSchedule:
    """Base class: a callable `schedule(iterations) -> learning rate`.

    The optimizer calls it with its `iterations` counter (number of steps applied so far)
    before each step.
    """

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-able dict."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """Creates the schedule from `get_config()` output."""
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`.

    Args:
        initial_learning_rate: learning rate at step 0.
        decay_steps: number of steps per decay period (> 0).
        decay_rate: multiplicative decay per period.
        staircase: if True, `step / decay_steps` is floored (decay happens in jumps).
        name: default `"ExponentialDecay"`.

    Example:
    >>> lr = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> lr(20)
    0.025
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay"):
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0; received {decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`.

    Args:
        initial_learning_rate: learning rate at step 0.
        decay_steps: steps per decay period (> 0).
        decay_rate: decay rate.
        staircase: floor `step / decay_steps` if True.
        name: default `"InverseTimeDecay"`.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay"):
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0; received {decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[1]` up to `boundaries[1]`, ...

    Args:
        boundaries: increasing step numbers.
        values: one more value than boundaries.
        name: default `"PiecewiseConstant"`.
    """

    def __init__(self, boundaries: list[int], values: list[float],
                 name: str = "PiecewiseConstant"):
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "`values` must have one more element than `boundaries`; received "
                f"{len(boundaries)} boundaries and {len(values)} values."
            )
        self.boundaries = list(boundaries)
        self.values = [float(v) for v in values]
        self.name = name

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values[:-1], strict=True):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup, then cosine decay to `alpha * peak` over `decay_steps`.

    Args:
        initial_learning_rate: start value (the peak when there is no warmup).
        decay_steps: length of the cosine decay (> 0).
        alpha: final value as a fraction of the peak.
        name: default `"CosineDecay"`.
        warmup_target: peak reached after warmup; `None` for no warmup.
        warmup_steps: length of the linear warmup.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None,
                 warmup_steps: int = 0):
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0; received {decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.alpha = float(alpha)
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step: float, peak: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return peak * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: int) -> float:
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return self.initial_learning_rate + delta * step / self.warmup_steps
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}
