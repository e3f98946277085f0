"""`Sequential`: a plain stack of layers, each feeding the next (Keras' `Sequential`)."""

from __future__ import annotations

from typing import Any

import torch

from gated.layer import KerasTensor, Layer, format_shape
from gated.layers.core import InputLayer
from gated.models.model import Model


class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: Optional list of layers; an `Input(shape=...)` may come first.
        name: Model name (default `'sequential'`, numbered like Keras).

    The model is built (weights created, `summary()` available) as soon as the input shape is
    known: from `Input(...)`, from `input_shape=` on the first layer, or on the first call.

    Example:
        >>> model = Sequential()
        >>> model.add(LSTM(50, activation="relu", input_shape=(100, 1)))
        >>> model.add(Dense(1))
        >>> model.compile(optimizer="adam", loss="mean_squared_error")
    """

    def __init__(self, layers: list | None = None, name: str | None = None,
                 **kwargs: Any) -> None:
        from gated.layer import unique_name

        super().__init__(name=name or unique_name("sequential"), **kwargs)
        self._layers: list[Layer] = []
        self._input_shape: tuple | None = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def add(self, layer: Any) -> None:
        """Append a layer (or an `Input(...)` as the first entry)."""
        if isinstance(layer, KerasTensor):
            if not isinstance(layer.node.layer, InputLayer):
                raise ValueError("Sequential.add() accepts Input(...) tensors only as inputs; "
                                 f"received {layer!r}.")
            if self._layers or self._input_shape is not None:
                raise ValueError("Input(...) must be the first entry of a Sequential model.")
            self._input_shape = layer.shape
            return
        if isinstance(layer, InputLayer):
            self._input_shape = layer._build_input_shape
            return
        if isinstance(layer, torch.nn.Module) and not isinstance(layer, Layer) \
                and not isinstance(getattr(layer, "name", None), str):
            # A plain torch module gets a Keras-style name for summary() and get_layer().
            from gated._checks import to_snake_case
            from gated.layer import unique_name

            layer.name = unique_name(to_snake_case(type(layer).__name__))
        if not isinstance(layer, torch.nn.Module):
            raise TypeError(
                "Sequential.add() expects a layer (a gated.layers.Layer or torch.nn.Module), "
                f"received {type(layer).__name__}: {layer!r}."
            )
        if isinstance(layer, Layer) and layer.name in {existing.name for existing in self._layers}:
            raise ValueError(
                f"All layers of a Sequential model need unique names; '{layer.name}' is "
                "already used."
            )
        if not self._layers and self._input_shape is None \
                and getattr(layer, "_batch_input_shape", None) is not None:
            self._input_shape = layer._batch_input_shape
        self._layers.append(layer)
        self.add_module(layer.name if isinstance(layer, Layer) else f"module_{len(self._layers)}",
                        layer)
        if self._input_shape is not None:
            self._build_layers(self._input_shape)

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise ValueError("There are no layers in the model to pop.")
        layer = self._layers.pop()
        delattr(self, layer.name if isinstance(layer, Layer) else f"module_{len(self._layers)+1}")
        return layer

    def _build_layers(self, input_shape: tuple) -> None:
        shape: Any = tuple(input_shape)
        self._layer_output_shapes: list = []
        for layer in self._layers:
            if shape is None:
                self._layer_output_shapes.append(None)
                continue
            if isinstance(layer, Layer):
                layer._maybe_build(shape)
                layer._check_input(shape)
                if layer._builtin or \
                        type(layer).compute_output_shape is not Layer.compute_output_shape:
                    out = layer.compute_output_shape(shape)
                else:  # a user layer without compute_output_shape: run it, as Keras traces
                    out = _module_output_shape(layer, shape)
            else:
                out = _module_output_shape(layer, shape)
            self._layer_output_shapes.append(out)
            shape = out[0] if isinstance(out, list) else out
        self._build_input_shape = tuple(input_shape)
        self.built = True
        self._output_shape = shape
        self._build_symbolic_graph(tuple(input_shape))

    def _build_symbolic_graph(self, input_shape: tuple) -> None:
        """Keras' Sequential is a functional graph from an `Input`: replay the layers on one,
        so that `model.inputs`, `model.outputs` and each `layer.input` / `layer.output`
        exist (for feature extractors: `Model(model.inputs, model.layers[1].output)`)."""
        from gated.layers.core import Input

        for node in getattr(self, "_symbolic_nodes", []):  # forget the previous build's
            if node in node.layer._inbound_nodes:
                node.layer._inbound_nodes.remove(node)
        self._symbolic_nodes: list = []
        self._symbolic_io: tuple | None = None
        if not self._layers or not all(isinstance(layer, Layer) for layer in self._layers):
            return
        first = self._layers[0]
        dtype = None if first.casts_integer_inputs or type(first).__name__ != "Embedding" \
            else "int64"
        x = inputs = Input(batch_shape=input_shape, dtype=dtype)
        try:
            for layer in self._layers:
                x = layer(x)
                if isinstance(x, list):
                    x = x[0]
                self._symbolic_nodes.append(x.node)
        except Exception:  # noqa: BLE001 - a layer that cannot run symbolically: no graph
            for node in self._symbolic_nodes:
                node.layer._inbound_nodes.remove(node)
            self._symbolic_nodes = []
            return
        self._symbolic_io = (inputs, x)

    @property
    def inputs(self) -> list | None:
        io = getattr(self, "_symbolic_io", None)
        return [io[0]] if io else None

    @property
    def outputs(self) -> list | None:
        io = getattr(self, "_symbolic_io", None)
        return [io[1]] if io else None

    @property
    def input(self) -> Any:
        io = getattr(self, "_symbolic_io", None)
        if not io:
            raise AttributeError(f"Sequential model '{self.name}' has no defined input: give "
                                 "it an Input(...) or call build(input_shape).")
        return io[0]

    @property
    def output(self) -> Any:
        io = getattr(self, "_symbolic_io", None)
        if not io:
            raise AttributeError(f"Sequential model '{self.name}' has no defined output: give "
                                 "it an Input(...) or call build(input_shape).")
        return io[1]

    def build(self, input_shape: tuple | None = None) -> None:
        """Create all weights for inputs of `input_shape` (batch axis included)."""
        if input_shape is None:
            input_shape = self._input_shape
        if input_shape is None:
            raise ValueError("Sequential.build() needs input_shape, e.g. (None, 100, 1).")
        self._input_shape = tuple(input_shape)
        self._build_layers(self._input_shape)

    def _maybe_build(self, input_shape: tuple) -> None:
        if not self.built:
            shape = tuple(input_shape) if self._input_shape is None else self._input_shape
            if self._input_shape is None:
                shape = (None, *shape[1:])
            self.build(shape)

    def _check_input(self, shape: tuple) -> None:
        if self._input_shape is None:
            return
        # As Keras 3: only the rank must match the shape the model was built with; the sizes
        # may differ (a model built on batches of length 47 runs on length 2), and each layer
        # checks the sizes it needs (a feature-size mismatch is named by the first layer).
        expected = self._input_shape
        ok = len(shape) == len(expected)
        if not ok:
            first = self._layers[0] if self._layers else None
            if isinstance(first, Layer) and len(shape) != len(expected):
                first._check_rank(tuple(shape))
            raise ValueError(
                f"Input to model '{self.name}' has the wrong shape: expected "
                f"{format_shape(expected)}, received {format_shape(tuple(shape))}."
            )

    def compute_output_shape(self, input_shape: tuple) -> Any:
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape) if isinstance(layer, Layer) \
                else _module_output_shape(layer, shape)
            if shape is None:
                raise ValueError(f"Model '{self.name}': the output shape of torch module "
                                 f"'{layer.name}' could not be found.")
        return shape

    def forward(self, inputs: torch.Tensor, training: bool = False, mask: Any = None) -> Any:
        x = inputs
        for layer in self._layers:
            if isinstance(layer, Layer):
                x = layer(x, training=training) if layer._call_takes_training else layer(x)
            else:
                x = layer(x)
        return x

    def get_config(self) -> dict:
        from gated.serialization import serialize

        config: dict[str, Any] = {"name": self.name,
                                  "layers": [serialize(layer) for layer in self._layers]}
        if self._input_shape is not None:
            config["build_input_shape"] = list(self._input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Sequential:
        from gated.serialization import deserialize

        model = cls(name=config.get("name"))
        if config.get("build_input_shape") is not None:
            model._input_shape = tuple(config["build_input_shape"])
        for layer_config in config["layers"]:
            layer_config = {**layer_config, "config": dict(layer_config["config"])}
            model.add(deserialize(layer_config, custom_objects))
        return model


def _module_output_shape(module: torch.nn.Module, shape: tuple) -> tuple | None:
    """The output shape of a plain torch module, found by running it on zeros with two sizes
    for the unknown axes (an axis that changes with them is unknown, `None`); None when the
    module cannot run on such input."""
    outs = []
    was_training = module.training
    module.train(False)
    try:
        for size in (2, 3):
            dtype = next((p.dtype for p in module.parameters()), torch.get_default_dtype())
            x = torch.zeros([size if d is None else int(d) for d in shape], dtype=dtype)
            with torch.no_grad():
                out = module(x)
            if not isinstance(out, torch.Tensor):
                return None
            outs.append(tuple(out.shape))
    except (RuntimeError, ValueError, TypeError, IndexError):
        return None
    finally:
        module.train(was_training)
    if len(outs[0]) != len(outs[1]):
        return None
    return tuple(None if k == 0 or a != b else a
                 for k, (a, b) in enumerate(zip(*outs, strict=True)))
