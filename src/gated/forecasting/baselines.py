"""Learned baselines for the benchmarks: a DLinear-style linear model and a plain LSTM.

Both map a window of `L` values of one series to its next `H` values (channel independence:
one network for every column), trained with `fit`, the mean squared error and early stopping.

DLinear (Zeng et al., AAAI 2023, "Are Transformers Effective for Time Series Forecasting?"):
split the window into a trend (a moving average of width `k`, edges padded by repeating the
end values) and the remainder, and forecast with one linear map of each:

    trend     = moving_average_k(x)           (L,)
    seasonal  = x - trend
    forecast  = W_t trend + b_t + W_s seasonal + b_s      (H,)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gated.layers import LSTM, Dense
from gated.models import Model, Sequential

__all__ = ["DLinear", "plain_lstm", "train_baseline"]


class DLinear(Model):
    """The DLinear forecaster: trend/remainder decomposition and one `Dense` per part.

    Args:
        input_length: window length `L`.
        horizon: forecast length `H`.
        kernel_size: width of the moving average (25 in the paper).

    Example:
    >>> model = DLinear(96, 24)
    >>> tuple(model(torch.zeros(2, 96)).shape)
    (2, 24)
    """

    def __init__(self, input_length: int, horizon: int, kernel_size: int = 25,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_length, self.horizon = int(input_length), int(horizon)
        self.kernel_size = int(kernel_size)
        self.trend_head = Dense(self.horizon)
        self.seasonal_head = Dense(self.horizon)
        with torch.no_grad():
            self.call(torch.zeros(1, self.input_length))
        self.built = True

    def trend(self, x: torch.Tensor) -> torch.Tensor:
        """The moving average of `x` `(batch, L)`, ends padded with the end values."""
        front = (self.kernel_size - 1) // 2
        back = self.kernel_size - 1 - front
        padded = torch.cat([x[:, :1].expand(-1, front), x, x[:, -1:].expand(-1, back)], dim=1)
        return F.avg_pool1d(padded[:, None], self.kernel_size, stride=1)[:, 0]

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        trend = self.trend(inputs)
        return self.trend_head(trend) + self.seasonal_head(inputs - trend)

    def get_config(self) -> dict:
        return {"input_length": self.input_length, "horizon": self.horizon,
                "kernel_size": self.kernel_size, "name": self.name}


def plain_lstm(input_length: int, horizon: int, units: int = 64) -> Sequential:
    """`Sequential([LSTM(units), Dense(horizon)])` on `(batch, L, 1)` windows: the usual recipe
    (no normalization of the window, no residual), the baseline the forecaster improves on."""
    return Sequential([LSTM(units, input_shape=(input_length, 1)), Dense(horizon)])


def train_baseline(model: Model, train: tuple[np.ndarray, np.ndarray],
                   validation: tuple[np.ndarray, np.ndarray], epochs: int,
                   batch_size: int = 128, learning_rate: float = 1e-3, patience: int = 3,
                   verbose: int = 0) -> Model:
    """Trains `model` with Adam on the MSE, early stopping on `validation` (best weights kept).

    Args:
        model: a `DLinear` (inputs `(N, L)`) or `plain_lstm` (inputs `(N, L, 1)`).
        train: `(x, y)` windows and their next `H` values.
        validation: the same for early stopping.
        epochs: the most epochs.
        batch_size: windows per step.
        learning_rate: Adam's rate.
        patience: epochs without improvement before stopping.
        verbose: `fit`'s verbosity.

    Returns:
        The trained `model`.
    """
    from gated import callbacks, optimizers

    model.compile(optimizer=optimizers.Adam(learning_rate, clipnorm=1.0), loss="mse")
    stop = callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
    model.fit(*train, validation_data=validation, epochs=epochs, batch_size=batch_size,
              callbacks=[stop], verbose=verbose)
    return model
