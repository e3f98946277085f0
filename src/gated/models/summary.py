"""Keras 3's `model.summary()` table, drawn with box characters like Keras' rich output."""

from __future__ import annotations

from typing import Any

from gated.layer import Layer, format_shape


def readable_size(num_bytes: float) -> str:
    """Keras' memory size text: '40.82 KB' (powers of 1024)."""
    units = ["B", "KB", "MB", "GB", "TB"]
    size, k = float(num_bytes), 0
    while size >= 1024 and k < len(units) - 1:
        size /= 1024
        k += 1
    return f"{size:.2f} {units[k]}"


def _shape_text(shape: Any) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    return format_shape(shape)


def _rows(model: Any) -> tuple[list[list[str]], bool]:
    rows: list[list[str]] = []
    graph = getattr(model, "_graph", None)
    if graph is not None:
        # Keras' order: the model's layers (inputs first), each with its calls in this graph.
        rank = {id(layer): k for k, layer in enumerate(graph.all_layers)}
        nodes = sorted(graph.nodes, key=lambda n: rank.get(id(n.layer), len(rank)))
        for node in nodes:
            layer = node.layer
            if node.outputs is not None:
                shapes = [t.shape for t in node.outputs]
                outs = shapes[0] if len(shapes) == 1 else shapes
            else:
                outs = layer.compute_output_shape(layer._build_input_shape)
            params = sum(p.numel() for p in layer.parameters())
            sources = [t for t in _inputs_of(node)]
            connected = ", ".join(f"{t.node.layer.name}[{_node_index(t)}][{t.index}]"
                                  for t in sources) or "-"
            rows.append([f"{layer.name} ({type(layer).__name__})", _shape_text(outs),
                         f"{params:,}", connected])
        return rows, True
    shape = model._input_shape if hasattr(model, "_input_shape") else None
    known = getattr(model, "_layer_output_shapes", None)
    for k, layer in enumerate(model.layers):
        if known is not None and len(known) == len(model.layers) and model.built:
            shape = known[k]
            text = "?" if shape is None else _shape_text(shape)
        elif shape is not None and isinstance(layer, Layer):
            shape = layer.compute_output_shape(shape)
            text = _shape_text(shape)
            if isinstance(shape, list):
                shape = shape[0]
        else:
            text, shape = "?", None
        built = getattr(layer, "built", True)
        params = f"{sum(p.numel() for p in layer.parameters()):,}" if built else "0 (unbuilt)"
        rows.append([f"{layer.name} ({type(layer).__name__})", text, params])
    return rows, False


def _node_index(tensor: Any) -> int:
    nodes = getattr(tensor.node.layer, "_inbound_nodes", [])
    return nodes.index(tensor.node) if tensor.node in nodes else 0


def _inputs_of(node: Any) -> list:
    from gated.models.functional import _tensors_in

    return _tensors_in(node.inputs) + _tensors_in(node.call_kwargs)


def summary_text(model: Any, line_length: int | None = None,
                 show_trainable: bool = False) -> str:
    rows, connected = _rows(model)
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else [])
    widths = [max(31, *(len(r[0]) + 2 for r in rows)) if rows else 31,
              max(22, *(len(r[1]) + 2 for r in rows)) if rows else 22, 13]
    if connected:
        widths.append(max(18, *(len(r[3]) + 2 for r in rows)) if rows else 18)
    align = ["<", "<", ">", "<"]

    def line(left: str, mid: str, right: str, fill: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def row(cells: list[str], sep: str) -> str:
        return sep + sep.join(f" {c:{a}{w}} " for c, a, w in zip(cells, align, widths,
                                                                   strict=False)) + sep

    out = [f'Model: "{model.name}"', line("┏", "┳", "┓", "━"), row(headers, "┃"),
           line("┡", "╇", "┩", "━")]
    for k, r in enumerate(rows):
        out.append(row(r, "│"))
        if k < len(rows) - 1:
            out.append(line("├", "┼", "┤", "─"))
    out.append(line("└", "┴", "┘", "─"))
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    nbytes = sum(p.numel() * p.element_size() for p in params)
    tbytes = sum(p.numel() * p.element_size() for p in params if p.requires_grad)
    out.append(f" Total params: {total:,} ({readable_size(nbytes)})")
    out.append(f" Trainable params: {trainable:,} ({readable_size(tbytes)})")
    out.append(f" Non-trainable params: {total - trainable:,} ({readable_size(nbytes - tbytes)})")
    return "\n".join(out)
