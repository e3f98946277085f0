"""The functional API's graph: the layer calls recorded on `KerasTensor`s, replayed on tensors.

`Graph(inputs, outputs)` walks back from the outputs to the `Input`s, orders the recorded
calls (nodes) topologically, and `run` evaluates them in that order. A layer called twice
(shared weights) appears once in `layers` and once per call in `nodes`.
"""

from __future__ import annotations

from typing import Any

import torch

from gated.layer import KerasTensor, Layer, Node, format_shape
from gated.layers.core import InputLayer


def _tensors_in(value: Any) -> list[KerasTensor]:
    if isinstance(value, KerasTensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors_in(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors_in(v)]
    return []


def _substitute(value: Any, node_out: dict[int, Any]) -> Any:
    """Replace every KerasTensor in `value` by the real tensor its node produced."""
    if isinstance(value, KerasTensor):
        out = node_out[id(value.node)]
        return out[value.index] if isinstance(out, (list, tuple)) else out
    if isinstance(value, list):
        return [_substitute(v, node_out) for v in value]
    if isinstance(value, tuple):
        return tuple(_substitute(v, node_out) for v in value)
    if isinstance(value, dict):
        return {k: _substitute(v, node_out) for k, v in value.items()}
    return value


class Graph:
    """Topologically ordered layer calls between `inputs` and `outputs`."""

    def __init__(self, inputs: Any, outputs: Any) -> None:
        self.single_output = isinstance(outputs, KerasTensor)
        self.inputs = [inputs] if isinstance(inputs, KerasTensor) else list(inputs)
        self.outputs = [outputs] if isinstance(outputs, KerasTensor) else list(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(
                    "Model(inputs, outputs) expects KerasTensors from gated.layers.Input and "
                    f"from calling layers on them, received {type(t).__name__}."
                )
        for t in self.inputs:
            if not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"Model inputs must come from Input(...), received {t!r}.")
        self.nodes: list[Node] = []
        self._order(self.outputs)
        #: Every layer, the `InputLayer`s included, in Keras' order (`model.layers`).
        self.all_layers: list[Layer] = self._keras_order()
        self.layers: list[Layer] = [layer for layer in self.all_layers
                                    if not isinstance(layer, InputLayer)]
        used_inputs = {id(t.node) for t in self.inputs}
        for node in self.nodes:
            if isinstance(node.layer, InputLayer) and id(node) not in used_inputs:
                raise ValueError(
                    f"Output depends on input '{node.layer.name}', which is not among the "
                    "model's `inputs`."
                )

    def _order(self, outputs: list[KerasTensor]) -> None:
        seen: set[int] = set()
        visiting: set[int] = set()

        def visit(node: Node) -> None:
            if id(node) in seen:
                return
            if id(node) in visiting:
                raise ValueError("The functional graph has a cycle.")
            visiting.add(id(node))
            for t in _tensors_in(node.inputs) + _tensors_in(node.call_kwargs):
                visit(t.node)
            visiting.discard(id(node))
            seen.add(id(node))
            self.nodes.append(node)

        for t in outputs:
            visit(t.node)

    def _keras_order(self) -> list[Layer]:
        """Keras' layer order: by depth from the outputs (deepest, the inputs, first), then by
        the order a depth-first walk from the outputs first meets each layer."""
        first_seen: dict[int, int] = {}
        post_order: list[Node] = []
        finished: set[int] = set()

        def walk(node: Node) -> None:
            if id(node) in finished:
                return
            first_seen.setdefault(id(node.layer), len(first_seen))
            for t in _tensors_in(node.inputs) + _tensors_in(node.call_kwargs):
                walk(t.node)
            finished.add(id(node))
            post_order.append(node)

        for t in self.outputs:
            walk(t.node)
        node_depth: dict[int, int] = {}
        layer_depth: dict[int, int] = {}
        layers: dict[int, Layer] = {}
        for node in reversed(post_order):
            depth = max(node_depth.get(id(node), 0), layer_depth.get(id(node.layer), 0))
            layer_depth[id(node.layer)] = depth
            layers[id(node.layer)] = node.layer
            node_depth[id(node)] = depth
            for t in _tensors_in(node.inputs) + _tensors_in(node.call_kwargs):
                parent = id(t.node)
                node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
        ordered = sorted(layers, key=lambda k: (-layer_depth[k], first_seen[k]))
        return [layers[k] for k in ordered]

    @property
    def input_shapes(self) -> list[tuple]:
        return [t.shape for t in self.inputs]

    @property
    def input_names(self) -> list[str]:
        return [t.node.layer.name for t in self.inputs]

    def check_input_shape(self, index: int, shape: tuple) -> None:
        expected = self.inputs[index].shape
        ok = len(shape) == len(expected) and all(
            e is None or e == s for e, s in zip(expected[1:], shape[1:], strict=True)
        )
        if not ok:
            raise ValueError(
                f"Input {index} ('{self.input_names[index]}') of the model expects shape "
                f"{format_shape(expected)}, received {format_shape(tuple(shape))}."
            )

    def run(self, inputs: Any, training: bool = False) -> Any:
        values = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
        if len(values) != len(self.inputs):
            raise ValueError(
                f"The model expects {len(self.inputs)} inputs, received {len(values)}."
            )
        node_out: dict[int, Any] = {}
        for i, (t, v) in enumerate(zip(self.inputs, values, strict=True)):
            self.check_input_shape(i, tuple(v.shape))
            if isinstance(v, torch.Tensor) and not v.dtype.is_floating_point \
                    and t.dtype.is_floating_point:
                v = v.to(t.dtype)  # Keras converts each input to its `Input`'s dtype
            node_out[id(t.node)] = v
        for node in self.nodes:
            if id(node) in node_out:
                continue
            args = _substitute(node.inputs, node_out)
            kwargs = _substitute(node.call_kwargs, node_out)
            if node.layer._call_takes_training:
                kwargs["training"] = training
            node_out[id(node)] = node.layer(args, **kwargs)
        outputs = [_substitute(t, node_out) for t in self.outputs]
        return outputs[0] if self.single_output else outputs

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        from gated.serialization import serialize

        layer_ids: dict[int, str] = {}
        layers_cfg = []
        node_index: dict[int, tuple[str, int]] = {}
        for node in self.nodes:
            layer = node.layer
            if id(layer) not in layer_ids:
                layer_ids[id(layer)] = layer.name
                entry = serialize(layer)
                entry["name"] = layer.name
                entry["inbound_nodes"] = []
                layers_cfg.append(entry)
            entry = next(e for e in layers_cfg if e["name"] == layer.name)
            node_index[id(node)] = (layer.name, len(entry["inbound_nodes"]))
            entry["inbound_nodes"].append({
                "args": _encode(node.inputs, node_index),
                "kwargs": _encode(node.call_kwargs, node_index),
            })

        def ref(t: KerasTensor) -> list:
            name, k = node_index[id(t.node)]
            return [name, k, t.index]

        return {
            "layers": layers_cfg,
            "input_layers": [ref(t) for t in self.inputs],
            "output_layers": [ref(t) for t in self.outputs]
            if not self.single_output else ref(self.outputs[0]),
        }

    @staticmethod
    def from_config(config: dict, custom_objects: dict | None = None) -> tuple[Any, Any]:
        from gated.serialization import deserialize

        layers: dict[str, Layer] = {}
        produced: dict[tuple[str, int], Any] = {}
        pending = list(config["layers"])
        for entry in pending:
            if entry["class_name"] == "InputLayer":
                layers[entry["name"]] = InputLayer(**_input_kwargs(entry["config"]))
                produced[(entry["name"], 0)] = layers[entry["name"]].output
            else:
                layers[entry["name"]] = deserialize(entry, custom_objects)
        for entry in pending:  # nodes were saved in topological order
            if entry["class_name"] == "InputLayer":
                continue
            layer = layers[entry["name"]]
            for k, node in enumerate(entry["inbound_nodes"]):
                args = _decode(node["args"], produced)
                kwargs = _decode(node["kwargs"], produced)
                produced[(entry["name"], k)] = layer(args, **kwargs)

        def out(ref: list) -> KerasTensor:
            value = produced[(ref[0], ref[1])]
            return value[ref[2]] if isinstance(value, list) else value

        inputs = [out(r) for r in config["input_layers"]]
        outs = config["output_layers"]
        outputs = out(outs) if outs and isinstance(outs[0], str) else [out(r) for r in outs]
        return inputs if len(inputs) > 1 else inputs[0], outputs


def _input_kwargs(config: dict) -> dict:
    return {"batch_shape": tuple(config["batch_shape"]), "dtype": config.get("dtype"),
            "name": config.get("name")}


def _encode(value: Any, node_index: dict) -> Any:
    if isinstance(value, KerasTensor):
        name, k = node_index[id(value.node)]
        return {"__keras_tensor__": [name, k, value.index]}
    if isinstance(value, (list, tuple)):
        return [_encode(v, node_index) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v, node_index) for k, v in value.items()}
    return value


def _decode(value: Any, produced: dict) -> Any:
    if isinstance(value, dict) and "__keras_tensor__" in value:
        name, k, index = value["__keras_tensor__"]
        out = produced[(name, k)]
        return out[index] if isinstance(out, list) else out
    if isinstance(value, list):
        return [_decode(v, produced) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v, produced) for k, v in value.items()}
    return value
