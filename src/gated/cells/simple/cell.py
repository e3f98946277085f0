r"""The plain (Elman) recurrent cell: the contrast that shows why gates matter.

    h_t = φ(x_t W + h_{t-1} U + b)

Weights: `kernel (input_dim, units)`, `recurrent_kernel (units, units)`, `bias (units,)`.
"""

from __future__ import annotations

from typing import Any

import torch

from gated import activations
from gated.cells.base import DenseRNNCell, State, is_standard
from gated.cells.simple import compiled, fused
from gated.cells.simple import torch as torch_formulas

#: Every option of the step: `name -> (default, a non-default example)` (see `LSTMCell`).
OPTIONS: dict[str, tuple[Any, Any]] = {
    "use_bias": (True, False),
}


class SimpleRNNCell(DenseRNNCell):
    """One SimpleRNN step.

    Args:
        units: Positive integer, size of the state.
        activation: φ (default `'tanh'`).
        **kwargs: `dropout`, `recurrent_dropout`, initializers, regularizers, `name`, `dtype`.
    """

    num_blocks = 1
    family = "simple"
    OPTIONS = OPTIONS
    ACTIVATION_ROLES = {"activation": "activation_name"}
    FORMULAS = (fused.FORMULAS, compiled.FORMULAS, torch_formulas.FORMULAS)

    def __init__(self, units: int, activation: Any = "tanh", **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.activation_name = activation
        self.activation = activations.get(activation)

    @property
    def is_standard(self) -> bool:
        """True when this is exactly the cell of `torch.nn.RNN` (tanh or relu)."""
        return is_standard(self, torch_formulas.FORMULAS)

    def build(self, input_shape: tuple) -> None:
        input_dim = int(input_shape[-1])
        self._add_standard_weights(input_dim, 1, self.units)
        self.input_features = input_dim

    def recurrent_step(self, xw: torch.Tensor, states: State,
                       recurrent_mask: torch.Tensor | None = None,
                       training: bool = False) -> tuple[torch.Tensor, State]:
        h_prev = states[0]
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        h = self.activation(xw + h_in @ self.recurrent_kernel)
        return h, (h,)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(activation=activations.serialize(self.activation_name))
        return config
