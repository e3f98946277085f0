"""ONNX export of gated models: `model.export("model.onnx", format="onnx")` (as Keras 3).

The whole-sequence graph takes `input (batch, time, features)` (int64 `(batch, time)` ids for a
model starting with an `Embedding`) with dynamic batch and time axes. The standard LSTM, GRU
and SimpleRNN become ONNX's `LSTM`/`GRU`/`RNN` operators (peepholes via `P`, CIFG via
`input_forget`, the 1997 squashings via `ScaledTanh`, a missing gate as a saturated one); every
other LSTM variant, and every recurrent layer under a mask (`Masking`, `mask_zero=True`),
becomes a `Scan` over its step in standard operators. `step=True` exports a
streaming step instead: input `x (batch, features)`, one input per carried state named as in
`Stream.state_dict()` (`'<layer>.cell<k>.state<j>'`, zeros to start), and outputs `output`
and the next states `'<name>_next'`.

Needs the `onnx` package (`pip install onnx`); onnxruntime runs the result.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from onnx import TensorProto

from gated.export.onnx_graph import (
    GraphBuilder,
    NotExportable,
    float_input,
    int_input,
)
from gated.export.onnx_recurrent import _np, _squeeze, _unsqueeze, cell_converter

_PERM = [1, 0, 2]


class _Walker:
    """Converts layers one by one; `step` mode reads the recurrent states from graph inputs.

    A value is `(tensor, is a sequence (batch, time, ...), step mask (batch, time) or None)`.
    """

    def __init__(self, g: GraphBuilder, step: bool) -> None:
        self.g, self.step = g, step
        self.state_inputs: list = []
        self.state_outputs: list[tuple[str, str]] = []

    def layer(self, layer: Any, value: Any) -> tuple[str, bool, Any]:
        from gated.layers import (
            RNN,
            Activation,
            Bidirectional,
            Dense,
            Dropout,
            Embedding,
            Flatten,
            LayerNormalization,
            Masking,
            TimeDistributed,
        )

        g = self.g
        if isinstance(value, list):
            return self.merge(layer, value)
        x, seq, keep = value
        if isinstance(layer, RNN):
            return self.recurrent(layer, x, seq, keep)
        if isinstance(layer, Bidirectional):
            return self.bidirectional(layer, x, seq, keep)
        if isinstance(layer, TimeDistributed):
            return self.layer(layer.layer, value)
        if isinstance(layer, Dense):
            y = g.matmul(x, g.weight(f"{layer.name}_kernel", _np(layer.kernel)))
            if layer.use_bias:
                y = g.add(y, g.weight(f"{layer.name}_bias", _np(layer.bias)))
            return g.activation(self._act(layer), y, f"Layer '{layer.name}'"), seq, keep
        if isinstance(layer, Activation):
            return g.activation(self._act(layer), x, f"Layer '{layer.name}'"), seq, keep
        if isinstance(layer, Dropout):
            return x, seq, keep
        if isinstance(layer, LayerNormalization):
            dim = int(layer.input_features)
            gamma = g.weight(f"{layer.name}_gamma", _np(layer.gamma)) if layer.scale \
                else g.const(np.ones(dim))
            beta = g.weight(f"{layer.name}_beta", _np(layer.beta)) if layer.center \
                else g.const(np.zeros(dim))
            return g.node("LayerNormalization", [x, gamma, beta], axis=-1,
                          epsilon=layer.epsilon), seq, keep
        if isinstance(layer, Masking):
            self._no_mask_in_step(layer)
            differs = g.node("Cast", [g.node("Not", [g.node("Equal", [
                x, g.const(layer.mask_value)])])], to=TensorProto.FLOAT)
            keep = g.node("Cast", [g.node("ReduceMax", [differs], axes=[-1], keepdims=0)],
                          to=TensorProto.BOOL)
            return g.mul(x, self._as_float(keep)), seq, keep
        if isinstance(layer, Embedding):
            table = g.weight(f"{layer.name}_embeddings", _np(layer.embeddings))
            y = g.node("Gather", [table, x], axis=0)
            if layer.mask_zero:
                self._no_mask_in_step(layer)
                keep = g.node("Not", [g.node("Equal", [x, g.const(0, np.int64)])])
            return y, seq, keep
        if isinstance(layer, Flatten) and not seq:
            return g.node("Flatten", [x], axis=1), seq, None
        raise NotExportable(f"Layer '{layer.name}' ({type(layer).__name__}) has no ONNX export "
                            "(supported: LSTM, GRU, SimpleRNN, RNN of their cells, "
                            "Bidirectional, Dense, TimeDistributed, Activation, Dropout, "
                            "LayerNormalization, Embedding, Masking, Add, Multiply, Average, "
                            "Concatenate).")

    def _no_mask_in_step(self, layer: Any) -> None:
        if self.step:
            raise NotExportable(f"Layer '{layer.name}': masks are not supported in the "
                                "streaming step graph (feed only real steps to it).")

    def _as_float(self, keep: str) -> str:
        """A `(batch, time)` boolean mask as `(batch, time, 1)` floats."""
        return _unsqueeze(self.g, self.g.node("Cast", [keep], to=TensorProto.FLOAT), -1)

    @staticmethod
    def _act(layer: Any) -> str:
        from gated import activations

        name = activations.name_of(layer.activation)
        if name is None:
            raise NotExportable(f"Layer '{layer.name}': a custom activation cannot be "
                                "exported to ONNX.")
        return name

    def merge(self, layer: Any, values: list, kind: str | None = None) -> tuple[str, bool, Any]:
        g, kind = self.g, kind or type(layer).__name__
        names = [v for v, _, _ in values]
        seq = values[0][1]
        masks = [m for _, _, m in values if m is not None]
        keep = masks[0] if masks else None
        for other in masks[1:]:
            keep = g.node("And", [keep, other])
        if kind == "Add" or kind == "Average":
            y = g.node("Sum", names)
            return (g.scale(y, 1.0 / len(names)) if kind == "Average" else y), seq, keep
        if kind == "Multiply":
            y = names[0]
            for other in names[1:]:
                y = g.mul(y, other)
            return y, seq, keep
        if kind == "Concatenate":
            return g.node("Concat", names, axis=int(getattr(layer, "axis", -1))), seq, keep
        raise NotExportable(f"Layer '{layer.name}' ({kind}) has no ONNX export.")

    def _cells(self, layer: Any) -> list:
        parts = getattr(layer.cell, "sequence_parts", lambda training: None)(False)
        return list(parts) if parts is not None else [layer.cell]

    def run_cells(self, layer: Any, x_tm: str, reverse: bool,
                  keep: Any = None) -> tuple[str, list[str]]:
        g, finals = self.g, []
        keep_tm = None if keep is None else _unsqueeze(g, g.node("Transpose", [keep],
                                                                 perm=[1, 0]), 2)
        for k, cell in enumerate(self._cells(layer)):
            init = None
            if self.step:
                init = []
                for j, size in enumerate(cell.state_size):
                    name = g.reserve(f"{layer.name}.cell{k}.state{j}")
                    self.state_inputs.append(float_input(name, ["batch", int(size)]))
                    init.append(name)
            x_tm, last = cell_converter(cell)(g, cell, x_tm, init, reverse,
                                              f"{layer.name}_cell{k}", keep_tm)
            if self.step:
                self.state_outputs += [(f"{layer.name}.cell{k}.state{j}_next", s)
                                       for j, s in enumerate(last)]
            finals = last
        return x_tm, finals

    def _sequence_out(self, layer: Any, ys: str, keep: Any, flip: bool) -> str:
        g = self.g
        if flip:  # gated returns a go_backwards layer's outputs in processing order
            big = np.iinfo(np.int64).max
            ys = g.node("Slice", [ys, g.const([-1], np.int64), g.const([-big], np.int64),
                                  g.const([0], np.int64), g.const([-1], np.int64)])
        y = g.node("Transpose", [ys], perm=_PERM)
        if keep is not None and layer.zero_output_for_mask:
            y = g.mul(y, self._as_float(keep))
        return y

    def recurrent(self, layer: Any, x: str, seq: bool, keep: Any) -> tuple[str, bool, Any]:
        if not seq:
            raise NotExportable(f"Layer '{layer.name}' needs a sequence input, but the layer "
                                "before it returns only its last output.")
        if layer.go_backwards and self.step:
            raise NotExportable(f"Layer '{layer.name}': go_backwards=True reads the sequence "
                                "from its end and cannot stream.")
        if layer.return_state:
            raise NotExportable(f"Layer '{layer.name}': return_state=True has no ONNX export "
                                "here (export a step graph, step=True, for the states).")
        ys, finals = self.run_cells(layer, self.g.node("Transpose", [x], perm=_PERM),
                                    layer.go_backwards, keep)
        if not layer.return_sequences:
            return finals[0], False, None
        return self._sequence_out(layer, ys, keep, layer.go_backwards), True, keep

    def bidirectional(self, layer: Any, x: str, seq: bool, keep: Any) -> tuple[str, bool, Any]:
        if self.step:
            raise NotExportable(f"Layer '{layer.name}' (Bidirectional) cannot stream: its "
                                "backward direction needs the future of the sequence.")
        if layer.return_state or layer.merge_mode is None:
            raise NotExportable(f"Layer '{layer.name}': Bidirectional with return_state=True "
                                "or merge_mode=None has no ONNX export here.")
        x_tm = self.g.node("Transpose", [x], perm=_PERM)
        outs = []
        for sub, reverse in ((layer.forward_layer, False), (layer.backward_layer, True)):
            ys, finals = self.run_cells(sub, x_tm, reverse, keep)
            outs.append(self._sequence_out(sub, ys, keep, False) if layer.return_sequences
                        else finals[0])
        kinds = {"concat": "Concatenate", "sum": "Add", "mul": "Multiply", "ave": "Average"}
        out_keep = keep if layer.return_sequences else None
        merged = self.merge(layer, [(o, layer.return_sequences, None) for o in outs],
                            kinds[layer.merge_mode])
        return merged[0], layer.return_sequences, out_keep


def to_onnx(model: Any, step: bool = False) -> Any:
    """Build the ONNX `ModelProto` of a built gated model (see the module docstring).

    Args:
        model: A built `Sequential` or functional `Model`.
        step: Export the streaming step graph (states in, next states out) instead.

    Returns:
        An `onnx.ModelProto`, checked by `onnx.checker`.

    Raises:
        NotExportable (a `ValueError`): a layer or option without an ONNX form (named).
    """
    import onnx

    from gated.layers import Embedding, InputLayer

    if not getattr(model, "built", False):
        raise ValueError(f"Model '{model.name}' is not built: call it once before exporting.")
    g = GraphBuilder()
    walker = _Walker(g, step)
    graph = getattr(model, "_graph", None)
    if graph is not None:
        if len(graph.inputs) != 1:
            raise NotExportable(f"Model '{model.name}' has {len(graph.inputs)} inputs; the ONNX "
                                "export takes one.")
        nodes = [(node, node.layer) for node in graph.nodes]
        shape = tuple(graph.inputs[0].shape)
    else:
        nodes = [(None, layer) for layer in model.layers]
        shape = tuple(model._build_input_shape)
    first = next(layer for _, layer in nodes if not isinstance(layer, InputLayer))
    ids = isinstance(first, Embedding)
    features = [int(d) for d in shape[2:]]
    if step:
        x_name = g.reserve("x")
        graph_input = (int_input if ids else float_input)(x_name, ["batch", *features])
        current = (_unsqueeze(g, x_name, 1), True, None)
    else:
        x_name = g.reserve("input")
        graph_input = (int_input if ids else float_input)(x_name,
                                                          ["batch", "time", *features])
        current = (x_name, True, None)
    values: dict[int, Any] = {}
    for node, layer in nodes:
        if isinstance(layer, InputLayer):
            values[id(node)] = current
            continue
        if node is None:
            current = walker.layer(layer, current)
            continue
        tensors = node.inputs if isinstance(node.inputs, (list, tuple)) else [node.inputs]
        extra = {a for a in node.call_kwargs if a not in ("training", "mask")}
        if extra:
            raise NotExportable(f"Layer '{layer.name}' is called with {sorted(extra)}; the "
                                "ONNX export supports plain calls only.")
        inputs = [values[id(t.node)] for t in tensors]
        values[id(node)] = walker.layer(layer, inputs if isinstance(node.inputs, (list, tuple))
                                        else inputs[0])
    results = [values[id(t.node)] for t in graph.outputs] if graph is not None else [current]
    outputs = []
    for k, (name, seq, _) in enumerate(results):
        if step and seq:
            name = _squeeze(g, name, 1)
        out = g.reserve("output" if len(results) == 1 else f"output_{k}")
        g.nodes.append(_identity(name, out))
        rank = 2 if step or not seq else 3
        outputs.append(float_input(out, ["batch", *([None] * (rank - 1))]))
    for out_name, tensor in walker.state_outputs:
        g.nodes.append(_identity(tensor, g.reserve(out_name)))
        outputs.append(float_input(out_name, ["batch", None]))
    proto = g.model([graph_input, *walker.state_inputs], outputs, name=model.name)
    onnx.checker.check_model(proto)
    return proto


def _identity(src: str, dst: str) -> Any:
    from onnx import helper

    return helper.make_node("Identity", [src], [dst], name=f"Identity_{dst}")


def export_onnx(model: Any, filepath: str | os.PathLike, step: bool = False) -> Path:
    """Write `to_onnx(model, step)` to `filepath` atomically; returns the path."""
    from gated.models.saving import atomic_write

    blob = to_onnx(model, step=step).SerializeToString()
    return atomic_write(filepath, lambda f: f.write(blob))


def load_onnx(filepath: str | os.PathLike) -> Any:
    """Read and check an ONNX file; a truncated or corrupted file raises `ValueError` naming
    it."""
    import onnx

    filepath = Path(filepath)
    if not filepath.exists():
        raise FileNotFoundError(f"No ONNX file at '{filepath}'.")
    try:
        proto = onnx.load(str(filepath))
        onnx.checker.check_model(proto)
    except Exception as err:
        raise ValueError(f"Cannot load the ONNX file '{filepath}': it is truncated or "
                         f"corrupted, or not an ONNX model ({type(err).__name__}: "
                         f"{str(err)[:200]}).") from None
    return proto


__all__ = ["NotExportable", "export_onnx", "load_onnx", "to_onnx"]
