"""`Lambda`: wraps a function of tensors as a layer (Keras' `keras.layers.Lambda`)."""

from __future__ import annotations

import inspect
from typing import Any

import torch

from gated.keras_tensor import flatten, map_structure
from gated.layer import Layer


class Lambda(Layer):
    """Applies `function(inputs, **arguments)` (with `mask=` / `training=` when it takes them).

    Args:
        function: A callable of tensors, e.g. `lambda x: x[:, -1]` or `gated.ops` functions.
        output_shape: The output shape without the batch axis, or a callable
            `f(input_shape) -> shape`; by default found by running `function` on zeros.
        mask: A mask to emit, or a callable `f(inputs, mask) -> mask`; None emits none.
        arguments: Extra keyword arguments for `function`.

    Example:
        >>> last = Lambda(lambda x: x[:, -1])(LSTM(8, return_sequences=True)(inputs))
    """

    def __init__(self, function: Any, output_shape: Any = None, mask: Any = None,
                 arguments: dict | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Argument `function` of Lambda must be callable, received "
                            f"{type(function).__name__}: {function!r}.")
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        self._output_shape = output_shape
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_takes_mask = "mask" in params
        self._fn_takes_training = "training" in params
        self.built = True

    def forward(self, inputs: Any, mask: Any = None, training: bool = False) -> Any:
        kwargs = dict(self.arguments)
        if self._fn_takes_mask:
            kwargs["mask"] = mask
        if self._fn_takes_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape: Any) -> Any:
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        if self._output_shape is not None:
            batch = flatten(input_shape)[0] if isinstance(input_shape, list) else input_shape[0]
            return (batch, *tuple(self._output_shape))
        return self._traced_shape(input_shape)

    def _traced_shape(self, input_shape: Any) -> Any:
        """Run the function on zeros with two sizes for unknown axes; an axis that changes
        with them is unknown (`None`), the batch axis always is."""
        many = isinstance(input_shape, list)
        runs = []
        for size in (2, 3):
            def zeros(shape: Any, size: int = size) -> torch.Tensor:
                return torch.zeros([size if d is None else d for d in shape], dtype=self.dtype)

            x = [zeros(s) for s in input_shape] if many else zeros(input_shape)
            with torch.no_grad():
                out = self.forward(x)
            runs.append(map_structure(lambda t: tuple(t.shape), out))
        first, second = runs

        def merge(a: tuple, b: tuple) -> tuple:
            return tuple(None if k == 0 or da != db else da
                         for k, (da, db) in enumerate(zip(a, b, strict=True)))

        if isinstance(first, list):
            return [merge(a, b) for a, b in zip(first, second, strict=True)]
        return merge(first, second)

    def get_config(self) -> dict:
        raise NotImplementedError(
            f"Lambda layer '{self.name}' cannot be saved: gated stores no code (no pickle). "
            "Write the function as a custom Layer subclass with get_config() to save it."
        )


Lambda._builtin = False  # it sees its inputs whole, as a user layer does
