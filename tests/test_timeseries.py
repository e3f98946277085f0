"""Tests of gated.data.timeseries against hand-written windows and known scaler values."""

from __future__ import annotations

import numpy as np
import pytest

from gated.data.timeseries import (
    MinMaxScaler,
    StandardScaler,
    mae,
    make_windows,
    naive_forecast,
    rmse,
    seasonal_naive_forecast,
    timeseries_dataset_from_array,
    train_test_split_series,
)

# ----------------------------------------------------------------------------- make_windows


def test_make_windows_exact_windows_1d():
    x, y = make_windows(np.array([10, 11, 12, 13, 14, 15]), window=3)
    assert x.shape == (3, 3, 1)
    assert y.shape == (3, 1)
    np.testing.assert_array_equal(x[:, :, 0], [[10, 11, 12], [11, 12, 13], [12, 13, 14]])
    np.testing.assert_array_equal(y, [[13], [14], [15]])
    assert x.dtype == np.float32  # integers become float32


def test_make_windows_horizon_and_stride():
    x, y = make_windows(np.arange(8.0), window=3, horizon=2, stride=2)
    # n = (8 - 3 - 2) // 2 + 1 = 2
    np.testing.assert_array_equal(x[:, :, 0], [[0, 1, 2], [2, 3, 4]])
    np.testing.assert_array_equal(y, [[3, 4], [5, 6]])
    assert x.dtype == np.float64  # float64 is kept


def test_make_windows_multivariate_targets():
    series = np.stack([np.arange(5.0), 100 + np.arange(5.0)], axis=1)  # (5, 2)
    x, y = make_windows(series, window=2)
    assert x.shape == (3, 2, 2) and y.shape == (3, 1, 2)
    np.testing.assert_array_equal(x[0], [[0, 100], [1, 101]])
    np.testing.assert_array_equal(y[:, 0, :], [[2, 102], [3, 103], [4, 104]])

    _, y_int = make_windows(series, window=2, target_columns=1)
    assert y_int.shape == (3, 1)
    np.testing.assert_array_equal(y_int[:, 0], [102, 103, 104])

    _, y_list = make_windows(series, window=2, horizon=2, target_columns=[1])
    assert y_list.shape == (2, 2, 1)
    np.testing.assert_array_equal(y_list[:, :, 0], [[102, 103], [103, 104]])


def test_make_windows_one_feature_2d_gives_2d_targets():
    x, y = make_windows(np.arange(5.0)[:, None], window=4)
    assert x.shape == (1, 4, 1) and y.shape == (1, 1)
    assert y[0, 0] == 4.0


def test_make_windows_window_plus_horizon_equal_length_gives_one_window():
    x, y = make_windows(np.arange(4.0), window=3, horizon=1)
    assert x.shape == (1, 3, 1)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"window": 10}, ["window", "10", "6"]),
        ({"window": 5, "horizon": 2}, ["horizon", "5", "2"]),
        ({"window": 0}, ["window", "0"]),
        ({"window": 2, "stride": 0}, ["stride", "0"]),
        ({"window": 2, "horizon": -1}, ["horizon", "-1"]),
        ({"window": 2.5}, ["window", "2.5"]),
    ],
)
def test_make_windows_bad_arguments_name_them(kwargs, words):
    with pytest.raises(ValueError) as info:
        make_windows(np.arange(6.0), **kwargs)
    for word in words:
        assert word in str(info.value)


def test_make_windows_bad_series_and_columns():
    with pytest.raises(ValueError, match=r"series.*\(2, 2, 2\)"):
        make_windows(np.zeros((2, 2, 2)), window=1)
    with pytest.raises(ValueError, match="target_columns"):
        make_windows(np.zeros((6, 2)), window=2, target_columns=5)
    with pytest.raises(TypeError, match="series"):
        make_windows(["a", "b", "c"], window=1)


# ----------------------------------------------------------------------------- scalers


def test_minmax_known_values_and_inverse():
    data = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]])
    scaler = MinMaxScaler()
    out = scaler.fit_transform(data)
    np.testing.assert_allclose(out, [[0, 0], [0.5, 0.5], [1, 1]])
    np.testing.assert_allclose(scaler.data_min_, [1, 10])
    np.testing.assert_allclose(scaler.data_max_, [5, 50])
    np.testing.assert_allclose(scaler.inverse_transform(out), data)
    # Values outside the fitted range extrapolate linearly.
    np.testing.assert_allclose(scaler.transform([[7.0, 0.0]]), [[1.5, -0.25]])


def test_minmax_feature_range_and_1d():
    scaler = MinMaxScaler(feature_range=(-1, 1))
    out = scaler.fit_transform(np.array([2.0, 4.0, 6.0]))
    assert out.shape == (3,)
    np.testing.assert_allclose(out, [-1, 0, 1])
    assert scaler.get_config() == {"feature_range": [-1.0, 1.0]}
    clone = MinMaxScaler.from_config(scaler.get_config())
    assert clone.feature_range == (-1.0, 1.0)


def test_minmax_constant_feature_maps_to_low_end():
    out = MinMaxScaler(feature_range=(0.2, 0.8)).fit_transform(np.array([[3.0], [3.0]]))
    np.testing.assert_allclose(out, [[0.2], [0.2]])


@pytest.mark.parametrize("scaler_class", [MinMaxScaler, StandardScaler])
@pytest.mark.parametrize("shape", [(50,), (50, 3), (10, 5, 3)])
def test_scaler_round_trip(scaler_class, shape):
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 7.0, size=shape)
    scaler = scaler_class()
    out = scaler.fit_transform(data)
    assert out.shape == data.shape
    np.testing.assert_allclose(scaler.inverse_transform(out), data, rtol=1e-12, atol=1e-12)


def test_scaler_keeps_float32():
    data = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert MinMaxScaler().fit_transform(data).dtype == np.float32
    assert StandardScaler().fit_transform(data).dtype == np.float32


def test_standard_scaler_known_values():
    data = np.array([[1.0, 0.0], [3.0, 0.0], [5.0, 0.0]])
    scaler = StandardScaler().fit(data)
    np.testing.assert_allclose(scaler.mean_, [3.0, 0.0])
    np.testing.assert_allclose(scaler.scale_, [np.sqrt(8 / 3), 1.0])  # population std
    out = scaler.transform(data)
    np.testing.assert_allclose(out[:, 0], np.array([-2.0, 0.0, 2.0]) / np.sqrt(8 / 3))
    np.testing.assert_allclose(out[:, 1], 0.0)  # constant column -> 0
    assert scaler.get_config() == {}


@pytest.mark.parametrize("scaler_class", [MinMaxScaler, StandardScaler])
def test_scaler_errors(scaler_class):
    scaler = scaler_class()
    with pytest.raises(RuntimeError, match="fit"):
        scaler.transform([1.0, 2.0])
    scaler.fit(np.zeros((4, 2)) + np.arange(4)[:, None])
    with pytest.raises(ValueError, match="2 features.*received 3"):
        scaler.transform(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        scaler_class().fit([1.0, np.nan])


def test_minmax_bad_feature_range():
    with pytest.raises(ValueError, match="feature_range"):
        MinMaxScaler(feature_range=(1, 0))


# ----------------------------------------------------------------------------- split


def test_train_test_split_series_is_chronological():
    train, test = train_test_split_series(np.arange(10), test_size=0.2)
    assert train.tolist() == list(range(8)) and test.tolist() == [8, 9]
    train, test = train_test_split_series(np.arange(10), test_size=3)
    assert train.tolist() == list(range(7)) and test.tolist() == [7, 8, 9]
    train, test = train_test_split_series(np.arange(10), test_size=0.25)  # ceil(2.5) = 3
    assert len(test) == 3


@pytest.mark.parametrize("test_size", [0, 10, 0.0, 1.0, -0.5])
def test_train_test_split_series_rejects_empty_parts(test_size):
    with pytest.raises(ValueError, match="test_size"):
        train_test_split_series(np.arange(10), test_size=test_size)


def test_train_test_split_series_rejects_bad_type():
    with pytest.raises(TypeError, match="test_size"):
        train_test_split_series(np.arange(10), test_size="20%")


# ----------------------------------------------------------------------------- keras utility


def test_timeseries_dataset_keras_example_1():
    # Keras docs, example 1: indices 0..98, sequence_length=10, sampling_rate=2, stride=3.
    x = timeseries_dataset_from_array(
        np.arange(99), None, sequence_length=10, sampling_rate=2, sequence_stride=3
    )
    assert x[0].tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert x[1].tolist() == [3, 5, 7, 9, 11, 13, 15, 17, 19, 21]
    assert x[2].tolist() == [6, 8, 10, 12, 14, 16, 18, 20, 22, 24]
    assert x[-1].tolist() == [78, 80, 82, 84, 86, 88, 90, 92, 94, 96]
    assert len(x) == 27


def test_timeseries_dataset_keras_example_2_matches_make_windows():
    # Keras docs, example 2: past 10 steps predict the next one.
    data = np.arange(100.0)
    x, y = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)
    assert x[0].tolist() == list(range(10)) and y[0] == 10
    assert len(x) == 81  # as Keras: the last windows of data[:-10] have no full length
    wx, wy = make_windows(data, window=10)  # 90 windows: make_windows keeps them all
    np.testing.assert_array_equal(x, wx[:81, :, 0])
    np.testing.assert_array_equal(y, wy[:81, 0])


def test_timeseries_dataset_batches_and_shuffle():
    data = np.arange(20.0)[:, None]
    batches = timeseries_dataset_from_array(data, np.arange(20), sequence_length=5, batch_size=4)
    assert [len(b[0]) for b in batches] == [4, 4, 4, 4]  # 16 sequences
    assert batches[0][0].shape == (4, 5, 1)
    assert batches[1][1].tolist() == [4, 5, 6, 7]
    a = timeseries_dataset_from_array(data, np.arange(20), 5, shuffle=True, seed=3)
    b = timeseries_dataset_from_array(data, np.arange(20), 5, shuffle=True, seed=3)
    np.testing.assert_array_equal(a[1], b[1])
    assert sorted(a[1].tolist()) == list(range(16))
    np.testing.assert_array_equal(a[0][:, 0, 0], a[1])  # inputs stay paired with targets


def test_timeseries_dataset_start_end_index():
    x, y = timeseries_dataset_from_array(
        np.arange(20), np.arange(20) * 10, sequence_length=3, start_index=5, end_index=10
    )
    assert x.tolist() == [[5, 6, 7], [6, 7, 8], [7, 8, 9]]
    assert y.tolist() == [50, 60, 70]


def test_timeseries_dataset_errors():
    with pytest.raises(ValueError, match="sequence_length"):
        timeseries_dataset_from_array(np.arange(5), None, sequence_length=10)
    with pytest.raises(ValueError, match="sampling_rate"):
        timeseries_dataset_from_array(np.arange(5), None, 2, sampling_rate=0)
    with pytest.raises(ValueError, match="end_index"):
        timeseries_dataset_from_array(np.arange(5), None, 2, end_index=9)


# ----------------------------------------------------------------------------- baselines, metrics


def test_naive_forecast():
    windows = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(naive_forecast(windows), [3.0, 6.0])
    np.testing.assert_array_equal(naive_forecast(windows[:, :, None]), [[3.0], [6.0]])
    with pytest.raises(ValueError, match="history_windows"):
        naive_forecast(np.arange(3.0))


def test_seasonal_naive_forecast():
    series = np.array([0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0])
    np.testing.assert_array_equal(seasonal_naive_forecast(series, 4, 4, 8), [0, 1, 2, 3])
    np.testing.assert_array_equal(seasonal_naive_forecast(series, 4, 8, 10), [10, 11])
    with pytest.raises(ValueError, match="start"):
        seasonal_naive_forecast(series, 4, 2, 6)
    with pytest.raises(ValueError, match="stop"):
        seasonal_naive_forecast(series, 4, 6, 20)


def test_metrics_known_values():
    assert mae([1.0, 2.0, 3.0], [2.0, 2.0, 5.0]) == pytest.approx(1.0)
    assert rmse([0.0, 0.0], [3.0, 4.0]) == pytest.approx(np.sqrt(12.5))
    assert mae(np.zeros((3, 1)), np.ones(3)) == pytest.approx(1.0)  # (n, 1) vs (n,)
    with pytest.raises(ValueError, match="y_pred"):
        rmse(np.zeros(3), np.zeros(4))
