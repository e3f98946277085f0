r"""The mLSTM's three forms over a sequence: recurrent (streaming), parallel and chunkwise
(training). All three compute the same numbers, up to rounding, from the same initial state.

Shapes: `q, k, v (batch, heads, time, d)`, `i_raw, log_f (batch, heads, time)` (the input
gate pre-activation and the log of the forget gate), state `(C (batch, heads, d, d),
n (batch, heads, d), m (batch, heads))`. Outputs h̃ `(batch, heads, time, d)` (before the
output gate). Keys are scaled by 1/√d inside.

Parallel form from an initial state (C_0, n_0, m_0). With F_t = Σ_{u<=t} log f_u:

    D_ts = F_t - F_s + ĩ_s  (s <= t),      D_t0 = F_t + m_0          log gate weights
    m_t  = max(D_t0, max_s D_ts)                                     the stabilizer
    S_ts = (q_t · k_s) exp(D_ts - m_t),     w_t = exp(D_t0 - m_t)
    h̃_t  = (Σ_s S_ts v_s + w_t q_t C_0) / (max(|Σ_s S_ts + w_t q_t · n_0|, exp(-m_t)) + ε)

which unrolls the recurrence m_t = max(log f_t + m_{t-1}, ĩ_t) exactly (induction on t), so
the recurrent and parallel forms agree step by step, the lower bound exp(-m_t) included.
The chunkwise form runs the parallel form on chunks of `chunk_size` steps (the last chunk may
be shorter), carrying the state between chunks: O(T L d + T d²) instead of O(T² d).
"""

from __future__ import annotations

import math

import torch

State = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def zero_state(q: torch.Tensor) -> State:
    """The empty memory `(C, n, m) = (0, 0, 0)` for `q (batch, heads, time, d)`."""
    b, h, _, d = q.shape
    return (q.new_zeros(b, h, d, d), q.new_zeros(b, h, d), q.new_zeros(b, h))


def step(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, i_raw: torch.Tensor,
         log_f: torch.Tensor, state: State, eps: float) -> tuple[torch.Tensor, State]:
    """One stabilized step: `q, k, v (batch, heads, d)`, gates `(batch, heads)`."""
    c_prev, n_prev, m_prev = state
    k = k / math.sqrt(k.shape[-1])
    a = log_f + m_prev
    m = torch.maximum(a, i_raw)
    f = torch.exp(a - m).unsqueeze(-1)
    i = torch.exp(i_raw - m).unsqueeze(-1)
    c = f.unsqueeze(-1) * c_prev + (i * k).unsqueeze(-1) * v.unsqueeze(-2)
    n = f * n_prev + i * k
    num = torch.einsum("bhd,bhde->bhe", q, c)
    qn = (q * n).sum(-1)
    den = torch.maximum(qn.abs(), torch.exp(-m)) + eps
    return num / den.unsqueeze(-1), (c, n, m)


def recurrent(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, i_raw: torch.Tensor,
              log_f: torch.Tensor, state: State | None = None,
              eps: float = 1e-6) -> tuple[torch.Tensor, State]:
    """The recurrent form: `step` over time. Returns `(h̃, final state)`."""
    state = zero_state(q) if state is None else state
    outs = []
    for t in range(q.shape[2]):
        h, state = step(q[:, :, t], k[:, :, t], v[:, :, t], i_raw[:, :, t], log_f[:, :, t],
                        state, eps)
        outs.append(h)
    return torch.stack(outs, dim=2), state


def parallel(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, i_raw: torch.Tensor,
             log_f: torch.Tensor, state: State | None = None, eps: float = 1e-6,
             return_state: bool = True) -> tuple[torch.Tensor, State | None]:
    """The parallel form (see the module docstring). Returns `(h̃, final state or None)`."""
    c0, n0, m0 = zero_state(q) if state is None else state
    steps = q.shape[2]
    k = k / math.sqrt(k.shape[-1])
    cum = torch.cumsum(log_f, dim=-1)                                   # F_t
    causal = torch.ones(steps, steps, dtype=torch.bool, device=q.device).tril()
    log_d = cum.unsqueeze(-1) - cum.unsqueeze(-2) + i_raw.unsqueeze(-2)  # D_ts
    log_d = torch.where(causal, log_d, torch.full_like(log_d, -math.inf))
    log_d0 = cum + m0.unsqueeze(-1)                                       # D_t0
    m = torch.maximum(log_d.amax(-1), log_d0)
    weights = torch.exp(log_d - m.unsqueeze(-1))
    w0 = torch.exp(log_d0 - m)
    scores = (q @ k.transpose(-1, -2)) * weights
    num = scores @ v + w0.unsqueeze(-1) * (q @ c0)
    qn = scores.sum(-1) + w0 * (q @ n0.unsqueeze(-1)).squeeze(-1)
    den = torch.maximum(qn.abs(), torch.exp(-m)) + eps
    h = num / den.unsqueeze(-1)
    if not return_state:
        return h, None
    last = weights[:, :, -1]                                             # exp(D_Ts - m_T)
    c = torch.einsum("bhs,bhsd,bhse->bhde", last, k, v) + w0[:, :, -1, None, None] * c0
    n = torch.einsum("bhs,bhsd->bhd", last, k) + w0[:, :, -1, None] * n0
    return h, (c, n, m[:, :, -1])


def chunkwise(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, i_raw: torch.Tensor,
              log_f: torch.Tensor, state: State | None = None, eps: float = 1e-6,
              chunk_size: int = 64) -> tuple[torch.Tensor, State]:
    """The chunkwise form: the parallel form within chunks, the state carried between them.
    `chunk_size` need not divide the length. Returns `(h̃, final state)`."""
    if int(chunk_size) < 1:
        raise ValueError(f"`chunk_size` must be a positive integer, received {chunk_size!r}.")
    state = zero_state(q) if state is None else state
    outs = []
    for start in range(0, q.shape[2], int(chunk_size)):
        part = slice(start, start + int(chunk_size))
        h, state = parallel(q[:, :, part], k[:, :, part], v[:, :, part], i_raw[:, :, part],
                            log_f[:, :, part], state, eps)
        outs.append(h)
    return torch.cat(outs, dim=2), state


__all__ = ["chunkwise", "parallel", "recurrent", "step", "zero_state"]
