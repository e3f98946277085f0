"""Weight initializers by Keras name: `glorot_uniform`, `orthogonal`, `zeros`, ...

Each initializer fills a tensor in place. Fans follow Keras: for a 2-D weight of shape
`(fan_in, fan_out)` (Keras layout, input axis first) and, for convolution kernels
`(*kernel_size, in, out)`, the receptive field multiplies both fans.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from gated._checks import did_you_mean, to_snake_case


def _fans(shape: tuple) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base: `init(tensor)` fills `tensor` in place and returns it."""

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.fill(tensor)

    def fill(self, tensor: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}


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


class GlorotUniform(Initializer):
    """Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out))."""

    def fill(self, tensor):
        fan_in, fan_out = _fans(tuple(tensor.shape))
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return tensor.uniform_(-limit, limit)


class GlorotNormal(Initializer):
    def fill(self, tensor):
        fan_in, fan_out = _fans(tuple(tensor.shape))
        std = math.sqrt(2.0 / (fan_in + fan_out))
        return torch.nn.init.trunc_normal_(tensor, 0.0, std / 0.87962566103423978,
                                           -2 * std / 0.87962566103423978,
                                           2 * std / 0.87962566103423978)


class HeUniform(Initializer):
    def fill(self, tensor):
        fan_in, _ = _fans(tuple(tensor.shape))
        limit = math.sqrt(6.0 / fan_in)
        return tensor.uniform_(-limit, limit)


class HeNormal(Initializer):
    def fill(self, tensor):
        fan_in, _ = _fans(tuple(tensor.shape))
        std = math.sqrt(2.0 / fan_in)
        return torch.nn.init.trunc_normal_(tensor, 0.0, std / 0.87962566103423978,
                                           -2 * std / 0.87962566103423978,
                                           2 * std / 0.87962566103423978)


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times `gain`, as Keras' `Orthogonal`."""

    def __init__(self, gain: float = 1.0):
        self.gain = float(gain)

    def fill(self, tensor):
        flat = tensor.view(-1, tensor.shape[-1]) if tensor.ndim > 2 else tensor
        torch.nn.init.orthogonal_(flat, gain=self.gain)
        return tensor

    def get_config(self):
        return {"gain": self.gain}


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05):
        self.minval, self.maxval = float(minval), float(maxval)

    def fill(self, tensor):
        return tensor.uniform_(self.minval, self.maxval)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05):
        self.mean, self.stddev = float(mean), float(stddev)

    def fill(self, tensor):
        return tensor.normal_(self.mean, self.stddev)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev}


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
