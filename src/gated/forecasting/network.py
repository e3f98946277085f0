"""The forecaster's network: an LSTM encoder, direct multi-horizon heads, monotone quantiles.

For one window `x` of `L + H` rows (see `windows.py`: target, past covariates, future
covariates), with `a` the target's last observed value (instance normalization, "RevIN-style",
by the last value):

    z_t      = [y_t - a, p_t - p_L, k_t]          t = 1..L   (past covariates by their last value)
    h        = LSTM(z_1..z_L)                                 (the last hidden state)
    r        = Dense_lstm([h, k_{L+1}, ..., k_{L+H}]) + Dense_linear(y_1 - a, ..., y_L - a)
    r        -> (H, Q) raw outputs, one per step ahead and quantile
    q_m      = r_m                                            (m: the quantile nearest 0.5)
    q_j      = q_{j-1} + softplus(r_j)                        j > m
    q_j      = q_{j+1} - softplus(r_j)                        j < m
    forecast = a + q

Both heads start at zero, so an untrained network forecasts the last value (persistence) and
training learns the residual over repeat-last. The quantiles cannot cross: each is the one
before it plus a positive increment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from gated.layers import LSTM, Dense, Dropout
from gated.models import Model

__all__ = ["ForecastNetwork", "monotone_quantiles"]


def monotone_quantiles(raw: torch.Tensor, anchor: int) -> torch.Tensor:
    """Non-crossing quantiles from raw outputs `(..., Q)` (see the module docstring).

    Args:
        raw: unconstrained outputs, last axis over the sorted quantile levels.
        anchor: the index whose value is taken as it is (the median's, usually).

    Returns:
        A tensor of the same shape, non-decreasing along the last axis.
    """
    center = raw[..., anchor:anchor + 1]
    above = center + torch.cumsum(F.softplus(raw[..., anchor + 1:]), dim=-1)
    below = center - torch.cumsum(F.softplus(raw[..., :anchor]).flip(-1), dim=-1).flip(-1)
    return torch.cat([below, center, above], dim=-1)


class ForecastNetwork(Model):
    """The network behind `Forecaster` (a gated `Model`, trained with `fit`).

    Args:
        input_length: rows of history `L`.
        horizon: rows to forecast `H`.
        past_features: number of past-observed covariates.
        future_features: number of known-future covariates.
        quantiles: sorted quantile levels, or `()` for a point forecast.
        units: LSTM units.
        dropout: dropout on the LSTM summary before the head.
        linear: add the linear head on the normalized target window.
        normalize: `"last"` (subtract the window's last target value), `"mean"` (its mean) or
            `"none"`.
    """

    def __init__(self, input_length: int, horizon: int, past_features: int = 0,
                 future_features: int = 0, quantiles: Sequence[float] = (), units: int = 64,
                 dropout: float = 0.0, linear: bool = True, normalize: str = "last",
                 scale: bool = True, epsilon: float = 0.05, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_length = int(input_length)
        self.horizon = int(horizon)
        self.past_features = int(past_features)
        self.future_features = int(future_features)
        self.quantiles = tuple(float(q) for q in quantiles)
        self.units = int(units)
        self.dropout_rate = float(dropout)
        self.linear = bool(linear)
        self.normalize = normalize
        self.scale = bool(scale)
        self.epsilon = float(epsilon)
        self.quantile_count = max(len(self.quantiles), 1)
        self.anchor = (min(range(len(self.quantiles)), key=lambda j: abs(self.quantiles[j] - 0.5))
                       if self.quantiles else 0)
        self.encoder = LSTM(self.units)
        self.dropout = Dropout(self.dropout_rate)
        self.head = Dense(self.horizon * self.quantile_count, kernel_initializer="zeros")
        self.linear_head = (Dense(self.horizon * self.quantile_count, kernel_initializer="zeros")
                            if self.linear else None)
        self.build((None, self.input_length + self.horizon,
                    1 + self.past_features + self.future_features))

    def build(self, input_shape: tuple) -> None:
        with torch.no_grad():
            self.call(torch.zeros((1, *input_shape[1:])))
        self.built = True
        self._build_input_shape = tuple(input_shape)

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        L, observed = self.input_length, 1 + self.past_features
        history = inputs[:, :L]
        target = history[..., :1]
        if self.normalize == "last":
            level = target[:, -1:]
        elif self.normalize == "mean":
            level = target.mean(dim=1, keepdim=True)
        else:
            level = torch.zeros_like(target[:, -1:])
        spread = (target.std(dim=1, keepdim=True) + self.epsilon if self.scale
                  else torch.ones_like(level))
        past = history[..., 1:observed]
        past = past - past[:, -1:]
        known = history[..., observed:]
        centered = (target - level) / spread
        summary = self.encoder(torch.cat([centered, past, known], dim=-1))
        return self.decode(summary, inputs[:, L:, observed:], centered[..., 0], level, spread,
                           training)

    def decode(self, summary: torch.Tensor, future: torch.Tensor, centered: torch.Tensor | None,
               level: torch.Tensor, spread: torch.Tensor, training: bool = False) -> torch.Tensor:
        """The heads: `(batch, H, Q)` forecasts from the LSTM summary `(batch, units)`, the
        known-future covariates `(batch, H, K)` and the normalized target window `(batch, L)`
        (used by the linear head only), mapped back with `level` and `spread` `(batch, 1, 1)`.
        """
        summary = self.dropout(summary, training=training)
        raw = self.head(torch.cat([summary, future.reshape(future.shape[0], -1)], dim=-1))
        if self.linear_head is not None:
            raw = raw + self.linear_head(centered)
        raw = raw.reshape(-1, self.horizon, self.quantile_count)
        if len(self.quantiles) > 1:
            raw = monotone_quantiles(raw, self.anchor)
        return raw * spread + level

    def get_config(self) -> dict:
        return {"input_length": self.input_length, "horizon": self.horizon,
                "past_features": self.past_features, "future_features": self.future_features,
                "quantiles": list(self.quantiles), "units": self.units,
                "dropout": self.dropout_rate, "linear": self.linear,
                "normalize": self.normalize, "scale": self.scale, "epsilon": self.epsilon,
                "name": self.name}
