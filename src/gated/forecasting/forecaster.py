"""`Forecaster`: series or tables in, point and quantile forecasts out (pandas in and out)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from gated.forecasting import frames, io
from gated.forecasting.losses import PinballLoss
from gated.forecasting.network import ForecastNetwork
from gated.forecasting.scaling import fit_scaler, scaler_from_state
from gated.forecasting.windows import make_inputs, make_targets

__all__ = ["Forecaster", "load_forecaster"]


class Forecaster:
    """An LSTM forecaster that beats repeat-last-value: point and quantile forecasts.

    It windows a table (see `gated.forecasting.windows`), z-scores it with scikit-learn's
    `StandardScaler` fitted on the training table, and trains a `ForecastNetwork` (an LSTM over
    the window normalized by its last value, plus a linear head, forecasting every step ahead
    at once as a residual over the last value) with `fit`, the pinball loss and early stopping.

    Args:
        horizon: steps to forecast after the end of the data.
        input_length: steps of history the network reads.
        quantiles: quantile levels to forecast (0.5 among them: it is the point forecast), or
            `None` for a point forecast trained with the mean squared error.
        units: LSTM units.
        dropout: dropout before the heads.
        linear: add a linear head on the normalized history (DLinear-style).
        normalize: `"last"`, `"mean"` or `"none"`: the level subtracted from each window.
        scale: also divide each window by its target's standard deviation (and multiply the
            forecast back): forecasts in units of the recent volatility.
        time_features: add calendar features of a `DatetimeIndex` as known-future covariates.
        epochs: maximum training epochs.
        batch_size: windows per gradient step.
        learning_rate: Adam's learning rate.
        patience: epochs without a better validation loss before training stops (the best
            weights are restored).
        fill: NaN policy for the used columns: `None` (an error), `"ffill"`,
            `"interpolate"` or `"zero"`.
        seed: seed of the weights and the shuffling.

    Example:

    ```python
    f = Forecaster(horizon=24, input_length=96, quantiles=(0.1, 0.5, 0.9))
    f.fit(df_train, target="OT", covariates=["HUFL"], validation=df_val)
    f.predict(df_train)                      # 24 rows after df_train's end: OT, OT_q0.1, ...
    bt = f.backtest(df_test, start=96)       # every rolling-origin forecast, with the truth
    ```
    """

    def __init__(self, horizon: int, input_length: int, quantiles: Sequence[float] | None = None,
                 units: int = 64, dropout: float = 0.0, linear: bool = True,
                 normalize: str = "last", scale: bool = True, time_features: bool = True,
                 epochs: int = 30,
                 batch_size: int = 128, learning_rate: float = 1e-3, patience: int = 5,
                 fill: str | None = None, seed: int | None = 0) -> None:
        self.horizon = frames.positive_int(horizon, "horizon")
        self.input_length = frames.positive_int(input_length, "input_length")
        if quantiles is not None:
            quantiles = sorted(float(q) for q in quantiles)
            if not quantiles or any(not 0.0 < q < 1.0 for q in quantiles):
                raise ValueError(f"`quantiles` must be levels in (0, 1); received {quantiles}.")
            if 0.5 not in quantiles:
                raise ValueError("`quantiles` must include 0.5 (the point forecast); received "
                                 f"{quantiles}.")
            if len(set(quantiles)) != len(quantiles):
                raise ValueError(f"`quantiles` has duplicates; received {quantiles}.")
        if normalize not in ("last", "mean", "none"):
            raise ValueError("`normalize` must be 'last', 'mean' or 'none'; received "
                             f"{normalize!r}.")
        if fill not in frames.FILL_POLICIES:
            raise ValueError(f"`fill` must be one of {frames.FILL_POLICIES}; received {fill!r}.")
        self.quantiles = tuple(quantiles) if quantiles is not None else None
        self.units = frames.positive_int(units, "units")
        self.dropout = float(dropout)
        self.linear = bool(linear)
        self.normalize = normalize
        self.scale = bool(scale)
        self.time_features = bool(time_features)
        self.epochs = int(epochs)
        self.batch_size = frames.positive_int(batch_size, "batch_size")
        self.learning_rate = float(learning_rate)
        self.patience = int(patience)
        self.fill = fill
        self.seed = seed
        self.network: ForecastNetwork | None = None
        self.scaler = None
        self.history = None
        self.target: list = []
        self.covariates: list = []
        self.future_covariates: list = []
        self.calendar = False

    # ------------------------------------------------------------------ configuration
    def get_config(self) -> dict:
        """The constructor arguments, as JSON-able values."""
        return {"horizon": self.horizon, "input_length": self.input_length,
                "quantiles": list(self.quantiles) if self.quantiles else None,
                "units": self.units, "dropout": self.dropout, "linear": self.linear,
                "normalize": self.normalize, "scale": self.scale,
                "time_features": self.time_features,
                "epochs": self.epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "patience": self.patience,
                "fill": self.fill, "seed": self.seed}

    @property
    def columns(self) -> list:
        """The scaled columns, in order: targets, covariates, future covariates."""
        return [*self.target, *self.covariates, *self.future_covariates]

    def _check_fitted(self, method: str) -> None:
        if self.network is None:
            raise RuntimeError(f"Call fit() before {method}(): this Forecaster is not trained.")

    # ------------------------------------------------------------------ data
    def _arrays(self, data: Any, name: str, future: Any = None, need_future: bool = False
                ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        """(frame, scaled targets (n, T), scaled past (n, P), future features (n + H, K))."""
        frame = frames.as_frame(data, name)
        for role, names in (("target", self.target), ("covariates", self.covariates),
                            ("future_covariates", self.future_covariates)):
            frames.check_columns(frame, names, role, name)
        table = frames.fill_missing(frame, self.columns, self.fill, name).to_numpy()
        scaled = self.scaler.transform(table)
        t, p = len(self.target), len(self.covariates)
        known = scaled[:, t + p:]
        extra = np.zeros((self.horizon, known.shape[1]))
        if self.future_covariates:
            if future is not None:
                future_frame = frames.as_frame(future, "future")
                frames.check_columns(future_frame, self.future_covariates, "future_covariates",
                                     "future")
                if len(future_frame) < self.horizon:
                    raise ValueError(f"`future` must hold the {self.horizon} rows after the "
                                     f"data; received {len(future_frame)} rows.")
                values = frames.fill_missing(future_frame, self.future_covariates, self.fill,
                                             "future").to_numpy()[: self.horizon]
                padded = np.zeros((self.horizon, len(self.columns)))
                padded[:, t + p:] = values
                extra = self.scaler.transform(padded)[:, t + p:]
            elif need_future:
                raise ValueError(f"The forecast needs the known-future covariates "
                                 f"{self.future_covariates} for the {self.horizon} steps after "
                                 "the data: pass them as predict(..., future=DataFrame).")
        known = np.concatenate([known, extra])
        if self.calendar:
            index = frame.index.append(frames.future_index(frame.index, self.horizon))
            known = np.concatenate([known, frames.time_features(index)], axis=1)
        return frame, scaled[:, :t], scaled[:, t:t + p], known

    def _check_length(self, n: int, needed: int, name: str, what: str) -> None:
        if n < needed:
            raise ValueError(
                f"`{name}` is too short: {what} needs at least {needed} rows (input_length="
                f"{self.input_length}, horizon={self.horizon}); received {n} rows.")

    # ------------------------------------------------------------------ training
    def fit(self, data: Any, target: Any = "y", covariates: Any = None,
            future_covariates: Any = None, validation: Any = None, epochs: int | None = None,
            verbose: int = 1) -> Forecaster:
        """Trains on every window of `data` (early stopping on `validation`).

        Args:
            data: the training table (`DataFrame`, `Series` or array; see `frames.as_frame`).
            target: the column(s) to forecast; several share one network (each forecast
                from its own history).
            covariates: past-observed columns (known up to the origin only).
            future_covariates: known-future columns (known over the horizon too).
            validation: a later table for early stopping; `None` holds out the last 10% of
                the training windows (after a gap of `horizon`).
            epochs: overrides the constructor's `epochs`.
            verbose: 0 silent, 1 a progress bar, 2 one line per epoch.

        Returns:
            `self` (its `history` holds the loss curves).
        """
        from gated import callbacks, optimizers

        self.target = frames.column_names(target, "target")
        if not self.target:
            raise ValueError("`target` must name at least one column; received none.")
        self.covariates = frames.column_names(covariates, "covariates")
        self.future_covariates = frames.column_names(future_covariates, "future_covariates")
        overlap = set(self.target) & set(self.covariates + self.future_covariates)
        if overlap:
            raise ValueError(f"Columns {sorted(overlap, key=str)} are both target and covariate.")
        frame = frames.as_frame(data, "data")
        for role, names in (("target", self.target), ("covariates", self.covariates),
                            ("future_covariates", self.future_covariates)):
            frames.check_columns(frame, names, role, "data")
        self._check_length(len(frame), self.input_length + self.horizon, "data", "training")
        self.calendar = self.time_features and isinstance(frame.index, pd.DatetimeIndex)
        table = frames.fill_missing(frame, self.columns, self.fill, "data").to_numpy()
        self.scaler = fit_scaler(table)
        _, targets, past, known = self._arrays(frame, "data")
        origins = np.arange(self.input_length - 1, len(frame) - self.horizon)
        if validation is not None:
            vframe, vt, vp, vk = self._arrays(validation, "validation")
            self._check_length(len(vframe), self.input_length + self.horizon, "validation",
                               "validation")
            vorigins = np.arange(self.input_length - 1, len(vframe) - self.horizon)
            train_o, val = origins, (vt, vp, vk, vorigins)
        else:
            cut = int(len(origins) * 0.9)
            train_o, rest = origins[:cut], origins[cut + self.horizon:]
            val = (targets, past, known, rest) if len(rest) and cut else None
            if val is None:
                train_o = origins
        x = make_inputs(targets, past, known, train_o, self.input_length, self.horizon)
        y = make_targets(targets, train_o, self.horizon)[..., None]
        validation_data = None
        if val is not None:
            validation_data = (make_inputs(*val, self.input_length, self.horizon),
                               make_targets(val[0], val[3], self.horizon)[..., None])
        if self.seed is not None:
            torch.manual_seed(self.seed)
            np.random.seed(self.seed)
        self.network = ForecastNetwork(
            self.input_length, self.horizon, len(self.covariates), known.shape[1],
            self.quantiles or (), self.units, self.dropout, self.linear, self.normalize,
            self.scale)
        loss = PinballLoss(self.quantiles) if self.quantiles else "mse"
        self.network.compile(optimizer=optimizers.Adam(self.learning_rate, clipnorm=1.0),
                             loss=loss)
        monitor = "val_loss" if validation_data is not None else "loss"
        stop = callbacks.EarlyStopping(monitor=monitor, patience=self.patience,
                                       restore_best_weights=True)
        self.history = self.network.fit(
            x, y, batch_size=self.batch_size, epochs=self.epochs if epochs is None else epochs,
            validation_data=validation_data, callbacks=[stop], verbose=verbose)
        return self

    # ------------------------------------------------------------------ inference
    def _forward(self, x: np.ndarray) -> np.ndarray:
        """Network outputs `(windows, H, Q)` in the data's scale, per target block."""
        out = self.network.predict(x, batch_size=1024, verbose=0)
        return np.asarray(out, dtype=np.float64)

    def _unscale(self, values: np.ndarray, column: int) -> np.ndarray:
        return values * self.scaler.scale_[column] + self.scaler.mean_[column]

    def _output_names(self, target: Any) -> list[str]:
        names = [str(target)]
        if self.quantiles:
            names += [f"{target}_q{q:g}" for q in self.quantiles]
        return names

    def predict(self, data: Any, future: Any = None) -> pd.DataFrame:
        """Forecasts the `horizon` steps after the end of `data`.

        Args:
            data: the history (at least `input_length` rows), with the fitted columns.
            future: the known-future covariates over the horizon (`horizon` rows), when the
                forecaster was fitted with `future_covariates`.

        Returns:
            A `DataFrame` indexed by the next `horizon` times: per target, the point forecast
            (column named after the target; the median with quantiles) and one column
            `"<target>_q<level>"` per quantile.
        """
        self._check_fitted("predict")
        frame, targets, past, known = self._arrays(data, "data", future, need_future=True)
        self._check_length(len(frame), self.input_length, "data", "predict")
        origins = np.array([len(frame) - 1])
        out = self._forward(make_inputs(targets, past, known, origins, self.input_length,
                                        self.horizon))
        index = frames.future_index(frame.index, self.horizon)
        columns = {}
        for j, target in enumerate(self.target):
            values = self._unscale(out[j], j)
            names = self._output_names(target)
            median = values[:, self.quantiles.index(0.5)] if self.quantiles else values[:, 0]
            columns[names[0]] = median
            for k, name in enumerate(names[1:]):
                columns[name] = values[:, k]
        result = pd.DataFrame(columns, index=index)
        result.index.name = frame.index.name
        return result

    def backtest(self, data: Any, start: Any = None, stride: int = 1) -> pd.DataFrame:
        """Every rolling-origin forecast over `data`, with the true value (data's scale).

        The forecast made at origin `i` reads only rows up to `i` (and known-future
        covariates up to `i + horizon`); the model is not refitted.

        Args:
            data: the table to forecast through.
            start: the first forecast time: an integer position in `data` or any other index
                label (default: the first position with a full input window, `input_length`).
            stride: rows between consecutive origins.

        Returns:
            A long `DataFrame` with one row per (target, origin, step): `target`, `origin`
            (the last observed time), `time` (the forecast time), `step` (1..horizon),
            `actual`, `forecast` and one column `q<level>` per quantile. Only origins whose
            whole horizon lies in `data` are included.
        """
        self._check_fitted("backtest")
        stride = frames.positive_int(stride, "stride")
        frame, targets, past, known = self._arrays(data, "data")
        n = len(frame)
        self._check_length(n, self.input_length + self.horizon, "data", "a backtest")
        if start is None:
            first = self.input_length
        elif isinstance(start, (int, np.integer)) and not isinstance(start, bool):
            first = int(start)
        else:
            if start not in frame.index:
                raise ValueError(f"`start` {start!r} is not in the index of `data`.")
            first = int(frame.index.get_loc(start))
        if not self.input_length <= first <= n - self.horizon:
            raise ValueError(f"`start` must leave {self.input_length} rows of history before it "
                             f"and {self.horizon} rows from it on: a position in "
                             f"[{self.input_length}, {n - self.horizon}]; received {start!r} "
                             f"(position {first}).")
        origins = np.arange(first - 1, n - self.horizon, stride)
        out = self._forward(make_inputs(targets, past, known, origins, self.input_length,
                                        self.horizon))
        truth = make_targets(targets, origins, self.horizon)
        m, h = len(origins), self.horizon
        steps = np.tile(np.arange(1, h + 1), m)
        rows = []
        for j, target in enumerate(self.target):
            block = slice(j * m, (j + 1) * m)
            values = self._unscale(out[block], j).reshape(m * h, -1)
            part = {
                "target": np.repeat(str(target), m * h),
                "origin": np.repeat(frame.index.to_numpy()[origins], h),
                "time": frame.index.to_numpy()[(origins[:, None] + np.arange(1, h + 1)).ravel()],
                "step": steps,
                "actual": self._unscale(truth[block], j).ravel(),
                "forecast": values[:, self.quantiles.index(0.5)] if self.quantiles
                else values[:, 0],
            }
            for k, q in enumerate(self.quantiles or ()):
                part[f"q{q:g}"] = values[:, k]
            rows.append(pd.DataFrame(part))
        return pd.concat(rows, ignore_index=True)

    def plot(self, data: Any, path: str | os.PathLike, future: Any = None,
             actual: Any = None, last: int | None = None) -> Path:
        """Draws the end of `data`, the forecast after it and its quantile bands (a PNG).

        Args:
            data: the history (as for `predict`).
            path: PNG file to write (atomically).
            future: known-future covariates, as for `predict`.
            actual: a `Series` of the true values after `data`, drawn when given.
            last: how many history points to draw (default `4 * horizon`).

        Returns:
            The `Path` of the written PNG.
        """
        from gated.viz.forecasting import plot_quantile_forecast

        forecast = self.predict(data, future)
        frame = frames.as_frame(data, "data")
        target = self.target[0]
        return plot_quantile_forecast(frame[target], forecast, path, actual=actual,
                                      target=str(target), last=last or 4 * self.horizon,
                                      title=f"{target}: {self.horizon}-step forecast")

    # ------------------------------------------------------------------ saving
    def save(self, path: str | os.PathLike, overwrite: bool = True) -> Path:
        """Writes the forecaster (arguments, columns, scaler state, weights) as one zip,
        atomically (see `gated.forecasting.io`).

        Args:
            path: the file to write (e.g. `"ett.forecaster"`).
            overwrite: replace an existing file.

        Returns:
            The path written.
        """
        self._check_fitted("save")
        return io.write_forecaster(path, io.forecaster_state(self), self.network, overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Forecaster:
        """Reads a forecaster written by `save` (no code is executed: JSON + safetensors).

        Args:
            path: the file.

        Returns:
            A fitted `Forecaster` whose forecasts equal the saved one's.
        """
        from gated.callbacks import History

        config, network = io.read_forecaster(path)
        forecaster = cls(**config["forecaster"])
        forecaster.target = io.columns_of(config, "target")
        forecaster.covariates = io.columns_of(config, "covariates")
        forecaster.future_covariates = io.columns_of(config, "future_covariates")
        forecaster.calendar = bool(config["calendar"])
        forecaster.scaler = scaler_from_state(config["scaler"])
        forecaster.network = network
        forecaster.history = History()
        forecaster.history.history = config.get("history", {})
        return forecaster


def load_forecaster(path: str | os.PathLike) -> Forecaster:
    """Reads a forecaster written by `Forecaster.save` (the same as `Forecaster.load`)."""
    return Forecaster.load(path)
