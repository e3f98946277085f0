"""The xLSTM paper's equations in NumPy (Beck et al. 2024, arXiv 2405.04517), written from the
paper for the tests: the sLSTM (eq. 8-17) and the mLSTM (eq. 19-27), stabilized and naive.

Every function broadcasts over leading axes (the complex-step gradients of `complex_step.py`
perturb along a new leading axis), and uses only complex-analytic operations: `max` and `|.|`
decide by the real part, so a complex perturbation passes through the branch taken.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def log_sigmoid(x):
    return -np.log(1.0 + np.exp(-x))


def maximum(a, b):
    return np.where(a.real >= b.real, a, b)


def absolute(a):
    return np.where(a.real >= 0, a, -a)


def slstm(x, h, c, n, m, kernel, recurrent, bias, exp_forget=False, stabilized=True):
    """sLSTM over `x (..., batch, time, features)`; `recurrent (..., heads, hd, 4 hd)` is the
    block-diagonal R per head, gate blocks i, f, z, o. Returns `(ys, h, c, n, m)`; the naive
    form (`stabilized=False`) uses i = exp(ĩ), f = σ(f̃) or exp(f̃) and returns m = 0."""
    heads, hd = recurrent.shape[-3], recurrent.shape[-2]
    u = heads * hd
    ys = []
    for t in range(x.shape[-2]):
        hh = h.reshape(*h.shape[:-1], heads, hd)
        rh = np.einsum("...bkd,...kde->...bke", hh, recurrent)        # (..., b, heads, 4 hd)
        rh = rh.reshape(*rh.shape[:-1], 4, hd)
        rh = np.swapaxes(rh, -2, -3).reshape(*h.shape[:-1], 4 * u)     # blocks i, f, z, o
        pre = x[..., t, :] @ kernel + bias[..., None, :] + rh
        i_raw, f_raw, z_raw, o_raw = (pre[..., k * u:(k + 1) * u] for k in range(4))
        log_f = f_raw if exp_forget else log_sigmoid(f_raw)
        if stabilized:
            m_new = maximum(log_f + m, i_raw)
            i = np.exp(i_raw - m_new)
            f = np.exp(log_f + m - m_new)
            m = m_new
        else:
            i, f = np.exp(i_raw), np.exp(log_f)
        c = f * c + i * np.tanh(z_raw)
        n = f * n + i
        h = sigmoid(o_raw) * c / n
        ys.append(h)
    return np.stack(ys, axis=-2), h, c, n, m


def mlstm(x, c, n, m, kernel, bias, heads, exp_forget=False, eps=1e-6, stabilized=True):
    """mLSTM over `x (..., batch, time, features)`; projection blocks q, k, v (units), i, f
    (heads), o (units). States `C (..., batch, heads, d, d)`, `n (..., batch, heads, d)`,
    `m (..., batch, heads)`. The naive form divides by max(|nᵀq|, 1) (no epsilon)."""
    u = (kernel.shape[-1] - 2 * heads) // 4
    d = u // heads
    ys = []
    for t in range(x.shape[-2]):
        p = x[..., t, :] @ kernel + bias[..., None, :]
        lead = p.shape[:-1]
        q = p[..., :u].reshape(*lead, heads, d)
        k = p[..., u:2 * u].reshape(*lead, heads, d) / np.sqrt(d)
        v = p[..., 2 * u:3 * u].reshape(*lead, heads, d)
        i_raw = p[..., 3 * u:3 * u + heads]
        f_raw = p[..., 3 * u + heads:3 * u + 2 * heads]
        o = sigmoid(p[..., 3 * u + 2 * heads:])
        log_f = f_raw if exp_forget else log_sigmoid(f_raw)
        if stabilized:
            m_new = maximum(log_f + m, i_raw)
            i = np.exp(i_raw - m_new)
            f = np.exp(log_f + m - m_new)
            m = m_new
        else:
            i, f = np.exp(i_raw), np.exp(log_f)
        c = f[..., None, None] * c + i[..., None, None] * k[..., :, None] * v[..., None, :]
        n = f[..., None] * n + i[..., None] * k
        num = np.einsum("...hd,...hde->...he", q, c)
        qn = (q * n).sum(-1)
        if stabilized:
            den = maximum(absolute(qn), np.exp(-m)) + eps
        else:
            den = maximum(absolute(qn), np.ones_like(qn.real))
        h = o * (num / den[..., None]).reshape(*lead, u)
        ys.append(h)
    return np.stack(ys, axis=-2), h, c, n, m
