"""Recurrent cells as ONNX: the standard cells as ONNX's `LSTM`/`GRU`/`RNN` operators; every
other variant (projection, layer norm, full gate recurrence, zoneout, other activations) and
any masked run as a `Scan` over its step written in standard operators (`onnx_scan`).

Each converter takes a time-major input `(time, batch, features)`, optional initial states
`(batch, n)` and a direction, and returns the time-major outputs (in input time order) and the
final states.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gated.export import layouts
from gated.export.onnx_graph import GraphBuilder, NotExportable
from gated.export.onnx_scan import _act_name, scan

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
         base: str, keep: str | None = None) -> tuple[str, list[str]]:
    """An `LSTMCell` over the time-major `x`: the `LSTM` operator where it fits (no mask),
    else `Scan`."""
    if keep is not None or not lstm_fits_operator(cell):
        return scan(g, cell, x, init, reverse, base, keep)
    weights = layouts.lstm_to_onnx(_np(cell.kernel), _np(cell.recurrent_kernel),
                                   _np(getattr(cell, "bias", None)) if cell.use_bias else None,
                                   cell.blocks, cell.gates,
                                   _np(cell.peephole_kernel) if cell.peephole else None)
    names = [_act_name(cell, a) for a in ("recurrent_activation", "input_activation",
                                          "output_activation")]
    return _operator(g, "LSTM", x, weights, init, reverse, cell.units, 2, base,
                     input_forget=int(cell.coupled_gates), **_op_attrs(names))


def gru(g: GraphBuilder, cell: Any, x: str, init: list[str] | None, reverse: bool,
        base: str, keep: str | None = None) -> tuple[str, list[str]]:
    """A `GRUCell`: ONNX's `GRU` operator, or a `Scan` with a mask or another activation."""
    names = [_act_name(cell, "recurrent_activation"), _act_name(cell, "activation")]
    if keep is not None or any(n not in _OP_ACTIVATIONS for n in names):
        return scan(g, cell, x, init, reverse, base, keep)
    weights = layouts.gru_to_onnx(_np(cell.kernel), _np(cell.recurrent_kernel),
                                  _np(cell.bias) if cell.use_bias else None)
    return _operator(g, "GRU", x, weights, init, reverse, cell.units, 1, base,
                     linear_before_reset=int(cell.reset_after), **_op_attrs(names))


def simple(g: GraphBuilder, cell: Any, x: str, init: list[str] | None, reverse: bool,
           base: str, keep: str | None = None) -> tuple[str, list[str]]:
    """A `SimpleRNNCell`: ONNX's `RNN` operator, or a `Scan` with a mask or another
    activation."""
    name = _act_name(cell, "activation")
    if keep is not None or name not in _OP_ACTIVATIONS:
        return scan(g, cell, x, init, reverse, base, keep)
    weights = layouts.simple_to_onnx(_np(cell.kernel), _np(cell.recurrent_kernel),
                                     _np(cell.bias) if cell.use_bias else None)
    return _operator(g, "RNN", x, weights, init, reverse, cell.units, 1, base,
                     **_op_attrs([name]))


def cell_converter(cell: Any) -> Any:
    """The converter of a built-in cell, or NotExportable naming it."""
    from gated.cells import GRUCell, LSTMCell, SimpleRNNCell

    for klass, fn in ((LSTMCell, lstm), (GRUCell, gru), (SimpleRNNCell, simple)):
        if type(cell) is klass:
            return fn
    raise NotExportable(f"Cell '{getattr(cell, 'name', '?')}' ({type(cell).__name__}) has no "
                        "ONNX export: only the built-in LSTM, GRU and SimpleRNN cells do.")
