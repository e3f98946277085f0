r"""The GRU cell (Cho et al. 2014), Keras semantics and layout.

Gate blocks in the order z (update), r (reset), h (candidate):

    [x_z, x_r, x_h] = x_t W + b_in
    z_t = σ(x_z + h_{t-1} U_z [+ b_rec,z])
    r_t = σ(x_r + h_{t-1} U_r [+ b_rec,r])
    reset_after=True  (default, cuDNN/PyTorch form):  ĥ_t = φ(x_h + r_t ⊙ (h_{t-1} U_h + b_rec,h))
    reset_after=False (original form):               ĥ_t = φ(x_h + (r_t ⊙ h_{t-1}) U_h)
    h_t = z_t ⊙ h_{t-1} + (1 - z_t) ⊙ ĥ_t

Weights: `kernel (input_dim, 3*units)`, `recurrent_kernel (units, 3*units)`, `bias (2, 3*units)`
(row 0 input bias, row 1 recurrent bias) when `reset_after=True`, else `bias (3*units,)`.
"""

from __future__ import annotations

from typing import Any

import torch

from gated import activations
from gated.cells.base import DenseRNNCell, State, is_standard, project
from gated.cells.gru import compiled, fused
from gated.cells.gru import torch as torch_formulas

#: Every option of the step: `name -> (default, a non-default example)` (see `LSTMCell`).
OPTIONS: dict[str, tuple[Any, Any]] = {
    "reset_after": (True, False),
    "use_bias": (True, False),
}


class GRUCell(DenseRNNCell):
    """One GRU step.

    Args:
        units: Positive integer, size of the state.
        activation: Candidate activation φ (default `'tanh'`).
        recurrent_activation: Gate activation σ (default `'sigmoid'`).
        reset_after: Apply the reset gate after the recurrent product (default True).
        **kwargs: `dropout`, `recurrent_dropout`, initializers, regularizers, `name`, `dtype`.
    """

    num_blocks = 3
    family = "gru"
    OPTIONS = OPTIONS
    ACTIVATION_ROLES = {"recurrent_activation": "recurrent_activation_name",
                        "activation": "activation_name"}
    FORMULAS = (fused.FORMULAS, compiled.FORMULAS, torch_formulas.FORMULAS)

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.activation_name = activation
        self.recurrent_activation_name = recurrent_activation
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    @property
    def is_standard(self) -> bool:
        """True when this is exactly the cell of `torch.nn.GRU`."""
        return is_standard(self, torch_formulas.FORMULAS)

    def build(self, input_shape: tuple) -> None:
        input_dim = int(input_shape[-1])
        bias_shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        self._add_standard_weights(input_dim, 3, self.units, bias_shape)
        self.input_features = input_dim

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        if not self.use_bias:
            return project(x, self.kernel, None)
        return project(x, self.kernel, self.bias[0] if self.reset_after else self.bias)

    def recurrent_step(self, xw: torch.Tensor, states: State,
                       recurrent_mask: torch.Tensor | None = None,
                       training: bool = False) -> tuple[torch.Tensor, State]:
        h_prev = states[0]
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        u = self.units
        x_z, x_r, x_h = xw.split(u, dim=-1)
        sigma = self.recurrent_activation
        if self.reset_after:
            hu = h_in @ self.recurrent_kernel
            if self.use_bias:
                hu = hu + self.bias[1]
            h_z, h_r, h_h = hu.split(u, dim=-1)
            z = sigma(x_z + h_z)
            r = sigma(x_r + h_r)
            candidate = self.activation(x_h + r * h_h)
        else:
            hu = h_in @ self.recurrent_kernel[:, : 2 * u]
            h_z, h_r = hu.split(u, dim=-1)
            z = sigma(x_z + h_z)
            r = sigma(x_r + h_r)
            candidate = self.activation(x_h + (r * h_in) @ self.recurrent_kernel[:, 2 * u:])
        h = z * h_prev + (1.0 - z) * candidate
        return h, (h,)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            activation=activations.serialize(self.activation_name),
            recurrent_activation=activations.serialize(self.recurrent_activation_name),
            reset_after=self.reset_after,
        )
        return config
