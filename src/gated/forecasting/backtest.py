"""Scoring backtests, and the naive baselines in the same long format.

A backtest table (from `Forecaster.backtest` or `naive_backtest`) has one row per
(target, origin, step) with the columns `target, origin, time, step, actual, forecast` and,
for a probabilistic forecaster, `q<level>` per quantile.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gated.forecasting import frames

__all__ = ["coverage", "errors_by_step", "naive_backtest", "score"]


def naive_backtest(data: Any, target: Any, horizon: int, start: int, stride: int = 1,
                   season: int | None = None) -> pd.DataFrame:
    """Repeat-last-value (or seasonal naive) forecasts at every origin, as a backtest table.

    Repeat-last forecasts `y[i]` for every step after origin `i`; seasonal naive with period
    `m` forecasts step `h` as `y[i + h - m * ceil(h / m)]` (the same phase one period back).

    Args:
        data: the table (or series).
        target: the target column(s).
        horizon: steps per forecast.
        start: position of the first forecast time (the first origin is `start - 1`).
        stride: rows between origins.
        season: the period `m`, or `None` for repeat-last.

    Returns:
        A backtest table with the origins of `Forecaster.backtest(data, start, stride)`.
    """
    frame = frames.as_frame(data, "data")
    targets = target if isinstance(target, (list, tuple)) else [target]
    frames.check_columns(frame, targets, "target")
    n = len(frame)
    lookback = season or 1
    if not lookback <= start <= n - horizon:
        raise ValueError(f"`start` must be in [{lookback}, {n - horizon}]; received {start}.")
    origins = np.arange(start - 1, n - horizon, stride)
    steps = np.arange(1, horizon + 1)
    times = origins[:, None] + steps
    if season:
        sources = times - season * np.ceil(steps / season).astype(int)
    else:
        sources = np.broadcast_to(origins[:, None], times.shape)
    parts = []
    index = frame.index.to_numpy()
    for column in targets:
        values = frames.fill_missing(frame, [column], "ffill")[column].to_numpy()
        parts.append(pd.DataFrame({
            "target": np.repeat(str(column), times.size),
            "origin": np.repeat(index[origins], horizon), "time": index[times.ravel()],
            "step": np.tile(steps, len(origins)), "actual": values[times.ravel()],
            "forecast": values[sources.ravel()]}))
    return pd.concat(parts, ignore_index=True)


def score(table: pd.DataFrame, scale: float | None = None) -> dict[str, float]:
    """MSE and MAE of a backtest table (over every target, origin and step).

    Args:
        table: a backtest table.
        scale: divide the errors by this first (e.g. a column's train standard deviation, to
            report z-scored errors); `None` keeps the data's units.

    Returns:
        `{"mse", "mae", "rmse"}`.
    """
    error = (table["forecast"] - table["actual"]).to_numpy(dtype=np.float64)
    if scale:
        error = error / scale
    mse = float(np.mean(error ** 2))
    return {"mse": mse, "mae": float(np.mean(np.abs(error))), "rmse": mse ** 0.5}


def errors_by_step(table: pd.DataFrame) -> pd.DataFrame:
    """MSE and MAE per step ahead: a `DataFrame` indexed by `step`."""
    error = table["forecast"] - table["actual"]
    frame = pd.DataFrame({"step": table["step"], "se": error ** 2, "ae": error.abs()})
    grouped = frame.groupby("step")
    return pd.DataFrame({"mse": grouped["se"].mean(), "mae": grouped["ae"].mean()})


def coverage(table: pd.DataFrame, lower: float, upper: float) -> float:
    """Share of true values inside `[q<lower>, q<upper>]` (0.8 is ideal for 0.1 and 0.9)."""
    low, high = f"q{lower:g}", f"q{upper:g}"
    for column in (low, high):
        if column not in table.columns:
            raise ValueError(f"The backtest table has no column {column!r}; it has "
                             f"{list(table.columns)}.")
    inside = (table["actual"] >= table[low]) & (table["actual"] <= table[high])
    return float(inside.mean())
