"""Forecast windows: what the network sees at one origin, and what it must predict.

At origin `i` (the position of the last observed row) the network input is the
`input_length + horizon` rows `i - input_length + 1 ... i + horizon` of the columns

    [target, past-observed covariates..., known-future covariates...]

where the target and the past-observed covariates are ZERO on the `horizon` rows after the
origin (they are not known yet), and the known-future covariates (calendar features, planned
values) are kept. The true values are the target on rows `i + 1 ... i + horizon`. Several
targets are windowed one after the other (channel independence: one shared network, each
target forecast from its own history and the shared covariates).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["make_inputs", "make_targets"]


def make_inputs(targets: np.ndarray, past: np.ndarray, future: np.ndarray, origins: np.ndarray,
                input_length: int, horizon: int) -> np.ndarray:
    """Network inputs at each origin, for each target column.

    Args:
        targets: `(n, targets)` scaled target columns.
        past: `(n, past)` scaled past-observed covariates.
        future: `(n + horizon, future)` known-future covariates, extended `horizon` rows past
            the data (rows beyond what an origin may use are never read).
        origins: positions of the last observed row, each in
            `[input_length - 1, n - 1]`.
        input_length: rows of history.
        horizon: rows to forecast.

    Returns:
        float32 `(targets * len(origins), input_length + horizon, 1 + past + future)`, ordered
        target-major (all origins of the first target, then the second ...).
    """
    n = len(targets)
    width = input_length + horizon
    observed_pad = np.zeros((horizon, past.shape[1]), dtype=np.float32)
    past_ext = np.concatenate([past.astype(np.float32), observed_pad])
    future_ext = future[: n + horizon].astype(np.float32)
    starts = np.asarray(origins, dtype=np.int64) - input_length + 1
    blocks = []
    for column in range(targets.shape[1]):
        target_ext = np.concatenate([targets[:, column].astype(np.float32),
                                     np.zeros(horizon, dtype=np.float32)])[:, None]
        table = np.concatenate([target_ext, past_ext, future_ext], axis=1)
        view = sliding_window_view(table, width, axis=0)  # (n + horizon - width + 1, F, width)
        block = np.ascontiguousarray(view[starts].transpose(0, 2, 1))
        block[:, input_length:, : 1 + past.shape[1]] = 0.0  # the unknown future
        blocks.append(block)
    return np.concatenate(blocks) if blocks else np.zeros((0, width, 0), np.float32)


def make_targets(targets: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """The true values after each origin: `(targets * len(origins), horizon)`, target-major.

    Args:
        targets: `(n, targets)` target columns; every origin must have `horizon` rows after it.
        origins: positions of the last observed row.
        horizon: rows to forecast.
    """
    view = sliding_window_view(targets.astype(np.float32), horizon, axis=0)  # (m, T, H)
    picked = view[np.asarray(origins, dtype=np.int64) + 1]  # (len(origins), T, H)
    return np.ascontiguousarray(picked.transpose(1, 0, 2).reshape(-1, horizon))
