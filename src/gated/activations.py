"""Activations by Keras name. Each is a function of a tensor.

Besides Keras' names, the LSTM family needs two squashings of the 1997 paper:
`g(x) = 2*tanh(x/2)` in [-2, 2] (`"tanh2"`, the cell input) and `h(x) = tanh(x/2)` in [-1, 1]
(`"half_tanh"`, the cell output). Hochreiter & Schmidhuber wrote them as 4*sigmoid(x) - 2 and
2*sigmoid(x) - 1, which are the same functions.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from gated._checks import did_you_mean


def linear(x: torch.Tensor) -> torch.Tensor:
    return x


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    # Keras 3: relu6(x + 3) / 6
    return F.relu6(x + 3.0) / 6.0


def tanh2(x: torch.Tensor) -> torch.Tensor:
    """g of the 1997 LSTM: 2*tanh(x/2) = 4*sigmoid(x) - 2, range [-2, 2]."""
    return 2.0 * torch.tanh(0.5 * x)


def half_tanh(x: torch.Tensor) -> torch.Tensor:
    """h of the 1997 LSTM: tanh(x/2) = 2*sigmoid(x) - 1, range [-1, 1]."""
    return torch.tanh(0.5 * x)


_BY_NAME: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "linear": linear,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "log_softmax": lambda x: torch.log_softmax(x, dim=-1),
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
    "silu": F.silu,
    "swish": F.silu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "hard_sigmoid": hard_sigmoid,
    "exponential": torch.exp,
    "relu6": F.relu6,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "tanh2": tanh2,
    "half_tanh": half_tanh,
}


def get(identifier: str | Callable | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """Resolve an activation name (Keras' names), None (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]
        raise ValueError(
            f"Unknown activation '{identifier}'.{did_you_mean(identifier, _BY_NAME)}"
            f" Known activations: {sorted(_BY_NAME)}."
        )
    if callable(identifier):
        return identifier
    raise TypeError(f"An activation must be a name or a callable, received {identifier!r}.")


def serialize(fn: Callable | str | None) -> str:
    if fn is None:
        return "linear"
    if isinstance(fn, str):
        return fn
    for name, f in _BY_NAME.items():
        if f is fn:
            return name
    raise ValueError(f"Cannot serialize the activation {fn!r}: use a named activation.")
