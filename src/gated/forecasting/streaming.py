"""Streaming forecasts: O(1) work per new observation from the carried LSTM state.

A `Forecaster` normally reads a sliding window of `input_length` rows, normalized by its last
value and spread: every new row changes the whole window, so the LSTM must run over it again
(O(input_length) per update). A carried state can only replace that rerun when the network's
input at each step does not depend on later rows, and when the window is the WHOLE history
(the state then summarizes everything seen, from the first row on). `StreamingForecaster`
therefore accepts only a forecaster built for it:

    Forecaster(..., normalize="none", scale=False, linear=False)   # and no past covariates

(calendar features, which are known at every step, are allowed). Each `update(value, time)`
runs one `gated.engine.step` of the LSTM cell on the new row and the heads on the carried
hidden state: the forecast after `n` updates equals running the LSTM layer over all `n` rows
at once (`recompute`), which the tests check.

Caveat, said plainly: such a network is trained on windows of `input_length` rows starting
from a zero state; streamed over a history much longer than that, its state sees sequences
longer than in training. Train it on windows as long as the streams it will serve, or reset
the stream (`reset()`) at the same period.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from gated.engine import step
from gated.forecasting import frames

__all__ = ["StreamingForecaster"]


class StreamingForecaster:
    """Updates a forecast in O(1) per observation by carrying the LSTM state.

    Args:
        forecaster: a fitted `Forecaster` with `normalize="none"`, `scale=False`,
            `linear=False`, one target and no past-observed covariates.
        freq: the spacing of the stream's times (for the calendar features of the forecast
            horizon); needed when the forecaster uses calendar features.

    Example:

    ```python
    stream = StreamingForecaster(f, freq="h")
    for time, value in series.items():
        forecast = stream.update(value, time)    # (horizon, quantiles) in the data's scale
    ```
    """

    def __init__(self, forecaster: Any, freq: Any = None) -> None:
        forecaster._check_fitted("StreamingForecaster")
        network = forecaster.network
        problems = [f"{name}={value!r}" for name, value, ok in (
            ("normalize", network.normalize, network.normalize == "none"),
            ("scale", network.scale, not network.scale),
            ("linear", network.linear, not network.linear),
            ("covariates", forecaster.covariates, not forecaster.covariates),
            ("target", forecaster.target, len(forecaster.target) == 1),
            ("future_covariates", forecaster.future_covariates,
             not forecaster.future_covariates)) if not ok]
        if problems:
            raise ValueError(
                "StreamingForecaster needs a forecaster whose encoder input at each step does "
                "not depend on later rows: normalize='none', scale=False, linear=False, one "
                "target, no covariates besides the calendar; received " + ", ".join(problems)
                + ".")
        if forecaster.calendar and freq is None:
            raise ValueError("`freq` is required: the forecaster uses calendar features of a "
                             "DatetimeIndex (e.g. freq='h').")
        self.forecaster = forecaster
        self.network = network
        self.cell = network.encoder.cell
        self.freq = pd.tseries.frequencies.to_offset(freq) if freq is not None else None
        self.reset()

    def reset(self) -> None:
        """Forgets the stream: the next update starts from the zero state."""
        self.state = self.cell.get_initial_state(1)
        self.hidden = None
        self.time: Any = None
        self.count = 0

    def _calendar(self, times: pd.DatetimeIndex) -> np.ndarray:
        return frames.time_features(times) if self.forecaster.calendar else np.zeros((len(times),
                                                                                      0))

    def _row(self, value: float, time: Any) -> torch.Tensor:
        scaler = self.forecaster.scaler
        scaled = (float(value) - scaler.mean_[0]) / scaler.scale_[0]
        features = self._calendar(pd.DatetimeIndex([time])) if self.forecaster.calendar \
            else np.zeros((1, 0))
        row = np.concatenate([[scaled], features[0]]).astype(np.float32)
        return torch.from_numpy(row)[None]

    def update(self, value: float, time: Any = None) -> np.ndarray:
        """Feeds one observation; returns the forecast of the `horizon` steps after it.

        Args:
            value: the target's new value (the data's scale).
            time: its time stamp (needed with calendar features).

        Returns:
            `(horizon, Q)` forecasts in the data's scale (`Q` quantiles, or 1).
        """
        if not np.isfinite(value):
            raise ValueError(f"`value` must be finite; received {value!r}.")
        with torch.no_grad():
            output, self.state = step(self.cell, self._row(value, time), self.state)
        self.hidden = output
        self.time = time
        self.count += 1
        return self.forecast()

    def forecast(self) -> np.ndarray:
        """The forecast from the carried state (after at least one `update`)."""
        if self.hidden is None:
            raise RuntimeError("Call update() with a first observation before forecast().")
        return self._decode(self.hidden, self.time)

    def _decode(self, summary: torch.Tensor, time: Any) -> np.ndarray:
        horizon = self.network.horizon
        if self.forecaster.calendar:
            times = pd.date_range(time, periods=horizon + 1, freq=self.freq)[1:]
            future = torch.from_numpy(self._calendar(times).astype(np.float32))[None]
        else:
            future = torch.zeros(1, horizon, 0)
        zero, one = torch.zeros(1, 1, 1), torch.ones(1, 1, 1)
        with torch.no_grad():
            out = self.network.decode(summary, future, None, zero, one)[0].numpy()
        scaler = self.forecaster.scaler
        return out.astype(np.float64) * scaler.scale_[0] + scaler.mean_[0]

    def recompute(self, history: Any) -> np.ndarray:
        """The same forecast by running the LSTM layer over the whole `history` at once.

        Args:
            history: every observation since the last `reset` (a `Series` indexed by time
                with calendar features, else any 1-D sequence).

        Returns:
            `(horizon, Q)`, equal to `update`'s after feeding the same rows.
        """
        series = history if isinstance(history, pd.Series) else pd.Series(np.asarray(history))
        scaler = self.forecaster.scaler
        scaled = (series.to_numpy(np.float64) - scaler.mean_[0]) / scaler.scale_[0]
        features = self._calendar(series.index) if self.forecaster.calendar \
            else np.zeros((len(series), 0))
        rows = np.concatenate([scaled[:, None], features], axis=1).astype(np.float32)
        with torch.no_grad():
            summary = self.network.encoder(torch.from_numpy(rows)[None])
        return self._decode(summary, series.index[-1])
