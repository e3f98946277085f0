"""The functional API's symbolic values: `KerasTensor` (a shape, a dtype, the call that made
it) and `Node` (one recorded layer call).

`gated.layers.Input(shape=...)` returns a `KerasTensor`; calling a layer on one records a
`Node` instead of computing, and `gated.models.Model(inputs, outputs)` replays the nodes on
real tensors. As in Keras, a symbolic tensor carries `_keras_mask` (a boolean `KerasTensor`)
when the layer that produced it emits a mask.
"""

from __future__ import annotations

from typing import Any

import torch


def format_shape(shape: Any) -> str:
    if shape is None:
        return "None"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")"
    )


class Node:
    """One recorded layer call of the functional API: the layer, its inputs, its kwargs, and
    (once known) the `KerasTensor`s it produced."""

    def __init__(self, layer: Any, inputs: Any, call_kwargs: dict | None = None) -> None:
        self.layer = layer
        self.inputs = inputs
        self.call_kwargs = call_kwargs or {}
        self.outputs: Any = None


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
        self._keras_mask: KerasTensor | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        dtype = str(self.dtype).replace("torch.", "")
        return f"<KerasTensor shape={format_shape(self.shape)}, dtype={dtype}, name={self.name}>"


def flatten(x: Any) -> list:
    """The leaves of nested lists and tuples, in order."""
    if isinstance(x, (list, tuple)):
        out = []
        for item in x:
            out.extend(flatten(item))
        return out
    return [x]


def map_structure(fn: Any, value: Any) -> Any:
    """`fn` applied to every leaf of nested lists, tuples and dicts (structure kept)."""
    if isinstance(value, list):
        return [map_structure(fn, v) for v in value]
    if isinstance(value, tuple):
        return tuple(map_structure(fn, v) for v in value)
    if isinstance(value, dict):
        return {k: map_structure(fn, v) for k, v in value.items()}
    return fn(value)
