"""Activations by Keras name. Each is a function of a tensor.

Besides Keras' names, the LSTM family needs two squashings of the 1997 paper:
`g(x) = 2*tanh(x/2)` in [-2, 2] (`"tanh2"`, the cell input) and `h(x) = tanh(x/2)` in [-1, 1]
(`"half_tanh"`, the cell output). Hochreiter & Schmidhuber wrote them as 4*sigmoid(x) - 2 and
2*sigmoid(x) - 1, which are the same functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


_sigmoid_bwd = torch.ops.aten.sigmoid_backward
_tanh_bwd = torch.ops.aten.tanh_backward
_threshold_bwd = torch.ops.aten.threshold_backward


def _between(g: torch.Tensor, y: torch.Tensor, low: float, high: float, scale: float = 1.0):
    return g * ((y > low) & (y < high)).to(g.dtype) * scale


@dataclass(frozen=True)
class Activation:
    """One activation: the function, its derivative for fused BPTT, its compiled-kernel code.

    `derivative(g, y)` is `g * act'(x)` written with the OUTPUT `y = act(x)` (what a fused
    backward pass keeps); None where no closed form in `y` exists (gelu, elu, ...), and then
    only the autograd engines run it. `kernel_code` is the code of the compiled kernels'
    activation switch (`gated.engine.compiled.toolkit`), None where they do not implement it.
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    derivative: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    kernel_code: int | None = None


#: The one table of activations: Keras' names plus the 1997 squashings.
ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("linear", linear, lambda g, y: g, 0),
    Activation("tanh", torch.tanh, _tanh_bwd, 1),
    Activation("sigmoid", torch.sigmoid, _sigmoid_bwd, 2),
    Activation("relu", torch.relu, lambda g, y: _threshold_bwd(g, y, 0), 3),
    Activation("tanh2", tanh2, lambda g, y: _tanh_bwd(g, 0.5 * y), 4),
    Activation("half_tanh", half_tanh, lambda g, y: _tanh_bwd(0.5 * g, y), 5),
    Activation("hard_sigmoid", hard_sigmoid, lambda g, y: _between(g, y, 0.0, 1.0, 1.0 / 6.0), 6),
    Activation("relu6", F.relu6, lambda g, y: _between(g, y, 0.0, 6.0)),
    Activation("exponential", torch.exp, lambda g, y: g * y),
    Activation("softsign", F.softsign, lambda g, y: g * (1.0 - y.abs()) ** 2),
    Activation("softmax", lambda x: torch.softmax(x, dim=-1)),
    Activation("log_softmax", lambda x: torch.log_softmax(x, dim=-1)),
    Activation("elu", F.elu),
    Activation("selu", F.selu),
    Activation("gelu", F.gelu),
    Activation("silu", F.silu),
    Activation("swish", F.silu),
    Activation("softplus", F.softplus),
    Activation("leaky_relu", lambda x: F.leaky_relu(x, 0.2)),
)}

_BY_NAME: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    name: a.fn for name, a in ACTIVATIONS.items()}


def name_of(fn: Any) -> str | None:
    """The table name of an activation given by name or as one of its functions, else None."""
    if fn is None:
        return "linear"
    if isinstance(fn, str):
        return fn if fn in ACTIVATIONS else None
    for name, a in ACTIVATIONS.items():
        if a.fn is fn:
            return name
    return None


def lookup(name: str | None) -> Activation | None:
    """The table entry of `name` (None for an unknown name or a user callable)."""
    return ACTIVATIONS.get(name) if name is not None else None


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
