"""The LSTM family's mapping to torch's fused kernels (`torch._VF.lstm`, `lstm_cell`), for the
platform engine (`gated.engine.platform`).

Torch's cell is Keras' default LSTM: gate blocks i, f, c, o (torch's i, f, g, o: no reorder),
sigmoid gates, tanh input and output activations, optionally a projection (`proj_size`):
`weight_ih = kernel.T`, `weight_hh = recurrent_kernel.T`, `bias_ih = bias`, `bias_hh = 0`,
`weight_hr = projection_kernel.T`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import _VF

from gated.engine.spec import Formulas


class LSTMTorch:
    """`spec.formulas["platform"].impl` of the LSTM family (see `gated.engine.platform`)."""

    #: oneDNN's per-call weight reorder (~1 ms at 256 units) outweighs its per-step speed on
    #: shorter float32 CPU sequences (measured: fused and compiled are faster to ~10 steps).
    min_steps = 8

    @staticmethod
    def flat_weights(spec: Any) -> tuple[list[torch.Tensor], bool]:
        w = spec.weights
        weights = [w["kernel"].t(), w["recurrent_kernel"].t()]
        if "bias" in w:
            weights += [w["bias"], torch.zeros_like(w["bias"])]
        if spec.config.proj_size:
            weights.append(w["projection_kernel"].t())
        return weights, "bias" in w

    @staticmethod
    def kernel(spec: Any) -> Any:
        return _VF.lstm

    @staticmethod
    def hx(states: list[torch.Tensor]) -> Any:
        return tuple(states[:2])

    @staticmethod
    def step(spec: Any, x_t: torch.Tensor, states: tuple) -> tuple[torch.Tensor, tuple] | None:
        """One step with `torch._VF.lstm_cell` (None with a projection: torch has no such
        cell kernel)."""
        if spec.config.proj_size:
            return None
        w = spec.weights
        h, c = _VF.lstm_cell(x_t, states[:2], w["kernel"].t(), w["recurrent_kernel"].t(),
                             w.get("bias"), None)
        return h, (h, c)

    @staticmethod
    def why_not(spec: Any) -> str:
        blocks = "".join(spec.config.blocks)
        return f"gate blocks {blocks} (torch: ifco)" if blocks != "ifco" else ""


FORMULAS = Formulas(
    backend="platform",
    features=frozenset({"proj_size", "use_bias"}),
    activations={"recurrent_activation": frozenset({"sigmoid"}),
                 "input_activation": frozenset({"tanh"}),
                 "output_activation": frozenset({"tanh"})},
    impl=LSTMTorch,
)
