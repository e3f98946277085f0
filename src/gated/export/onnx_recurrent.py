"""Recurrent cells as ONNX: the standard cells as ONNX's `LSTM`/`GRU`/`RNN` operators, every
other LSTM variant (projection, layer norm, full gate recurrence, zoneout, other activations)
as a `Scan` over its step written in standard operators.

Each converter takes a time-major input `(time, batch, features)`, optional initial states
`(batch, n)` and a direction, and returns the time-major outputs (in input time order) and the
final states.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto, helper

from gated.export import layouts
from gated.export.onnx_graph import GraphBuilder, NotExportable

#: gated activation -> (ONNX RNN-operator activation, alpha, beta).
_OP_ACTIVATIONS = {
    "tanh": ("Tanh", None, None), "sigmoid": ("Sigmoid", None, None),
    "relu": ("Relu", None, None), "linear": ("Affine", 1.0, 0.0),
    "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5), "tanh2": ("ScaledTanh", 2.0, 0.5),
    "half_tanh": ("ScaledTanh", 1.0, 0.5),
}
#: Gate activations that reach exactly 1.0 at a saturating bias (an absent gate's stand-in).
_SATURATING = ("sigmoid", "hard_sigmoid", "tanh")


def _np(p: Any) -> np.ndarray | None:
    return None if p is None else p.detach().cpu().numpy()


def _act_name(cell: Any, attr: str) -> str:
    from gated import activations

    name = activations.name_of(getattr(cell, attr))
    if name is None:
        raise NotExportable(f"Cell '{cell.name}': a custom activation ({attr}) cannot be "
                            "exported to ONNX; use a named activation.")
    return name


def _op_attrs(names: list[str]) -> dict:
    acts, alphas, betas = [], [], []
    for name in names:
        op, alpha, beta = _OP_ACTIVATIONS[name]
        acts.append(op)
        if alpha is not None:
            alphas.append(alpha)
            betas.append(beta)
    attrs: dict[str, Any] = {"activations": acts}
    if alphas:
        attrs.update(activation_alpha=alphas, activation_beta=betas)
    return attrs


def lstm_fits_operator(cell: Any) -> bool:
    """Whether ONNX's `LSTM` operator computes this cell exactly."""
    if cell.proj_size or cell.layer_norm or cell.full_gate_recurrence or cell.zoneout_cell \
            or cell.zoneout_hidden:
        return False
    names = [_act_name(cell, a) for a in ("recurrent_activation", "input_activation",
                                          "output_activation")]
    if any(n not in _OP_ACTIVATIONS for n in names):
        return False
    absent = len(cell.blocks) < 4 and not (cell.coupled_gates and len(cell.blocks) == 3)
    return not absent or names[0] in _SATURATING


def _unsqueeze(g: GraphBuilder, x: str, axis: int) -> str:
    return g.node("Unsqueeze", [x, g.const([axis], np.int64)])


def _squeeze(g: GraphBuilder, x: str, axis: int) -> str:
    return g.node("Squeeze", [x, g.const([axis], np.int64)])


def _operator(g: GraphBuilder, op: str, x: str, weights: tuple, init: list[str] | None,
              reverse: bool, hidden: int, n_states: int, base: str,
              **attrs: Any) -> tuple[str, list[str]]:
    names = [x] + [g.weight(f"{base}_{k}", w[None]) for k, w in zip("WRB", weights[:3],
                                                                    strict=True)]
    names.append("")  # sequence_lens
    states = [_unsqueeze(g, s, 0) for s in init] if init else [""] * n_states
    names += states
    if op == "LSTM":
        names.append(g.weight(f"{base}_P", weights[3][None]))
    while names and names[-1] == "":
        names.pop()
    outs = g.node(op, names, n_out=1 + n_states, base=base, hidden_size=hidden,
                  direction="reverse" if reverse else "forward", **attrs)
    return _squeeze(g, outs[0], 1), [_squeeze(g, s, 0) for s in outs[1:]]


def lstm(g: GraphBuilder, cell: Any, x: str, init: list[str] | None, reverse: bool,
         base: str) -> tuple[str, list[str]]:
    """An `LSTMCell` over the time-major `x`: the `LSTM` operator where it fits, else `Scan`."""
    if not lstm_fits_operator(cell):
        return lstm_scan(g, cell, x, init, reverse, base)
    weights = layouts.lstm_to_onnx(_np(cell.kernel), _np(cell.recurrent_kernel),
                                   _np(getattr(cell, "bias", None)) if cell.use_bias else None,
                                   cell.blocks, cell.gates,
                                   _np(cell.peephole_kernel) if cell.peephole else None)
    names = [_act_name(cell, a) for a in ("recurrent_activation", "input_activation",
                                          "output_activation")]
    return _operator(g, "LSTM", x, weights, init, reverse, cell.units, 2, base,
                     input_forget=int(cell.coupled_gates), **_op_attrs(names))


def gru(g: GraphBuilder, cell: Any, x: str, init: list[str] | None, reverse: bool,
        base: str) -> tuple[str, list[str]]:
    names = [_act_name(cell, "recurrent_activation"), _act_name(cell, "activation")]
    if any(n not in _OP_ACTIVATIONS for n in names):
        raise NotExportable(f"Cell '{cell.name}': ONNX's GRU has no activation {names}.")
    weights = layouts.gru_to_onnx(_np(cell.kernel), _np(cell.recurrent_kernel),
                                  _np(cell.bias) if cell.use_bias else None)
    return _operator(g, "GRU", x, weights, init, reverse, cell.units, 1, base,
                     linear_before_reset=int(cell.reset_after), **_op_attrs(names))


def simple(g: GraphBuilder, cell: Any, x: str, init: list[str] | None, reverse: bool,
           base: str) -> tuple[str, list[str]]:
    name = _act_name(cell, "activation")
    if name not in _OP_ACTIVATIONS:
        raise NotExportable(f"Cell '{cell.name}': ONNX's RNN has no activation {name!r}.")
    weights = layouts.simple_to_onnx(_np(cell.kernel), _np(cell.recurrent_kernel),
                                     _np(cell.bias) if cell.use_bias else None)
    return _operator(g, "RNN", x, weights, init, reverse, cell.units, 1, base,
                     **_op_attrs([name]))


def _layer_norm(g: GraphBuilder, x: str, gamma: str, beta: str | None, eps: float) -> str:
    inputs = [x, gamma] + ([beta] if beta else [])
    return g.node("LayerNormalization", inputs, axis=-1, epsilon=eps)


def lstm_scan(g: GraphBuilder, cell: Any, x: str, init: list[str] | None, reverse: bool,
              base: str) -> tuple[str, list[str]]:
    """Any `LSTMCell` as a `Scan` whose body is the reference step in standard operators."""
    u, eps = cell.units, cell.layer_norm_epsilon
    where = f"Cell '{cell.name}'"
    kernel = g.weight(f"{base}_kernel", _np(cell.kernel))
    # the input projection of every step at once, outside the loop
    xw = g.matmul(x, kernel)
    if cell.layer_norm:
        xw = _layer_norm(g, xw, g.weight(f"{base}_gx", _np(cell.input_norm_gamma)), None, eps)
    if cell.use_bias:
        xw = g.add(xw, g.weight(f"{base}_bias", _np(cell.bias)))
    sizes = [int(n) for n in cell.state_size]
    if init is None:
        init = [g.zeros_like_batch(x, n, 1) for n in sizes]

    body = g.child()
    s_in = [body.name(f"{base}_state{k}_in") for k in range(len(sizes))]
    xw_t = body.name(f"{base}_xw_t")
    h_prev, c_prev = s_in[0], s_in[1]
    hu = body.matmul(h_prev, g.weight(f"{base}_recurrent", _np(cell.recurrent_kernel)))
    if cell.layer_norm:
        hu = _layer_norm(body, hu, g.weight(f"{base}_gh", _np(cell.recurrent_norm_gamma)),
                         None, eps)
    z_all = body.add(xw_t, hu)
    parts = body.node("Split", [z_all, g.const([u] * len(cell.blocks), np.int64)],
                      n_out=len(cell.blocks), axis=-1)
    parts = [parts] if isinstance(parts, str) else parts
    z = dict(zip(cell.blocks, parts, strict=True))
    if cell.full_gate_recurrence:
        fg = body.matmul(s_in[2], g.weight(f"{base}_fgr", _np(cell.gate_recurrent_kernel)))
        fparts = body.node("Split", [fg, g.const([u] * len(cell.gates), np.int64)],
                           n_out=len(cell.gates), axis=-1)
        fparts = [fparts] if isinstance(fparts, str) else fparts
        for name, part in zip(cell.gates, fparts, strict=True):
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
    # body outputs must be distinct tensors: copy each through Identity
    outs = [body.node("Identity", [t], base=f"{base}_state{k}_out") for k, t in enumerate(new)]
    y_out = body.node("Identity", [y], base=f"{base}_y_t")
    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        body.nodes, f"{base}_step",
        [helper.make_tensor_value_info(n, f32, [None, None]) for n in [*s_in, xw_t]],
        [helper.make_tensor_value_info(n, f32, [None, None]) for n in [*outs, y_out]])
    n = len(sizes)
    results = g.node("Scan", [*init, xw], n_out=n + 1, base=f"{base}_scan", body=graph,
                     num_scan_inputs=1, scan_input_directions=[int(reverse)],
                     scan_output_directions=[int(reverse)])
    return results[-1], list(results[:-1])


def cell_converter(cell: Any) -> Any:
    """The converter of a built-in cell, or NotExportable naming it."""
    from gated.cells import GRUCell, LSTMCell, SimpleRNNCell

    for klass, fn in ((LSTMCell, lstm), (GRUCell, gru), (SimpleRNNCell, simple)):
        if type(cell) is klass:
            return fn
    raise NotExportable(f"Cell '{getattr(cell, 'name', '?')}' ({type(cell).__name__}) has no "
                        "ONNX export: only the built-in LSTM, GRU and SimpleRNN cells do.")
