"""Calling a layer on symbolic `KerasTensor`s: records a `Node` and returns symbolic outputs.

The output shapes come from `compute_output_shape`. A user layer that does not define it is
run once on small zero tensors (twice, with two sizes for the unknown axes, so that an axis
that follows an unknown input axis stays unknown), which is what Keras' `compute_output_spec`
does by tracing `call`. Masks (`_keras_mask`) are found the same way: `compute_mask` on zero
tensors says which outputs carry one, and each output gets its own.
"""

from __future__ import annotations

from typing import Any

import torch

from gated.keras_tensor import KerasTensor, Node, flatten, map_structure

_SIZES = (2, 3)  # stand-ins for unknown axes (batch, time) in the trial runs


def _is_shape_list(shape: Any) -> bool:
    return isinstance(shape, (list, tuple)) and len(shape) > 0 and all(
        isinstance(s, (list, tuple)) for s in shape)


def _zeros(value: Any, size: int) -> Any:
    def make(v: Any) -> Any:
        if not isinstance(v, KerasTensor):
            return v
        t = torch.zeros([size if d is None else d for d in v.shape], dtype=v.dtype)
        if v._keras_mask is not None:
            t._keras_mask = torch.ones([size if d is None else d for d in v._keras_mask.shape],
                                       dtype=torch.bool)
        return t

    return map_structure(make, value)


def _trial(layer: Any, inputs: Any, kwargs: dict, size: int) -> Any:
    was_training = layer.training
    layer.train(False)
    try:
        with torch.no_grad():
            out = layer(_zeros(inputs, size), **_zeros(kwargs, size))
    finally:
        layer.train(was_training)
        layer._clear_losses()
    return out


def _inferred_specs(layer: Any, inputs: Any, kwargs: dict) -> tuple[Any, list]:
    """(shape structure, flat [(dtype, mask shape or None)]) from two trial runs."""
    runs = [_trial(layer, inputs, kwargs, size) for size in _SIZES]
    flat_a, flat_b = flatten(runs[0]), flatten(runs[1])

    def shape_of(a: torch.Tensor, b: torch.Tensor) -> tuple:
        shape = tuple(None if k == 0 or da != db else da
                      for k, (da, db) in enumerate(zip(a.shape, b.shape, strict=True)))
        return shape

    shapes, extras = [], []
    for a, b in zip(flat_a, flat_b, strict=True):
        if not isinstance(a, torch.Tensor):
            raise TypeError(f"Layer '{layer.name}' returned {type(a).__name__} from a symbolic "
                            "call; a layer in a functional model must return tensors.")
        shape = shape_of(a, b)
        shapes.append(shape)
        mask_a, mask_b = getattr(a, "_keras_mask", None), getattr(b, "_keras_mask", None)
        mask_shape = shape_of(mask_a, mask_b) if mask_a is not None and mask_b is not None \
            else None
        extras.append((a.dtype, mask_shape))
    structure = shapes if isinstance(runs[0], (list, tuple)) else shapes[0]
    return structure, extras


def _builtin_masks(layer: Any, inputs: Any, out_shapes: list, own_mask: bool) -> list:
    first = flatten(inputs)[0]
    if first._keras_mask is None and not own_mask:
        return [None] * len(out_shapes)
    size = _SIZES[0]
    dummy = _zeros(inputs, size)
    dummy_first = flatten(dummy)[0]
    try:
        with torch.no_grad():
            masks = layer.compute_mask(dummy, getattr(dummy_first, "_keras_mask", None))
    except Exception:  # noqa: BLE001 - a mask that cannot be computed on zeros is not shown
        masks = None
    flat = flatten(masks) if masks is not None else []
    out = []
    for k, shape in enumerate(out_shapes):
        m = flat[k] if k < len(flat) else None
        out.append(None if m is None else tuple(shape[:m.ndim]))
    return out


def symbolic_call(layer: Any, inputs: Any, args: tuple, kwargs: dict, infer_shapes: bool,
                  own_mask: bool) -> Any:
    """Record `layer(inputs, **kwargs)` on symbolic tensors; return symbolic outputs.

    `infer_shapes`: find output shapes by trial runs (a user layer without
    `compute_output_shape`); `own_mask`: the layer defines its own `compute_mask`.
    """
    if args:
        raise TypeError(
            f"Layer '{layer.name}': positional arguments after the inputs are not supported "
            "in the functional API; pass them as keywords."
        )
    first = next(t for t in flatten(inputs) if isinstance(t, KerasTensor))
    shapes = first.shape if layer._builtin else map_structure(
        lambda t: t.shape if isinstance(t, KerasTensor) else None, inputs)
    layer._maybe_build(shapes)
    layer._check_input(first.shape)
    if infer_shapes:
        out_shape, extras = _inferred_specs(layer, inputs, kwargs)
    else:
        out_shape = layer.compute_output_shape(shapes)
        many = _is_shape_list(out_shape)
        flat_shapes = [tuple(s) for s in out_shape] if many else [tuple(out_shape)]
        masks = _builtin_masks(layer, inputs, flat_shapes, own_mask)
        extras = [(layer.dtype, m) for m in masks]
    node = Node(layer, inputs, kwargs)
    many = _is_shape_list(out_shape)
    flat_shapes = [tuple(s) for s in out_shape] if many else [tuple(out_shape)]
    outputs = []
    for k, (shape, (dtype, mask_shape)) in enumerate(zip(flat_shapes, extras, strict=True)):
        tensor = KerasTensor(shape, dtype, node, index=k, name=layer.name)
        if mask_shape is not None:
            tensor._keras_mask = KerasTensor(mask_shape, torch.bool, None,
                                             name=f"{layer.name}_mask")
        outputs.append(tensor)
    node.outputs = outputs
    layer._inbound_nodes.append(node)
    return outputs if many else outputs[0]
