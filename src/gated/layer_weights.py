"""What every layer does with its weights and losses, as Keras 3: `add_weight` (returning a
`gated.Variable`), weights listed in Keras' order, `get_weights` / `set_weights`,
`count_params`, `add_loss` / `losses` and the weight regularization penalties, and the
tracking of weights and layers assigned to attributes (`self.w = self.add_weight(...)`,
`self.blocks = [Dense(4), Dense(2)]`). `gated.layer.Layer` inherits it."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from torch import nn

from gated._layer_utils import dtype_name, resolve_dtype, unique_name
from gated.keras_tensor import flatten as _flatten
from gated.variable import Variable


class _LossState:
    """Whether any layer has called `add_loss` (until then no call needs to clear losses)."""

    pending = False


loss_state = _LossState()


class WeightsMixin:
    """Weights and losses of a `Layer` (see the module docstring)."""

    @property
    def weights(self) -> list[nn.Parameter]:
        """Keras order: each layer's weights created trainable, then those created
        non-trainable, then its sublayers' (depth first)."""
        return self._keras_weights()

    def _keras_weights(self) -> list[nn.Parameter]:
        out: list[nn.Parameter] = []
        seen: set[int] = set()

        def visit(module: nn.Module) -> None:
            own = [p for p in module._parameters.values() if p is not None]
            own.sort(key=lambda p: not getattr(p, "_created_trainable", True))
            for p in own:
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
            for child in module._modules.values():
                if child is not None:
                    visit(child)

        visit(self)
        return out

    @property
    def trainable_weights(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if not p.requires_grad]

    def add_weight(self, shape: Any = None, initializer: Any = None, dtype: Any = None,
                   trainable: bool = True, autocast: bool = True, regularizer: Any = None,
                   constraint: Any = None, aggregation: str = "none",
                   overwrite_with_gradient: bool = False, name: str | None = None,
                   **kwargs: Any) -> Variable:
        """Create, initialise and register a weight (Keras 3's `add_weight`).

        Args:
            shape: The weight's shape (default `()`, a scalar).
            initializer: Keras initializer name or object; default `'glorot_uniform'` for
                float weights, `'zeros'` otherwise (as Keras).
            dtype: The weight's dtype (default: the layer's).
            trainable: Whether `fit` updates it.
            regularizer: Callable `f(weight) -> scalar`, added to `layer.losses`.
            constraint: Callable `f(weight) -> weight`, applied after each optimizer step.
            name: Keras name (default `'variable'`); also the torch parameter name unless the
                weight is assigned to an attribute (`self.w = self.add_weight(...)`), whose
                name is then used.
            autocast, aggregation, overwrite_with_gradient: accepted for Keras compatibility.

        Returns:
            The `gated.Variable` (a `torch.nn.Parameter`), registered on the layer.

        Example:
            >>> self.w = self.add_weight(shape=(input_shape[-1], self.units),
            ...                          initializer="random_normal", trainable=True)
        """
        from gated import initializers

        if isinstance(shape, str):  # gated's (and Keras 2's) add_weight(name, shape, init, ...)
            name, shape, initializer, dtype = shape, initializer, dtype, None
        if "getter" in kwargs or "use_resource" in kwargs or "synchronization" in kwargs:
            kwargs = {k: v for k, v in kwargs.items()
                      if k not in ("getter", "use_resource", "synchronization")}
        if kwargs:
            raise TypeError(f"add_weight() of layer '{self.name}' got unexpected keyword "
                            f"arguments {sorted(kwargs)}.")
        shape = () if shape is None else tuple(int(d) for d in (
            (shape,) if isinstance(shape, (int, np.integer)) else shape))
        if any(d < 0 for d in shape):
            raise ValueError(f"add_weight() of layer '{self.name}': `shape` must hold sizes "
                             f">= 0, received shape={shape}.")
        torch_dtype = self._dtype if dtype is None else resolve_dtype(dtype)
        if initializer is None:
            initializer = "glorot_uniform" if torch_dtype.is_floating_point else "zeros"
        tensor = torch.empty(shape, dtype=torch_dtype)
        init = initializers.get(initializer)
        if not isinstance(init, initializers.Initializer) and _takes_shape(init):
            # A Keras-style initializer: `f(shape, dtype=None)` returns the values.
            values = init(shape, dtype=dtype_name(torch_dtype))
            tensor = torch.as_tensor(np.asarray(values) if not isinstance(values, torch.Tensor)
                                     else values.detach(), dtype=torch_dtype).clone()
        else:
            with torch.no_grad():
                init(tensor)
        name = name or unique_name("variable")  # Keras numbers unnamed variables globally
        key = self._free_parameter_name(name)
        param = Variable(tensor, bool(trainable) and self._trainable and
                         torch_dtype.is_floating_point, name=name,
                         path=f"{self.name}/{name}",
                         regularizer=get_regularizer(regularizer), constraint=constraint)
        param._created_trainable = bool(trainable)
        self.register_parameter(key, param)
        return param

    def _free_parameter_name(self, name: str) -> str:
        key, k = name, 0
        while key in self._parameters or (key not in self._parameters and hasattr(self, key)):
            k += 1
            key = f"{name}_{k}"
        return key

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, nn.Parameter) and params is not None and name not in params:
            # `self.w = self.add_weight(...)`: keep one registration, under the attribute name.
            old = next((k for k, p in params.items() if p is value), None)
            if old is not None:
                items = [(name if k == old else k, p) for k, p in params.items()]
                params.clear()
                params.update(items)
        elif name != "_init_kwargs" and self.__dict__.get("_modules") is not None \
                and _holds_modules(value):
            # Keras tracks layers held in lists and dicts; torch needs a container for them.
            value = nn.ModuleList(value) if isinstance(value, (list, tuple)) \
                else nn.ModuleDict(value)
        super().__setattr__(name, value)

    def add_loss(self, loss: Any) -> None:
        """Add a scalar loss (from `call`): `fit` adds it to the compiled loss (Keras)."""
        for value in _flatten(loss):
            if not isinstance(value, torch.Tensor):
                raise ValueError(
                    f"`add_loss()` of layer '{self.name}' expects tensors computed in "
                    f"`call()`, received {type(value).__name__}: {value!r}."
                )
            self._losses.append(value)
            loss_state.pending = True

    @property
    def losses(self) -> list[torch.Tensor]:
        """The `add_loss` losses of the latest call and the weight regularization penalties,
        of this layer and every layer inside it (Keras' `layer.losses`)."""
        layers = [m for m in self.modules() if isinstance(m, WeightsMixin)]
        out = [loss for m in layers for loss in m._losses]
        out += [p for m in layers for p in m.regularization_losses()]
        return out

    def _clear_losses(self) -> None:
        for m in self.modules():
            if isinstance(m, WeightsMixin):
                m._losses.clear()

    def get_weights(self) -> list[np.ndarray]:
        """The weights as NumPy arrays, in Keras order and layout."""
        return [p.detach().cpu().numpy().copy() for p in self._keras_weights()]

    def set_weights(self, weights: list) -> None:
        """Set weights from arrays in the order and shapes of `get_weights()`."""
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' is not built yet, so it has no weights to set: call it on "
                "data or `build(input_shape)` first."
            )
        params = self._keras_weights()
        if len(weights) != len(params):
            raise ValueError(
                f"Layer '{self.name}' expects a list of {len(params)} weight arrays (shapes "
                f"{[tuple(p.shape) for p in params]}), received {len(weights)} arrays."
            )
        with torch.no_grad():
            for i, (p, w) in enumerate(zip(params, weights, strict=True)):
                w = torch.as_tensor(np.asarray(w), dtype=p.dtype)
                if tuple(w.shape) != tuple(p.shape):
                    raise ValueError(
                        f"Layer '{self.name}' weight {i} has shape {tuple(p.shape)}, received "
                        f"an array of shape {tuple(w.shape)}."
                    )
                p.copy_(w)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' is not built yet, so its weights do not exist: call it "
                "on data or give `input_shape` first."
            )
        return sum(p.numel() for p in self.parameters())

    def regularization_losses(self) -> list[torch.Tensor]:
        """Penalties of the layer's own regularizers (added to the loss by `fit`)."""
        out = [p.regularizer(p) for p in self._parameters.values()
               if isinstance(p, Variable) and p.regularizer is not None and p.requires_grad]
        for attr, weight_names in getattr(self, "_regularized", {}).items():
            reg = getattr(self, attr, None)
            if reg is None:
                continue
            for wname in weight_names:
                w = getattr(self, wname, None)
                if w is not None:
                    out.append(reg(w))
        return out



def _holds_modules(value: Any) -> bool:
    if isinstance(value, (list, tuple)) and not isinstance(value, nn.Module):
        return bool(value) and all(isinstance(v, nn.Module) for v in value)
    if isinstance(value, dict):
        return bool(value) and all(isinstance(k, str) and isinstance(v, nn.Module)
                                   for k, v in value.items())
    return False


def _takes_shape(fn: Any) -> bool:
    try:
        return "shape" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def get_regularizer(identifier: Any) -> Any:
    if identifier is None:
        return None
    from gated import regularizers

    return regularizers.get(identifier)
