r"""The sLSTM cell (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory", arXiv
2405.04517, section 2.2): scalar memory with exponential gating, a normalizer state and a
log-space stabilizer, and block-diagonal (per-head) recurrent weights.

One step (all products elementwise; R is block-diagonal with `num_heads` blocks, so each head
mixes only its own `units / num_heads` hidden units):

    ĩ, f̃, z̃, õ = x_t W + h_{t-1} R + b                  pre-activations, blocks i, f, z, o
    z_t = tanh(z̃)                                        cell input
    i_t = exp(ĩ)                                          exponential input gate
    f_t = σ(f̃)   or   f_t = exp(f̃)  (forget_gate="exponential")
    o_t = σ(õ)
    c_t = f_t c_{t-1} + i_t z_t                           cell state
    n_t = f_t n_{t-1} + i_t                               normalizer state
    h_t = o_t (c_t / n_t)                                 hidden state (the output)

exp overflows, so the cell carries the stabilizer m in log space and the scaled gates instead
(the paper's eq. 15-17); c and n are then carried multiplied by exp(-m_t), which leaves
h_t = o_t c_t / n_t unchanged:

    m_t  = max(log f_t + m_{t-1}, ĩ)                     log f_t = log σ(f̃) or f̃
    i'_t = exp(ĩ - m_t)              ∈ (0, 1]
    f'_t = exp(log f_t + m_{t-1} - m_t)  ∈ (0, 1]
    c_t  = f'_t c_{t-1} + i'_t z_t,      n_t = f'_t n_{t-1} + i'_t

States: `[h, c, n, m]`, each `(batch, units)`; zeros to start (then n_1 = i'_1 > 0).

Weight layout: `kernel (input_dim, 4*units)` and `bias (4*units,)` with blocks i, f, z, o (each
`units` wide, head-major inside); `recurrent_kernel (num_heads, head_units, 4*head_units)`,
head k mapping its `h` slice to its slice of the i, f, z, o blocks. `get_weights()` returns
kernel, recurrent_kernel, bias.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F

from gated._checks import check_positive_int
from gated.cells.base import DenseRNNCell, State
from gated.cells.slstm import fused
from gated.engine.spec import StepSpec

FORGET_GATES = ("sigmoid", "exponential")

#: Every option of the step: `name -> (default, a non-default example)`.
OPTIONS: dict[str, tuple[Any, Any]] = {
    "forget_gate": ("sigmoid", "exponential"),
    "num_heads": (1, 5),
    "use_bias": (True, False),
}


def block_recurrent(h: torch.Tensor, recurrent_kernel: torch.Tensor) -> torch.Tensor:
    """`h R` for the block-diagonal R: `h (batch, units)` -> `(batch, 4*units)`, blocks i, f,
    z, o, each head-major (`recurrent_kernel (heads, head_units, 4*head_units)`)."""
    heads, hd, _ = recurrent_kernel.shape
    per_head = torch.bmm(h.view(-1, heads, hd).transpose(0, 1), recurrent_kernel)
    # (heads, batch, 4*hd) -> (batch, 4, heads, hd) -> (batch, 4*units)
    return per_head.view(heads, -1, 4, hd).permute(1, 2, 0, 3).reshape(h.shape[0], -1)


class sLSTMCell(DenseRNNCell):  # noqa: N801 (the paper's and NX-AI's name)
    """One step of the sLSTM (see the module docstring for the equations).

    Args:
        units: Positive integer, size of the hidden, cell and normalizer states.
        num_heads: Number of heads of the block-diagonal recurrent kernel (divides `units`).
        forget_gate: `"sigmoid"` (the paper's default) or `"exponential"`.
        forget_bias: Initial forget-gate bias when `use_bias` (σ(3) ≈ 0.95 by default).
        **kwargs: `dropout`, `recurrent_dropout`, `use_bias`, initializers, regularizers,
            `seed`, `name`, `dtype`.

    Example:
        >>> cell = sLSTMCell(8, num_heads=2)
        >>> y, (h, c, n, m) = cell(torch.randn(4, 3))
    """

    family = "slstm"
    num_blocks = 4
    OPTIONS = OPTIONS
    ACTIVATION_ROLES: dict[str, str] = {}
    FORMULAS = (fused.FORMULAS,)
    NOT_STEP_OPTIONS = DenseRNNCell.NOT_STEP_OPTIONS | {"forget_bias"}

    def __init__(self, units: int, num_heads: int = 1, forget_gate: str = "sigmoid",
                 forget_bias: float = 3.0, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.num_heads = check_positive_int(num_heads, "num_heads", "sLSTMCell")
        if self.units % self.num_heads:
            raise ValueError(f"sLSTMCell: `units` must be divisible by `num_heads`, received "
                             f"units={self.units}, num_heads={self.num_heads}.")
        if forget_gate not in FORGET_GATES:
            raise ValueError(f"sLSTMCell: `forget_gate` must be one of {FORGET_GATES}, "
                             f"received forget_gate={forget_gate!r}.")
        self.forget_gate = forget_gate
        self.forget_bias = float(forget_bias)

    @property
    def state_size(self) -> tuple[int, ...]:
        return (self.units,) * 4

    @property
    def head_units(self) -> int:
        return self.units // self.num_heads

    def spec_config(self) -> dict:
        return {"head_units": self.head_units}

    def build(self, input_shape: tuple) -> None:
        input_dim = int(input_shape[-1])
        u, hd = self.units, self.head_units
        self.add_weight("kernel", (input_dim, 4 * u), self.kernel_initializer)
        self.add_weight("recurrent_kernel", (self.num_heads, hd, 4 * hd),
                        self.recurrent_initializer)
        if self.use_bias:
            self.add_weight("bias", (4 * u,), self.bias_initializer)
            with torch.no_grad():
                self.bias[u:2 * u] = self.forget_bias
        self.input_features = input_dim

    def _build_spec(self) -> StepSpec:
        spec = super()._build_spec()
        # the recurrent product is block-diagonal: heads * hd * 4hd multiply-adds per row
        macs = self.units * 4 * self.head_units
        return dataclasses.replace(spec, step_macs=macs, memo={})

    # ------------------------------------------------------------------ the step
    def recurrent_step(self, xw: torch.Tensor, states: State,
                       recurrent_mask: torch.Tensor | None = None,
                       training: bool = False) -> tuple[torch.Tensor, State]:
        h_prev, c_prev, n_prev, m_prev = states
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        pre = xw + block_recurrent(h_in, self.recurrent_kernel)
        i_raw, f_raw, z_raw, o_raw = pre.split(self.units, dim=-1)
        log_f = F.logsigmoid(f_raw) if self.forget_gate == "sigmoid" else f_raw
        a = log_f + m_prev
        m = torch.maximum(a, i_raw)
        i = torch.exp(i_raw - m)
        f = torch.exp(a - m)
        c = f * c_prev + i * torch.tanh(z_raw)
        n = f * n_prev + i
        h = torch.sigmoid(o_raw) * (c / n)
        return h, (h, c, n, m)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_heads=self.num_heads, forget_gate=self.forget_gate,
                      forget_bias=self.forget_bias)
        return config
