r"""The mLSTM cell (Beck et al. 2024, "xLSTM", arXiv 2405.04517, section 2.3): a matrix memory
per head with the covariance update rule, exponential gating, a normalizer and a stabilizer.
No hidden-to-hidden weights: every gate reads x_t only, which is what makes the parallel and
chunkwise forms (`gated.cells.mlstm.forms`) possible.

One step, for each head (d = units / num_heads; gates i, f are scalars per head):

    q_t = x_t W_q + b_q,   k_t = (x_t W_k + b_k) / √d,   v_t = x_t W_v + b_v
    ĩ_t = x_t w_i + b_i,   f̃_t = x_t w_f + b_f,          o_t = σ(x_t W_o + b_o)
    i_t = exp(ĩ_t),        f_t = σ(f̃_t)  or  exp(f̃_t)  (forget_gate="exponential")
    C_t = f_t C_{t-1} + i_t k_t v_tᵀ                       matrix memory (d x d)
    n_t = f_t n_{t-1} + i_t k_t                            normalizer (d)
    h̃_t = C_tᵀ q_t / max(|n_tᵀ q_t|, 1)
    h_t = o_t ⊙ h̃_t                                        heads concatenated

Stabilized (as the sLSTM): m_t = max(log f_t + m_{t-1}, ĩ_t), i'_t = exp(ĩ_t - m_t),
f'_t = exp(log f_t + m_{t-1} - m_t); C and n are carried scaled by exp(-m_t), and the bound 1
becomes exp(-m_t): h̃_t = C_tᵀ q_t / (max(|n_tᵀ q_t|, exp(-m_t)) + ε), ε = `epsilon` (1e-6,
as NX-AI's reference code).

States: `[h (units), C (heads, d, d), n (heads, d), m (heads,)]`, zeros to start.

Weight layout: `kernel (input_dim, 4*units + 2*heads)` and `bias` with blocks q, k, v (units
each, head-major), i, f (heads each), o (units). The forget bias starts at linspace(3, 6) over
the heads and the input bias at 0 (NX-AI's initialisation).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gated._checks import check_positive_int
from gated.cells.base import DenseRNNCell, State
from gated.cells.mlstm import forms, fused
from gated.engine.spec import Config, StepSpec

FORGET_GATES = ("sigmoid", "exponential")

#: Every option of the step: `name -> (default, a non-default example)`.
OPTIONS: dict[str, tuple[Any, Any]] = {
    "forget_gate": ("sigmoid", "exponential"),
    "num_heads": (1, 5),
    "use_bias": (True, False),
    "epsilon": (1e-6, 1e-3),
}


class mLSTMCell(DenseRNNCell):  # noqa: N801 (the paper's and NX-AI's name)
    """One step of the mLSTM (see the module docstring for the equations).

    Over a whole sequence, `gated.layers.mLSTM` runs the chunkwise or parallel form instead
    of this step (same numbers, far fewer sequential steps).

    Args:
        units: Positive integer, total size of the values and the output (heads x d).
        num_heads: Number of heads (divides `units`); each has a d x d memory.
        forget_gate: `"sigmoid"` (the paper's default) or `"exponential"`.
        epsilon: Added to the normalizer's denominator.
        **kwargs: `dropout`, `use_bias`, `kernel_initializer`, `bias_initializer`,
            `kernel_regularizer`, `bias_regularizer`, `seed`, `name`, `dtype`. There are no
            recurrent weights, so `recurrent_dropout` must stay 0.

    Example:
        >>> cell = mLSTMCell(8, num_heads=2)
        >>> y, (h, C, n, m) = cell(torch.randn(4, 3))
        >>> C.shape
        torch.Size([4, 2, 4, 4])
    """

    family = "mlstm"
    OPTIONS = OPTIONS
    ACTIVATION_ROLES: dict[str, str] = {}
    FORMULAS = (fused.FORMULAS,)

    def __init__(self, units: int, num_heads: int = 1, forget_gate: str = "sigmoid",
                 epsilon: float = 1e-6, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.num_heads = check_positive_int(num_heads, "num_heads", "mLSTMCell")
        if self.units % self.num_heads:
            raise ValueError(f"mLSTMCell: `units` must be divisible by `num_heads`, received "
                             f"units={self.units}, num_heads={self.num_heads}.")
        if forget_gate not in FORGET_GATES:
            raise ValueError(f"mLSTMCell: `forget_gate` must be one of {FORGET_GATES}, "
                             f"received forget_gate={forget_gate!r}.")
        if self.recurrent_dropout:
            raise ValueError("mLSTMCell has no recurrent weights: `recurrent_dropout` must be "
                             f"0, received {self.recurrent_dropout}.")
        self.forget_gate = forget_gate
        self.epsilon = float(epsilon)

    # ------------------------------------------------------------------ layout
    @property
    def head_units(self) -> int:
        return self.units // self.num_heads

    @property
    def state_size(self) -> tuple:
        h, d = self.num_heads, self.head_units
        return (self.units, (h, d, d), (h, d), h)

    @property
    def output_size(self) -> int:
        return self.units

    def spec_config(self) -> dict:
        return {"head_units": self.head_units}

    def build(self, input_shape: tuple) -> None:
        input_dim = int(input_shape[-1])
        u, h = self.units, self.num_heads
        width = 4 * u + 2 * h
        self.add_weight("kernel", (input_dim, width), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (width,), self.bias_initializer)
            with torch.no_grad():
                self.bias[3 * u + h:3 * u + 2 * h] = torch.linspace(3.0, 6.0, h)
        self.input_features = input_dim

    def _build_spec(self) -> StepSpec:
        d = self.head_units
        return StepSpec(
            family=self.family, cell_type=type(self).__name__, features=self.features,
            activations={}, state_sizes=tuple(self.state_size), output_size=self.units,
            recurrent_size=self.units,
            # no recurrent kernel: the work is the memory update and its read-out
            step_macs=3 * self.num_heads * d * d,
            weights={name: p for name, p in self._parameters.items() if p is not None},
            config=Config({**{name: getattr(self, name) for name in self.OPTIONS},
                           "units": self.units, **self.spec_config()}),
            formulas={f.backend: f for f in self.FORMULAS},
        )

    # ------------------------------------------------------------------ the step
    def split(self, xw: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """`(q, k, v, i_raw, log_f, o_raw)` of a projection `(..., 4 units + 2 heads)`: q, k,
        v `(..., heads, d)`, i_raw and log_f `(..., heads)`, o_raw `(..., units)`."""
        u, h, d = self.units, self.num_heads, self.head_units
        q, k, v, i_raw, f_raw, o_raw = xw.split((u, u, u, h, h, u), dim=-1)
        lead = xw.shape[:-1]
        log_f = F.logsigmoid(f_raw) if self.forget_gate == "sigmoid" else f_raw
        return (q.reshape(*lead, h, d), k.reshape(*lead, h, d), v.reshape(*lead, h, d),
                i_raw, log_f, o_raw)

    def recurrent_step(self, xw: torch.Tensor, states: State,
                       recurrent_mask: torch.Tensor | None = None,
                       training: bool = False) -> tuple[torch.Tensor, State]:
        q, k, v, i_raw, log_f, o_raw = self.split(xw)
        h_tilde, (c, n, m) = forms.step(q, k, v, i_raw, log_f, tuple(states[1:]),
                                        self.epsilon)
        h = torch.sigmoid(o_raw) * h_tilde.flatten(-2)
        return h, (h, c, n, m)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_heads=self.num_heads, forget_gate=self.forget_gate,
                      epsilon=self.epsilon)
        for absent in ("recurrent_dropout", "recurrent_initializer", "recurrent_regularizer"):
            config.pop(absent)  # there are no recurrent weights
        return config
