"""The cells of the torch-free runtime, in NumPy: the LSTM family (every option of
`LSTMCell`), GRU and SimpleRNN, plus the activations and layer normalization.

Each cell is built from its saved config and the layer's weights (`path -> array`, `prefix`
selects the cell's) and has `project(x)` (the input projection, any leading axes) and
`step(xw_t, states) -> (y_t, states)`, following the reference steps of `gated.cells` (the
equations are in their docstrings). Imports NumPy only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_erf = np.frompyfunc(math.erf, 1, 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


ACTIVATIONS = {
    "linear": lambda x: x,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda x: np.maximum(x, 0),
    "tanh2": lambda x: 2.0 * np.tanh(0.5 * x),
    "half_tanh": lambda x: np.tanh(0.5 * x),
    "hard_sigmoid": lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "exponential": np.exp,
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "softmax": _softmax,
    "log_softmax": lambda x: np.log(_softmax(x)),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "selu": lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0))),
    "gelu": lambda x: (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(x.dtype))),
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "softplus": lambda x: np.logaddexp(0, x).astype(x.dtype),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
}


class Unsupported(ValueError):
    """A layer or option the NumPy runtime does not run (the message names it)."""


def activation(name: Any, where: str) -> Any:
    name = "linear" if name is None else name
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise Unsupported(f"{where}: the activation {name!r} is not supported by the NumPy "
                          f"runtime (supported: {sorted(ACTIVATIONS)}).")
    return ACTIVATIONS[name]


def layer_norm(x: np.ndarray, gamma: Any, beta: Any, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma
    return y + beta if beta is not None else y


# ---------------------------------------------------------------------- cells
class LSTMCell:
    def __init__(self, cfg: dict, w: dict, prefix: str, where: str) -> None:
        self.units = u = int(cfg["units"])
        self.coupled = bool(cfg.get("coupled_gates", False))
        forget = bool(cfg.get("forget_gate", True)) and not self.coupled
        present = (("i", cfg.get("input_gate", True)), ("f", forget), ("c", True),
                   ("o", cfg.get("output_gate", True)))
        self.blocks = tuple(b for b, on in present if on)
        self.gates = tuple(b for b in self.blocks if b != "c")
        self.fgr = bool(cfg.get("full_gate_recurrence", False))
        self.proj = int(cfg.get("proj_size") or 0)
        self.ln = bool(cfg.get("layer_norm", False))
        self.eps = float(cfg.get("layer_norm_epsilon", 1e-3))
        self.zc, self.zh = float(cfg.get("zoneout_cell", 0)), float(cfg.get("zoneout_hidden", 0))
        act = cfg.get("activation", "tanh")
        self.sigma = activation(cfg.get("recurrent_activation", "sigmoid"), where)
        self.g = activation(cfg.get("input_activation") or act, where)
        self.h = activation(cfg.get("output_activation") or act, where)
        get = lambda name: w.get(prefix + name)  # noqa: E731
        self.kernel, self.recurrent, self.bias = get("kernel"), get("recurrent_kernel"), \
            get("bias")
        if self.kernel is None or self.recurrent is None:
            raise ValueError(f"{where}: the weights '{prefix}kernel' / '{prefix}recurrent_"
                             "kernel' are missing from the file.")
        peep = get("peephole_kernel") if cfg.get("peephole") else None
        self.peep = dict(zip(self.gates, peep, strict=True)) if peep is not None else {}
        self.fgr_kernel, self.projection = get("gate_recurrent_kernel"), get("projection_kernel")
        self.gx, self.gh = get("input_norm_gamma"), get("recurrent_norm_gamma")
        self.gc, self.bc = get("cell_norm_gamma"), get("cell_norm_beta")
        h = self.proj or u
        self.state_sizes = [h, u] + ([len(self.gates) * u] if self.fgr else [])
        self.output_size = h

    def project(self, x: np.ndarray) -> np.ndarray:
        xw = x @ self.kernel
        if self.ln:
            xw = layer_norm(xw, self.gx, None, self.eps)
        return xw + self.bias if self.bias is not None else xw

    def step(self, xw: np.ndarray, states: list) -> tuple[np.ndarray, list]:
        h_prev, c_prev, u = states[0], states[1], self.units
        hu = h_prev @ self.recurrent
        if self.ln:
            hu = layer_norm(hu, self.gh, None, self.eps)
        zs = xw + hu
        z = {b: zs[..., k * u:(k + 1) * u] for k, b in enumerate(self.blocks)}
        if self.fgr:
            fg = states[2] @ self.fgr_kernel
            for k, b in enumerate(self.gates):
                z[b] = z[b] + fg[..., k * u:(k + 1) * u]
        p = self.peep

        def gate(b: str, c: np.ndarray) -> np.ndarray:
            return self.sigma(z[b] + p[b] * c if b in p else z[b])

        i = gate("i", c_prev) if "i" in z else None
        f = 1.0 - i if self.coupled else (gate("f", c_prev) if "f" in z else None)
        g = self.g(z["c"])
        c = (c_prev if f is None else f * c_prev) + (g if i is None else i * g)
        y = self.h(layer_norm(c, self.gc, self.bc, self.eps) if self.ln else c)
        o = gate("o", c) if "o" in z else None
        if o is not None:
            y = o * y
        if self.proj:
            y = y @ self.projection
        if self.zc:
            c = self.zc * c_prev + (1.0 - self.zc) * c
        if self.zh:
            y = self.zh * h_prev + (1.0 - self.zh) * y
        new = [y, c]
        if self.fgr:
            acts = {"i": i, "f": f, "o": o}
            new.append(np.concatenate([acts[b] for b in self.gates], axis=-1))
        return y, new


class GRUCell:
    def __init__(self, cfg: dict, w: dict, prefix: str, where: str) -> None:
        self.units = int(cfg["units"])
        self.reset_after = bool(cfg.get("reset_after", True))
        self.sigma = activation(cfg.get("recurrent_activation", "sigmoid"), where)
        self.phi = activation(cfg.get("activation", "tanh"), where)
        self.kernel, self.recurrent = w[prefix + "kernel"], w[prefix + "recurrent_kernel"]
        bias = w.get(prefix + "bias")
        self.b_in = self.b_rec = None
        if bias is not None:
            self.b_in, self.b_rec = (bias[0], bias[1]) if self.reset_after else (bias, None)
        self.state_sizes, self.output_size = [self.units], self.units

    def project(self, x: np.ndarray) -> np.ndarray:
        xw = x @ self.kernel
        return xw + self.b_in if self.b_in is not None else xw

    def step(self, xw: np.ndarray, states: list) -> tuple[np.ndarray, list]:
        h, u = states[0], self.units
        x_z, x_r, x_h = xw[..., :u], xw[..., u:2 * u], xw[..., 2 * u:]
        if self.reset_after:
            hu = h @ self.recurrent
            if self.b_rec is not None:
                hu = hu + self.b_rec
            z, r = self.sigma(x_z + hu[..., :u]), self.sigma(x_r + hu[..., u:2 * u])
            cand = self.phi(x_h + r * hu[..., 2 * u:])
        else:
            hu = h @ self.recurrent[:, :2 * u]
            z, r = self.sigma(x_z + hu[..., :u]), self.sigma(x_r + hu[..., u:])
            cand = self.phi(x_h + (r * h) @ self.recurrent[:, 2 * u:])
        h = z * h + (1.0 - z) * cand
        return h, [h]


class SimpleRNNCell:
    def __init__(self, cfg: dict, w: dict, prefix: str, where: str) -> None:
        self.units = int(cfg["units"])
        self.phi = activation(cfg.get("activation", "tanh"), where)
        self.kernel, self.recurrent = w[prefix + "kernel"], w[prefix + "recurrent_kernel"]
        self.bias = w.get(prefix + "bias")
        self.state_sizes, self.output_size = [self.units], self.units

    def project(self, x: np.ndarray) -> np.ndarray:
        xw = x @ self.kernel
        return xw + self.bias if self.bias is not None else xw

    def step(self, xw: np.ndarray, states: list) -> tuple[np.ndarray, list]:
        h = self.phi(xw + states[0] @ self.recurrent)
        return h, [h]


CELLS = {"LSTMCell": LSTMCell, "GRUCell": GRUCell, "SimpleRNNCell": SimpleRNNCell}
LAYER_CELLS = {"LSTM": LSTMCell, "GRU": GRUCell, "SimpleRNN": SimpleRNNCell}
