"""`Variable`: the weight `Layer.add_weight` creates, a `torch.nn.Parameter` with Keras' face.

Keras 3 weights are `keras.Variable`s; on its torch backend a variable wraps a
`torch.nn.Parameter` that custom training steps reach as `variable.value` (for instance
`gradients = [v.value.grad for v in self.trainable_weights]`). A gated weight IS the
parameter, so `value` returns the parameter itself, and the Keras methods (`assign`,
`numpy`, `name`, `path`, `trainable`, `regularizer`, `constraint`) are added on top.
Everything torch does with a parameter works unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn


class Variable(nn.Parameter):
    """A layer weight: a `torch.nn.Parameter` with Keras 3 `Variable` attributes.

    Attributes:
        name: The Keras name given to `add_weight` (`'kernel'`, `'variable'`, ...).
        path: `'<layer name>/<name>'`, as Keras' `variable.path`.
        regularizer: Callable `f(weight) -> scalar` added to the loss, or None.
        constraint: Callable `f(weight) -> weight` applied after each optimizer step, or None.

    Example:
        >>> layer = gated.layers.Dense(2)
        >>> layer.build((None, 3))
        >>> layer.kernel.value is layer.kernel, layer.kernel.path
        (True, 'dense/kernel')
    """

    def __new__(cls, data: torch.Tensor | None = None, requires_grad: bool = True,
                name: str = "variable", path: str | None = None, regularizer: Any = None,
                constraint: Any = None) -> Variable:
        var = super().__new__(cls, data, requires_grad)
        var._keras_name = name
        var.path = path or name
        var.regularizer = regularizer
        var.constraint = constraint
        return var

    @property
    def name(self) -> str:  # type: ignore[override]
        """The Keras name (`'kernel'`, ...)."""
        return self._keras_name

    @property
    def value(self) -> Variable:
        """The tensor itself (Keras' torch backend: the underlying `nn.Parameter`)."""
        return self

    @property
    def trainable(self) -> bool:
        return self.requires_grad

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.requires_grad_(bool(value))

    def assign(self, value: Any) -> Variable:
        """Copy `value` (same shape) into the weight in place, outside autograd."""
        value = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor)
                                else value, dtype=self.dtype, device=self.device)
        if tuple(value.shape) != tuple(self.shape):
            raise ValueError(
                f"Variable '{self.path}' has shape {tuple(self.shape)}, received a value of "
                f"shape {tuple(value.shape)} in assign()."
            )
        with torch.no_grad():
            self.copy_(value)
        return self

    def assign_add(self, value: Any) -> Variable:
        return self.assign(self.detach() + torch.as_tensor(value, dtype=self.dtype))

    def assign_sub(self, value: Any) -> Variable:
        return self.assign(self.detach() - torch.as_tensor(value, dtype=self.dtype))

    def numpy(self, *args: Any, **kwargs: Any) -> np.ndarray:
        return self.detach().cpu().numpy()

    def __deepcopy__(self, memo: dict) -> Variable:
        if id(self) in memo:
            return memo[id(self)]
        result = Variable(self.data.clone(memory_format=torch.preserve_format),
                          self.requires_grad, self.name, self.path,
                          copy.deepcopy(self.regularizer, memo),
                          copy.deepcopy(self.constraint, memo))
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol: int) -> Any:
        # Pickled (torch.save, multiprocessing) as a plain parameter plus the Keras fields.
        return (_rebuild, (self.data, self.requires_grad, self.name, self.path))

    def __repr__(self) -> str:
        return (f"<Variable path={self.path}, shape={tuple(self.shape)}, "
                f"dtype={str(self.dtype).replace('torch.', '')}>")


def _rebuild(data: torch.Tensor, requires_grad: bool, name: str, path: str) -> Variable:
    return Variable(data, requires_grad, name, path)
