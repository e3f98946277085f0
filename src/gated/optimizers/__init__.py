"""Optimizers with Keras 3 names and defaults, running `torch.optim` underneath.

An `Optimizer` is created before the model's parameters exist (`compile` time) and built
lazily: `build(parameters)` creates the underlying `torch.optim` optimizer
(`optimizer.torch_optimizer`). Each `step()` clips the gradients the Keras way (`clipnorm`,
`global_clipnorm`, `clipvalue`), applies decoupled weight decay (`weight_decay`), evaluates the
learning-rate schedule at `iterations`, then steps the torch optimizer.

Differences from Keras that come from the torch kernels (documented, not bugs):
`epsilon` is passed to torch as `eps`; torch adds it to the bias-corrected `sqrt(v)` for
Adam-like optimizers and outside the square root for RMSprop, where Keras adds it to the
uncorrected `sqrt(v)` (Adam) and inside the root (RMSprop). With the 1e-7 default the
trajectories agree to many digits.

Example:
>>> import torch
>>> from gated.optimizers import Adam
>>> w = torch.nn.Parameter(torch.ones(3))
>>> opt = Adam(learning_rate=0.01)
>>> opt.build([w])
>>> (w ** 2).sum().backward()
>>> opt.step()
>>> opt.iterations
1
"""

from __future__ import annotations

import copy
import math
import numbers
import re
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch

from gated._checks import close_matches, type_name, unknown_name_error
from gated.optimizers import schedules
from gated.optimizers.schedules import (
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
)

__all__ = [
    "Optimizer", "Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam",
    "TorchOptimizer", "LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay",
    "PiecewiseConstantDecay", "CosineDecay", "schedules", "get", "serialize", "deserialize",
]

STATE_FORMAT = "gated.optimizer.v1"

_SCHEDULES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay,
                                      PiecewiseConstantDecay, CosineDecay)}


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


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


# --------------------------------------------------------------------------------- optimizers
_KERAS_KWARGS = ("use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                 "gradient_accumulation_steps")


class Optimizer:
    """Base class: Keras optimizer API over a lazily built `torch.optim` optimizer.

    Args:
        learning_rate: a float > 0, or a schedule `f(iterations) -> float` (for instance
            `optimizers.schedules.ExponentialDecay`).
        weight_decay: decoupled weight decay: before each update, every parameter with a
            gradient is multiplied by `1 - learning_rate * weight_decay` (as Keras does).
        clipnorm: clip each gradient tensor to this L2 norm (`g * c / max(||g||, c)`).
        clipvalue: clamp each gradient element to `[-clipvalue, clipvalue]`.
        global_clipnorm: scale all gradients so their joint L2 norm is at most this.
        name: the optimizer name.
        **kwargs: Keras' `use_ema`, `ema_momentum`, `ema_overwrite_frequency`,
            `loss_scale_factor`, `gradient_accumulation_steps` are accepted at their defaults
            (other values raise `NotImplementedError`).

    Attributes:
        torch_optimizer: the underlying `torch.optim.Optimizer` (None until `build`).
        iterations: number of steps applied (int).
    """

    _torch_class: type[torch.optim.Optimizer] | None = None
    _default_name = "optimizer"

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str | None = None, **kwargs: Any):
        if "lr" in kwargs:
            raise ValueError("Argument `lr` is no longer supported (as in Keras 3); "
                             "use `learning_rate` instead.")
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and is ignored; use a "
                          "learning-rate schedule instead.", stacklevel=2)
        unknown = [k for k in kwargs if k not in _KERAS_KWARGS]
        if unknown:
            hints = {k: close_matches(k, _KERAS_KWARGS + ("learning_rate", "weight_decay",
                                                          "clipnorm", "clipvalue",
                                                          "global_clipnorm"), n=1)
                     for k in unknown}
            text = ", ".join(f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "")
                             for k, h in hints.items())
            raise ValueError(f"{type(self).__name__}: argument(s) not recognized: {text}.")
        unsupported = {k: v for k, v in kwargs.items()
                       if v not in (None, False) and not (k == "ema_momentum" and v == 0.99)}
        if unsupported:
            raise NotImplementedError(
                f"{type(self).__name__} does not support {unsupported} yet "
                "(EMA, loss scaling and gradient accumulation are not implemented)."
            )
        for arg, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                           ("global_clipnorm", global_clipnorm), ("weight_decay", weight_decay)):
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, numbers.Real) or value < 0):
                raise ValueError(f"Argument `{arg}` must be a float >= 0 or None; "
                                 f"received {arg}={value!r}.")
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError("Only one of `clipnorm` and `global_clipnorm` can be set. "
                             f"Received: clipnorm={clipnorm}, global_clipnorm={global_clipnorm}")
        self.name = name or self._default_name
        self._learning_rate = _check_learning_rate(learning_rate)
        self.weight_decay = None if weight_decay is None else float(weight_decay)
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self.clipvalue = None if clipvalue is None else float(clipvalue)
        self.global_clipnorm = None if global_clipnorm is None else float(global_clipnorm)
        self.iterations = 0
        self.torch_optimizer: torch.optim.Optimizer | None = None
        self.built = False
        self._parameters: list[torch.Tensor] = []
        self._parameter_names: list[str] | None = None
        self._exclude_ids: set[int] = set()
        self._exclude_names: list[str] = []
        self._pending_state: tuple[str, Any, Any] | None = None

    # -- hyperparameters
    def _hyperparameters(self) -> dict[str, Any]:
        """Subclass-specific Keras hyperparameters (for `get_config`)."""
        return {}

    def _torch_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `_torch_class` besides the parameters and `lr`."""
        return {}

    @property
    def learning_rate(self) -> float:
        """The current learning rate (a float; a schedule is evaluated at `iterations`)."""
        if callable(self._learning_rate):
            return float(self._learning_rate(self.iterations))
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
        """Creates the torch optimizer over `parameters` (no-op if already built on them).

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
        self.torch_optimizer = self._torch_class(params, lr=self.learning_rate,
                                                 **self._torch_kwargs())
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

    def _decays(self, index: int, p: torch.Tensor) -> bool:
        if id(p) in self._exclude_ids:
            return False
        if self._exclude_names and self._parameter_names is not None:
            name = self._parameter_names[index]
            return not any(re.search(pattern, name) for pattern in self._exclude_names)
        return True

    # -- stepping
    def _all_parameters(self) -> list[torch.Tensor]:
        return [p for group in self.torch_optimizer.param_groups for p in group["params"]]

    def _clip_gradients(self, grads: list[torch.Tensor]) -> None:
        if self.clipnorm:
            for g in grads:
                norm = torch.linalg.vector_norm(g)
                g.mul_(self.clipnorm / torch.clamp(norm, min=self.clipnorm))
        elif self.global_clipnorm:
            total = torch.nn.utils.get_total_norm(grads)
            scale = self.global_clipnorm / torch.clamp(total, min=self.global_clipnorm)
            for g in grads:
                g.mul_(scale.to(g.device, g.dtype))
        elif self.clipvalue:
            for g in grads:
                g.clamp_(-self.clipvalue, self.clipvalue)

    def _apply_weight_decay(self, lr: float) -> None:
        if not self.weight_decay:
            return
        for i, p in enumerate(self._parameters):
            if p.grad is not None and self._decays(i, p):
                p.mul_(1.0 - lr * self.weight_decay)

    def step(self) -> None:
        """Clips gradients, applies weight decay and one update; increments `iterations`."""
        if not self.built:
            raise RuntimeError(f"Optimizer {self.name!r} is not built: call "
                               "`build(parameters)` (or `apply(parameters)`) first.")
        with torch.no_grad():
            grads = [p.grad for p in self._all_parameters() if p.grad is not None]
            self._clip_gradients(grads)
            lr = self.learning_rate
            if callable(self._learning_rate):
                self._set_group_lr(lr)
            self._apply_weight_decay(lr)
        self.torch_optimizer.step()
        self.iterations += 1

    def apply(self, parameters: Iterable[Any] | None = None) -> None:
        """Builds on `parameters` if needed, then `step()`s with their current `.grad`."""
        if not self.built:
            if parameters is None:
                raise ValueError("`apply()` needs `parameters` the first time it is called.")
            self.build(parameters)
        self.step()

    def apply_gradients(self, grads_and_vars: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Keras-style update from `(gradient, parameter)` pairs (sets `.grad`, then steps)."""
        pairs = list(grads_and_vars)
        for g, p in pairs:
            p.grad = None if g is None else g.detach().to(p.dtype)
        self.apply([p for _, p in pairs])

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears the gradients of the parameters (no-op before `build`)."""
        if self.torch_optimizer is not None:
            self.torch_optimizer.zero_grad(set_to_none=set_to_none)

    # -- config
    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-able dict (no state)."""
        config = {"name": self.name, "learning_rate": _serialize_lr(self._learning_rate),
                  "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                  "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}
        config.update(self._hyperparameters())
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

    # -- state
    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(f"`{what}()` needs a built optimizer: call `build(parameters)`.")

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (copied tensors) of the torch optimizer state, `iterations` and the
        learning rate."""
        self._require_built("state_dict")
        return {"format": STATE_FORMAT, "class_name": type(self).__name__,
                "torch": copy.deepcopy(self.torch_optimizer.state_dict()),
                "iterations": self.iterations,
                "learning_rate": self.learning_rate}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores `state_dict()` output (deferred until `build` if not built yet)."""
        if not self.built:
            self._pending_state = ("dict", state, None)
            return
        self._check_class(state.get("class_name"))
        self.torch_optimizer.load_state_dict(copy.deepcopy(state["torch"]))
        self._restore_counters(state)

    def _restore_counters(self, state: dict[str, Any]) -> None:
        self.iterations = int(state["iterations"])
        if not callable(self._learning_rate):
            self.learning_rate = float(state["learning_rate"])

    def _check_class(self, class_name: str | None) -> None:
        if class_name is not None and class_name != type(self).__name__:
            raise ValueError(f"The optimizer state was saved from {class_name} and cannot be "
                             f"loaded into {type(self).__name__}.")

    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The state as named tensors plus JSON-able metadata (for safetensors, no pickle).

        Returns:
            `(tensors, metadata)`. `tensors` maps `"param_{i}.{slot}"` (e.g. `"param_0.exp_avg"`,
            `i` = position in the list given to `build`) to detached copies. `metadata` holds
            `iterations`, `learning_rate`, the param-group hyperparameters and any non-tensor
            state.
        """
        self._require_built("state_tensors")
        tensors: dict[str, torch.Tensor] = {}
        non_tensor: dict[str, Any] = {}
        for i, p in enumerate(self._parameters):
            for slot, value in self.torch_optimizer.state.get(p, {}).items():
                key = f"param_{i}.{slot}"
                if isinstance(value, torch.Tensor):
                    tensors[key] = value.detach().clone().contiguous()
                else:
                    non_tensor[key] = _jsonable(value)
        position = {id(p): i for i, p in enumerate(self._parameters)}
        groups = []
        for group in self.torch_optimizer.param_groups:
            entry = {k: _jsonable(v) for k, v in group.items() if k != "params"}
            entry["params"] = [position.get(id(p), -1) for p in group["params"]]
            groups.append(entry)
        metadata = {"format": STATE_FORMAT, "class_name": type(self).__name__,
                    "iterations": self.iterations, "learning_rate": self.learning_rate,
                    "num_parameters": len(self._parameters), "param_groups": groups,
                    "non_tensor_state": non_tensor}
        return tensors, metadata

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], metadata: dict[str, Any],
                           parameters: Iterable[Any] | None = None) -> None:
        """Restores `state_tensors()` output.

        Args:
            tensors: the named state tensors.
            metadata: the metadata dict.
            parameters: the parameters to build on if the optimizer is not built yet (same
                order as at save time). If omitted and not built, loading waits for `build`.
        """
        if not self.built:
            if parameters is None:
                self._pending_state = ("tensors", tensors, metadata)
                return
            self.build(parameters)
        self._check_class(metadata.get("class_name"))
        if metadata.get("num_parameters") != len(self._parameters):
            raise ValueError(
                f"The optimizer state has {metadata.get('num_parameters')} parameters but this "
                f"optimizer is built on {len(self._parameters)}."
            )
        per_param: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            match = re.fullmatch(r"param_(\d+)\.(.+)", key)
            if match is None:
                raise ValueError(f"Unexpected optimizer state key {key!r}.")
            per_param.setdefault(int(match.group(1)), {})[match.group(2)] = value
        for key, value in metadata.get("non_tensor_state", {}).items():
            index, slot = key.split(".", 1)
            per_param.setdefault(int(index[len("param_"):]), {})[slot] = value
        state = self.torch_optimizer.state
        for i, p in enumerate(self._parameters):
            state.pop(p, None)
            if i in per_param:
                state[p] = {slot: _to_param(slot, v, p, self.torch_optimizer)
                            for slot, v in per_param[i].items()}
        groups = metadata.get("param_groups", [])
        if len(groups) == len(self.torch_optimizer.param_groups):
            for group, saved in zip(self.torch_optimizer.param_groups, groups, strict=True):
                for k, v in saved.items():
                    if k != "params":
                        group[k] = tuple(v) if isinstance(group.get(k), tuple) else v
        self._restore_counters(metadata)

    def _apply_pending_state(self) -> None:
        if self._pending_state is None:
            return
        kind, first, second = self._pending_state
        self._pending_state = None
        if kind == "dict":
            self.load_state_dict(first)
        else:
            self.load_state_tensors(first, second)


def _to_param(slot: str, value: Any, p: torch.Tensor, opt: torch.optim.Optimizer) -> Any:
    """Casts a saved state value like `torch.optim.Optimizer.load_state_dict` does."""
    if not isinstance(value, torch.Tensor):
        return value
    if slot == "step":
        group = next((g for g in opt.param_groups if any(q is p for q in g["params"])), {})
        if group.get("capturable") or group.get("fused"):
            return value.to(dtype=torch.float32, device=p.device)
        return value.clone()
    if p.is_floating_point():
        return value.to(dtype=p.dtype, device=p.device, copy=True)
    return value.to(device=p.device, copy=True)


class Adam(Optimizer):
    """Adam (Kingma & Ba), Keras defaults, on `torch.optim.Adam`.

    Args:
        learning_rate: float or schedule, default 0.001.
        beta_1: decay of the first-moment estimate, default 0.9.
        beta_2: decay of the second-moment estimate, default 0.999.
        epsilon: numerical stability constant, default 1e-7 (torch's `eps`).
        amsgrad: use the AMSGrad variant.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.

    Example:
    >>> opt = Adam(learning_rate=1e-3, clipnorm=1.0)
    """

    _torch_class = torch.optim.Adam
    _default_name = "adam"

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str = "adam", **kwargs: Any):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon, self.amsgrad = float(epsilon), bool(amsgrad)

    def _hyperparameters(self) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay, on `torch.optim.AdamW` (same update as Keras).

    Args:
        learning_rate: default 0.001.
        weight_decay: default 0.004; each step multiplies weights by `1 - lr * weight_decay`.
        beta_1, beta_2, epsilon, amsgrad: as `Adam` (defaults 0.9, 0.999, 1e-7, False).
        clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    """

    _torch_class = torch.optim.AdamW
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

    def _torch_kwargs(self) -> dict[str, Any]:
        return {**super()._torch_kwargs(), "weight_decay": self.weight_decay}

    def _apply_weight_decay(self, lr: float) -> None:
        if self._exclude_ids or self._exclude_names:
            raise NotImplementedError("AdamW decays inside torch.optim.AdamW; use Adam with "
                                      "`weight_decay` to exclude parameters from decay.")


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, on `torch.optim.SGD`.

    Args:
        learning_rate: default 0.01.
        momentum: float in [0, 1], default 0.
        nesterov: use Nesterov momentum.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    """

    _torch_class = torch.optim.SGD
    _default_name = "SGD"

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.01,
                 momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str = "SGD", **kwargs: Any):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"Argument `momentum` must be in [0, 1]; received {momentum}.")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _hyperparameters(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov and self.momentum > 0}


class RMSprop(Optimizer):
    """RMSprop, on `torch.optim.RMSprop`.

    Args:
        learning_rate: default 0.001.
        rho: decay of the squared-gradient average, default 0.9 (torch's `alpha`).
        momentum: default 0.
        epsilon: default 1e-7.
        centered: normalise by the estimated variance instead of the second moment.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    """

    _torch_class = torch.optim.RMSprop
    _default_name = "rmsprop"

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001, rho: float = 0.9,
                 momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str = "rmsprop", **kwargs: Any):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho, self.momentum = float(rho), float(momentum)
        self.epsilon, self.centered = float(epsilon), bool(centered)

    def _hyperparameters(self) -> dict[str, Any]:
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"alpha": self.rho, "momentum": self.momentum, "eps": self.epsilon,
                "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad, on `torch.optim.Adagrad`.

    Args:
        learning_rate: default 0.001.
        initial_accumulator_value: starting value of the squared-gradient sums, default 0.1.
        epsilon: default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    """

    _torch_class = torch.optim.Adagrad
    _default_name = "adagrad"

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001,
                 initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str = "adagrad", **kwargs: Any):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _hyperparameters(self) -> dict[str, Any]:
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "eps": self.epsilon}


class Adadelta(Optimizer):
    """Adadelta, on `torch.optim.Adadelta` (Keras defaults, not torch's).

    Args:
        learning_rate: default 0.001.
        rho: decay rate, default 0.95.
        epsilon: default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    """

    _torch_class = torch.optim.Adadelta
    _default_name = "adadelta"

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001,
                 rho: float = 0.95, epsilon: float = 1e-7, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str = "adadelta", **kwargs: Any):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _hyperparameters(self) -> dict[str, Any]:
        return {"rho": self.rho, "epsilon": self.epsilon}

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"rho": self.rho, "eps": self.epsilon}


class _BetasOptimizer(Optimizer):
    """Shared by the Adam-like optimizers with `(beta_1, beta_2, epsilon)` and nothing else."""

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str | None = None, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _hyperparameters(self) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon}


class Adamax(_BetasOptimizer):
    """Adamax (Adam with the infinity norm), on `torch.optim.Adamax`.

    Args:
        learning_rate: default 0.001.
        beta_1: default 0.9.
        beta_2: default 0.999.
        epsilon: default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`
            (`name` defaults to `"adamax"`).
    """

    _torch_class = torch.optim.Adamax
    _default_name = "adamax"


class Nadam(_BetasOptimizer):
    """Nadam (Adam with Nesterov momentum), on `torch.optim.NAdam`.

    Args:
        learning_rate: default 0.001.
        beta_1: default 0.9.
        beta_2: default 0.999.
        epsilon: default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`
            (`name` defaults to `"nadam"`).
    """

    _torch_class = torch.optim.NAdam
    _default_name = "nadam"


class TorchOptimizer(Optimizer):
    """Wraps a ready `torch.optim.Optimizer` so it can be passed to `compile`.

    The wrapped optimizer keeps its own hyperparameters and parameter groups; `learning_rate`
    reads the first group's `lr` and sets every group's. `build(parameters)` only checks that
    the optimizer holds the model's parameters.

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
        self._apply_pending_state()

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


# ----------------------------------------------------------------------------------- registry
_CLASSES: dict[str, type[Optimizer]] = {
    c.__name__: c for c in (Adam, AdamW, SGD, RMSprop, Adagrad, Adadelta, Adamax, Nadam)
}
_NAMES: dict[str, type[Optimizer]] = {name.lower(): cls for name, cls in _CLASSES.items()}


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """Returns `{"class_name": ..., "config": ...}` (JSON-able, no state)."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict[str, Any]) -> Optimizer:
    """Rebuilds an optimizer from `serialize()` output (built-in classes only)."""
    name = config.get("class_name")
    if name not in _CLASSES:
        raise unknown_name_error("optimizer", str(name), list(_CLASSES))
    return _CLASSES[name].from_config(config.get("config", {}))


def get(identifier: Any) -> Optimizer:
    """Resolves an optimizer identifier.

    Args:
        identifier: a name (`"adam"`, `"sgd"`, `"rmsprop"`, `"adamw"`, `"adagrad"`,
            `"adadelta"`, `"adamax"`, `"nadam"`; case-insensitive, class names too) giving an
            optimizer with Keras defaults; an `Optimizer` (returned as is); a ready
            `torch.optim.Optimizer` (wrapped in `TorchOptimizer`); or a `serialize()` dict.

    Returns:
        An `Optimizer`.

    Raises:
        ValueError: unknown name (`Unknown optimizer 'adm'. Did you mean 'adam'?`).
        TypeError: for an identifier of another type, naming the argument `optimizer`.

    Example:
    >>> get("rmsprop").learning_rate
    0.001
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, torch.optim.Optimizer):
        return TorchOptimizer(identifier)
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier.lower())
        if cls is None:
            raise unknown_name_error("optimizer", identifier, list(_NAMES))
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise TypeError(
        "Could not interpret optimizer identifier. Argument `optimizer` must be a string (e.g. "
        "'adam'), a `gated.optimizers.Optimizer` or a `torch.optim.Optimizer`; received an "
        f"object of type {type_name(identifier)}: {identifier!r}."
    )
