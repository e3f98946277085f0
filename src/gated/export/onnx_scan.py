"""Recurrent cells as an ONNX `Scan` over their reference step written in standard operators:
every LSTM variant, GRU (both forms) and SimpleRNN, with or without a step mask.

The input projection of every step is one `MatMul` outside the loop; the body computes the
recurrent part. With a mask (a boolean `(time, batch, 1)` scan input) a padding step carries
the states and repeats the previous output (zero before the first real step), as gated's
engines do; the previous output is then one more loop state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto, helper

from gated.export.onnx_graph import GraphBuilder, NotExportable


def _np(p: Any) -> np.ndarray:
    return p.detach().cpu().numpy()


def _act_name(cell: Any, attr: str) -> str:
    """The table name of a cell's activation (NotExportable for a custom callable)."""
    from gated import activations

    name = activations.name_of(getattr(cell, attr))
    if name is None:
        raise NotExportable(f"Cell '{cell.name}': a custom activation ({attr}) cannot be "
                            "exported to ONNX; use a named activation.")
    return name


def _layer_norm(g: GraphBuilder, x: str, gamma: str, beta: str | None, eps: float) -> str:
    return g.node("LayerNormalization", [x, gamma] + ([beta] if beta else []), axis=-1,
                  epsilon=eps)


def _split(body: GraphBuilder, g: GraphBuilder, x: str, n: int, size: int) -> list[str]:
    parts = body.node("Split", [x, g.const([size] * n, np.int64)], n_out=n, axis=-1)
    return [parts] if isinstance(parts, str) else list(parts)


# ---------------------------------------------------------------------- projections
def _project(g: GraphBuilder, cell: Any, x: str, base: str) -> str:
    from gated.cells import GRUCell, LSTMCell

    xw = g.matmul(x, g.weight(f"{base}_kernel", _np(cell.kernel)))
    if isinstance(cell, LSTMCell) and cell.layer_norm:
        xw = _layer_norm(g, xw, g.weight(f"{base}_gx", _np(cell.input_norm_gamma)), None,
                         cell.layer_norm_epsilon)
    if not cell.use_bias:
        return xw
    bias = _np(cell.bias)
    if isinstance(cell, GRUCell) and cell.reset_after:
        bias = bias[0]
    return g.add(xw, g.weight(f"{base}_bias", bias))


# ---------------------------------------------------------------------- step bodies
def _lstm_step(body: GraphBuilder, g: GraphBuilder, cell: Any, s_in: list[str], xw_t: str,
               base: str) -> tuple[str, list[str]]:
    u, eps, where = cell.units, cell.layer_norm_epsilon, f"Cell '{cell.name}'"
    h_prev, c_prev = s_in[0], s_in[1]
    hu = body.matmul(h_prev, g.weight(f"{base}_recurrent", _np(cell.recurrent_kernel)))
    if cell.layer_norm:
        hu = _layer_norm(body, hu, g.weight(f"{base}_gh", _np(cell.recurrent_norm_gamma)),
                         None, eps)
    z = dict(zip(cell.blocks, _split(body, g, body.add(xw_t, hu), len(cell.blocks), u),
                 strict=True))
    if cell.full_gate_recurrence:
        fg = body.matmul(s_in[2], g.weight(f"{base}_fgr", _np(cell.gate_recurrent_kernel)))
        for name, part in zip(cell.gates, _split(body, g, fg, len(cell.gates), u), strict=True):
            z[name] = body.add(z[name], part)
    peep = {}
    if cell.peephole:
        pk = _np(cell.peephole_kernel)
        peep = {name: g.weight(f"{base}_p{name}", pk[k])
                for k, name in enumerate(cell.peephole_gates)}
    sigma = _act_name(cell, "recurrent_activation")

    def gate(name: str, c_seen: str) -> str:
        pre = body.add(z[name], body.mul(peep[name], c_seen)) if name in peep else z[name]
        return body.activation(sigma, pre, where)

    i = gate("i", c_prev) if "i" in z else None
    if cell.coupled_gates:
        f = body.sub(g.const(1.0), i)
    else:
        f = gate("f", c_prev) if "f" in z else None
    g_in = body.activation(_act_name(cell, "input_activation"), z["c"], where)
    c = body.add(c_prev if f is None else body.mul(f, c_prev),
                 g_in if i is None else body.mul(i, g_in))
    cell_out = c
    if cell.layer_norm:
        cell_out = _layer_norm(body, c, g.weight(f"{base}_gc", _np(cell.cell_norm_gamma)),
                               g.weight(f"{base}_bc", _np(cell.cell_norm_beta)), eps)
    y = body.activation(_act_name(cell, "output_activation"), cell_out, where)
    o = gate("o", c) if "o" in z else None
    if o is not None:
        y = body.mul(o, y)
    if cell.proj_size:
        y = body.matmul(y, g.weight(f"{base}_projection", _np(cell.projection_kernel)))
    if cell.zoneout_cell:
        zc = cell.zoneout_cell
        c = body.add(body.scale(c_prev, zc), body.scale(c, 1.0 - zc))
    if cell.zoneout_hidden:
        zh = cell.zoneout_hidden
        y = body.add(body.scale(h_prev, zh), body.scale(y, 1.0 - zh))
    new = [y, c]
    if cell.full_gate_recurrence:
        acts = {"i": i, "f": f, "o": o}
        new.append(body.node("Concat", [acts[name] for name in cell.gates], axis=-1))
    return y, new


def _gru_step(body: GraphBuilder, g: GraphBuilder, cell: Any, s_in: list[str], xw_t: str,
              base: str) -> tuple[str, list[str]]:
    u, where, h = cell.units, f"Cell '{cell.name}'", s_in[0]
    sigma, phi = _act_name(cell, "recurrent_activation"), _act_name(cell, "activation")
    x_z, x_r, x_h = _split(body, g, xw_t, 3, u)
    recurrent = _np(cell.recurrent_kernel)
    if cell.reset_after:
        hu = body.matmul(h, g.weight(f"{base}_recurrent", recurrent))
        if cell.use_bias:
            hu = body.add(hu, g.weight(f"{base}_recurrent_bias", _np(cell.bias)[1]))
        h_z, h_r, h_h = _split(body, g, hu, 3, u)
        z = body.activation(sigma, body.add(x_z, h_z), where)
        r = body.activation(sigma, body.add(x_r, h_r), where)
        cand = body.activation(phi, body.add(x_h, body.mul(r, h_h)), where)
    else:
        h_z, h_r = _split(body, g, body.matmul(h, g.weight(f"{base}_recurrent_zr",
                                                           recurrent[:, :2 * u])), 2, u)
        z = body.activation(sigma, body.add(x_z, h_z), where)
        r = body.activation(sigma, body.add(x_r, h_r), where)
        rh = body.matmul(body.mul(r, h), g.weight(f"{base}_recurrent_h", recurrent[:, 2 * u:]))
        cand = body.activation(phi, body.add(x_h, rh), where)
    new = body.add(body.mul(z, h), body.mul(body.sub(g.const(1.0), z), cand))
    return new, [new]


def _simple_step(body: GraphBuilder, g: GraphBuilder, cell: Any, s_in: list[str], xw_t: str,
                 base: str) -> tuple[str, list[str]]:
    hu = body.matmul(s_in[0], g.weight(f"{base}_recurrent", _np(cell.recurrent_kernel)))
    h = body.activation(_act_name(cell, "activation"), body.add(xw_t, hu),
                        f"Cell '{cell.name}'")
    return h, [h]


def _step_of(cell: Any) -> Any:
    from gated.cells import GRUCell, LSTMCell

    if isinstance(cell, LSTMCell):
        return _lstm_step
    return _gru_step if isinstance(cell, GRUCell) else _simple_step


# ---------------------------------------------------------------------- the loop
def scan(g: GraphBuilder, cell: Any, x: str, init: list[str] | None, reverse: bool,
         base: str, keep: str | None = None) -> tuple[str, list[str]]:
    """`cell` over the time-major `x` as a `Scan`; `keep` an optional boolean
    `(time, batch, 1)` step mask. Returns the time-major outputs (input time order) and the
    final states."""
    xw = _project(g, cell, x, base)
    sizes = [int(n) for n in cell.state_size]
    if init is None:
        init = [g.zeros_like_batch(x, n, 1) for n in sizes]
    body = g.child()
    s_in = [body.name(f"{base}_state{k}_in") for k in range(len(sizes))]
    xw_t = body.name(f"{base}_xw_t")
    y, new = _step_of(cell)(body, g, cell, s_in, xw_t, base)
    extra_in, loop_in, scan_in = [], [], []
    if keep is not None:
        keep_t, y_prev = body.name(f"{base}_keep_t"), body.name(f"{base}_y_prev")
        new = [body.node("Where", [keep_t, n, s], base=f"{base}_kept")
               for n, s in zip(new, s_in, strict=True)]
        y = body.node("Where", [keep_t, y, y_prev], base=f"{base}_y_kept")
        extra_in, scan_in = [y_prev], [keep_t]
        loop_in = [g.zeros_like_batch(x, int(cell.output_size), 1)]
    # body outputs must be distinct tensors: copy each through Identity
    outs = [body.node("Identity", [t], base=f"{base}_state{k}_out") for k, t in enumerate(new)]
    if keep is not None:
        outs.append(body.node("Identity", [y], base=f"{base}_y_prev_out"))
    y_out = body.node("Identity", [y], base=f"{base}_y_t")
    f32 = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info(n, f32, [None, None])
              for n in [*s_in, *extra_in, xw_t]]
    if keep is not None:
        inputs.append(helper.make_tensor_value_info(scan_in[0], TensorProto.BOOL, [None, 1]))
    graph = helper.make_graph(
        body.nodes, f"{base}_step", inputs,
        [helper.make_tensor_value_info(n, f32, [None, None]) for n in [*outs, y_out]])
    n_loop = len(outs)
    scans = [xw] + ([keep] if keep is not None else [])
    results = g.node("Scan", [*init, *loop_in, *scans], n_out=n_loop + 1, base=f"{base}_scan",
                     body=graph, num_scan_inputs=len(scans),
                     scan_input_directions=[int(reverse)] * len(scans),
                     scan_output_directions=[int(reverse)])
    return results[-1], list(results[:len(sizes)])
