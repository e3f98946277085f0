"""The pinball (quantile) loss: training a network to forecast quantiles.

For a quantile level `q`, a prediction `f` and a true value `y`:

    pinball_q(y, f) = q * (y - f)          if y >= f
                    = (1 - q) * (f - y)    otherwise

Its expectation over `y` is smallest at the `q`-quantile of `y`'s distribution; at `q = 0.5`
it is half the absolute error, whose minimizer is the median.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from gated.losses import Loss

__all__ = ["PinballLoss", "pinball"]


def pinball(y_true: torch.Tensor, y_pred: torch.Tensor, quantiles: Sequence[float]) -> torch.Tensor:
    """Pinball loss per sample, averaged over the quantile axis.

    Args:
        y_true: `(..., 1)` true values (or `(...,)`, broadcast over the quantiles).
        y_pred: `(..., Q)` predicted quantiles, one per level of `quantiles`.
        quantiles: the `Q` levels in `(0, 1)`.

    Returns:
        `(...)`: the mean pinball loss over the `Q` quantiles.
    """
    levels = torch.as_tensor(list(quantiles), dtype=y_pred.dtype, device=y_pred.device)
    if y_true.ndim == y_pred.ndim - 1:
        y_true = y_true.unsqueeze(-1)
    error = y_true - y_pred
    return torch.maximum(levels * error, (levels - 1.0) * error).mean(dim=-1)


class PinballLoss(Loss):
    """The pinball loss of several quantiles, as a gated `Loss` for `compile`.

    Args:
        quantiles: the quantile levels, in the order of the network's last output axis.
        reduction: see `gated.losses.Loss`.
        name: the loss name.

    Example:
    >>> import torch
    >>> loss = PinballLoss([0.1, 0.9])
    >>> float(loss(torch.zeros(1, 1), torch.tensor([[-1.0, 1.0]])))   # (0.1 + 0.1) / 2
    0.10000000149011612
    """

    def __init__(self, quantiles: Sequence[float], reduction: str | None = "sum_over_batch_size",
                 name: str = "pinball") -> None:
        super().__init__(name=name, reduction=reduction)
        self.quantiles = [float(q) for q in quantiles]
        for q in self.quantiles:
            if not 0.0 < q < 1.0:
                raise ValueError(f"`quantiles` must lie in (0, 1); received {q!r}.")

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return pinball(y_true, y_pred, self.quantiles)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "quantiles": list(self.quantiles)}
