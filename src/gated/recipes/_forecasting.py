"""Shared steps of the forecasting recipes (not a recipe itself: the name starts with `_`).

Windows for the learned baselines, one baseline run, and the side-by-side table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gated.forecasting.windows import make_inputs, make_targets


def windows(frame: Any, columns: Sequence[Any], input_length: int, horizon: int,
            start: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`(x (N, L), y (N, H))` windows of each column (channel-independent, column-major),
    for the origins of `Forecaster.backtest(frame, start)` (default start `input_length`)."""
    values = frame[list(columns)].to_numpy(dtype=np.float64)
    n = len(values)
    first = input_length if start is None else start
    origins = np.arange(first - 1, n - horizon)
    x = make_inputs(values, np.zeros((n, 0)), np.zeros((n + horizon, 0)), origins,
                    input_length, horizon)[:, :input_length, 0]
    return x, make_targets(values, origins, horizon)


def mse_mae(forecast: np.ndarray, actual: np.ndarray, scale: float = 1.0) -> dict[str, float]:
    """MSE and MAE of `forecast` against `actual`, errors divided by `scale` first."""
    error = (np.asarray(forecast, np.float64) - np.asarray(actual, np.float64)) / scale
    return {"mse": float(np.mean(error ** 2)), "mae": float(np.mean(np.abs(error)))}


def print_table(rows: list[dict], methods: Sequence[str], keys: Sequence[str] = ("mse", "mae"),
                extra: Sequence[str] = ()) -> None:
    """Prints one line per configuration: each method's numbers side by side."""
    head = f"{'setting':<22}" + "".join(f"{m:>18}" for m in methods) + "".join(
        f"{e:>12}" for e in extra)
    print(head)
    print(" " * 22 + "".join(f"{'/'.join(keys):>18}" for _ in methods))
    for row in rows:
        line = f"{row['setting']:<22}"
        for method in methods:
            values = row.get(method)
            line += (f"{'/'.join(f'{values[k]:.4f}' for k in keys):>18}" if values
                     else f"{'-':>18}")
        for e in extra:
            value = row.get(e)
            line += f"{value:>12.3f}" if isinstance(value, float) else f"{str(value or '-'):>12}"
        print(line)
