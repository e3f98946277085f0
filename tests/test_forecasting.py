"""gated.forecasting: shapes, pandas round trip, quantiles, backtests without peeking,
save/load, a known answer (a noisy sine beats persistence), and clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from gated.forecasting import Forecaster, PinballLoss, monotone_quantiles  # noqa: E402
from gated.forecasting.backtest import (  # noqa: E402
    coverage,
    errors_by_step,
    naive_backtest,
    score,
)
from gated.forecasting.windows import make_inputs, make_targets  # noqa: E402

H, L, PERIOD, NOISE = 6, 24, 12, 0.2


def _series(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    """A noisy sine of period 12 (hourly), plus a covariate unrelated to it."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    index = pd.date_range("2021-03-01", periods=n, freq="h", name="when")
    return pd.DataFrame({"load": 3.0 + np.sin(2 * np.pi * t / PERIOD)
                         + NOISE * rng.standard_normal(n),
                         "temp": rng.standard_normal(n)}, index=index)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _series()


@pytest.fixture(scope="module")
def fitted(data: pd.DataFrame) -> Forecaster:
    f = Forecaster(horizon=H, input_length=L, quantiles=(0.1, 0.5, 0.9), units=8, epochs=12,
                   batch_size=64, learning_rate=1e-2, patience=3, seed=0)
    return f.fit(data.iloc[:800], target="load", covariates=["temp"],
                 validation=data.iloc[800 - L:1000], verbose=0)


# ---------------------------------------------------------------------- shapes and pandas
def test_predict_shape_columns_and_index(fitted: Forecaster, data: pd.DataFrame) -> None:
    out = fitted.predict(data.iloc[:800])
    assert list(out.columns) == ["load", "load_q0.1", "load_q0.5", "load_q0.9"]
    assert out.shape == (H, 4)
    expected = pd.date_range(data.index[799], periods=H + 1, freq="h")[1:]
    assert out.index.equals(expected) and out.index.name == "when"
    np.testing.assert_array_equal(out["load"], out["load_q0.5"])


def test_numpy_in_range_index_out() -> None:
    y = np.sin(np.arange(300) / 3.0)
    f = Forecaster(horizon=4, input_length=16, units=4, epochs=1, seed=0).fit(y, verbose=0)
    out = f.predict(y)
    assert list(out.columns) == ["y"] and list(out.index) == [300, 301, 302, 303]
    bt = f.backtest(y, start=250)
    assert len(bt) == (300 - 4 - 250 + 1) * 4
    assert set(bt.columns) == {"target", "origin", "time", "step", "actual", "forecast"}
    np.testing.assert_allclose(bt["actual"], y[bt["time"].to_numpy()], rtol=1e-6)


def test_windows_against_a_loop() -> None:
    rng = np.random.default_rng(1)
    n, h, l = 20, 3, 5
    targets, past, future = (rng.standard_normal((n, 2)), rng.standard_normal((n, 1)),
                             rng.standard_normal((n + h, 2)))
    origins = np.array([4, 9, 16])
    x = make_inputs(targets, past, future, origins, l, h)
    y = make_targets(targets, origins, h)
    assert x.shape == (6, l + h, 4) and y.shape == (6, h)
    for j in range(2):
        for b, i in enumerate(origins):
            row = x[j * 3 + b]
            for s in range(l + h):
                t = i - l + 1 + s
                observed = [targets[t, j], past[t, 0]] if t <= i else [0.0, 0.0]
                np.testing.assert_allclose(row[s], [*observed, *future[t]], rtol=1e-6)
            np.testing.assert_allclose(y[j * 3 + b], targets[i + 1:i + 1 + h, j], rtol=1e-6)


# ---------------------------------------------------------------------- quantiles
def test_pinball_loss_by_hand() -> None:
    y_true = torch.tensor([[1.0], [2.0]])
    y_pred = torch.tensor([[0.0, 1.5], [2.5, 3.0]])
    # quantiles 0.2 and 0.7; under-forecast costs q * error, over-forecast (1 - q) * error
    by_hand = [(0.2 * 1.0 + 0.3 * 0.5) / 2, (0.8 * 0.5 + 0.3 * 1.0) / 2]
    loss = PinballLoss([0.2, 0.7])
    assert float(loss(y_true, y_pred)) == pytest.approx(np.mean(by_hand), rel=1e-6)


def test_monotone_quantiles_never_cross() -> None:
    raw = torch.randn(50, 7, 5) * 10
    q = monotone_quantiles(raw, anchor=2)
    assert torch.all(q[..., 1:] >= q[..., :-1])
    torch.testing.assert_close(q[..., 2], raw[..., 2])


def test_backtest_quantiles_ordered_and_cover(fitted: Forecaster, data: pd.DataFrame) -> None:
    bt = fitted.backtest(data.iloc[1000 - L:], start=L)
    assert (bt["q0.1"] <= bt["q0.5"]).all() and (bt["q0.5"] <= bt["q0.9"]).all()
    share = coverage(bt, 0.1, 0.9)  # held-out rows, never seen in training or validation
    assert 0.7 <= share <= 0.9, share


# ---------------------------------------------------------------------- backtests
def test_backtest_never_peeks_past_its_origin(fitted: Forecaster, data: pd.DataFrame) -> None:
    test = data.iloc[1000 - L:].copy()
    before = fitted.backtest(test, start=L)
    cut = 100  # change the target and the past covariate from position 100 on
    changed = test.copy()
    changed.iloc[cut:, :] = changed.iloc[cut:, :] * 5.0 + 7.0
    after = fitted.backtest(changed, start=L)
    origins = test.index[cut - 1]
    early = before["origin"] <= origins
    assert early.sum() > 0 and (~early).sum() > 0
    pd.testing.assert_frame_equal(before[early].drop(columns="actual"),
                                  after[early].drop(columns="actual"))
    assert not np.allclose(before.loc[~early, "forecast"], after.loc[~early, "forecast"])


def test_naive_backtest_by_hand() -> None:
    y = np.arange(10.0) ** 2
    last = naive_backtest(y, "y", horizon=3, start=5)
    assert list(last["forecast"][:3]) == [16.0, 16.0, 16.0]
    assert list(last["actual"][:3]) == [25.0, 36.0, 49.0]
    seasonal = naive_backtest(y, "y", horizon=3, start=5, season=2)
    # step 1 -> y[5 - 2], step 2 -> y[6 - 2], step 3 -> y[7 - 4]
    assert list(seasonal["forecast"][:3]) == [9.0, 16.0, 9.0]
    assert score(last)["mse"] == pytest.approx(np.mean(
        [(y[i + h] - y[i]) ** 2 for i in range(4, 7) for h in (1, 2, 3)]))


def test_sine_beats_persistence(fitted: Forecaster, data: pd.DataFrame) -> None:
    test = data.iloc[1000 - L:]
    ours = score(fitted.backtest(test, start=L))["mse"]
    naive = score(naive_backtest(test, "load", H, L))["mse"]
    # Persistence errs by the sine's change plus two noises; the network by about one noise.
    assert ours < 0.1 * naive, (ours, naive)
    assert ours < 2.0 * NOISE ** 2
    assert len(errors_by_step(fitted.backtest(test, start=L))) == H


# ---------------------------------------------------------------------- saving
def test_save_load_round_trip(fitted: Forecaster, data: pd.DataFrame, tmp_path) -> None:
    import zipfile

    path = fitted.save(tmp_path / "load.forecaster")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json",
                                              "model.weights.safetensors"]
    loaded = Forecaster.load(path)
    pd.testing.assert_frame_equal(fitted.predict(data.iloc[:900]), loaded.predict(data.iloc[:900]))
    np.testing.assert_array_equal(loaded.scaler.mean_, fitted.scaler.mean_)
    assert loaded.get_config() == fitted.get_config()


def test_plots_write_png(fitted: Forecaster, data: pd.DataFrame, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from gated.viz import plot_horizon_errors

    path = fitted.plot(data.iloc[:900], tmp_path / "f.png", actual=data["load"].iloc[900:906])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bt = naive_backtest(data.iloc[:300], "load", H, L)
    path = plot_horizon_errors({"naive": errors_by_step(bt)}, tmp_path / "e.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------------- bad inputs
def test_bad_inputs_name_the_problem(fitted: Forecaster, data: pd.DataFrame) -> None:
    f = Forecaster(horizon=H, input_length=L, units=4, epochs=1)
    with pytest.raises(ValueError, match="too short.*at least 30 rows.*received 29 rows"):
        f.fit(data.iloc[:29], target="load")
    with pytest.raises(ValueError, match="too short"):
        Forecaster(horizon=500, input_length=L).fit(data.iloc[:200], target="load")
    with pytest.raises(ValueError, match="Unknown column 'lod'.*did you mean 'load'"):
        f.fit(data, target="lod")
    with pytest.raises(ValueError, match="Unknown column 'wind' in `covariates`"):
        f.fit(data, target="load", covariates=["wind"])
    gappy = data.copy()
    gappy.iloc[50, 0] = np.nan
    with pytest.raises(ValueError, match="'load'.*1 NaN.*fill="):
        f.fit(gappy, target="load")
    shuffled = data.iloc[[0, 2, 1, *range(3, 400)]]
    with pytest.raises(ValueError, match="non-monotonic time index at position 2"):
        f.fit(shuffled, target="load")
    with pytest.raises(ValueError, match="too short"):
        fitted.predict(data.iloc[:L - 1])
    with pytest.raises(ValueError, match="quantiles.*0.5"):
        Forecaster(horizon=2, input_length=4, quantiles=(0.1, 0.9))
    with pytest.raises(RuntimeError, match="fit"):
        f.predict(data)


def test_fill_policy_fills_nan(data: pd.DataFrame) -> None:
    gappy = data.iloc[:300].copy()
    gappy.iloc[[50, 51], 0] = np.nan
    f = Forecaster(horizon=H, input_length=L, units=4, epochs=1, fill="interpolate", seed=0)
    out = f.fit(gappy, target="load", verbose=0).predict(gappy)
    assert np.isfinite(out.to_numpy()).all()


# ---------------------------------------------------------------------- the benchmark (slow)
@pytest.mark.slow
def test_ett_quick_recipe_beats_repeat_last(tmp_path) -> None:
    from pathlib import Path

    from gated.recipes import run_recipe

    data = Path(__file__).parents[1].parent / "shared" / "data"
    if not (data / "ett" / "ETTh1.csv").exists():
        pytest.skip(f"shared data set not found at {data / 'ett'} (see shared/data/README.md)")
    numbers = run_recipe("forecast-ett", ["--quick", "--quiet", "--data", str(data),
                                          "--output", str(tmp_path)])
    for setting, result in numbers["settings"].items():
        assert result["Forecaster"]["mse"] < result["repeat-last"]["mse"], setting
    assert numbers["forecaster_beats_repeat_last"]


# ---------------------------------------------------------------------- streaming
def test_streaming_update_equals_whole_history_recompute(data: pd.DataFrame) -> None:
    from gated.forecasting.streaming import StreamingForecaster

    f = Forecaster(horizon=H, input_length=L, quantiles=(0.1, 0.5, 0.9), units=8, epochs=2,
                   normalize="none", scale=False, linear=False, seed=0)
    f.fit(data.iloc[:400], target="load", verbose=0)
    stream = StreamingForecaster(f, freq="h")
    series = data["load"].iloc[400:520]
    for k, (time, value) in enumerate(series.items(), start=1):
        carried = stream.update(value, time)
        if k in (1, 7, 60, 120):
            whole = stream.recompute(series.iloc[:k])
            np.testing.assert_allclose(carried, whole, rtol=1e-5, atol=1e-5)
            assert carried.shape == (H, 3) and np.all(np.diff(carried, axis=1) >= 0)
    # A window of exactly the training length through the forecaster gives the same numbers.
    window = data.iloc[400 + 120 - L:520]
    stream.reset()
    for time, value in window["load"].items():
        carried = stream.update(value, time)
    np.testing.assert_allclose(carried[:, 1], f.predict(window)["load"], rtol=1e-5, atol=1e-5)


def test_streaming_refuses_a_windowed_forecaster(fitted: Forecaster) -> None:
    from gated.forecasting.streaming import StreamingForecaster

    with pytest.raises(ValueError, match="normalize='last'.*scale=True.*linear=True"):
        StreamingForecaster(fitted, freq="h")


def test_known_future_covariates_are_used_and_required() -> None:
    rng = np.random.default_rng(3)
    n = 700
    plan = rng.standard_normal(n)
    frame = pd.DataFrame({"y": 2.0 * plan + 0.05 * rng.standard_normal(n), "plan": plan})
    # The target is the covariate, not its own past: no window normalization (see the docs).
    f = Forecaster(horizon=3, input_length=8, units=8, epochs=15, learning_rate=1e-2, seed=0,
                   patience=15, batch_size=16, normalize="none", scale=False)
    f.fit(frame.iloc[:500], target="y", future_covariates=["plan"], verbose=0)
    bt = f.backtest(frame.iloc[500:], start=8)
    naive = naive_backtest(frame.iloc[500:], "y", 3, 8)
    # y is the plan times 2: only a model that reads the plan over the horizon can be right.
    assert score(bt)["mse"] < 0.1 * score(naive)["mse"], (score(bt), score(naive))
    with pytest.raises(ValueError, match="known-future covariates.*future="):
        f.predict(frame.iloc[:500])
    out = f.predict(frame.iloc[:500], future=frame.iloc[500:503][["plan"]])
    np.testing.assert_allclose(out["y"], 2.0 * plan[500:503], atol=0.5)
