"""Weight layouts: gated's (Keras') recurrent weights in ONNX's and PyTorch's layouts.

gated (Keras) keeps `kernel (input_dim, n*units)`, `recurrent_kernel (h, n*units)` and one
bias, with the LSTM blocks in the order i, f, c, o (only those present, see `LSTMCell`) and the
GRU blocks z, r, h. ONNX's `LSTM` wants `W (4h, in)`, `R (4h, h)` in the order i, o, f, c,
`B (8h,) = [Wb, Rb]` and peepholes `P (3h,)` in the order i, o, f; its `GRU` wants z, r, h.
`torch.nn.LSTM` wants `weight_ih (4h, in)` in the order i, f, g, o and two biases; `nn.GRU`
wants r, z, n.

All functions take and return NumPy arrays (float32 unless given otherwise); none imports torch.
"""

from __future__ import annotations

import numpy as np

#: A bias that drives a sigmoid gate to exactly 1.0 in float32 (the gate a cell lacks).
SATURATE = 50.0


def lstm_to_onnx(kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray | None,
                 blocks: tuple[str, ...], gates: tuple[str, ...],
                 peephole: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """gated LSTM weights -> ONNX `W (4h, in)`, `R (4h, h)`, `B (8h,)`, `P (3h,)`.

    A gate the gated cell does not have is always 1 in ONNX: zero weights and a saturating
    bias. (A coupled forget gate is ONNX's `input_forget=1`; its rows are unused.)

    Args:
        kernel, recurrent, bias: gated's `kernel`, `recurrent_kernel`, `bias` (None: no bias).
        blocks: The cell's present blocks (`cell.blocks`), e.g. `("i", "f", "c", "o")`.
        gates: The cell's gates with own weights (`cell.gates`), the peephole rows' order.
        peephole: `peephole_kernel (k, units)` or None.
    """
    u = recurrent.shape[1] // len(blocks)
    n_in = kernel.shape[0]
    w_blocks = dict(zip(blocks, np.split(kernel, len(blocks), axis=1), strict=True))
    r_blocks = dict(zip(blocks, np.split(recurrent, len(blocks), axis=1), strict=True))
    b_blocks = dict(zip(blocks, np.split(bias, len(blocks)), strict=True)) \
        if bias is not None else {b: np.zeros(u) for b in blocks}
    p_rows = dict(zip(gates, peephole, strict=True)) if peephole is not None else {}
    w, r, b = [], [], []
    for name in "iofc":
        if name in w_blocks:
            w.append(w_blocks[name].T)
            r.append(r_blocks[name].T)
            b.append(b_blocks[name])
        else:
            w.append(np.zeros((u, n_in)))
            r.append(np.zeros((u, recurrent.shape[0])))
            b.append(np.full(u, SATURATE))
    p = [p_rows.get(name, np.zeros(u)) for name in "iof"]
    return tuple(np.ascontiguousarray(a, dtype=np.float32) for a in (
        np.concatenate(w), np.concatenate(r),
        np.concatenate([np.concatenate(b), np.zeros(4 * u)]), np.concatenate(p)))


def gru_to_onnx(kernel: np.ndarray, recurrent: np.ndarray,
                bias: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """gated GRU weights -> ONNX `W (3h, in)`, `R (3h, h)`, `B (6h,)` (z, r, h: the same
    order; `reset_after` is ONNX's `linear_before_reset`)."""
    u = recurrent.shape[0]
    if bias is None:
        b = np.zeros(6 * u)
    elif bias.ndim == 2:  # reset_after: rows (input bias, recurrent bias)
        b = np.concatenate([bias[0], bias[1]])
    else:
        b = np.concatenate([bias, np.zeros(3 * u)])
    return tuple(np.ascontiguousarray(a, dtype=np.float32)
                 for a in (kernel.T, recurrent.T, b))


def simple_to_onnx(kernel: np.ndarray, recurrent: np.ndarray,
                   bias: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """gated SimpleRNN weights -> ONNX `RNN`'s `W (h, in)`, `R (h, h)`, `B (2h,)`."""
    u = recurrent.shape[0]
    b = np.concatenate([bias if bias is not None else np.zeros(u), np.zeros(u)])
    return tuple(np.ascontiguousarray(a, dtype=np.float32)
                 for a in (kernel.T, recurrent.T, b))


def _reorder(a: np.ndarray, order_from: str, order_to: str, axis: int) -> np.ndarray:
    parts = dict(zip(order_from, np.split(a, len(order_from), axis=axis), strict=True))
    return np.concatenate([parts[k] for k in order_to], axis=axis)


def lstm_to_torch(kernel: np.ndarray, recurrent: np.ndarray,
                  bias: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """Keras LSTM (i, f, c, o) -> torch `weight_ih, weight_hh, bias_ih, bias_hh` (i, f, g, o:
    the same order; torch's second bias is zero)."""
    b = bias if bias is not None else np.zeros(kernel.shape[1], kernel.dtype)
    return (np.ascontiguousarray(kernel.T), np.ascontiguousarray(recurrent.T), b.copy(),
            np.zeros_like(b))


def lstm_from_torch(weight_ih: np.ndarray, weight_hh: np.ndarray, bias_ih: np.ndarray | None,
                    bias_hh: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """torch LSTM weights -> Keras `kernel, recurrent_kernel, bias` (the two biases summed)."""
    b = np.zeros(weight_ih.shape[0], weight_ih.dtype)
    for part in (bias_ih, bias_hh):
        if part is not None:
            b = b + part
    return np.ascontiguousarray(weight_ih.T), np.ascontiguousarray(weight_hh.T), b


def gru_to_torch(kernel: np.ndarray, recurrent: np.ndarray,
                 bias: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """Keras GRU with `reset_after=True` (z, r, h; bias (2, 3h)) -> torch GRU (r, z, n)."""
    u3 = kernel.shape[1]
    b = bias if bias is not None else np.zeros((2, u3), kernel.dtype)
    return (_reorder(kernel.T, "zrh", "rzh", 0), _reorder(recurrent.T, "zrh", "rzh", 0),
            _reorder(b[0], "zrh", "rzh", 0), _reorder(b[1], "zrh", "rzh", 0))


def gru_from_torch(weight_ih: np.ndarray, weight_hh: np.ndarray, bias_ih: np.ndarray | None,
                   bias_hh: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """torch GRU (r, z, n) -> Keras GRU `reset_after=True` `kernel, recurrent_kernel, bias`."""
    zeros = np.zeros(weight_ih.shape[0], weight_ih.dtype)
    b_ih = zeros if bias_ih is None else bias_ih
    b_hh = zeros if bias_hh is None else bias_hh
    return (np.ascontiguousarray(_reorder(weight_ih, "rzh", "zrh", 0).T),
            np.ascontiguousarray(_reorder(weight_hh, "rzh", "zrh", 0).T),
            np.stack([_reorder(b_ih, "rzh", "zrh", 0), _reorder(b_hh, "rzh", "zrh", 0)]))
