"""The layers of the torch-free runtime: each is built from its saved config and weights and
runs a chunk of steps, `run(x (batch, time, ...), keep (batch, time) | None, states) ->
(y, keep, states)`, carrying the same states (under the same names) as `gated.runtime.Stream`.
A masked step (keep False) carries the state and repeats the previous output, as in Keras.
Imports NumPy only.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np

from gated.runtime.numpy_cells import (
    CELLS,
    LAYER_CELLS,
    Unsupported,
    activation,
    layer_norm,
)


def _where(keep: np.ndarray, new: np.ndarray, old: np.ndarray) -> np.ndarray:
    return np.where(keep.reshape(-1, *([1] * (new.ndim - 1))), new, old)


class _Layer:
    """A stateless per-step layer."""

    stateful = False
    collapses = False

    def __init__(self, name: str, fn: Any, keeps_mask: bool = True) -> None:
        self.name, self.fn, self.keeps_mask = name, fn, keeps_mask

    def state_shapes(self, batch: int) -> dict:
        return {}

    def run(self, x: np.ndarray, keep: Any, states: list) -> tuple[Any, Any, list]:
        return self.fn(x), (keep if self.keeps_mask else None), states


class _Masking(_Layer):
    def run(self, x, keep, states):
        mine = np.any(x != self.fn, axis=-1)
        return x * mine[..., None].astype(x.dtype), mine, states


class _Embedding(_Layer):
    def __init__(self, name: str, table: np.ndarray, mask_zero: bool) -> None:
        super().__init__(name, None)
        self.table, self.mask_zero = table, mask_zero

    def run(self, x, keep, states):
        ids = np.asarray(x).astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.table)):
            raise ValueError(f"Layer '{self.name}' received ids in [{ids.min()}, {ids.max()}], "
                             f"expected ids in [0, {len(self.table) - 1}].")
        return self.table[ids], ((ids != 0) if self.mask_zero else None), states


class _Recurrent(_Layer):
    stateful = True

    def __init__(self, name: str, cells: list, cfg: dict) -> None:
        super().__init__(name, None)
        self.cells = cells
        self.collapses = not cfg.get("return_sequences", False)
        self.zero_output = bool(cfg.get("zero_output_for_mask", False))
        if cfg.get("return_state"):
            raise Unsupported(f"Layer '{name}': return_state=True is not supported by the "
                              "NumPy runtime.")
        self.go_backwards = bool(cfg.get("go_backwards", False))

    def state_shapes(self, batch: int) -> dict:
        shapes = {f"cell{k}.state{j}": (batch, n) for k, cell in enumerate(self.cells)
                  for j, n in enumerate(cell.state_sizes)}
        shapes["output"] = (batch, self.cells[-1].output_size)
        return shapes

    def run(self, x, keep, states):
        if self.go_backwards:
            raise Unsupported(f"Layer '{self.name}': go_backwards=True cannot stream.")
        return self.scan(x, keep, states)

    def scan(self, x, keep, states):
        new_states, k = [], 0
        for cell in self.cells:
            n = len(cell.state_sizes)
            s = list(states[k:k + n])
            k += n
            xw = cell.project(x)
            ys = []
            for t in range(x.shape[1]):
                y, new = cell.step(xw[:, t], s)
                if keep is not None:
                    new = [_where(keep[:, t], a, b) for a, b in zip(new, s, strict=True)]
                ys.append(y)
                s = new
            new_states.extend(s)
            x = np.stack(ys, axis=1)
        y_prev = states[-1]
        if keep is not None:  # masked steps repeat the previous output
            outs = []
            for t in range(x.shape[1]):
                y_prev = _where(keep[:, t], x[:, t], y_prev)
                outs.append(y_prev)
            x = np.stack(outs, axis=1)
            if self.zero_output:
                x = x * keep[..., None].astype(x.dtype)
        else:
            y_prev = x[:, -1]
        return x, (None if self.collapses else keep), [*new_states, y_prev]


class _Bidirectional(_Layer):
    def __init__(self, name: str, forward: _Recurrent, backward: _Recurrent, cfg: dict) -> None:
        super().__init__(name, None)
        self.forward, self.backward = forward, backward
        self.merge = cfg.get("merge_mode", "concat")
        if self.merge is None or forward.go_backwards or not backward.go_backwards:
            raise Unsupported(f"Layer '{name}': this Bidirectional configuration is not "
                              "supported by the NumPy runtime.")
        self.collapses = forward.collapses

    def run(self, x, keep, states):
        raise Unsupported(f"Layer '{self.name}' (Bidirectional) cannot stream: its backward "
                          "direction needs the future of the sequence.")

    def predict(self, x, keep):
        batch = x.shape[0]
        zeros = lambda layer: [np.zeros(s, x.dtype) for s in  # noqa: E731
                               layer.state_shapes(batch).values()]
        fw, _, _ = self.forward.scan(x, keep, zeros(self.forward))
        rkeep = None if keep is None else keep[:, ::-1]
        bw, _, _ = self.backward.scan(x[:, ::-1], rkeep, zeros(self.backward))
        if self.collapses:
            fw, bw = fw[:, -1], bw[:, -1]
        else:
            bw = bw[:, ::-1]
        merged = {"concat": lambda: np.concatenate([fw, bw], axis=-1), "sum": lambda: fw + bw,
                  "mul": lambda: fw * bw, "ave": lambda: (fw + bw) / 2}[self.merge]()
        return merged, (None if self.collapses else keep)


def _weights_of(weights: dict, name: str) -> dict:
    """The weights under layer `name` (Sequential: `name.…`; functional: `layer_<i>_name.…`),
    keyed by their path inside the layer."""
    pattern = re.compile(rf"^(?:layer_\d+_)?{re.escape(name)}\.(.+)$")
    out = {}
    for key, value in weights.items():
        m = pattern.match(key)
        if m:
            out[m.group(1)] = value
    return out


def _rnn(name: str, cls: str, cfg: dict, w: dict, where: str) -> _Recurrent:
    if cls in LAYER_CELLS:
        cells = [LAYER_CELLS[cls](cfg, w, "cell.", where)]
    else:
        cell = cfg["cell"]
        if cell["class_name"] == "StackedRNNCells":
            subs = cell["config"]["cells"]
            prefixes = [f"cell.cells.{k}." for k in range(len(subs))]
        else:
            subs, prefixes = [cell], ["cell."]
        cells = []
        for sub, prefix in zip(subs, prefixes, strict=True):
            if sub["class_name"] not in CELLS:
                raise Unsupported(f"{where}: the cell {sub['class_name']!r} is not supported by "
                                  "the NumPy runtime.")
            cells.append(CELLS[sub["class_name"]](sub["config"], w, prefix, where))
    return _Recurrent(name, cells, cfg)


def build_layer(spec: dict, w: dict) -> _Layer:
    """A runtime layer from its saved `{"class_name", "config"}` and its weights."""
    cls, cfg = spec["class_name"], spec["config"]
    name = cfg.get("name", cls)
    where = f"Layer '{name}' ({cls})"
    if cls in LAYER_CELLS or cls == "RNN":
        return _rnn(name, cls, cfg, w, where)
    if cls == "Dense":
        act, kernel, bias = activation(cfg.get("activation"), where), w["kernel"], w.get("bias")
        return _Layer(name, lambda x: act(x @ kernel + bias if bias is not None
                                          else x @ kernel))
    if cls == "Activation":
        return _Layer(name, activation(cfg.get("activation"), where))
    if cls == "Dropout":
        return _Layer(name, lambda x: x)
    if cls == "LayerNormalization":
        gamma, beta, eps = w.get("gamma"), w.get("beta"), float(cfg.get("epsilon", 1e-3))
        return _Layer(name, lambda x: layer_norm(x, gamma, beta, eps))
    if cls in ("Add", "Multiply", "Average"):
        op = {"Add": np.add, "Multiply": np.multiply, "Average": np.add}[cls]
        scale = 1.0 if cls != "Average" else None
        return _Layer(name, lambda xs: functools.reduce(op, xs) * (
            scale if scale is not None else 1.0 / len(xs)))
    if cls == "Concatenate":
        axis = int(cfg.get("axis", -1))
        return _Layer(name, lambda xs: np.concatenate(xs, axis=axis))
    if cls == "Embedding":
        return _Embedding(name, w["embeddings"], bool(cfg.get("mask_zero", False)))
    if cls == "Masking":
        return _Masking(name, float(cfg.get("mask_value", 0.0)))
    if cls == "TimeDistributed":
        inner = build_layer(cfg["layer"], {k[len("layer."):]: v for k, v in w.items()
                                           if k.startswith("layer.")})
        if type(inner) is not _Layer:
            raise Unsupported(f"{where}: only per-step inner layers are supported.")
        return _Layer(name, inner.fn)
    if cls == "Bidirectional":
        def sub(key: str, path: str) -> _Recurrent:
            inner = {k[len(path) + 1:]: v for k, v in w.items() if k.startswith(path + ".")}
            return _rnn(cfg[key]["config"].get("name", key), cfg[key]["class_name"],
                        cfg[key]["config"], inner, where)

        return _Bidirectional(name, sub("layer", "forward_layer"),
                              sub("backward_layer", "backward_layer"), cfg)
    raise Unsupported(f"{where} is not supported by the NumPy runtime (supported: LSTM, GRU, "
                      "SimpleRNN, RNN, Bidirectional, Dense, Embedding, TimeDistributed, "
                      "Dropout, LayerNormalization, Activation, Masking, Add, Multiply, "
                      "Average, Concatenate).")
