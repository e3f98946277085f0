"""Keras' `keras.random`: random tensors on torch's generators.

`seed` is `None` (torch's global generator), an int (the same draws every call, as in
Keras) or a `SeedGenerator` (a stream of draws that advances, reproducible from its seed).

Example:
>>> import gated as keras
>>> gen = keras.random.SeedGenerator(42)
>>> keras.random.normal((2, 3), seed=gen).shape
torch.Size([2, 3])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from gated.ops.core import convert_to_tensor, to_torch_dtype

__all__ = [
    "SeedGenerator", "beta", "binomial", "categorical", "dropout", "gamma", "normal", "randint",
    "shuffle", "truncated_normal", "uniform",
]


class SeedGenerator:
    """A reproducible stream of random draws: each use advances it.

    Args:
        seed: the initial seed (an int); `None` draws one from torch's global generator.

    Example:
    >>> a = normal((2,), seed=SeedGenerator(1)); b = normal((2,), seed=SeedGenerator(1))
    >>> bool((a == b).all())
    True
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"Argument `seed` must be an int or None; received {seed!r}.")
        self.seed = int(torch.randint(0, 2**31 - 1, ()).item()) if seed is None else seed
        self.name = name or "seed_generator"
        self.generator = torch.Generator().manual_seed(self.seed)

    def next(self) -> int:
        """Advances the stream and returns a fresh seed drawn from it."""
        return int(torch.randint(0, 2**31 - 1, (), generator=self.generator).item())

    def get_config(self) -> dict:
        return {"seed": self.seed, "name": self.name}


def _generator(seed: Any) -> torch.Generator | None:
    if seed is None:
        return None
    if isinstance(seed, SeedGenerator):
        return seed.generator
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"Argument `seed` must be None, an int or a SeedGenerator; "
                        f"received {seed!r}.")
    return torch.Generator().manual_seed(seed)


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, int):
        return (shape,)
    try:
        out = tuple(int(s) for s in shape)
    except TypeError as err:
        raise TypeError(f"Argument `shape` must be a tuple of ints; received {shape!r}.") from err
    if any(s < 0 for s in out):
        raise ValueError(f"Argument `shape` must have non-negative sizes; received {shape!r}.")
    return out


def _float(dtype: Any) -> torch.dtype:
    out = torch.get_default_dtype() if dtype is None else to_torch_dtype(dtype)
    if not out.is_floating_point:
        raise ValueError(f"Argument `dtype` must be a float type; received {dtype!r}.")
    return out


def normal(shape: Sequence[int], mean: float = 0.0, stddev: float = 1.0, dtype: Any = None,
           seed: Any = None) -> torch.Tensor:
    """Draws from a normal distribution.

    Args:
        shape: output shape.
        mean: mean of the distribution.
        stddev: standard deviation.
        dtype: float dtype (default `floatx()`).
        seed: None, an int or a `SeedGenerator`.
    """
    out = torch.randn(_shape(shape), generator=_generator(seed), dtype=_float(dtype))
    return out * stddev + mean


def uniform(shape: Sequence[int], minval: float = 0.0, maxval: float = 1.0, dtype: Any = None,
            seed: Any = None) -> torch.Tensor:
    """Draws uniformly from `[minval, maxval)`.

    Args:
        shape: output shape.
        minval: lower bound (included).
        maxval: upper bound (excluded).
        dtype: float dtype (default `floatx()`).
        seed: None, an int or a `SeedGenerator`.
    """
    out = torch.rand(_shape(shape), generator=_generator(seed), dtype=_float(dtype))
    return out * (maxval - minval) + minval


def randint(shape: Sequence[int], minval: int, maxval: int, dtype: Any = "int32",
            seed: Any = None) -> torch.Tensor:
    """Draws integers uniformly from `[minval, maxval)`."""
    if maxval <= minval:
        raise ValueError(f"Argument `maxval` must be greater than `minval`; received "
                         f"minval={minval}, maxval={maxval}.")
    return torch.randint(int(minval), int(maxval), _shape(shape), generator=_generator(seed),
                         dtype=to_torch_dtype(dtype))


def truncated_normal(shape: Sequence[int], mean: float = 0.0, stddev: float = 1.0,
                     dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Draws from a normal distribution cut at two standard deviations from the mean
    (values beyond are drawn again), as Keras."""
    out = torch.empty(_shape(shape), dtype=_float(dtype))
    return torch.nn.init.trunc_normal_(out, mean, stddev, mean - 2 * stddev, mean + 2 * stddev,
                                       generator=_generator(seed))


def categorical(logits: Any, num_samples: int, dtype: Any = "int32",
                seed: Any = None) -> torch.Tensor:
    """Draws class indices from the categorical distributions of `logits` `(batch, classes)`.

    Returns:
        `(batch, num_samples)` indices.
    """
    probs = torch.softmax(convert_to_tensor(logits).float(), dim=-1)
    out = torch.multinomial(probs, num_samples, replacement=True, generator=_generator(seed))
    return out.to(to_torch_dtype(dtype))


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> torch.Tensor:
    """`x` with its slices along `axis` in a random order."""
    t = convert_to_tensor(x)
    order = torch.randperm(t.shape[axis], generator=_generator(seed))
    return torch.index_select(t, axis, order)


def dropout(inputs: Any, rate: float, noise_shape: Sequence[int] | None = None,
            seed: Any = None) -> torch.Tensor:
    """Zeros each entry with probability `rate` and scales the rest by `1 / (1 - rate)`.

    Args:
        inputs: the tensor.
        rate: drop probability in `[0, 1)`.
        noise_shape: shape of the mask, broadcast against `inputs` (e.g. `(batch, 1, units)`
            to drop the same units at every time step).
        seed: None, an int or a `SeedGenerator`.
    """
    if not 0 <= rate < 1:
        raise ValueError(f"Argument `rate` must be in [0, 1); received {rate!r}.")
    t = convert_to_tensor(inputs)
    shape = t.shape if noise_shape is None else tuple(
        t.shape[i] if s is None else s for i, s in enumerate(noise_shape))
    keep = torch.rand(tuple(shape), generator=_generator(seed), dtype=t.dtype) >= rate
    return t * keep / (1 - rate)


def _parameter(value: Any, shape: tuple[int, ...], name: str) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float64)
    try:
        return torch.broadcast_to(t, shape).contiguous()
    except RuntimeError as err:
        raise ValueError(f"Argument `{name}` must broadcast to shape {shape}; received shape "
                         f"{tuple(t.shape)}.") from err


def gamma(shape: Sequence[int], alpha: Any, dtype: Any = None, seed: Any = None
          ) -> torch.Tensor:
    """Draws from Gamma(`alpha`, 1) (shape parameter `alpha`, scale 1).

    Args:
        shape: output shape.
        alpha: the shape parameter (> 0), a float or an array broadcast to `shape`.
        dtype: float dtype (default `floatx()`).
        seed: None, an int or a `SeedGenerator`.
    """
    shape = _shape(shape)
    draws = torch._standard_gamma(_parameter(alpha, shape, "alpha"),
                                  generator=_generator(seed))
    return draws.to(_float(dtype))


def beta(shape: Sequence[int], alpha: Any, beta: Any, dtype: Any = None, seed: Any = None
         ) -> torch.Tensor:
    """Draws from Beta(`alpha`, `beta`), as `X / (X + Y)` with `X ~ Gamma(alpha)`,
    `Y ~ Gamma(beta)`.

    Args:
        shape: output shape.
        alpha: first concentration (> 0), a float or an array broadcast to `shape`.
        beta: second concentration (> 0), likewise.
        dtype: float dtype (default `floatx()`).
        seed: None, an int or a `SeedGenerator`.
    """
    shape = _shape(shape)
    generator = _generator(seed)
    x = torch._standard_gamma(_parameter(alpha, shape, "alpha"), generator=generator)
    y = torch._standard_gamma(_parameter(beta, shape, "beta"), generator=generator)
    return (x / (x + y)).to(_float(dtype))


def binomial(shape: Sequence[int], counts: Any, probabilities: Any, dtype: Any = None,
             seed: Any = None) -> torch.Tensor:
    """Draws the number of successes in `counts` trials of probability `probabilities`.

    Args:
        shape: output shape.
        counts: number of trials, a number or an array broadcast to `shape`.
        probabilities: success probability in [0, 1], likewise.
        dtype: float dtype of the counts drawn (default `floatx()`, as Keras).
        seed: None, an int or a `SeedGenerator`.
    """
    shape = _shape(shape)
    draws = torch.binomial(_parameter(counts, shape, "counts"),
                           _parameter(probabilities, shape, "probabilities"),
                           generator=_generator(seed))
    return draws.to(_float(dtype))
