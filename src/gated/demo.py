"""`gated demo`: a real forecasting run on the built-in yearly sunspot numbers (1700-2008).

An LSTM in the style of the classic Keras example (`LSTM(50, activation="relu")` then
`Dense(1)`, Adam, mean squared error) learns to predict next year's sunspot number from the
previous `window` years. It is compared on the last `test_years` years, one step ahead from
the true history, with two baselines that any forecast must beat to be worth its cost:
the naive forecast (next year = this year) and the seasonal naive forecast (next year = the
year one solar cycle, 11 years, earlier).

Run it with `gated demo` or `python -m gated demo`; from Python, `run_demo()` returns the
numbers.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from gated.data.datasets import load_sunspots
from gated.data.timeseries import (
    MinMaxScaler,
    mae,
    make_windows,
    naive_forecast,
    rmse,
    seasonal_naive_forecast,
)

__all__ = [
    "run_demo",
    "validate_demo_arguments",
    "DEFAULT_EPOCHS",
    "DEFAULT_PATIENCE",
    "DEFAULT_WINDOW",
]

DEFAULT_EPOCHS = 300
DEFAULT_WINDOW = 11
DEFAULT_PATIENCE = 40
DEFAULT_TEST_YEARS = 40
DEFAULT_OUTPUT_DIR = "gated-demo"
SOLAR_CYCLE_YEARS = 11
_SERIES_LENGTH = 309  # 1700..2008


def validate_demo_arguments(epochs: int, window: int, test_years: int = DEFAULT_TEST_YEARS) -> None:
    """Checks the demo's arguments before any work; raises `ValueError` naming the bad one."""
    for name, value in (("epochs", epochs), ("window", window), ("test_years", test_years)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer; received {value!r}.")
    if test_years < SOLAR_CYCLE_YEARS:
        raise ValueError(
            f"`test_years` must be at least {SOLAR_CYCLE_YEARS} (one solar cycle); "
            f"received {test_years}."
        )
    train_length = _SERIES_LENGTH - test_years
    # Keep at least ~50 training windows (validation_split takes 10% of them).
    max_window = train_length - 50
    if max_window < 1:
        raise ValueError(
            f"`test_years` must leave at least 51 training years out of {_SERIES_LENGTH}; "
            f"received {test_years}."
        )
    if window > max_window:
        raise ValueError(
            f"`window` must be at most {max_window} so that {train_length} training years give "
            f"at least 50 training windows; received {window}."
        )


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _print_table(rows: list[tuple[str, float, float]], best: str, first: int, last: int) -> None:
    width = max(len(name) for name, _, _ in rows) + 2
    print()
    print(f"One-step-ahead forecasts of the yearly sunspot number, test years {first}-{last}")
    print(f"({last - first + 1} years; errors in sunspot units, lower is better)")
    print(f"{'method':<{width}}{'MAE':>9}{'RMSE':>9}")
    print("-" * (width + 18))
    for name, mae_value, rmse_value in rows:
        marker = "  <- best" if name == best else ""
        print(f"{name:<{width}}{mae_value:>9.2f}{rmse_value:>9.2f}{marker}")
    print(f"best (lowest RMSE): {best}")


def run_demo(
    epochs: int = DEFAULT_EPOCHS,
    output_dir: str | os.PathLike = DEFAULT_OUTPUT_DIR,
    window: int = DEFAULT_WINDOW,
    seed: int = 0,
    verbose: int = 1,
    test_years: int = DEFAULT_TEST_YEARS,
    patience: int = DEFAULT_PATIENCE,
    report: bool = True,
    threads: int | None = 1,
) -> dict[str, Any]:
    """Trains an LSTM on yearly sunspot numbers and compares it with naive baselines.

    Args:
        epochs: maximum number of training epochs (early stopping on `val_loss` may stop
            sooner; the best weights are restored).
        output_dir: folder for `forecast.png` and `history.png` (created if missing).
        window: number of past years the LSTM sees to predict the next one.
        seed: seed of NumPy, Python's and torch's random generators.
        verbose: 0 trains silently, 1 prints the model summary and the training progress.
        test_years: number of final years held out as the test period.
        patience: early-stopping patience in epochs.
        report: print the results table and the paths of the plots.
        threads: torch intra-op threads while the demo runs (restored afterwards). The model
            is tiny (batches of 32 x 50 units), so one thread is the fastest: more threads
            only add synchronization, and much more on a busy machine. `None` keeps torch's
            setting.

    Returns:
        Dict with `metrics` (method -> `{"mae", "rmse"}` in sunspot units), `best` (method
        with the lowest test RMSE), `test_years` (first, last), `epochs_run`, `history`
        (the `History.history` dict), `predictions` (method -> test forecasts), `actual`
        (test values), `train_seconds`, and `forecast_plot` / `history_plot` (paths, or None
        when matplotlib is missing).

    Example:

    ```python
    from gated.demo import run_demo
    results = run_demo(epochs=50, output_dir="demo_output")
    results["metrics"]["LSTM"]["rmse"]
    ```
    """
    validate_demo_arguments(epochs, window, test_years)
    if patience < 1:
        raise ValueError(f"`patience` must be a positive integer; received {patience!r}.")
    import torch

    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        return _train_and_compare(
            epochs,
            Path(output_dir).expanduser(),
            window,
            seed,
            verbose,
            test_years,
            patience,
            report,
        )
    finally:
        torch.set_num_threads(previous_threads)


def _train_and_compare(
    epochs: int,
    output: Path,
    window: int,
    seed: int,
    verbose: int,
    test_years: int,
    patience: int,
    report: bool,
) -> dict[str, Any]:
    from gated.callbacks import EarlyStopping
    from gated.layers import LSTM, Dense
    from gated.models import Sequential

    _seed_everything(seed)
    years, values = load_sunspots()
    length = len(values)
    split = length - test_years  # position of the first test year

    # Scale with statistics of the training years only: the test years stay unseen.
    scaler = MinMaxScaler(feature_range=(0, 1)).fit(values[:split])
    scaled = scaler.transform(values).astype(np.float32)
    x, y = make_windows(scaled, window=window)  # x (n, window, 1), y (n, 1)
    target_position = np.arange(len(y)) + window  # series position each window predicts
    train = target_position < split
    test = ~train
    x_train, y_train = x[train], y[train]
    x_test = x[test]
    test_positions = target_position[test]

    model = Sequential()
    model.add(LSTM(50, activation="relu", input_shape=(window, 1)))
    model.add(Dense(1))
    model.compile(optimizer="adam", loss="mean_squared_error")
    if verbose:
        model.summary()

    stopper = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    started = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=32,
        validation_split=0.1,
        verbose=2 if verbose else 0,
        callbacks=[stopper],
    )
    train_seconds = time.perf_counter() - started
    curves = {k: [float(v) for v in vals] for k, vals in dict(history.history).items()}

    predicted = np.asarray(model.predict(x_test, verbose=0), dtype=np.float64).reshape(-1, 1)
    actual = values[test_positions].astype(np.float64)
    first, stop = int(test_positions[0]), int(test_positions[-1]) + 1
    forecasts = {
        "LSTM": scaler.inverse_transform(predicted).reshape(-1),
        # The last value of each true-history window (a 1-year window suffices).
        "naive (last value)": naive_forecast(values[test_positions - 1][:, None]),
        f"seasonal naive ({SOLAR_CYCLE_YEARS} y)": seasonal_naive_forecast(
            values, SOLAR_CYCLE_YEARS, first, stop
        ),
    }
    forecasts = {name: f.astype(np.float64) for name, f in forecasts.items()}

    metrics = {
        name: {"mae": mae(actual, forecast), "rmse": rmse(actual, forecast)}
        for name, forecast in forecasts.items()
    }
    best = min(metrics, key=lambda name: metrics[name]["rmse"])
    first_year, last_year = int(years[test_positions[0]]), int(years[test_positions[-1]])

    forecast_plot: Path | None = None
    history_plot: Path | None = None
    plot_error: str | None = None
    try:
        from gated.viz.plots import plot_forecast, plot_history

        # Show the test period with the six solar cycles before it, not all 309 years.
        shown = slice(max(0, split - 6 * SOLAR_CYCLE_YEARS), length)
        forecast_plot = plot_forecast(
            years[shown],
            values[shown],
            forecasts,
            output / "forecast.png",
            title=(
                f"Yearly sunspot number: one-step-ahead forecasts {first_year}-{last_year} "
                f"(LSTM window {window})"
            ),
            split_index=split - shown.start,
            xlabel="year",
            ylabel="sunspot number",
        )
        history_plot = plot_history(history, output / "history.png", title="LSTM training")
    except ImportError as error:
        plot_error = str(error)

    if report:
        rows = [(name, m["mae"], m["rmse"]) for name, m in metrics.items()]
        _print_table(rows, best, first_year, last_year)
        print(
            f"LSTM: {len(curves.get('loss', []))} epochs in {train_seconds:.1f} s "
            f"on {len(x_train)} windows of {window} years before {first_year} (last 10% for "
            "validation)"
        )
        if plot_error is None:
            print(f"forecast plot: {forecast_plot}")
            print(f"training history plot: {history_plot}")
        else:
            print(f"plots skipped: {plot_error}")
        sys.stdout.flush()

    return {
        "metrics": metrics,
        "best": best,
        "test_years": (first_year, last_year),
        "epochs_run": len(curves.get("loss", [])),
        "history": curves,
        "predictions": forecasts,
        "actual": actual,
        "train_seconds": train_seconds,
        "forecast_plot": forecast_plot,
        "history_plot": history_plot,
    }
