"""The SimpleRNN's mapping to torch's fused kernels (`torch._VF.rnn_tanh` / `rnn_relu` and
their cell kernels), for the platform engine (`gated.engine.platform`):
`weight_ih = kernel.T`, `bias_ih = bias`, `bias_hh = 0`; tanh or relu only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import _VF

from gated.engine.spec import Formulas


class SimpleRNNTorch:
    """`spec.formulas["platform"].impl` of the SimpleRNN (see `gated.engine.platform`)."""

    min_steps = 0

    @staticmethod
    def flat_weights(spec: Any) -> tuple[list[torch.Tensor], bool]:
        w = spec.weights
        weights = [w["kernel"].t(), w["recurrent_kernel"].t()]
        if "bias" in w:
            weights += [w["bias"], torch.zeros_like(w["bias"])]
        return weights, "bias" in w

    @staticmethod
    def kernel(spec: Any) -> Any:
        return _VF.rnn_relu if spec.activations["activation"] == "relu" else _VF.rnn_tanh

    @staticmethod
    def hx(states: list[torch.Tensor]) -> Any:
        return states[0]

    @staticmethod
    def step(spec: Any, x_t: torch.Tensor, states: tuple) -> tuple[torch.Tensor, tuple]:
        w = spec.weights
        cell = (_VF.rnn_relu_cell if spec.activations["activation"] == "relu"
                else _VF.rnn_tanh_cell)
        h = cell(x_t, states[0], w["kernel"].t(), w["recurrent_kernel"].t(), w.get("bias"),
                 None)
        return h, (h,)

    @staticmethod
    def why_not(spec: Any) -> str:
        return ""


FORMULAS = Formulas(
    backend="platform",
    features=frozenset({"use_bias"}),
    activations={"activation": frozenset({"tanh", "relu"})},
    impl=SimpleRNNTorch,
)
