"""Weight initializers by Keras name: `glorot_uniform`, `orthogonal`, `zeros`, ...

Each initializer fills a tensor in place. Fans follow Keras: for a 2-D weight of shape
`(fan_in, fan_out)` (Keras layout, input axis first) and, for convolution kernels
`(*kernel_size, in, out)`, the receptive field multiplies both fans.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from gated._checks import did_you_mean, to_snake_case


def _fans(shape: tuple, input_axes: Any = None, output_axes: Any = None) -> tuple[int, int]:
    if input_axes is not None and output_axes is not None:
        return (math.prod(shape[a] for a in input_axes),
                math.prod(shape[a] for a in output_axes))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _float_dtype(dtype: Any) -> torch.dtype:
    """None -> floatx (torch's default dtype); a torch dtype or a float dtype name."""
    if dtype is None:
        return torch.get_default_dtype()
    if isinstance(dtype, torch.dtype):
        return dtype
    found = getattr(torch, str(dtype), None) if str(dtype) in (
        "float16", "bfloat16", "float32", "float64") else None
    if found is None:
        raise ValueError("Argument `dtype` of an initializer must be a float dtype "
                         f"('float32', ...); received dtype={dtype!r}.")
    return found


class Initializer:
    """Base: `init(tensor)` fills `tensor` in place and returns it; `init(shape, dtype)` (Keras'
    form) returns a new tensor of that shape (dtype default `floatx()`).

    Random initializers take Keras' `seed`: an int makes every call draw the same values (as
    Keras 3), None draws from torch's global generator.
    """

    seed: int | None = None

    def __call__(self, tensor: Any, dtype: Any = None) -> torch.Tensor:
        if not isinstance(tensor, torch.Tensor):
            shape = (tensor,) if isinstance(tensor, int) else tuple(int(d) for d in tensor)
            tensor = torch.empty(shape, dtype=_float_dtype(dtype))
        with torch.no_grad():
            return self.fill(tensor)

    def fill(self, tensor: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _generator(self) -> torch.Generator | None:
        if self.seed is None:
            return None
        return torch.Generator().manual_seed(int(self.seed))

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Initializer:
        return cls(**config)

    def clone(self) -> Initializer:
        return type(self).from_config(self.get_config())


def _check_seed(seed: Any) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"Argument `seed` of an initializer must be an int or None; received "
                        f"seed={seed!r}.")
    return seed


class Zeros(Initializer):
    def fill(self, tensor):
        return tensor.zero_()


class Ones(Initializer):
    def fill(self, tensor):
        return tensor.fill_(1.0)


class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def fill(self, tensor):
        return tensor.fill_(self.value)

    def get_config(self):
        return {"value": self.value}


_TRUNCATION = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


class VarianceScaling(Initializer):
    """Samples with variance `scale / n`, `n` the fan in, the fan out or their mean.

    Args:
        scale: The scaling factor (positive).
        mode: `"fan_in"`, `"fan_out"` or `"fan_avg"`.
        distribution: `"truncated_normal"` (cut at 2 standard deviations, rescaled to keep
            the variance), `"untruncated_normal"` or `"uniform"` (`[-limit, limit]`,
            `limit = sqrt(3 * scale / n)`).
        seed: An int for the same values at every call, or None.
        input_axes: With `output_axes`, the axes whose sizes multiply into the fan in
            (default: Keras' rule from the shape).
        output_axes: The axes whose sizes multiply into the fan out.
    """

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: int | None = None,
                 input_axes: list[int] | None = None, output_axes: list[int] | None = None):
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive; received scale={scale!r}.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError("Argument `mode` must be 'fan_in', 'fan_out' or 'fan_avg'; "
                             f"received mode={mode!r}.")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError("Argument `distribution` must be 'uniform', 'truncated_normal' or "
                             f"'untruncated_normal'; received distribution={distribution!r}.")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution
        self.seed = _check_seed(seed)
        self.input_axes, self.output_axes = input_axes, output_axes

    def fill(self, tensor):
        fan_in, fan_out = _fans(tuple(tensor.shape), self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out,
             "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        g = self._generator()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return tensor.uniform_(-limit, limit, generator=g)
        if self.distribution == "untruncated_normal":
            return tensor.normal_(0.0, math.sqrt(variance), generator=g)
        std = math.sqrt(variance) / _TRUNCATION
        return torch.nn.init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std, generator=g)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


def _preset(name: str, scale: float, mode: str, distribution: str, doc: str) -> type:
    def __init__(self, seed: int | None = None, input_axes: list[int] | None = None,  # noqa: N807
                 output_axes: list[int] | None = None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                            "__doc__": doc, "__module__": __name__})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out)).")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Truncated normal, std = sqrt(2 / (fan_in + fan_out)).")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform",
                    "Uniform in [-limit, limit], limit = sqrt(6 / fan_in).")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "Truncated normal, std = sqrt(2 / fan_in).")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform",
                       "Uniform in [-limit, limit], limit = sqrt(3 / fan_in).")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "Truncated normal, std = sqrt(1 / fan_in).")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times `gain`, as Keras' `Orthogonal`."""

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        self.gain = float(gain)
        self.seed = _check_seed(seed)

    def fill(self, tensor):
        flat = tensor.view(-1, tensor.shape[-1]) if tensor.ndim > 2 else tensor
        torch.nn.init.orthogonal_(flat, gain=self.gain, generator=self._generator())
        return tensor

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """`gain` times the identity matrix (2-D weights only; rectangular ones get ones on the
    main diagonal)."""

    def __init__(self, gain: float = 1.0):
        self.gain = float(gain)

    def fill(self, tensor):
        if tensor.ndim != 2:
            raise ValueError("The Identity initializer fills 2-D weights only; received shape "
                             f"{tuple(tensor.shape)}.")
        return tensor.copy_(torch.eye(*tensor.shape, dtype=tensor.dtype) * self.gain)

    def get_config(self):
        return {"gain": self.gain}


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        self.minval, self.maxval = float(minval), float(maxval)
        self.seed = _check_seed(seed)

    def fill(self, tensor):
        return tensor.uniform_(self.minval, self.maxval, generator=self._generator())

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        self.mean, self.stddev = float(mean), float(stddev)
        self.seed = _check_seed(seed)

    def fill(self, tensor):
        return tensor.normal_(self.mean, self.stddev, generator=self._generator())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """Normal with `mean` and `stddev`, values beyond 2 standard deviations redrawn (the
    result's spread is ~0.88 `stddev`), as Keras' `TruncatedNormal`."""

    def fill(self, tensor):
        return torch.nn.init.trunc_normal_(tensor, self.mean, self.stddev,
                                           self.mean - 2 * self.stddev,
                                           self.mean + 2 * self.stddev,
                                           generator=self._generator())


# Keras' other spellings of the same classes.
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal
zeros, ones, constant, identity, orthogonal = Zeros, Ones, Constant, Identity, Orthogonal
glorot_uniform, glorot_normal, he_uniform, he_normal = (GlorotUniform, GlorotNormal,
                                                        HeUniform, HeNormal)
lecun_uniform, lecun_normal, variance_scaling = LecunUniform, LecunNormal, VarianceScaling
random_uniform, random_normal, truncated_normal = RandomUniform, RandomNormal, TruncatedNormal


_BY_NAME: dict[str, type[Initializer]] = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "orthogonal": Orthogonal,
    "random_uniform": RandomUniform,
    "uniform": RandomUniform,
    "random_normal": RandomNormal,
    "normal": RandomNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
    "variance_scaling": VarianceScaling,
    "truncated_normal": TruncatedNormal,
    "identity": Identity,
}


def get(identifier: str | Initializer | Callable) -> Callable[[torch.Tensor], torch.Tensor]:
    """Resolve a Keras initializer name, an `Initializer`, or a callable filling a tensor."""
    if isinstance(identifier, Initializer) or callable(identifier):
        return identifier
    if isinstance(identifier, dict) and "class_name" in identifier:
        return get(identifier["class_name"]).__class__(**identifier.get("config", {}))
    if isinstance(identifier, str):
        key = identifier if identifier in _BY_NAME else to_snake_case(identifier)
        if key in _BY_NAME:
            return _BY_NAME[key]()
        raise ValueError(
            f"Unknown initializer '{identifier}'.{did_you_mean(key, _BY_NAME)}"
            f" Known initializers: {sorted(_BY_NAME)}."
        )
    raise TypeError(
        f"An initializer must be a name, an Initializer or a callable, received "
        f"{type(identifier).__name__}: {identifier!r}."
    )


def serialize(init) -> str | dict:
    for name, cls in _BY_NAME.items():
        if type(init) is cls:
            config = init.get_config()
            defaults = cls().get_config()
            return name if config == defaults else {"class_name": name, "config": config}
    if isinstance(init, str):
        return init
    raise ValueError(f"Cannot serialize initializer {init!r}: use a named Keras initializer.")


def deserialize(value: str | dict) -> Initializer:
    if isinstance(value, dict):
        return _BY_NAME[value["class_name"]](**value["config"])
    return get(value)
