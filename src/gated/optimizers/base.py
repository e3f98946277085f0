"""The optimizer base class: Keras 3's `apply` pipeline on torch tensors.

One call to `step()` (or `apply_gradients`) does what Keras 3 does, in Keras' order:
gradient accumulation (`gradient_accumulation_steps`), clipping (`clipnorm`, else
`global_clipnorm`, else `clipvalue`), decoupled weight decay (`p *= 1 - weight_decay * lr`),
the subclass' update rule, the weights' moving average (`use_ema`), then `iterations += 1`.
The learning rate, a float or a schedule, is evaluated at the step count before the update.

Slot variables (moments, accumulators) live in `torch_optimizer.state[parameter]`, a
`torch.optim.Optimizer` that holds the parameter groups, so code written for torch
(`zero_grad`, `param_groups[0]["lr"]`, `state_dict`) keeps working.
"""

from __future__ import annotations

import math
import numbers
import re
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch

from gated._checks import close_matches, type_name
from gated.optimizers.schedules import (
    CosineDecay,
    CosineDecayRestarts,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    PolynomialDecay,
)
from gated.optimizers.state import StateMixin

__all__ = ["Optimizer"]

_SCHEDULES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay,
                                      PiecewiseConstantDecay, CosineDecay, PolynomialDecay,
                                      CosineDecayRestarts)}
_OPTIONAL_DEFAULTS = {"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                      "loss_scale_factor": None, "gradient_accumulation_steps": None}


def _serialize_lr(lr: Any) -> Any:
    if isinstance(lr, LearningRateSchedule):
        return {"class_name": type(lr).__name__, "config": lr.get_config()}
    if callable(lr):
        return {"class_name": "callable", "config": {"name": getattr(lr, "__name__", repr(lr))}}
    return float(lr)


def _deserialize_lr(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    name = value.get("class_name")
    if name not in _SCHEDULES:
        raise ValueError(
            f"Cannot rebuild learning-rate schedule {value!r}: only built-in schedules "
            f"({', '.join(_SCHEDULES)}) are restored from a config; pass `learning_rate` again."
        )
    return _SCHEDULES[name].from_config(value.get("config", {}))


def _check_learning_rate(value: Any, allow_zero: bool = False) -> Any:
    if callable(value) and not isinstance(value, torch.Tensor):
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            "Argument `learning_rate` must be a float or a schedule f(iterations) -> float; "
            f"received an object of type {type_name(value)}: {value!r}."
        )
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"Argument `learning_rate` must be {bound}; received {value}.")
    return value


def _check_rate(name: str, value: Any, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not low <= value <= high:
        raise ValueError(f"Argument `{name}` must be a float in [{low}, {high}]; "
                         f"received {name}={value!r}.")
    return float(value)


def _check_optional_int(name: str, value: Any, low: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"Argument `{name}` must be an integer >= {low} or None; "
                         f"received {name}={value!r}.")
    return int(value)


def apply_constraints(params: Iterable[torch.Tensor]) -> None:
    """Keras: after each update, a weight with a `constraint` is projected by it in place."""
    with torch.no_grad():
        for p in params:
            if getattr(p, "constraint", None) is not None:
                p.copy_(p.constraint(p))


class _SlotOptimizer(torch.optim.Optimizer):
    """The `torch.optim.Optimizer` face of a gated optimizer.

    It holds the parameter groups (`lr` and any per-group scalar such as Nadam's
    `u_product`) and the per-parameter slot tensors in `state`; `step()` runs the owning gated
    optimizer's full Keras step.
    """

    def __init__(self, params: list[torch.Tensor], owner: Optimizer, defaults: dict[str, Any]):
        super().__init__(params, defaults)
        self._owner = owner

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self._owner.step()
        return loss


class Optimizer(StateMixin):
    """Base class: the Keras 3 optimizer API on torch parameters, built lazily.

    Args:
        learning_rate: a float > 0, or a schedule `f(iterations) -> float` (for instance
            `optimizers.schedules.ExponentialDecay`).
        weight_decay: decoupled weight decay: before each update, every parameter with a
            gradient is multiplied by `1 - learning_rate * weight_decay` (as Keras does).
        clipnorm: clip each gradient tensor to this L2 norm (`g * c / max(||g||, c)`).
        clipvalue: clamp each gradient element to `[-clipvalue, clipvalue]`.
        global_clipnorm: scale all gradients so their joint L2 norm is at most this.
            At most one of `clipnorm`, `clipvalue`, `global_clipnorm` may be set.
        use_ema: keep an exponential moving average of the weights (slot `average`).
        ema_momentum: the average's momentum, default 0.99.
        ema_overwrite_frequency: every this many iterations, overwrite the weights with their
            average; if None, call `finalize_variable_values()` at the end of training.
        loss_scale_factor: only None is supported (raises `NotImplementedError` otherwise).
        gradient_accumulation_steps: an int >= 2: update every this many calls with the mean
            gradient; `iterations` counts updates, schedules see every call.
        name: the optimizer name.

    Attributes:
        torch_optimizer: the `torch.optim.Optimizer` holding the parameter groups and state
            (None until `build`).
        iterations: number of updates applied (int).
    """

    _default_name = "optimizer"

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None,
                 gradient_accumulation_steps: int | None = None,
                 name: str | None = None, **kwargs: Any):
        if "lr" in kwargs:
            raise ValueError("Argument `lr` is no longer supported (as in Keras 3); "
                             "use `learning_rate` instead.")
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and is ignored; use a "
                          "learning-rate schedule instead.", stacklevel=2)
        if kwargs:
            known = tuple(_OPTIONAL_DEFAULTS) + ("learning_rate", "weight_decay", "clipnorm",
                                                 "clipvalue", "global_clipnorm", "name")
            text = ", ".join(f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "")
                             for k in kwargs for h in [close_matches(k, known, n=1)])
            raise ValueError(f"{type(self).__name__}: argument(s) not recognized: {text}.")
        if loss_scale_factor is not None:
            raise NotImplementedError(f"{type(self).__name__} does not support "
                                      f"`loss_scale_factor` yet; received {loss_scale_factor}.")
        for arg, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                           ("global_clipnorm", global_clipnorm), ("weight_decay", weight_decay)):
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, numbers.Real) or value < 0):
                raise ValueError(f"Argument `{arg}` must be a float >= 0 or None; "
                                 f"received {arg}={value!r}.")
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.name = name or self._default_name
        self._learning_rate = _check_learning_rate(learning_rate)
        self.weight_decay = None if weight_decay is None else float(weight_decay)
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self.clipvalue = None if clipvalue is None else float(clipvalue)
        self.global_clipnorm = None if global_clipnorm is None else float(global_clipnorm)
        self.use_ema = bool(use_ema)
        self.ema_momentum = _check_rate("ema_momentum", ema_momentum)
        self.ema_overwrite_frequency = _check_optional_int("ema_overwrite_frequency",
                                                           ema_overwrite_frequency, 1)
        self.loss_scale_factor = None
        self.gradient_accumulation_steps = _check_optional_int(
            "gradient_accumulation_steps", gradient_accumulation_steps, 2)
        self._iterations = 0
        self.torch_optimizer: torch.optim.Optimizer | None = None
        self.built = False
        self._parameters: list[torch.Tensor] = []
        self._parameter_names: list[str] | None = None
        self._positions: dict[int, int] = {}
        self._exclude_ids: set[int] = set()
        self._exclude_names: list[str] = []
        self._pending_state: tuple[str, Any, Any] | None = None

    # -- subclass hooks
    def _hyperparameters(self) -> dict[str, Any]:
        """Subclass-specific Keras hyperparameters (for `get_config`)."""
        return {}

    def _group_defaults(self) -> dict[str, Any]:
        """Per-group scalars kept beside `lr` in `torch_optimizer.param_groups`."""
        return {}

    def _new_slots(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        """The slot tensors of one parameter, created at its first update."""
        return {}

    def _update_step(self, params: list[torch.Tensor], grads: list[torch.Tensor],
                     slots: list[dict[str, torch.Tensor]], lr: float, step: int) -> None:
        """Applies the update rule in place (`step` counts from 1, as Keras' `local_step`)."""
        raise NotImplementedError

    # -- counters and learning rate
    @property
    def iterations(self) -> int:
        """Updates applied so far (calls // `gradient_accumulation_steps` when accumulating)."""
        if self.gradient_accumulation_steps:
            return self._iterations // self.gradient_accumulation_steps
        return self._iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        self._iterations = int(value) * (self.gradient_accumulation_steps or 1)

    @property
    def learning_rate(self) -> float:
        """The current learning rate (a float; a schedule is evaluated at the call count)."""
        if callable(self._learning_rate):
            return float(self._learning_rate(self._iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float | Callable[[int], float]) -> None:
        if callable(value) and not isinstance(value, torch.Tensor):
            self._learning_rate = value
            return
        if callable(self._learning_rate):
            raise TypeError(
                "This optimizer was created with a learning-rate schedule as its "
                "`learning_rate` argument, hence its learning rate is not settable. Create the "
                "optimizer with a float `learning_rate` to make it settable."
            )
        self._learning_rate = _check_learning_rate(value, allow_zero=True)
        self._set_group_lr(self._learning_rate)

    def _set_group_lr(self, lr: float) -> None:
        if self.torch_optimizer is not None:
            for group in self.torch_optimizer.param_groups:
                group["lr"] = lr

    # -- building
    def build(self, parameters: Iterable[Any]) -> None:
        """Creates the parameter groups over `parameters` (no-op if already built on them).

        Args:
            parameters: the trainable parameters, in a stable order (the state saved by
                `state_tensors` is keyed by position in this list). `(name, parameter)` pairs,
                as from `module.named_parameters()`, are accepted too.
        """
        params, names = self._split_named(parameters)
        if self.built:
            if [id(p) for p in params] != [id(p) for p in self._parameters]:
                raise ValueError(
                    f"Optimizer {self.name!r} is already built on {len(self._parameters)} "
                    f"parameters and was given a different list of {len(params)}. Create a new "
                    "optimizer for a different model."
                )
            return
        self._parameters, self._parameter_names = params, names
        self._positions = {id(p): i for i, p in enumerate(params)}
        self.torch_optimizer = _SlotOptimizer(params, self, {"lr": self.learning_rate,
                                                             **self._group_defaults()})
        self.built = True
        self._apply_pending_state()

    def _split_named(self, parameters: Iterable[Any]) -> tuple[list[torch.Tensor], Any]:
        items = list(parameters)
        names = None
        if items and all(isinstance(x, tuple) and len(x) == 2 for x in items):
            names = [str(n) for n, _ in items]
            items = [p for _, p in items]
        if not items:
            raise ValueError(f"Optimizer {self.name!r}: `build()` received no parameters.")
        for i, p in enumerate(items):
            if not isinstance(p, torch.Tensor):
                raise TypeError(f"`parameters[{i}]` must be a torch.Tensor / nn.Parameter; "
                                f"received {type_name(p)}.")
        if len({id(p) for p in items}) != len(items):
            raise ValueError("`parameters` contains the same tensor more than once.")
        return items, names

    def exclude_from_weight_decay(self, var_list: Iterable[torch.Tensor] | None = None,
                                  var_names: Iterable[str] | None = None) -> None:
        """Exempts parameters from `weight_decay` (call before `build`).

        Args:
            var_list: parameters to exclude.
            var_names: regular expressions; a parameter whose name (from `(name, parameter)`
                pairs given to `build`) matches any of them is excluded, e.g. `["bias"]`.
        """
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be called before the "
                             "optimizer is built.")
        self._exclude_ids = {id(p) for p in (var_list or [])}
        self._exclude_names = list(var_names or [])

    def _decays(self, p: torch.Tensor) -> bool:
        if id(p) in self._exclude_ids:
            return False
        if self._exclude_names and self._parameter_names is not None:
            name = self._parameter_names[self._positions[id(p)]]
            return not any(re.search(pattern, name) for pattern in self._exclude_names)
        return True

    # -- stepping
    def _all_parameters(self) -> list[torch.Tensor]:
        return [p for group in self.torch_optimizer.param_groups for p in group["params"]]

    def _require_built_to_step(self) -> None:
        if not self.built:
            raise RuntimeError(f"Optimizer {self.name!r} is not built: call "
                               "`build(parameters)` (or `apply(parameters)`) first.")

    def step(self) -> None:
        """One Keras step with the parameters' current `.grad`; increments `iterations`.

        Parameters whose `.grad` is None are left alone (and not decayed), as Keras does.
        """
        self._require_built_to_step()
        pairs = [(p.grad, p) for p in self._parameters if p.grad is not None]
        if not pairs:  # as torch.optim: nothing to update (the step is still counted)
            self._iterations += 1
            return
        self._apply_pairs(pairs)

    def apply(self, grads: Iterable[Any] | None = None,
              trainable_variables: Iterable[torch.Tensor] | None = None) -> None:
        """Keras' `apply(grads, trainable_variables)`, or gated's `apply(parameters)`.

        `apply(grads, trainable_variables)` updates `trainable_variables` (built on them if
        needed) with `grads`; `apply(grads)` pairs `grads` one to one with the built
        parameters. `apply(parameters)` (the parameters this optimizer is, or is to be, built
        on) builds if needed, then `step()`s with their current `.grad`.
        """
        if trainable_variables is not None:
            self.apply_gradients(zip(grads, trainable_variables, strict=True))
            return
        items = list(grads) if grads is not None else None
        if not self.built:
            if items is None:
                raise ValueError("`apply()` needs `parameters` the first time it is called.")
            self.build(items)
            self.step()
            return
        if items is None or [id(x) for x in items] == [id(p) for p in self._parameters]:
            self.step()
            return
        if len(items) != len(self._parameters):
            raise ValueError(f"`grads` must match the {len(self._parameters)} parameters this "
                             f"optimizer is built on, one to one; received {len(items)}.")
        self.apply_gradients(zip(items, self._parameters, strict=True))

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, torch.Tensor]]) -> None:
        """Keras-style update from `(gradient, parameter)` pairs (`.grad` is left alone).

        Builds on the given parameters the first time; afterwards they must be among the
        parameters it was built on. Pairs whose gradient is None are skipped.

        Raises:
            ValueError: when every gradient is None (as Keras does).
        """
        pairs = list(grads_and_vars)
        if not self.built:
            self.build([p for _, p in pairs])
        unknown = [i for i, (_, p) in enumerate(pairs) if id(p) not in self._positions]
        if unknown:
            raise ValueError(f"`grads_and_vars[{unknown[0]}]` holds a parameter this optimizer "
                             f"was not built on ({len(self._parameters)} parameters); create "
                             "a new optimizer for new parameters.")
        self._apply_pairs([(g, p) for g, p in pairs if g is not None])

    def _apply_pairs(self, pairs: list[tuple[Any, torch.Tensor]]) -> None:
        if not pairs:
            raise ValueError(f"Optimizer {self.name!r}: no gradients provided for any "
                             "parameter (every `.grad` is None); call `loss.backward()` first.")
        params = [p for _, p in pairs]
        with torch.no_grad():
            grads = [torch.as_tensor(g).detach().to(device=p.device, dtype=p.dtype)
                     for g, p in pairs]
            steps = self.gradient_accumulation_steps
            if steps:
                accumulators = [self._slots(p)["gradient_accumulator"] for p in params]
                if (self._iterations + 1) % steps == 0:
                    grads = [(g + a) / steps for g, a in zip(grads, accumulators, strict=True)]
                    self._update(params, grads)
                    torch._foreach_zero_(accumulators)
                else:
                    torch._foreach_add_(accumulators, grads)
            else:
                self._update(params, grads)
            if self.use_ema:
                self._update_moving_average()
        self._iterations += 1

    def _update(self, params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        grads = self._clip_gradients(grads)
        lr = self.learning_rate
        self._set_group_lr(lr)
        if self.weight_decay:
            decayed = [p for p in params if self._decays(p)]
            if decayed:
                torch._foreach_mul_(decayed, 1.0 - self.weight_decay * lr)
        slots = [self._slots(p) for p in params]
        self._update_step(params, grads, slots, lr, self.iterations + 1)
        apply_constraints(params)

    def _slots(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        state = self.torch_optimizer.state[p]
        if not any(k not in ("average", "gradient_accumulator") for k in state):
            state.update(self._new_slots(p))
        if self.gradient_accumulation_steps and "gradient_accumulator" not in state:
            state["gradient_accumulator"] = torch.zeros_like(p)
        return state

    def _clip_gradients(self, grads: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.clipnorm:
            return [g * self.clipnorm / torch.clamp(torch.linalg.vector_norm(g),
                                                    min=self.clipnorm) for g in grads]
        if self.global_clipnorm:
            device = grads[0].device
            total = torch.linalg.vector_norm(torch.stack(
                [n.to(device) for n in torch._foreach_norm(grads)]))
            scale = self.global_clipnorm * torch.clamp(1.0 / total,
                                                       max=1.0 / self.global_clipnorm)
            scale = scale + (total - total)  # NaN for a non-finite norm, as Keras
            return [g * scale.to(g.device, g.dtype) for g in grads]
        if self.clipvalue:
            return [torch.clamp(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    # -- moving average of the weights
    def _update_moving_average(self) -> None:
        momentum = self.ema_momentum if self.iterations != 0 else 0.0
        for p in self._parameters:
            state = self.torch_optimizer.state[p]
            if "average" not in state:
                state["average"] = torch.zeros_like(p)
            state["average"].mul_(momentum).add_(p.detach(), alpha=1.0 - momentum)
        frequency = self.ema_overwrite_frequency
        if frequency and (self.iterations + 1) % frequency == 0:
            self._overwrite_with_average(self._parameters)

    def _overwrite_with_average(self, parameters: Iterable[torch.Tensor]) -> None:
        with torch.no_grad():
            for p in parameters:
                average = self.torch_optimizer.state.get(p, {}).get("average")
                if average is not None:
                    p.copy_(average)

    def finalize_variable_values(self, var_list: Iterable[torch.Tensor] | None = None) -> None:
        """With `use_ema`, overwrites the parameters (default: all) with their average."""
        if self.use_ema and self.built:
            self._overwrite_with_average(self._parameters if var_list is None else var_list)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears the gradients of the parameters (no-op before `build`)."""
        if self.torch_optimizer is not None:
            self.torch_optimizer.zero_grad(set_to_none=set_to_none)

    # -- config
    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-able dict (no state).

        Keras' `use_ema`, `ema_momentum`, `ema_overwrite_frequency` and
        `gradient_accumulation_steps` appear only when they differ from their defaults.
        """
        config = {"name": self.name, "learning_rate": _serialize_lr(self._learning_rate),
                  "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                  "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}
        config.update(self._hyperparameters())
        for key, default in _OPTIONAL_DEFAULTS.items():
            if getattr(self, key) != default:
                config[key] = getattr(self, key)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """Creates an optimizer from `get_config()` output."""
        config = dict(config)
        if "learning_rate" in config:
            config["learning_rate"] = _deserialize_lr(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self.learning_rate!r}, name={self.name!r})"
