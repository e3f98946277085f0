"""Forecaster plots: the history with a forecast and its intervals, and errors per step ahead.

Both take pandas objects as the `Forecaster` returns them and write PNGs atomically with the
helpers of `gated.viz.plots` (Agg canvas, temporary file, `os.replace`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gated.viz.plots import _new_figure, _save_atomically

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plot_horizon_errors", "plot_quantile_forecast"]


def plot_quantile_forecast(history: pd.Series, forecast: pd.DataFrame, path: str | os.PathLike,
                           actual: pd.Series | None = None, target: str | None = None,
                           intervals: tuple[tuple[float, float], ...] = ((0.1, 0.9),),
                           last: int | None = None, title: str = "Forecast") -> Path:
    """Plots the end of a series, the point forecast after it and its quantile bands.

    Args:
        history: the observed series (indexed by time).
        forecast: `Forecaster.predict` output (columns `<target>` and `<target>_q<level>`).
        path: PNG file to write.
        actual: the true values over the forecast, drawn when given.
        target: which target's columns to draw (default: the first column's name).
        intervals: `(lower, upper)` quantile levels drawn as shaded bands.
        last: draw only the last `last` points of `history` (default: all).
        title: the figure title.

    Returns:
        The `Path` of the written PNG.

    Example:

    ```python
    plot_quantile_forecast(df["OT"], f.predict(df), "forecast.png", last=240)
    ```
    """
    import pandas as pd

    if not isinstance(forecast, pd.DataFrame) or forecast.empty:
        raise TypeError("`forecast` must be a non-empty DataFrame from Forecaster.predict; "
                        f"received {type(forecast).__name__}.")
    target = str(forecast.columns[0]) if target is None else str(target)
    if target not in map(str, forecast.columns):
        raise ValueError(f"`target` {target!r} is not a column of `forecast`: "
                         f"{list(forecast.columns)}.")
    shown = history if last is None else history.iloc[-int(last):]
    figure = _new_figure(10.0, 4.5)
    axis = figure.subplots()
    axis.plot(shown.index, shown.to_numpy(dtype=float), color="black", linewidth=1.2,
              label="history")
    columns = {str(c): c for c in forecast.columns}
    for k, (low, high) in enumerate(intervals):
        names = (f"{target}_q{low:g}", f"{target}_q{high:g}")
        if all(name in columns for name in names):
            axis.fill_between(forecast.index, forecast[columns[names[0]]].to_numpy(float),
                              forecast[columns[names[1]]].to_numpy(float), alpha=0.25 / (k + 1),
                              color="tab:blue", label=f"{low:g}-{high:g} quantiles")
    axis.plot(forecast.index, forecast[columns[target]].to_numpy(float), color="tab:blue",
              linewidth=1.6, label="forecast")
    if actual is not None:
        axis.plot(actual.index, actual.to_numpy(dtype=float), color="tab:red", linewidth=1.0,
                  linestyle="--", label="actual")
    axis.set_title(title)
    axis.grid(True, alpha=0.3)
    axis.legend(loc="upper left")
    figure.autofmt_xdate()
    figure.tight_layout()
    return _save_atomically(figure, path)


def plot_horizon_errors(errors: Mapping[str, Any], path: str | os.PathLike,
                        metric: str = "mse", title: str = "Error per step ahead") -> Path:
    """Plots each method's error against the step ahead.

    Args:
        errors: method name -> `errors_by_step(table)` (a DataFrame indexed by step with the
            column `metric`) or an array of per-step errors.
        path: PNG file to write.
        metric: the column drawn (`"mse"` or `"mae"`).
        title: the figure title.

    Returns:
        The `Path` of the written PNG.
    """
    import pandas as pd

    if not isinstance(errors, Mapping) or not errors:
        raise TypeError("`errors` must be a non-empty dict name -> per-step errors; received "
                        f"{type(errors).__name__}.")
    figure = _new_figure(7.0, 4.0)
    axis = figure.subplots()
    for name, values in errors.items():
        if isinstance(values, pd.DataFrame):
            if metric not in values.columns:
                raise ValueError(f"`errors[{name!r}]` has no column {metric!r}; it has "
                                 f"{list(values.columns)}.")
            steps, y = values.index.to_numpy(), values[metric].to_numpy(dtype=float)
        else:
            y = np.asarray(values, dtype=float).reshape(-1)
            steps = np.arange(1, len(y) + 1)
        axis.plot(steps, y, linewidth=1.4, label=str(name))
    axis.set_xlabel("step ahead")
    axis.set_ylabel(metric.upper())
    axis.set_title(title)
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.tight_layout()
    return _save_atomically(figure, path)
