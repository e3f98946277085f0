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
    return _KERAS_NAMES.get(fn)


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
    name = name_of(fn)
    if name is not None:
        return name
    raise ValueError(f"Cannot serialize the activation {fn!r}: use a named activation.")


def deserialize(config: str | dict, custom_objects: dict | None = None
                ) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation named by `config` (a name or Keras' `{"config": name}` dictionary)."""
    if isinstance(config, dict):
        config = config.get("config", config.get("class_name"))
    if custom_objects and config in custom_objects:
        return custom_objects[config]
    return get(config)


# ----------------------------------------------------------------- Keras' functions
# `keras.activations.relu(x, negative_slope=..., ...)` etc., with Keras' arguments, on torch.
# Called with their defaults they equal the table's entries, and `name_of` maps them to
# those, so `LSTM(activation=gated.activations.tanh)` runs the fused engines.


def _tensor(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    import numpy as np

    arr = np.asarray(x)
    return torch.as_tensor(arr, dtype=torch.float32 if arr.dtype.kind in "biuf" and
                           arr.dtype != np.float64 else None)


def relu(x: Any, negative_slope: float = 0.0, max_value: float | None = None,
         threshold: float = 0.0) -> torch.Tensor:
    """`x` above `threshold` (else 0), at most `max_value`, plus
    `-negative_slope * (threshold - x)` below `threshold`."""
    x = _tensor(x)
    if not negative_slope and max_value is None and not threshold:
        return torch.relu(x)
    out = torch.where(x > threshold, x, torch.zeros_like(x)) if threshold else torch.relu(x)
    if max_value is not None:
        out = torch.clamp(out, 0.0, max_value)
    if negative_slope:
        out = out - negative_slope * torch.relu(threshold - x)
    return out


def leaky_relu(x: Any, negative_slope: float = 0.2) -> torch.Tensor:
    """`x` if positive, else `negative_slope * x`."""
    return F.leaky_relu(_tensor(x), negative_slope)


def relu6(x: Any) -> torch.Tensor:
    """`min(max(x, 0), 6)`."""
    return F.relu6(_tensor(x))


def softmax(x: Any, axis: int = -1) -> torch.Tensor:
    """`exp(x) / sum(exp(x))` along `axis`."""
    return torch.softmax(_tensor(x), dim=axis)


def log_softmax(x: Any, axis: int = -1) -> torch.Tensor:
    """`log(softmax(x))` along `axis`, computed stably."""
    return torch.log_softmax(_tensor(x), dim=axis)


def elu(x: Any, alpha: float = 1.0) -> torch.Tensor:
    """`x` if positive, else `alpha * (exp(x) - 1)`."""
    return F.elu(_tensor(x), alpha)


def celu(x: Any, alpha: float = 1.0) -> torch.Tensor:
    """`max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`."""
    return F.celu(_tensor(x), alpha)


def selu(x: Any) -> torch.Tensor:
    """Scaled ELU with Klambauer et al.'s constants."""
    return F.selu(_tensor(x))


def gelu(x: Any, approximate: bool = False) -> torch.Tensor:
    """`x * Phi(x)` (`approximate=True`: the tanh approximation)."""
    return F.gelu(_tensor(x), approximate="tanh" if approximate else "none")


def glu(x: Any, axis: int = -1) -> torch.Tensor:
    """`a * sigmoid(b)` with `a, b` the two halves of `x` along `axis`."""
    return F.glu(_tensor(x), dim=axis)


def sigmoid(x: Any) -> torch.Tensor:
    """`1 / (1 + exp(-x))`."""
    return torch.sigmoid(_tensor(x))


def tanh(x: Any) -> torch.Tensor:
    """Hyperbolic tangent."""
    return torch.tanh(_tensor(x))


def exponential(x: Any) -> torch.Tensor:
    """`exp(x)`."""
    return torch.exp(_tensor(x))


def softplus(x: Any) -> torch.Tensor:
    """`log(exp(x) + 1)`."""
    return F.softplus(_tensor(x))


def softsign(x: Any) -> torch.Tensor:
    """`x / (|x| + 1)`."""
    return F.softsign(_tensor(x))


def silu(x: Any) -> torch.Tensor:
    """`x * sigmoid(x)` (also `swish`)."""
    return F.silu(_tensor(x))


swish = silu


def hard_silu(x: Any) -> torch.Tensor:
    """`x * relu6(x + 3) / 6` (also `hard_swish`)."""
    return F.hardswish(_tensor(x))


hard_swish = hard_silu


def log_sigmoid(x: Any) -> torch.Tensor:
    """`log(sigmoid(x))`, computed stably."""
    return F.logsigmoid(_tensor(x))


def mish(x: Any) -> torch.Tensor:
    """`x * tanh(softplus(x))`."""
    return F.mish(_tensor(x))


def hard_tanh(x: Any) -> torch.Tensor:
    """`x` clipped to [-1, 1]."""
    return F.hardtanh(_tensor(x), -1.0, 1.0)


def tanh_shrink(x: Any) -> torch.Tensor:
    """`x - tanh(x)`."""
    return F.tanhshrink(_tensor(x))


def soft_shrink(x: Any, threshold: float = 0.5) -> torch.Tensor:
    """`x - threshold` above it, `x + threshold` below `-threshold`, else 0."""
    return F.softshrink(_tensor(x), threshold)


def hard_shrink(x: Any, threshold: float = 0.5) -> torch.Tensor:
    """`x` where `|x| > threshold`, else 0."""
    return F.hardshrink(_tensor(x), threshold)


def threshold(x: Any, threshold: float, default_value: float) -> torch.Tensor:
    """`x` where `x > threshold`, else `default_value`."""
    return F.threshold(_tensor(x), threshold, default_value)


def squareplus(x: Any, b: float = 4) -> torch.Tensor:
    """`(x + sqrt(x^2 + b)) / 2`."""
    x = _tensor(x)
    return (x + torch.sqrt(x * x + b)) / 2


def sparse_plus(x: Any) -> torch.Tensor:
    """0 for `x <= -1`, `(x + 1)^2 / 4` for `-1 < x < 1`, `x` above."""
    x = _tensor(x)
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x < 1, (x + 1) ** 2 / 4, x))


def sparse_sigmoid(x: Any) -> torch.Tensor:
    """`(x + 1) / 2` clipped to [0, 1]."""
    return torch.clamp((_tensor(x) + 1) / 2, 0.0, 1.0)


def sparsemax(x: Any, axis: int = -1) -> torch.Tensor:
    """The Euclidean projection of `x` onto the probability simplex along `axis`
    (Martins & Astudillo 2016): `max(x - tau, 0)` with `tau` making the sum 1."""
    x = _tensor(x)
    z, _ = torch.sort(x, dim=axis, descending=True)
    cumsum = torch.cumsum(z, dim=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    k = torch.arange(1, x.shape[axis] + 1, dtype=x.dtype, device=x.device).view(shape)
    k_z = (1 + k * z > cumsum).sum(dim=axis, keepdim=True)  # the support's size
    tau = (torch.gather(cumsum, axis, k_z - 1) - 1) / k_z.to(x.dtype)
    return torch.clamp(x - tau, min=0.0)


#: Keras-signature functions -> the table entry they equal at their default arguments.
_KERAS_NAMES: dict[Any, str] = {
    relu: "relu", relu6: "relu6", softmax: "softmax", log_softmax: "log_softmax", elu: "elu",
    selu: "selu", gelu: "gelu", sigmoid: "sigmoid", tanh: "tanh", exponential: "exponential",
    softplus: "softplus", softsign: "softsign", silu: "silu", leaky_relu: "leaky_relu",
}

# Keras' other activation names, usable by name in layers (autograd engines only: no fused
# derivative or compiled kernel is declared for them).
for _activation in (
    Activation("celu", celu), Activation("glu", glu), Activation("mish", mish),
    Activation("hard_silu", hard_silu), Activation("hard_swish", hard_silu),
    Activation("log_sigmoid", log_sigmoid), Activation("hard_tanh", hard_tanh),
    Activation("tanh_shrink", tanh_shrink), Activation("soft_shrink", soft_shrink),
    Activation("hard_shrink", hard_shrink), Activation("squareplus", squareplus),
    Activation("sparse_plus", sparse_plus), Activation("sparse_sigmoid", sparse_sigmoid),
    Activation("sparsemax", sparsemax),
):
    ACTIVATIONS[_activation.name] = _activation
    _BY_NAME[_activation.name] = _activation.fn
