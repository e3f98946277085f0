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
from typing import Any

import numpy as np
import torch
from torch import nn

from gated._checks import check_positive_int, check_rate, to_snake_case  # noqa: F401
from gated._layer_utils import _NAME_COUNTS, dtype_name, resolve_dtype, unique_name  # noqa: F401
from gated.keras_tensor import KerasTensor, Node, format_shape, map_structure  # noqa: F401
from gated.keras_tensor import flatten as _flatten
from gated.layer_weights import WeightsMixin, get_regularizer, loss_state
from gated.serialization import register_builtin


class Layer(WeightsMixin, nn.Module):
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
    #: Whether integer inputs are cast to the layer's float dtype first (Keras' float layers).
    casts_integer_inputs = False
    input_ndim: int | None = None
    min_ndim: int | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Keras semantics: calling `layer.build(shape)` yourself also marks the layer built.
        super().__init_subclass__(**kwargs)
        cls._builtin = cls.__module__.startswith("gated.")
        if cls._builtin:
            register_builtin(cls)  # gated's own classes are found by name when loading
        # Keras' `call` is torch's `forward`: a class that defines `call` runs it.
        cls._forward_is_call = "call" in cls.__dict__ and "forward" not in cls.__dict__
        if cls._forward_is_call:
            cls.forward = cls.__dict__["call"]
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_marks_built", False):
            def wrapped(self, input_shape=None, _build=build):
                input_shape = _normalize_shape(input_shape)
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
                 activity_regularizer: Any = None, autocast: bool = True,
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
            if not isinstance(input_shape, (tuple, list)) or any(
                    d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 1)
                    for d in input_shape):
                raise ValueError(
                    f"Argument `input_shape` of {type(self).__name__} must be a tuple of sizes "
                    f">= 1 (or None for unknown), received input_shape={input_shape!r}.")
            self._batch_input_shape = (batch_size, *tuple(input_shape))
        else:
            self._batch_input_shape = None
        self._trainable = bool(trainable)
        self.activity_regularizer = get_regularizer(activity_regularizer)
        self.autocast = bool(autocast)
        self._losses: list[torch.Tensor] = []
        self._inbound_nodes: list[Node] = []
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
            for p in module.parameters(recurse=False):
                p.requires_grad_(self._trainable and getattr(p, "_created_trainable", True))

    @property
    def input_shape(self) -> tuple | None:
        return self._build_input_shape

    @property
    def output_shape(self) -> Any:
        if self._build_input_shape is None:
            raise AttributeError(f"Layer '{self.name}' has not been built yet: no output_shape.")
        return self.compute_output_shape(self._build_input_shape)

    # ------------------------------------------------------------------ building
    def build(self, input_shape: tuple) -> None:
        """Create the weights for inputs of `input_shape` (batch axis included)."""

    def _maybe_build(self, input_shape: tuple) -> None:
        if self.built:
            return
        input_shape = _normalize_shape(input_shape)
        if isinstance(input_shape, tuple):
            self._check_rank(input_shape)
        self.build(input_shape)
        self._build_input_shape = input_shape
        self.built = True

    def compute_output_shape(self, input_shape: tuple) -> Any:
        return _normalize_shape(input_shape)

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
            isinstance(v, (torch.Tensor, KerasTensor, np.ndarray)) for v in _flatten(x)
        ):
            return type(x)(self._to_tensor(v) for v in x)
        arr = np.asarray(x)
        if arr.dtype.kind == "f":
            return torch.as_tensor(arr, dtype=self._dtype)
        return torch.as_tensor(arr)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """Keras' name for the computation (`forward` in torch): either may be defined."""
        for klass in type(self).__mro__:
            if not (isinstance(klass, type) and issubclass(klass, Layer)):
                break
            forward = klass.__dict__.get("forward")
            if forward is not None and not klass.__dict__.get("_forward_is_call", False):
                return forward(self, *args, **kwargs)
        raise NotImplementedError(
            f"Layer '{self.name}' ({type(self).__name__}) does not define `call(inputs)` "
            "(or torch's `forward`)."
        )

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        inputs = self._to_tensor(inputs)
        if not (isinstance(inputs, torch.Tensor) and not kwargs) and any(
                isinstance(t, KerasTensor)
                for t in _flatten(inputs) + _flatten(list(kwargs.values()))):
            from gated._symbolic import symbolic_call

            cls = type(self)
            return symbolic_call(
                self, inputs, args, kwargs,
                infer_shapes=not self._builtin
                and cls.compute_output_shape is Layer.compute_output_shape,
                own_mask=cls.compute_mask is not Layer.compute_mask)
        self._maybe_build(self._shape_of(inputs))
        first = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        if self.casts_integer_inputs and isinstance(first, torch.Tensor) \
                and not first.dtype.is_floating_point:
            # Keras casts integer inputs of float layers (Dense, recurrent) to the layer dtype.
            mask_in = getattr(first, "_keras_mask", None)
            first = first.to(self._dtype)
            if mask_in is not None:
                first._keras_mask = mask_in
            inputs = [first, *inputs[1:]] if isinstance(inputs, (list, tuple)) else first
        if isinstance(first, torch.Tensor):
            self._check_input(tuple(first.shape))
        mask = kwargs.pop("mask", None)
        if mask is None:
            mask = self._incoming_mask(inputs)
        if self._call_takes_mask:
            kwargs["mask"] = mask
        if self._call_takes_training:
            kwargs.setdefault("training", None)
            if kwargs["training"] is None:
                kwargs["training"] = self.training
        else:
            kwargs.pop("training", None)
        if _CALL_DEPTH[0] == 0 and loss_state.pending:
            self._clear_losses()  # Keras: losses are those of the latest outermost call
        _CALL_DEPTH[0] += 1
        try:
            outputs = super().__call__(inputs, *args, **kwargs)
        finally:
            _CALL_DEPTH[0] -= 1
        if self.activity_regularizer is not None:
            for out in _flatten(outputs):
                if isinstance(out, torch.Tensor):
                    penalty = self.activity_regularizer(out)
                    if out.ndim > 0:
                        penalty = penalty / out.shape[0]
                    self.add_loss(penalty)
        self._set_output_masks(inputs, outputs, mask)
        return outputs

    def _incoming_mask(self, inputs: Any) -> Any:
        if isinstance(inputs, (list, tuple)) and not self._builtin:
            masks = [getattr(t, "_keras_mask", None) for t in inputs]
            return None if all(m is None for m in masks) else masks
        first = inputs[0] if isinstance(inputs, (list, tuple)) and inputs else inputs
        return getattr(first, "_keras_mask", None) if isinstance(first, torch.Tensor) else None

    def _set_output_masks(self, inputs: Any, outputs: Any, mask: Any) -> None:
        """Keras' mask propagation: the i-th mask of `compute_mask` goes on the i-th output."""
        if mask is None and type(self).compute_mask is Layer.compute_mask:
            return  # the default passes the incoming mask on: there is none
        flat = _flatten(outputs)
        tensors = [t for t in flat if isinstance(t, torch.Tensor)]
        if tensors and all(getattr(t, "_keras_mask", None) is not None for t in tensors):
            return
        out_mask = self.compute_mask(inputs, mask)
        if out_mask is None:
            return
        for tensor, m in zip(flat, _flatten(out_mask), strict=False):
            if isinstance(tensor, torch.Tensor) and m is not None \
                    and getattr(tensor, "_keras_mask", None) is None:
                tensor._keras_mask = m

    def _shape_of(self, inputs: Any) -> Any:
        if not self._builtin:  # Keras: build() sees the shapes of the whole first argument
            return map_structure(lambda t: tuple(t.shape) if isinstance(t, torch.Tensor)
                                 else None, inputs)
        if isinstance(inputs, (list, tuple)):
            return tuple(inputs[0].shape)
        return tuple(inputs.shape)

    # ------------------------------------------------------------------ graph & losses
    @property
    def input(self) -> Any:
        """The symbolic input of the layer's first call in a functional graph (Keras)."""
        return self._node_attribute("inputs", "input")

    @property
    def output(self) -> Any:
        """The symbolic output of the layer's first call in a functional graph (Keras)."""
        return self._node_attribute("outputs", "output")

    def __getattr__(self, name: str) -> Any:
        if name in ("input", "output"):  # the property raised: say why, not "no attribute"
            raise AttributeError(
                f"Layer '{self.__dict__.get('name')}' has never been called on a symbolic "
                f"input (`Input`) and thus has no defined {name}."
            )
        return super().__getattr__(name)

    def _node_attribute(self, attr: str, what: str) -> Any:
        nodes = self.__dict__.get("_inbound_nodes") or []
        if not nodes:
            raise AttributeError(
                f"Layer '{self.name}' has never been called on a symbolic input (`Input`) and "
                f"thus has no defined {what}."
            )
        value = getattr(nodes[0], attr)
        if isinstance(value, (list, tuple)) and len(value) == 1:
            return value[0]
        return value

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


_CALL_DEPTH = [0]  # nesting of layer calls: losses are cleared at the outermost call


def _normalize_shape(shape: Any) -> Any:
    """A shape as a tuple, or shapes of several inputs as a list of tuples."""
    if shape is None:
        return None
    if isinstance(shape, (list, tuple)) and any(isinstance(d, (list, tuple)) for d in shape):
        return [_normalize_shape(d) for d in shape]
    return tuple(shape)
