"""The Keras-style `Layer`: a `torch.nn.Module` that builds itself from the first input shape.

It lives outside `gated.layers` because cells are layers too (as in Keras) and `gated.layers`
re-exports the cells: keeping the base here avoids an import cycle.

What a Keras user expects of every layer lives here once:
- lazy `build(input_shape)` on the first call (or at once when `input_shape=` is given);
- `name` auto-numbered like Keras (`lstm`, `lstm_1`, ...), `trainable`, `dtype`;
- input checks with messages that name the layer, the expected and the received shape;
- masks: a layer output carries `_keras_mask` when `compute_mask` returns one, and the next
  layer receives it as `mask=` (Keras' implicit mask propagation);
- `get_weights` / `set_weights` in Keras order and layout, `count_params`, `get_config`;
- calling a layer on a symbolic `KerasTensor` (from `Input`) records a node for the
  functional `Model` instead of computing.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from typing import Any

import numpy as np
import torch
from torch import nn

from gated._checks import check_positive_int, check_rate, to_snake_case  # noqa: F401
from gated.serialization import register_builtin

_NAME_COUNTS: dict[str, int] = defaultdict(int)

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int32": torch.int32,
    "int64": torch.int64,
}


def unique_name(base: str) -> str:
    """Keras naming: the first `lstm` is 'lstm', then 'lstm_1', 'lstm_2', ..."""
    count = _NAME_COUNTS[base]
    _NAME_COUNTS[base] += 1
    return base if count == 0 else f"{base}_{count}"


def resolve_dtype(dtype: Any) -> torch.dtype:
    if dtype is None:
        return torch.get_default_dtype()
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ValueError(
        f"Argument `dtype` must be one of {sorted(_DTYPES)} or a torch.dtype, received {dtype!r}."
    )


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def format_shape(shape: Any) -> str:
    if shape is None:
        return "None"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")"
    )


class Node:
    """One recorded layer call of the functional API: the layer, its inputs, its kwargs."""

    def __init__(self, layer: Any, inputs: Any, call_kwargs: dict | None = None) -> None:
        self.layer = layer
        self.inputs = inputs
        self.call_kwargs = call_kwargs or {}


class KerasTensor:
    """A symbolic tensor: a shape and dtype, plus the layer call (`node`) that produced it.

    `gated.layers.Input(shape=...)` returns one; calling a layer on it records the call so that
    `gated.models.Model(inputs, outputs)` can replay the graph on real tensors.
    """

    def __init__(self, shape: tuple, dtype: Any = None, node: Node | None = None,
                 index: int = 0, name: str | None = None) -> None:
        self.shape = tuple(shape)
        self.dtype = dtype or torch.get_default_dtype()
        self.node = node
        self.index = index
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={format_shape(self.shape)}, name={self.name}>"


def _flatten(x) -> list:
    if isinstance(x, (list, tuple)):
        out = []
        for item in x:
            out.extend(_flatten(item))
        return out
    return [x]


class Layer(nn.Module):
    """Base class of every gated layer.

    Args:
        name: Layer name; Keras-style auto name from the class when omitted.
        trainable: Whether the weights are updated by `fit`.
        dtype: Parameter dtype, `'float32'` (default) or `'float64'`, or a torch.dtype.
        input_shape: Shape of one sample (no batch axis). As in Keras, a `Sequential` model
            whose first layer has it is built at once; a layer alone builds on first call.
        batch_input_shape / batch_size: Keras' batch-inclusive variants.
        input_dim: Shortcut for `input_shape=(input_dim,)` (Dense, Embedding).

    Subclasses implement `build(input_shape)`, `forward(inputs, ...)` and
    `compute_output_shape(input_shape)`; optionally `compute_mask` and `get_config`.
    A subclass sets `self.input_ndim` (exact rank) or `self.min_ndim`, and after build
    `self.input_features` (the size of the last axis) for input validation.
    """

    supports_masking = False
    input_ndim: int | None = None
    min_ndim: int | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Keras semantics: calling `layer.build(shape)` yourself also marks the layer built.
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("gated."):
            register_builtin(cls)  # gated's own classes are found by name when loading
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_marks_built", False):
            def wrapped(self, input_shape=None, _build=build):
                if input_shape is not None and not isinstance(input_shape, tuple):
                    input_shape = tuple(input_shape)
                _build(self, input_shape)
                self.built = True
                if input_shape is not None:
                    self._build_input_shape = input_shape

            wrapped._marks_built = True
            wrapped.__doc__ = build.__doc__
            cls.build = wrapped

    def __init__(self, name: str | None = None, trainable: bool = True, dtype: Any = None,
                 input_shape: Any = None, batch_input_shape: Any = None,
                 batch_size: int | None = None, input_dim: int | None = None,
                 **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}"
            )
        super().__init__()
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._dtype = resolve_dtype(dtype)
        self.built = False
        self.input_features: int | None = None
        self._build_input_shape: tuple | None = None
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            if isinstance(input_shape, int):
                input_shape = (input_shape,)
            self._batch_input_shape = (batch_size, *tuple(input_shape))
        else:
            self._batch_input_shape = None
        self._trainable = bool(trainable)
        sig = inspect.signature(self.forward).parameters
        self._call_takes_mask = "mask" in sig
        self._call_takes_training = "training" in sig
        # Keras semantics: calling a layer directly is inference unless training=True.
        self.train(False)

    # ------------------------------------------------------------------ properties
    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        # Keras: setting `trainable` sets it on every nested layer too; weights created with
        # `add_weight(trainable=False)` (BatchNormalization's moving statistics) never train.
        self._trainable = bool(value)
        for module in self.modules():
            if isinstance(module, Layer):
                module._trainable = self._trainable
            frozen = getattr(module, "_frozen_weights", ())
            for name, p in module.named_parameters(recurse=False):
                p.requires_grad_(self._trainable and name not in frozen)

    @property
    def weights(self) -> list[nn.Parameter]:
        return list(self.parameters())

    @property
    def trainable_weights(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if not p.requires_grad]

    @property
    def input_shape(self) -> tuple | None:
        return self._build_input_shape

    @property
    def output_shape(self) -> Any:
        if self._build_input_shape is None:
            raise AttributeError(f"Layer '{self.name}' has not been built yet: no output_shape.")
        return self.compute_output_shape(self._build_input_shape)

    # ------------------------------------------------------------------ building
    def add_weight(self, name: str, shape: tuple, initializer: Any = "zeros",
                   trainable: bool = True) -> nn.Parameter:
        """Create, initialise and register a parameter (Keras' `add_weight`)."""
        from gated import initializers

        tensor = torch.empty(*shape, dtype=self._dtype)
        initializers.get(initializer)(tensor)
        param = nn.Parameter(tensor, requires_grad=trainable and self._trainable)
        if not trainable:  # stays frozen whatever `layer.trainable` becomes
            self._frozen_weights = {*getattr(self, "_frozen_weights", ()), name}
        self.register_parameter(name, param)
        return param

    def build(self, input_shape: tuple) -> None:
        """Create the weights for inputs of `input_shape` (batch axis included)."""

    def _maybe_build(self, input_shape: tuple) -> None:
        if self.built:
            return
        input_shape = tuple(input_shape)
        self._check_rank(input_shape)
        self.build(input_shape)
        self._build_input_shape = input_shape
        self.built = True

    def compute_output_shape(self, input_shape: tuple) -> Any:
        return tuple(input_shape)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask if self.supports_masking else None

    # ------------------------------------------------------------------ checks
    def _check_rank(self, shape: tuple) -> None:
        what = f"Input to layer '{self.name}' ({type(self).__name__})"
        if self.input_ndim is not None and len(shape) != self.input_ndim:
            raise ValueError(
                f"{what} has the wrong rank: expected ndim={self.input_ndim}"
                f"{self._expected_layout()}, received ndim={len(shape)} with shape "
                f"{format_shape(shape)}."
            )
        if self.min_ndim is not None and len(shape) < self.min_ndim:
            raise ValueError(
                f"{what} has the wrong rank: expected ndim>={self.min_ndim}, received "
                f"ndim={len(shape)} with shape {format_shape(shape)}."
            )

    def _expected_layout(self) -> str:
        return ""

    def _check_input(self, shape: tuple) -> None:
        self._check_rank(shape)
        if self.input_features is not None and shape[-1] != self.input_features:
            raise ValueError(
                f"Input to layer '{self.name}' ({type(self).__name__}) has the wrong feature "
                f"size: expected axis -1 of the input to have size {self.input_features} (the "
                f"layer was built for input shape {format_shape(self._build_input_shape)}), "
                f"received shape {format_shape(shape)}."
            )

    # ------------------------------------------------------------------ calling
    def _to_tensor(self, x: Any) -> Any:
        if isinstance(x, (torch.Tensor, KerasTensor)) or x is None:
            return x
        if isinstance(x, (list, tuple)) and any(
            isinstance(v, (torch.Tensor, KerasTensor)) for v in _flatten(x)
        ):
            return type(x)(self._to_tensor(v) for v in x)
        arr = np.asarray(x)
        if arr.dtype.kind == "f":
            return torch.as_tensor(arr, dtype=self._dtype)
        return torch.as_tensor(arr)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        inputs = self._to_tensor(inputs)
        if any(isinstance(t, KerasTensor) for t in _flatten(inputs)):
            return self._symbolic_call(inputs, *args, **kwargs)
        self._maybe_build(self._shape_of(inputs))
        first = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        if isinstance(first, torch.Tensor):
            self._check_input(tuple(first.shape))
        mask = kwargs.pop("mask", None)
        if mask is None and isinstance(first, torch.Tensor):
            mask = getattr(first, "_keras_mask", None)
        if self._call_takes_mask:
            kwargs["mask"] = mask
        if self._call_takes_training:
            kwargs.setdefault("training", None)
            if kwargs["training"] is None:
                kwargs["training"] = self.training
        else:
            kwargs.pop("training", None)
        outputs = super().__call__(inputs, *args, **kwargs)
        out_mask = self.compute_mask(inputs, mask)
        if out_mask is not None:
            target = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
            if isinstance(target, torch.Tensor):
                target._keras_mask = out_mask
        return outputs

    @staticmethod
    def _shape_of(inputs: Any) -> tuple:
        if isinstance(inputs, (list, tuple)):
            return tuple(inputs[0].shape)
        return tuple(inputs.shape)

    def _symbolic_call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if args:
            raise TypeError(
                f"Layer '{self.name}': positional arguments after the inputs are not supported "
                "in the functional API; pass them as keywords."
            )
        first = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        self._maybe_build(first.shape)
        self._check_input(first.shape)
        out_shape = self.compute_output_shape(first.shape)
        node = Node(self, inputs, kwargs)
        if isinstance(out_shape, list):
            return [KerasTensor(s, self._dtype, node, index=i, name=self.name)
                    for i, s in enumerate(out_shape)]
        return KerasTensor(out_shape, self._dtype, node, name=self.name)

    # ------------------------------------------------------------------ weights
    def get_weights(self) -> list[np.ndarray]:
        """The weights as NumPy arrays, in Keras order and layout."""
        return [p.detach().cpu().numpy().copy() for p in self.parameters()]

    def set_weights(self, weights: list) -> None:
        """Set weights from arrays in the order and shapes of `get_weights()`."""
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' is not built yet, so it has no weights to set: call it on "
                "data or `build(input_shape)` first."
            )
        params = list(self.parameters())
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
        """Penalties of the layer's regularizers (added to the loss by `fit`)."""
        out = []
        for attr, weight_names in getattr(self, "_regularized", {}).items():
            reg = getattr(self, attr, None)
            if reg is None:
                continue
            for wname in weight_names:
                w = getattr(self, wname, None)
                if w is not None:
                    out.append(reg(w))
        return out

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        config: dict[str, Any] = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": dtype_name(self._dtype),
        }
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        return cls(**config)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"
