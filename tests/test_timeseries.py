"""Tests of gated.data.timeseries against hand-written windows and known scaler values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

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


def _windows(data, starts, sequence_length, sampling_rate=1):
    """Hand-computed windows: data[s], data[s + r], ... for each start s."""
    return np.stack([data[s:s + sequence_length * sampling_rate:sampling_rate] for s in starts])


def _all(dataset):
    """Concatenate a dataset's batches into arrays."""
    items = list(dataset)
    if isinstance(items[0], tuple):
        return tuple(np.concatenate(part) for part in zip(*items, strict=True))
    return np.concatenate(items)


def test_timeseries_dataset_default_batch_size_is_kerass_128():
    dataset = timeseries_dataset_from_array(np.arange(300.0), None, sequence_length=10)
    # 291 windows in batches of 128, 128, 35, as keras.utils.timeseries_dataset_from_array.
    assert len(dataset) == 3
    assert [len(batch) for batch in dataset] == [128, 128, 35]
    np.testing.assert_array_equal(_all(dataset), _windows(np.arange(300.0), range(291), 10))


def test_timeseries_dataset_keras_example_1():
    # Keras docs, example 1: indices 0..98, sequence_length=10, sampling_rate=2, stride=3.
    dataset = timeseries_dataset_from_array(
        np.arange(99), None, sequence_length=10, sampling_rate=2, sequence_stride=3,
        batch_size=None,
    )
    x = np.stack(list(dataset))
    assert x[0].tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert x[1].tolist() == [3, 5, 7, 9, 11, 13, 15, 17, 19, 21]
    assert x[2].tolist() == [6, 8, 10, 12, 14, 16, 18, 20, 22, 24]
    assert x[-1].tolist() == [78, 80, 82, 84, 86, 88, 90, 92, 94, 96]
    assert len(dataset) == len(x) == 27


def test_timeseries_dataset_keras_example_2_matches_make_windows():
    # Keras docs, example 2: past 10 steps predict the next one.
    data = np.arange(100.0)
    dataset = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)
    x, y = next(iter(dataset))
    assert x[0].tolist() == list(range(10)) and y[0] == 10
    assert len(x) == 81  # as Keras: the last windows of data[:-10] have no full length
    wx, wy = make_windows(data, window=10)  # 90 windows: make_windows keeps them all
    np.testing.assert_array_equal(x, wx[:81, :, 0])
    np.testing.assert_array_equal(y, wy[:81, 0])


def test_timeseries_dataset_keras_example_3_many_to_many():
    # Keras docs, example 3: two datasets zipped, non-overlapping windows of 20.
    x_series, y_series = np.arange(100), np.arange(100) * 2
    inputs = timeseries_dataset_from_array(x_series, None, sequence_length=20,
                                           sequence_stride=20, batch_size=16)
    targets = timeseries_dataset_from_array(y_series, None, sequence_length=20,
                                            sequence_stride=20, batch_size=16)
    for batch_x, batch_y in zip(inputs, targets, strict=True):
        np.testing.assert_array_equal(batch_x[1], x_series[20:40])
        np.testing.assert_array_equal(batch_y[1], y_series[20:40])


def test_timeseries_dataset_batches_reiterable_and_indexable():
    data = np.arange(20.0)[:, None]
    dataset = timeseries_dataset_from_array(data, np.arange(20), sequence_length=5, batch_size=6)
    assert len(dataset) == 3  # 16 windows: 6, 6, 4
    first, second = list(dataset), list(dataset)  # one pass per epoch, same batches
    assert [len(b[0]) for b in first] == [6, 6, 4]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
    assert first[0][0].shape == (6, 5, 1)
    assert first[1][1].tolist() == [6, 7, 8, 9, 10, 11]
    np.testing.assert_array_equal(dataset[2][0], first[2][0])
    np.testing.assert_array_equal(first[2][0][:, :, 0], _windows(np.arange(20.0), range(12, 16), 5))


def test_timeseries_dataset_shuffle_keeps_pairs_and_uses_kerass_first_shuffle():
    data = np.arange(40.0)[:, None]
    dataset = timeseries_dataset_from_array(data, np.arange(40), 5, shuffle=True, seed=3,
                                            batch_size=4)
    again = timeseries_dataset_from_array(data, np.arange(40), 5, shuffle=True, seed=3,
                                          batch_size=4)
    x, y = _all(dataset)
    x2, y2 = _all(again)
    np.testing.assert_array_equal(y, y2)  # same seed, same order
    assert sorted(y.tolist()) == list(range(36))
    np.testing.assert_array_equal(x[:, 0, 0], y)  # inputs stay paired with targets
    # Keras' first stage: np.random.RandomState(seed) shuffles the start positions.
    expected = np.arange(36)
    np.random.RandomState(3).shuffle(expected)
    # Then a 32-sample buffer (8 batches): the k-th sample drawn is among the first 32 + k.
    for k, value in enumerate(y.tolist()):
        assert value in expected[:32 + k]
    # A new pass (epoch) draws a new local order.
    _, y_next = _all(dataset)
    assert sorted(y_next.tolist()) == list(range(36)) and y_next.tolist() != y.tolist()


def test_timeseries_dataset_start_end_index():
    dataset = timeseries_dataset_from_array(
        np.arange(20), np.arange(20) * 10, sequence_length=3, start_index=5, end_index=10
    )
    x, y = _all(dataset)
    assert x.tolist() == [[5, 6, 7], [6, 7, 8], [7, 8, 9]]
    assert y.tolist() == [50, 60, 70]


def test_timeseries_dataset_unbatched_yields_samples():
    dataset = timeseries_dataset_from_array(np.arange(6), np.arange(6) * 10, 3, batch_size=None)
    items = list(dataset)
    assert len(dataset) == 4 and len(items) == 4
    assert items[1][0].tolist() == [1, 2, 3] and int(items[1][1]) == 10


def test_timeseries_dataset_matches_keras_where_tensorflow_is_installed():
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    data = np.arange(50.0).reshape(25, 2)
    kwargs = dict(sequence_length=4, sequence_stride=2, sampling_rate=2, batch_size=3,
                  start_index=1, end_index=23)
    ours = list(timeseries_dataset_from_array(data, np.arange(25), **kwargs))
    theirs = list(keras.utils.timeseries_dataset_from_array(data, np.arange(25), **kwargs))
    assert len(ours) == len(theirs)
    for (x, y), (kx, ky) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(x, np.asarray(kx))
        np.testing.assert_array_equal(y, np.asarray(ky))


def test_timeseries_dataset_errors():
    with pytest.raises(ValueError, match="sequence_length"):
        timeseries_dataset_from_array(np.arange(5), None, sequence_length=10)
    with pytest.raises(ValueError, match="sampling_rate"):
        timeseries_dataset_from_array(np.arange(5), None, 2, sampling_rate=0)
    with pytest.raises(ValueError, match="end_index"):
        timeseries_dataset_from_array(np.arange(5), None, 2, end_index=9)
    with pytest.raises(ValueError, match="batch_size"):
        timeseries_dataset_from_array(np.arange(5), None, 2, batch_size=0)
    with pytest.raises(ValueError, match="sequence_stride"):
        timeseries_dataset_from_array(np.arange(5), None, 2, sequence_stride=5)


def _tiny_model():
    from gated.layers import LSTM, Dense
    from gated.models import Sequential

    torch.manual_seed(0)
    model = Sequential([LSTM(4, input_shape=(6, 1)), Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def test_fit_on_dataset_equals_fit_on_arrays():
    series = np.sin(np.arange(80) / 5.0).astype(np.float32)
    data, targets = series[:-6, None], series[6:, None]
    dataset = timeseries_dataset_from_array(data, targets, sequence_length=6, batch_size=16)
    x = _windows(data, range(69), 6)
    y = targets[:69]
    np.testing.assert_array_equal(_all(dataset)[0], x)

    on_dataset, on_arrays = _tiny_model(), _tiny_model()
    history = on_dataset.fit(dataset, epochs=2, validation_data=dataset, verbose=0)
    expected = on_arrays.fit(x, y, batch_size=16, epochs=2, shuffle=False,
                             validation_data=(x, y), verbose=0)
    assert history.history.keys() == expected.history.keys()
    for key, values in expected.history.items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-6, atol=1e-7)
    for a, b in zip(on_dataset.get_weights(), on_arrays.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(on_dataset.evaluate(dataset, verbose=0),
                               on_arrays.evaluate(x, y, verbose=0), rtol=1e-6)
    inputs_only = timeseries_dataset_from_array(data, None, sequence_length=6, batch_size=16)
    np.testing.assert_allclose(on_dataset.predict(inputs_only, verbose=0)[:69],
                               on_arrays.predict(x, verbose=0), rtol=1e-6, atol=1e-7)


def test_not_an_array_error_is_not_the_ragged_message():
    model = _tiny_model()
    with pytest.raises(TypeError, match="must be a NumPy array") as info:
        model.fit({1, 2, 3}, np.zeros(3), verbose=0)
    assert "ragged" not in str(info.value)
    with pytest.raises(ValueError, match="ragged"):
        model.fit([[[0.0]] * 6, [[0.0]] * 5], np.zeros((2, 1)), verbose=0)


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
