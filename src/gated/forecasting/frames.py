"""Series and tables in: checked pandas frames, time features and future indexes.

Everything the forecaster accepts (a pandas `DataFrame` or `Series`, a NumPy array of shape
`(timesteps,)` or `(timesteps, columns)`) becomes a `DataFrame` here, once, with the checks
whose messages name the problem: unknown columns, a time index that is not increasing, NaN in
a used column (unless a `fill=` policy is given), too few rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from gated._checks import close_matches

__all__ = ["FILL_POLICIES", "as_frame", "check_columns", "column_names", "fill_missing",
           "future_index", "positive_int", "time_features"]

#: Accepted `fill=` policies for NaN in the used columns.
FILL_POLICIES = (None, "ffill", "interpolate", "zero")


def as_frame(data: Any, name: str = "data") -> pd.DataFrame:
    """Returns `data` as a `DataFrame` whose index increases strictly (time or positions).

    Args:
        data: a `DataFrame`, a `Series` (one column named after it, or `"y"`), or a NumPy
            array: 1-D becomes the column `"y"`, 2-D the columns `0, 1, ...`.
        name: the argument's name, for messages.

    Returns:
        A `DataFrame` (the caller's object is never modified).

    Raises:
        TypeError: `data` is of another type.
        ValueError: the index is not strictly increasing (names the first offending position).
    """
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pd.Series):
        frame = data.to_frame(name=data.name if data.name is not None else "y")
    elif isinstance(data, (np.ndarray, list, tuple)):
        array = np.asarray(data)
        if array.ndim == 1:
            frame = pd.DataFrame({"y": array})
        elif array.ndim == 2:
            frame = pd.DataFrame(array)
        else:
            raise ValueError(f"`{name}` as an array must be 1-D (timesteps,) or 2-D "
                             f"(timesteps, columns); received shape {array.shape}.")
    else:
        raise TypeError(f"`{name}` must be a pandas DataFrame or Series or a NumPy array; "
                        f"received {type(data).__name__}.")
    index = frame.index
    if len(index) > 1:
        if index.has_duplicates:
            first = index[index.duplicated()][0]
            raise ValueError(f"`{name}` has a duplicated time index value {first!r}; the time "
                             "index must be strictly increasing.")
        if not index.is_monotonic_increasing:
            values = index.to_numpy()
            try:
                position = int(np.flatnonzero(values[1:] < values[:-1])[0]) + 1
                where = f" at position {position} ({values[position]!r} after " \
                        f"{values[position - 1]!r})"
            except TypeError:
                where = ""
            raise ValueError(f"`{name}` has a non-monotonic time index{where}; sort it "
                             "(`df.sort_index()`) so that time increases.")
    return frame


def check_columns(frame: pd.DataFrame, columns: Sequence[Any], role: str,
                  name: str = "data") -> None:
    """Raises `ValueError` naming the first of `columns` that `frame` lacks.

    Args:
        frame: the table.
        columns: the column names that must exist.
        role: what the columns are for (`"target"`, `"covariates"`), for the message.
        name: the table's argument name, for the message.
    """
    known = [str(c) for c in frame.columns]
    for column in columns:
        if column not in frame.columns:
            hint = close_matches(str(column), known, n=1)
            raise ValueError(f"Unknown column {column!r} in `{role}`: `{name}` has the columns "
                             f"{list(frame.columns)}" + (f" (did you mean {hint[0]!r}?)"
                                                         if hint else "") + ".")
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise TypeError(f"Column {column!r} in `{role}` must be numeric; received dtype "
                            f"{frame[column].dtype}.")


def fill_missing(frame: pd.DataFrame, columns: Sequence[Any], fill: str | None,
                 name: str = "data") -> pd.DataFrame:
    """Returns `frame[columns]` as float64 with NaN handled by the `fill` policy.

    Args:
        frame: the table.
        columns: the columns to take.
        fill: `None` (NaN is an error), `"ffill"` (carry the last value forward; leading NaN
            take the first value), `"interpolate"` (linear in position) or `"zero"`.
        name: the table's argument name, for messages.

    Returns:
        A new float64 `DataFrame` without NaN.

    Raises:
        ValueError: NaN with `fill=None` (names the column, the count and the first time).
    """
    if fill not in FILL_POLICIES:
        raise ValueError(f"`fill` must be one of {FILL_POLICIES}; received {fill!r}.")
    table = frame[list(columns)].astype(np.float64)
    missing = table.isna()
    if not missing.to_numpy().any():
        return table
    if fill is None:
        column = missing.any().idxmax()
        where = table.index[missing[column].to_numpy()][0]
        raise ValueError(f"Column {column!r} of `{name}` has {int(missing[column].sum())} NaN "
                         f"value(s), the first at {where!r}; pass fill='ffill', "
                         "'interpolate' or 'zero' to fill them, or clean the data.")
    if fill == "ffill":
        return table.ffill().bfill()
    if fill == "interpolate":
        return table.interpolate(method="linear", limit_direction="both")
    return table.fillna(0.0)


def future_index(index: pd.Index, steps: int) -> pd.Index:
    """The `steps` index values after the end of `index`, at its own spacing.

    A `DatetimeIndex` continues at its frequency (inferred, else the last spacing); any other
    index continues at its last spacing (1 for fewer than two values).
    """
    if isinstance(index, pd.DatetimeIndex):
        freq = index.freq
        if freq is None and len(index) > 2:
            with warnings.catch_warnings():  # pandas 3 announces a change of return type
                warnings.simplefilter("ignore")
                freq = pd.infer_freq(index)
        if freq is not None:
            return pd.date_range(index[-1], periods=steps + 1, freq=freq)[1:]
        delta = index[-1] - index[-2] if len(index) > 1 else pd.Timedelta(1, "D")
        return pd.DatetimeIndex([index[-1] + delta * (k + 1) for k in range(steps)])
    values = index.to_numpy()
    delta = values[-1] - values[-2] if len(values) > 1 else 1
    return pd.Index([values[-1] + delta * (k + 1) for k in range(steps)])


def time_features(index: pd.Index) -> np.ndarray:
    """Calendar features of a `DatetimeIndex`, each as a sine/cosine pair.

    Hour of day (when the spacing is under a day), day of week and day of year.

    Returns:
        float64 array `(len(index), 6)`; `(len(index), 0)` for any other index.
    """
    if not isinstance(index, pd.DatetimeIndex):
        return np.zeros((len(index), 0))
    hour = (index.hour + index.minute / 60.0).to_numpy(dtype=np.float64) / 24.0
    week = (index.day_of_week.to_numpy(dtype=np.float64) + hour) / 7.0
    year = (index.day_of_year.to_numpy(dtype=np.float64) - 1.0) / 366.0
    phases = np.stack([hour, week, year], axis=1) * (2.0 * np.pi)
    return np.concatenate([np.sin(phases), np.cos(phases)], axis=1)


def positive_int(value: Any, name: str) -> int:
    """`value` as an int, or a `ValueError` naming `name` unless it is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; received {value!r}.")
    return int(value)


def column_names(value: Any, name: str) -> list:
    """A column name or a list of them as a list (`None`: empty)."""
    if value is None:
        return []
    if isinstance(value, (str, int, np.integer)):
        return [value]
    if isinstance(value, Sequence) or isinstance(value, pd.Index):
        return list(value)
    raise TypeError(f"`{name}` must be a column name or a list of them; received "
                    f"{type(value).__name__}.")
