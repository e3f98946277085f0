"""Time-series utilities: sliding windows, scalers, chronological splits, baselines, metrics.

Everything here takes NumPy arrays (or anything `np.asarray` accepts) and returns NumPy
arrays; nothing needs torch. Time is always axis 0 of a series.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "make_windows",
    "MinMaxScaler",
    "StandardScaler",
    "train_test_split_series",
    "timeseries_dataset_from_array",
    "TimeseriesDataset",
    "naive_forecast",
    "seasonal_naive_forecast",
    "mae",
    "rmse",
]


def _as_float_array(values: Any, name: str) -> np.ndarray:
    """Converts to a floating array: float dtypes are kept, other numbers become float32."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"`{name}` must be array-like of numbers; received {type(values).__name__}."
        ) from error
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise TypeError(f"`{name}` must contain numbers; received an array of dtype {array.dtype}.")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    return array


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; received {value!r}.")
    return int(value)


def make_windows(
    series: Any,
    window: int,
    horizon: int = 1,
    stride: int = 1,
    target_columns: int | Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cuts a series into (input window, following values) pairs for supervised training.

    Window `i` is `series[i * stride : i * stride + window]` and its target is the `horizon`
    values that follow it, `series[i * stride + window : i * stride + window + horizon]`.

    Args:
        series: array of shape `(timesteps,)` or `(timesteps, features)`.
        window: number of time steps in each input window.
        horizon: number of future time steps to predict after each window.
        stride: offset between the starts of consecutive windows.
        target_columns: which feature columns form the target. `None` takes all of them;
            an `int` takes one column; a list of ints takes those columns.

    Returns:
        Tuple `(x, y)`. `x` has shape `(n, window, features)` (a 1-D series counts as one
        feature). `y` has shape `(n, horizon)` when there is a single target (1-D series, a
        one-feature series with `target_columns=None`, or an `int` `target_columns`), and
        `(n, horizon, targets)` otherwise. `n = (timesteps - window - horizon) // stride + 1`.

    Example:

    >>> x, y = make_windows(np.arange(6.0), window=3)
    >>> x[:, :, 0]
    array([[0., 1., 2.],
           [1., 2., 3.],
           [2., 3., 4.]])
    >>> y
    array([[3.],
           [4.],
           [5.]])
    """
    array = _as_float_array(series, "series")
    if array.ndim not in (1, 2):
        raise ValueError(
            "`series` must have shape (timesteps,) or (timesteps, features); "
            f"received shape {array.shape}."
        )
    window = _check_positive_int(window, "window")
    horizon = _check_positive_int(horizon, "horizon")
    stride = _check_positive_int(stride, "stride")
    values = array[:, None] if array.ndim == 1 else array
    timesteps, features = values.shape
    if window + horizon > timesteps:
        raise ValueError(
            f"`window` + `horizon` must be at most the series length ({timesteps}); "
            f"received window={window}, horizon={horizon} (sum {window + horizon})."
        )

    single_target: bool
    if target_columns is None:
        columns = list(range(features))
        single_target = features == 1
    elif isinstance(target_columns, (int, np.integer)) and not isinstance(target_columns, bool):
        columns = [int(target_columns)]
        single_target = True
    else:
        try:
            columns = [int(c) for c in target_columns]  # type: ignore[union-attr]
        except TypeError as error:
            raise TypeError(
                "`target_columns` must be None, an int or a sequence of ints; "
                f"received {target_columns!r}."
            ) from error
        if not columns:
            raise ValueError("`target_columns` must not be empty; received [].")
        single_target = False
    for column in columns:
        if not -features <= column < features:
            raise ValueError(
                f"`target_columns` entries must be in [{-features}, {features - 1}] for a series "
                f"with {features} features; received {target_columns!r}."
            )

    count = (timesteps - window - horizon) // stride + 1
    starts = np.arange(count) * stride
    x_index = starts[:, None] + np.arange(window)[None, :]
    y_index = starts[:, None] + window + np.arange(horizon)[None, :]
    x = values[x_index]  # (n, window, features), a copy
    y = values[y_index][:, :, columns]  # (n, horizon, targets)
    if single_target:
        y = y[:, :, 0]
    return x, y


class _Scaler:
    """Common plumbing of the feature-wise scalers (last axis = features)."""

    _fitted_attributes: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.n_features_in_: int | None = None

    def _prepare_fit(self, data: Any) -> np.ndarray:
        """`data` as 2-D `(samples, features)`, checked non-empty and finite for `fit`."""
        data_2d, _ = self._prepare(data)
        if data_2d.shape[0] == 0:
            raise ValueError("`data` must contain at least one sample; received an empty array.")
        if not np.all(np.isfinite(data_2d)):
            raise ValueError(
                f"`data` must be finite to fit a {type(self).__name__}; it contains NaN/inf."
            )
        return data_2d

    def _prepare(self, data: Any, name: str = "data") -> tuple[np.ndarray, tuple[int, ...]]:
        array = _as_float_array(data, name)
        if array.ndim == 0:
            raise ValueError(
                f"`{name}` must be at least 1-D (a series or a (samples, features) array); "
                "received a scalar."
            )
        if array.ndim == 1:
            return array.reshape(-1, 1), array.shape
        return array.reshape(-1, array.shape[-1]), array.shape

    def _check_fitted(self, data_2d: np.ndarray, name: str) -> None:
        if self.n_features_in_ is None:
            raise RuntimeError(f"This {type(self).__name__} is not fitted yet; call `fit` first.")
        if data_2d.shape[1] != self.n_features_in_:
            raise ValueError(
                f"`{name}` must have {self.n_features_in_} features (last axis) as seen in `fit`;"
                f" received {data_2d.shape[1]}."
            )

    def fit_transform(self, data: Any) -> np.ndarray:
        """Fits the scaler on `data` and returns the transformed `data`."""
        return self.fit(data).transform(data)

    def fit(self, data: Any) -> _Scaler:  # pragma: no cover - overridden
        raise NotImplementedError

    def transform(self, data: Any) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError


class MinMaxScaler(_Scaler):
    """Scales each feature linearly to `feature_range`, as scikit-learn's `MinMaxScaler`.

    `transform(x) = x * scale_ + min_` with `scale_ = (hi - lo) / (data_max_ - data_min_)`
    and `min_ = lo - data_min_ * scale_`. A constant feature gets `scale_` computed as if its
    range were 1, so it maps to `lo`. Works on 1-D arrays (one feature) and on N-D arrays whose
    last axis is the features (e.g. windows of shape `(n, window, features)`).

    Args:
        feature_range: tuple `(lo, hi)` with `lo < hi`.

    Example:

    >>> scaler = MinMaxScaler()
    >>> scaler.fit_transform(np.array([0.0, 5.0, 10.0]))
    array([0. , 0.5, 1. ])
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__()
        try:
            lo, hi = (float(v) for v in feature_range)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"`feature_range` must be a pair (min, max); received {feature_range!r}."
            ) from error
        if not lo < hi:
            raise ValueError(f"`feature_range` must satisfy min < max; received {feature_range!r}.")
        self.feature_range = (lo, hi)
        self.data_min_: np.ndarray | None = None
        self.data_max_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.min_: np.ndarray | None = None

    def fit(self, data: Any) -> MinMaxScaler:
        """Computes the per-feature minimum and maximum of `data`.

        Args:
            data: array of shape `(samples,)` or `(..., features)`.

        Returns:
            The scaler itself.
        """
        data_2d = self._prepare_fit(data)
        lo, hi = self.feature_range
        self.data_min_ = data_2d.min(axis=0).astype(np.float64)
        self.data_max_ = data_2d.max(axis=0).astype(np.float64)
        data_range = self.data_max_ - self.data_min_
        data_range = np.where(data_range == 0.0, 1.0, data_range)
        self.scale_ = (hi - lo) / data_range
        self.min_ = lo - self.data_min_ * self.scale_
        self.n_features_in_ = data_2d.shape[1]
        return self

    def transform(self, data: Any) -> np.ndarray:
        """Scales `data` with the fitted statistics; returns an array of the same shape."""
        data_2d, shape = self._prepare(data)
        self._check_fitted(data_2d, "data")
        out = data_2d * self.scale_ + self.min_
        return out.astype(data_2d.dtype, copy=False).reshape(shape)

    def inverse_transform(self, data: Any) -> np.ndarray:
        """Undoes `transform`; returns an array of the same shape as `data`."""
        data_2d, shape = self._prepare(data)
        self._check_fitted(data_2d, "data")
        out = (data_2d - self.min_) / self.scale_
        return out.astype(data_2d.dtype, copy=False).reshape(shape)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments (JSON-serializable)."""
        return {"feature_range": list(self.feature_range)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MinMaxScaler:
        """Creates an (unfitted) scaler from `get_config()` output."""
        return cls(feature_range=tuple(config.get("feature_range", (0.0, 1.0))))


class StandardScaler(_Scaler):
    """Standardizes each feature to zero mean and unit variance (population std, ddof=0).

    A constant feature gets `scale_ = 1`, so it maps to 0. Works on 1-D arrays (one feature)
    and on N-D arrays whose last axis is the features.

    Example:

    >>> StandardScaler().fit_transform(np.array([1.0, 3.0]))
    array([-1.,  1.])
    """

    def __init__(self) -> None:
        super().__init__()
        self.mean_: np.ndarray | None = None
        self.var_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, data: Any) -> StandardScaler:
        """Computes the per-feature mean and standard deviation of `data`.

        Args:
            data: array of shape `(samples,)` or `(..., features)`.

        Returns:
            The scaler itself.
        """
        data_2d = self._prepare_fit(data)
        as64 = data_2d.astype(np.float64)
        self.mean_ = as64.mean(axis=0)
        self.var_ = as64.var(axis=0)
        std = np.sqrt(self.var_)
        self.scale_ = np.where(std == 0.0, 1.0, std)
        self.n_features_in_ = data_2d.shape[1]
        return self

    def transform(self, data: Any) -> np.ndarray:
        """Standardizes `data`; returns an array of the same shape."""
        data_2d, shape = self._prepare(data)
        self._check_fitted(data_2d, "data")
        out = (data_2d - self.mean_) / self.scale_
        return out.astype(data_2d.dtype, copy=False).reshape(shape)

    def inverse_transform(self, data: Any) -> np.ndarray:
        """Undoes `transform`; returns an array of the same shape as `data`."""
        data_2d, shape = self._prepare(data)
        self._check_fitted(data_2d, "data")
        out = data_2d * self.scale_ + self.mean_
        return out.astype(data_2d.dtype, copy=False).reshape(shape)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments (none)."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StandardScaler:
        """Creates an (unfitted) scaler from `get_config()` output."""
        return cls()


def train_test_split_series(series: Any, test_size: float | int) -> tuple[np.ndarray, np.ndarray]:
    """Splits a series chronologically: the test part is the end of the series (no shuffling).

    Args:
        series: array whose axis 0 is time.
        test_size: a float in (0, 1) is the fraction of time steps that go to the test part
            (rounded up, as scikit-learn); an int is the number of test time steps.

    Returns:
        Tuple `(train, test)`, views of `series[:-k]` and `series[-k:]`.

    Example:

    >>> train, test = train_test_split_series(np.arange(10), test_size=0.2)
    >>> train.tolist(), test.tolist()
    ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
    """
    array = np.asarray(series)
    if array.ndim == 0:
        raise ValueError("`series` must be at least 1-D; received a scalar.")
    n = array.shape[0]
    if isinstance(test_size, bool):
        raise TypeError(f"`test_size` must be a float or an int; received {test_size!r}.")
    if isinstance(test_size, (int, np.integer)):
        k = int(test_size)
        if not 1 <= k < n:
            raise ValueError(
                f"`test_size` as an int must be in [1, {n - 1}] for a series of length {n}; "
                f"received {k}."
            )
    elif isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"`test_size` as a float must be in (0, 1); received {test_size}.")
        k = math.ceil(test_size * n)
        if not 1 <= k < n:
            raise ValueError(
                f"`test_size`={test_size} leaves an empty train or test part for a series of "
                f"length {n}."
            )
    else:
        raise TypeError(f"`test_size` must be a float or an int; received {test_size!r}.")
    return array[: n - k], array[n - k :]


class TimeseriesDataset:
    """The batches of sliding windows made by `timeseries_dataset_from_array`.

    Iterable any number of times (one pass per epoch), with `len()` (the number of batches, or
    of samples when unbatched) and indexing (`dataset[i]` is batch `i` in unshuffled order).
    Each item is `(x, y)` NumPy arrays, or `x` alone when there are no targets. `fit`,
    `evaluate` and `predict` take it as `x` like a DataLoader.
    """

    def __init__(self, data: np.ndarray, targets: np.ndarray | None, start: int,
                 positions: np.ndarray, offsets: np.ndarray, batch_size: int | None,
                 shuffle: bool, seed: int) -> None:
        self._data = data
        self._targets = targets
        self._start = start
        self._positions = positions
        self._offsets = offsets
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self._passes = 0

    @property
    def num_samples(self) -> int:
        """The number of windows (samples) over all batches."""
        return int(len(self._positions))

    def __len__(self) -> int:
        if self.batch_size is None:
            return self.num_samples
        return -(-self.num_samples // self.batch_size)

    def _item(self, positions: np.ndarray | int) -> Any:
        index = self._start + np.asarray(positions)[..., None] + self._offsets
        x = self._data[index]
        if self._targets is None:
            return x
        return x, self._targets[self._start + np.asarray(positions)]

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(
                f"A TimeseriesDataset is indexed by an int (a batch number); received {index!r}."
            )
        count = len(self)
        if not -count <= index < count:
            raise IndexError(f"Batch index {index} is out of range for {count} batches.")
        index = int(index) % count
        if self.batch_size is None:
            return self._item(int(self._positions[index]))
        part = self._positions[index * self.batch_size:(index + 1) * self.batch_size]
        return self._item(part)

    def _order(self) -> np.ndarray:
        """Sample positions of one pass: in order, or Keras' two shuffles (the positions once
        by `seed`, then a local shuffle through a buffer of `8 * batch_size` samples (1024
        unbatched) that differs on every pass)."""
        if not self.shuffle:
            return self._positions
        return np.fromiter(self._shuffled_positions(), dtype=self._positions.dtype,
                           count=len(self._positions))

    def _shuffled_positions(self) -> Iterator[int]:
        """`_order()`'s shuffled positions, one at a time: only the buffer is held, so a pass
        over millions of windows never builds its whole order (bounded memory)."""
        rng = np.random.RandomState((self.seed + self._passes) % (2**32))
        self._passes += 1
        buffer_size = 1024 if self.batch_size is None else 8 * self.batch_size
        buffer: list[int] = []
        chunk = 2**16
        for begin in range(0, len(self._positions), chunk):
            for position in self._positions[begin:begin + chunk].tolist():
                buffer.append(position)
                if len(buffer) == buffer_size:
                    k = int(rng.randint(len(buffer)))
                    buffer[k], buffer[-1] = buffer[-1], buffer[k]
                    yield buffer.pop()
        while buffer:
            k = int(rng.randint(len(buffer)))
            buffer[k], buffer[-1] = buffer[-1], buffer[k]
            yield buffer.pop()

    def __iter__(self) -> Iterator[Any]:
        if not self.shuffle:
            order: Any = self._positions
            if self.batch_size is None:
                for position in order:
                    yield self._item(int(position))
                return
            for offset in range(0, len(order), self.batch_size):
                yield self._item(order[offset:offset + self.batch_size])
            return
        positions = self._shuffled_positions()
        if self.batch_size is None:
            for position in positions:
                yield self._item(position)
            return
        batch: list[int] = []
        for position in positions:
            batch.append(position)
            if len(batch) == self.batch_size:
                yield self._item(np.asarray(batch, dtype=self._positions.dtype))
                batch = []
        if batch:
            yield self._item(np.asarray(batch, dtype=self._positions.dtype))

    def __repr__(self) -> str:
        return (f"<TimeseriesDataset: {self.num_samples} samples in {len(self)} "
                f"{'samples' if self.batch_size is None else 'batches'}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}>")


def timeseries_dataset_from_array(
    data: Any,
    targets: Any,
    sequence_length: int,
    sequence_stride: int = 1,
    sampling_rate: int = 1,
    batch_size: int | None = 128,
    shuffle: bool = False,
    seed: int | None = None,
    start_index: int | None = None,
    end_index: int | None = None,
) -> TimeseriesDataset:
    """Creates a dataset of sliding windows over a time series, as
    `keras.utils.timeseries_dataset_from_array` (same arguments, defaults and windows).

    Sequence `i` is `data[s + p_i : s + p_i + sequence_length * sampling_rate : sampling_rate]`
    with `s = start_index` and `p_i = i * sequence_stride`; its target is `targets[s + p_i]`,
    so `targets[j]` is the target of the window that starts at `j` (pass a shifted array to
    predict the value after the window, as in Keras).

    Args:
        data: array of shape `(timesteps, ...)`; axis 0 is time.
        targets: array with the same length as `data` (`targets[i]` belongs to the window
            starting at `i`), or `None` for inputs only.
        sequence_length: number of time steps in each output sequence.
        sequence_stride: offset between the starts of consecutive sequences.
        sampling_rate: step between successive time steps within a sequence.
        batch_size: number of sequences per batch (the last batch may be smaller); `None`
            yields single samples. Default 128, as Keras.
        shuffle: whether to shuffle the sequences. As Keras, the start positions are shuffled
            once with `np.random.RandomState(seed)` (so the first pass draws the same samples
            into each 8-batch buffer as Keras), then shuffled locally through a buffer of
            `8 * batch_size` samples, differently on every pass (the local order is not
            TensorFlow's).
        seed: seed of the shuffle; `None` draws one.
        start_index: first time step of `data` to use (inclusive). Default 0.
        end_index: last time step of `data` to use (exclusive). Default `len(data)`.

    Returns:
        A `TimeseriesDataset`: iterable once per epoch, with `len()` (batches), yielding
        `(batch_of_sequences, batch_of_targets)` NumPy arrays, or `batch_of_sequences` alone
        when `targets` is `None`. Sequences have shape `(batch, sequence_length, ...)`.
        `model.fit(dataset)` trains on it.

    Example:

    >>> dataset = timeseries_dataset_from_array(
    ...     np.arange(10), np.arange(10)[3:], sequence_length=3, batch_size=2)
    >>> len(dataset)
    4
    >>> x, y = next(iter(dataset))
    >>> x.tolist(), y.tolist()
    ([[0, 1, 2], [1, 2, 3]], [3, 4])
    """
    array = np.asarray(data)
    if array.ndim == 0:
        raise ValueError("`data` must be at least 1-D (time first); received a scalar.")
    length = array.shape[0]
    sequence_length = _check_positive_int(sequence_length, "sequence_length")
    sequence_stride = _check_positive_int(sequence_stride, "sequence_stride")
    sampling_rate = _check_positive_int(sampling_rate, "sampling_rate")
    if sampling_rate >= length:
        raise ValueError(f"`sampling_rate` must be lower than the length of `data` ({length});"
                         f" received sampling_rate={sampling_rate}.")
    if sequence_stride >= length:
        raise ValueError(f"`sequence_stride` must be lower than the length of `data` "
                         f"({length}); received sequence_stride={sequence_stride}.")
    if batch_size is not None:
        batch_size = _check_positive_int(batch_size, "batch_size")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"`shuffle` must be a bool; received {shuffle!r}.")
    for name, value in (("start_index", start_index), ("end_index", end_index), ("seed", seed)):
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, (int, np.integer))):
            raise TypeError(f"`{name}` must be an int or None; received {value!r}.")
    start = 0 if start_index is None else int(start_index)
    end = length if end_index is None else int(end_index)
    if not 0 <= start < length:
        raise ValueError(f"`start_index` must be in [0, {length - 1}]; received {start_index}.")
    if not start < end <= length:
        raise ValueError(
            f"`end_index` must be in [{start + 1}, {length}] (after `start_index`, at most "
            f"len(data)); received {end_index}."
        )
    target_array = None
    if targets is not None:
        target_array = np.asarray(targets)
        if target_array.ndim == 0:
            raise ValueError("`targets` must be at least 1-D; received a scalar.")

    span = (sequence_length - 1) * sampling_rate
    num_sequences = end - start - span
    if target_array is not None:
        # Keras takes min(num_sequences, len(targets)) and fails while iterating when
        # start_index leaves fewer targets; here those windows are left out.
        num_sequences = min(num_sequences, target_array.shape[0] - start)
    if num_sequences <= 0:
        raise ValueError(
            f"`sequence_length`={sequence_length} with `sampling_rate`={sampling_rate} spans "
            f"{span + 1} time steps, more than the {end - start} available between "
            "`start_index` and `end_index` (or in `targets`)."
        )
    positions = np.arange(0, num_sequences, sequence_stride)
    if shuffle:
        seed = int(np.random.randint(1_000_000)) if seed is None else int(seed)
        np.random.RandomState(seed).shuffle(positions)
    return TimeseriesDataset(array, target_array, start, positions,
                             np.arange(0, span + 1, sampling_rate), batch_size,
                             bool(shuffle), 0 if seed is None else int(seed))


def naive_forecast(history_windows: Any) -> np.ndarray:
    """Naive (persistence) forecast: each window's last value predicts the next one.

    Args:
        history_windows: array of shape `(n, window)` or `(n, window, features)`.

    Returns:
        Array of shape `(n,)` or `(n, features)`: `history_windows[:, -1]`.

    Example:

    >>> naive_forecast(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([2., 4.])
    """
    windows = np.asarray(history_windows)
    if windows.ndim not in (2, 3) or windows.shape[1] == 0:
        raise ValueError(
            "`history_windows` must have shape (n, window) or (n, window, features) with "
            f"window >= 1; received shape {windows.shape}."
        )
    return windows[:, -1].copy()


def seasonal_naive_forecast(series: Any, season: int, start: int, stop: int) -> np.ndarray:
    """Seasonal naive forecast: the value one season ago predicts time step `t`.

    Args:
        series: array whose axis 0 is time.
        season: season length in time steps (e.g. 11 for the yearly sunspot cycle).
        start: first time step to forecast (inclusive); must be `>= season`.
        stop: last time step to forecast (exclusive); at most `len(series) + season`.

    Returns:
        `series[start - season : stop - season]`, the forecasts of time steps `start..stop-1`.

    Example:

    >>> seasonal_naive_forecast(np.arange(10.0), season=4, start=6, stop=8)
    array([2., 3.])
    """
    array = np.asarray(series)
    if array.ndim == 0:
        raise ValueError("`series` must be at least 1-D (time first); received a scalar.")
    season = _check_positive_int(season, "season")
    n = array.shape[0]
    if not season <= start:
        raise ValueError(
            f"`start` must be >= `season` ({season}) so that a value one season earlier "
            f"exists; received start={start}."
        )
    if not start < stop <= n + season:
        raise ValueError(
            f"`stop` must be in [{start + 1}, {n + season}] (after `start`, at most "
            f"len(series) + season); received stop={stop}."
        )
    return array[start - season : stop - season].copy()


def _paired(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if true.shape != pred.shape:
        if true.size == pred.size and np.squeeze(true).shape == np.squeeze(pred).shape:
            true, pred = np.squeeze(true), np.squeeze(pred)
        else:
            raise ValueError(
                f"`y_pred` must have the shape of `y_true` {true.shape}; received {pred.shape}."
            )
    if true.size == 0:
        raise ValueError("`y_true` and `y_pred` must not be empty.")
    return true, pred


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error over all elements.

    Shapes must match, except for size-1 axes (`(n,)` vs `(n, 1)` is accepted).

    Example:

    >>> mae([1.0, 2.0], [2.0, 4.0])
    1.5
    """
    true, pred = _paired(y_true, y_pred)
    return float(np.mean(np.abs(true - pred)))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error over all elements.

    Shapes must match, except for size-1 axes (`(n,)` vs `(n, 1)` is accepted).

    Example:

    >>> rmse([0.0, 0.0], [3.0, 4.0])
    3.5355339059327378
    """
    true, pred = _paired(y_true, y_pred)
    return float(np.sqrt(np.mean((true - pred) ** 2)))
