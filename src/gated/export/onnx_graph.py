"""A small builder over `onnx.helper`: unique names, initializers, nodes, and activations
written as standard ONNX operators."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from gated.export.errors import NotExportable

__all__ = ["GraphBuilder", "NotExportable", "float_input", "int_input"]

#: ONNX opset of the exported graphs (LayerNormalization needs 17).
OPSET = 17
IR_VERSION = 8


class GraphBuilder:
    """Collects nodes and initializers; `node()` returns its output names."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []
        self._names: set[str] = set()
        self._consts: dict[tuple, str] = {}

    def child(self) -> GraphBuilder:
        """A builder for a subgraph (a `Scan` body): its own nodes; names, constants and
        weights shared with this graph (the body reads them from the outer scope)."""
        sub = GraphBuilder()
        sub.initializers, sub._names, sub._consts = self.initializers, self._names, self._consts
        return sub

    def name(self, base: str) -> str:
        base = base.replace("/", "_")
        name, k = base, 1
        while name in self._names:
            name, k = f"{base}_{k}", k + 1
        self._names.add(name)
        return name

    def reserve(self, name: str) -> str:
        if name in self._names:
            raise ValueError(f"Duplicate ONNX tensor name '{name}'.")
        self._names.add(name)
        return name

    def weight(self, base: str, value: np.ndarray, dtype: Any = np.float32) -> str:
        name = self.name(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def const(self, value: Any, dtype: Any = np.float32) -> str:
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self._consts:
            self._consts[key] = self.weight("const", arr, dtype)
        return self._consts[key]

    def node(self, op: str, inputs: list[str], n_out: int = 1, base: str | None = None,
             **attrs: Any) -> Any:
        outs = [self.name(f"{base or op.lower()}_out{k}" if n_out > 1 else (base or op.lower()))
                for k in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.name(f"{op}_node"),
                                           **attrs))
        return outs[0] if n_out == 1 else outs

    # ------------------------------------------------------------------ helpers
    def add(self, a: str, b: str) -> str:
        return self.node("Add", [a, b])

    def mul(self, a: str, b: str) -> str:
        return self.node("Mul", [a, b])

    def sub(self, a: str, b: str) -> str:
        return self.node("Sub", [a, b])

    def matmul(self, a: str, b: str) -> str:
        return self.node("MatMul", [a, b])

    def scale(self, x: str, factor: float) -> str:
        return self.mul(x, self.const(factor))

    def activation(self, name: str, x: str, where: str) -> str:
        """`x` through gated's activation `name` in standard ops (NotExportable names
        `where` for an activation without an ONNX form)."""
        if name in ("linear", None):
            return x
        simple = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu", "exponential": "Exp",
                  "softsign": "Softsign", "softplus": "Softplus", "elu": "Elu", "selu": "Selu"}
        if name in simple:
            return self.node(simple[name], [x])
        if name == "hard_sigmoid":
            return self.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
        if name == "tanh2":
            return self.scale(self.node("Tanh", [self.scale(x, 0.5)]), 2.0)
        if name == "half_tanh":
            return self.node("Tanh", [self.scale(x, 0.5)])
        if name == "relu6":
            return self.node("Clip", [x, self.const(0.0), self.const(6.0)])
        if name in ("silu", "swish"):
            return self.mul(x, self.node("Sigmoid", [x]))
        if name == "leaky_relu":
            return self.node("LeakyRelu", [x], alpha=0.2)
        if name == "softmax":
            return self.node("Softmax", [x], axis=-1)
        if name == "log_softmax":
            return self.node("LogSoftmax", [x], axis=-1)
        if name == "gelu":
            erf = self.node("Erf", [self.scale(x, 1.0 / math.sqrt(2.0))])
            return self.mul(self.scale(x, 0.5), self.add(erf, self.const(1.0)))
        raise NotExportable(f"{where}: the activation {name!r} has no ONNX form here.")

    def zeros_like_batch(self, x: str, size: int, batch_axis: int) -> str:
        """Zeros `(batch, size)` with the batch size read from axis `batch_axis` of `x`."""
        shape = self.node("Shape", [x])
        batch = self.node("Gather", [shape, self.const([batch_axis], np.int64)], axis=0)
        full = self.node("Concat", [batch, self.const([size], np.int64)], axis=0)
        return self.node("ConstantOfShape", [full],
                         value=helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0]))

    def model(self, inputs: list, outputs: list, name: str = "gated") -> Any:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="gated", ir_version=IR_VERSION)
        return model


def float_input(name: str, shape: list) -> Any:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def int_input(name: str, shape: list) -> Any:
    return helper.make_tensor_value_info(name, TensorProto.INT64, shape)
