"""The GRU's mapping to torch's fused kernels (`torch._VF.gru`, `gru_cell`), for the platform
engine (`gated.engine.platform`).

Torch's GRU is Keras' `reset_after=True` form with tanh and sigmoid: Keras' blocks z, r, h
become torch's r, z, n; bias row 0 is `bias_ih`, row 1 `bias_hh`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import _VF

from gated.engine.spec import Formulas


def _reorder(w: torch.Tensor, units: int) -> torch.Tensor:
    """Keras' blocks z, r, h -> torch's r, z, n (last axis)."""
    u = units
    return torch.cat([w[..., u:2 * u], w[..., :u], w[..., 2 * u:]], dim=-1)


class GRUTorch:
    """`spec.formulas["platform"].impl` of the GRU (see `gated.engine.platform`)."""

    min_steps = 0

    @staticmethod
    def flat_weights(spec: Any) -> tuple[list[torch.Tensor], bool]:
        w, u = spec.weights, spec.config.units
        weights = [_reorder(w["kernel"], u).t(), _reorder(w["recurrent_kernel"], u).t()]
        if "bias" in w:
            bias = _reorder(w["bias"], u)
            weights += [bias[0], bias[1]]
        return weights, "bias" in w

    @staticmethod
    def kernel(spec: Any) -> Any:
        return _VF.gru

    @staticmethod
    def hx(states: list[torch.Tensor]) -> Any:
        return states[0]

    @staticmethod
    def step(spec: Any, x_t: torch.Tensor, states: tuple) -> tuple[torch.Tensor, tuple]:
        weights, has_biases = GRUTorch.flat_weights(spec)
        biases = weights[2:4] if has_biases else [None, None]
        h = _VF.gru_cell(x_t, states[0], weights[0], weights[1], *biases)
        return h, (h,)

    @staticmethod
    def why_not(spec: Any) -> str:
        return ""


FORMULAS = Formulas(
    backend="platform",
    features=frozenset({"use_bias"}),
    activations={"recurrent_activation": frozenset({"sigmoid"}),
                 "activation": frozenset({"tanh"})},
    impl=GRUTorch,
)
