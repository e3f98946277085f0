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
           "PiecewiseConstantDecay", "CosineDecay", "PolynomialDecay", "CosineDecayRestarts",
           "serialize", "deserialize"]


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


class PolynomialDecay(LearningRateSchedule):
    """From `initial_learning_rate` to `end_learning_rate` along `(1 - step/decay_steps)^power`.

    `(initial - end) * (1 - p) ** power + end` with `p = min(step, decay_steps) / decay_steps`;
    with `cycle=True` the horizon grows to the next multiple of `decay_steps` instead.

    Args:
        initial_learning_rate: learning rate at step 0.
        decay_steps: steps to reach `end_learning_rate` (> 0).
        end_learning_rate: the final learning rate.
        power: the polynomial's power (1: linear).
        cycle: restart beyond `decay_steps` (with a longer horizon).
        name: default `"PolynomialDecay"`.

    Example:
    >>> PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.0)(5)
    0.05
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int,
                 end_learning_rate: float = 0.0001, power: float = 1.0, cycle: bool = False,
                 name: str = "PolynomialDecay"):
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0; received {decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.end_learning_rate = float(end_learning_rate)
        self.power = float(power)
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step: int) -> float:
        horizon = float(self.decay_steps)
        if self.cycle:
            horizon *= 1.0 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, self.decay_steps)
        fraction = step / horizon
        return ((self.initial_learning_rate - self.end_learning_rate)
                * (1.0 - fraction) ** self.power + self.end_learning_rate)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2017).

    The first period lasts `first_decay_steps`; each next one `t_mul` times longer and
    starting `m_mul` times lower; within a period the rate falls along half a cosine to
    `alpha` times the period's start.

    Args:
        initial_learning_rate: learning rate at step 0.
        first_decay_steps: length of the first period (> 0).
        t_mul: growth factor of the period length.
        m_mul: factor of each restart's initial learning rate.
        alpha: floor, as a fraction of `initial_learning_rate`.
        name: default `"SGDRDecay"`.
    """

    def __init__(self, initial_learning_rate: float, first_decay_steps: int,
                 t_mul: float = 2.0, m_mul: float = 1.0, alpha: float = 0.0,
                 name: str = "SGDRDecay"):
        if first_decay_steps <= 0:
            raise ValueError("Argument `first_decay_steps` must be > 0; received "
                             f"{first_decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.first_decay_steps = first_decay_steps
        self._t_mul, self._m_mul = float(t_mul), float(m_mul)
        self.alpha = float(alpha)
        self.name = name

    def __call__(self, step: int) -> float:
        done = step / self.first_decay_steps
        if self._t_mul == 1.0:
            restart = math.floor(done)
            done -= restart
        else:
            restart = math.floor(math.log(1.0 - done * (1.0 - self._t_mul))
                                 / math.log(self._t_mul))
            before = (1.0 - self._t_mul ** restart) / (1.0 - self._t_mul)
            done = (done - before) / self._t_mul ** restart
        cosine = 0.5 * self._m_mul ** restart * (1.0 + math.cos(math.pi * done))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


_CLASSES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                    CosineDecay, PolynomialDecay, CosineDecayRestarts)}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """`{"class_name", "config"}` of a schedule."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"serialize() takes a LearningRateSchedule; received {schedule!r}.")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict[str, Any], custom_objects: dict | None = None
                ) -> LearningRateSchedule:
    """A schedule from `serialize`'s dictionary."""
    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown learning-rate schedule {name!r}; known: {sorted(_CLASSES)}.")
    return cls.from_config(dict(config.get("config", {})))
