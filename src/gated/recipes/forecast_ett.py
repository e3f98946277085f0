"""ETTh1/ETTh2 forecasting: the Forecaster against repeat-last, seasonal naive, DLinear and an LSTM.

The Informer protocol (Zhou et al., AAAI 2021): 12/4/4 months train/validation/test, every
column z-scored with the training statistics, MSE and MAE on the z-scored test windows (every
origin whose horizon lies in the test months; the input window may reach back into the
validation months). `S`: the oil temperature OT alone, in and out. `M`: all seven columns in
and out (each forecast from its own history by one shared network: channel independence).
Input 96 steps.

Methods: repeat-last-value; seasonal naive (the value 24 hours back); DLinear (trend/remainder
+ two `Dense`, gated layers); a plain `LSTM(64) -> Dense(H)` on the raw window; the
`gated.forecasting.Forecaster` (quantiles 0.1/0.5/0.9, its median scored; the coverage of its
80% interval is printed).

Reached (`OMP_NUM_THREADS=1 gated example forecast-ett --quick --data ../shared/data`: ETTh1
univariate, at most 6 epochs; 1 min 44 s on the shared 2-core CPU machine, load ~13), test
MSE repeat-last / seasonal / DLinear / LSTM / Forecaster: H=24 0.0343 / 0.0458 / 0.0297 /
0.0806 / 0.0281 (80% interval coverage 0.788); H=168 0.0872 / 0.0871 / 0.0798 / 0.2875 /
0.0731 (coverage 0.792). `--features S --epochs 10` (ETTh1 and ETTh2, all five horizons, 19 min):
the Forecaster beats repeat-last at every horizon, by 16-37% (ETTh1) and 49-69% (ETTh2). See
docs/forecasting.md for every setting and what made the difference.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

#: Published multivariate ETTh1 MSE (Informer, Zhou et al. 2021, Table 2), input 96.
PUBLISHED = {
    ("ETTh1", "M"): {
        "LSTMa": {24: 0.650, 48: 0.702, 168: 1.212, 336: 1.424, 720: 1.960},
        "Informer": {24: 0.577, 48: 0.685, 168: 0.931, 336: 1.128, 720: 1.215},
    },
}
METHODS = ("repeat-last", "seasonal", "DLinear", "LSTM", "Forecaster")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--datasets", default=None, help="comma list (default ETTh1,ETTh2)")
    parser.add_argument("--features", default=None, help="comma list of S, M (default S,M)")
    parser.add_argument("--horizons", default=None,
                        help="comma list (default 24,48,168,336,720)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="most training epochs of each model (default 20; quick 6)")
    parser.add_argument("--input-length", type=int, default=96)


def _frames(folder: Path, name: str, features: str) -> tuple:
    import pandas as pd
    from sklearn.preprocessing import StandardScaler

    from gated.data.datasets import load_ett

    ett = load_ett(folder, features=features, name=name)
    table = pd.DataFrame(ett.values.astype(np.float64), columns=list(ett.columns),
                         index=pd.DatetimeIndex(ett.dates, name="date"))
    scaler = StandardScaler().fit(table.iloc[ett.splits["train"]])
    z = pd.DataFrame(scaler.transform(table), columns=table.columns, index=table.index)
    return z, ett.splits


def _one(z, splits, targets, horizon, length, epochs, seed, verbose) -> dict:
    import torch

    from gated.forecasting import Forecaster
    from gated.forecasting.backtest import coverage, naive_backtest, score
    from gated.forecasting.baselines import DLinear, plain_lstm, train_baseline
    from gated.recipes._forecasting import mse_mae, windows

    train = z.iloc[splits["train"]]
    val = z.iloc[splits["val"].start - length:splits["val"].stop]
    test = z.iloc[splits["test"].start - length:splits["test"].stop]
    out: dict = {}
    out["repeat-last"] = score(naive_backtest(test, targets, horizon, length))
    out["seasonal"] = score(naive_backtest(test, targets, horizon, length, season=24))
    parts = {k: windows(f, targets, length, horizon) for k, f in
             (("train", train), ("val", val), ("test", test))}
    started = time.perf_counter()
    torch.manual_seed(seed)
    linear = train_baseline(DLinear(length, horizon), parts["train"], parts["val"],
                            epochs=max(epochs, 10), learning_rate=1e-3)
    out["DLinear"] = mse_mae(linear.predict(parts["test"][0], verbose=0), parts["test"][1])
    torch.manual_seed(seed)
    lstm = train_baseline(plain_lstm(length, horizon),
                          tuple((x[..., None] if k == 0 else x) for k, x in
                                enumerate(parts["train"])),
                          (parts["val"][0][..., None], parts["val"][1]), epochs=epochs)
    out["LSTM"] = mse_mae(lstm.predict(parts["test"][0][..., None], verbose=0),
                          parts["test"][1])
    baselines_s = time.perf_counter() - started
    started = time.perf_counter()
    forecaster = Forecaster(horizon=horizon, input_length=length, quantiles=(0.1, 0.5, 0.9),
                            epochs=epochs, seed=seed)
    forecaster.fit(train, target=targets, validation=val, verbose=verbose)
    table = forecaster.backtest(test, start=length)
    out["Forecaster"] = score(table)
    out["coverage80"] = coverage(table, 0.1, 0.9)
    out["epochs"] = len(forecaster.history.history["loss"])
    out["seconds"] = {"baselines": round(baselines_s, 1),
                      "forecaster": round(time.perf_counter() - started, 1)}
    out["_table"] = table
    out["_forecaster"] = forecaster
    return out


def run(args: argparse.Namespace) -> dict:
    from gated.forecasting.backtest import errors_by_step, naive_backtest
    from gated.recipes import data_dir
    from gated.recipes._forecasting import print_table

    folder = data_dir(args, "ett", "ETTh1.csv")
    quick = args.quick
    datasets = (args.datasets or ("ETTh1" if quick else "ETTh1,ETTh2")).split(",")
    features = (args.features or ("S" if quick else "S,M")).split(",")
    horizons = [int(h) for h in (args.horizons or ("24,168" if quick else
                                                   "24,48,168,336,720")).split(",")]
    epochs = args.epochs or (6 if quick else 20)
    length = args.input_length
    rows, numbers = [], {}
    for name in datasets:
        for feature in features:
            z, splits = _frames(folder, name, feature)
            targets = ["OT"] if feature == "S" else list(z.columns)
            for horizon in horizons:
                result = _one(z, splits, targets, horizon, length, epochs, args.seed,
                              args.verbose)
                setting = f"{name} {feature} H={horizon}"
                table = result.pop("_table")
                forecaster = result.pop("_forecaster")
                published = PUBLISHED.get((name, feature), {})
                for method, values in published.items():
                    result[f"published {method}"] = {"mse": values[horizon], "mae": np.nan} \
                        if horizon in values else None
                numbers[setting] = result
                rows.append({"setting": setting, **result})
                if args.verbose:
                    print(f"{setting}: " + ", ".join(
                        f"{m} {result[m]['mse']:.4f}" for m in METHODS) +
                        f"; coverage80 {result['coverage80']:.3f}; {result['seconds']}")
                if len(rows) == 1:
                    _plots(args, z, splits, targets, horizon, length, table, forecaster,
                           errors_by_step, naive_backtest)
    print("\nMSE/MAE on the z-scored test months (Informer protocol), input "
          f"{length}; epochs <= {epochs}; seed {args.seed}")
    print_table(rows, METHODS, extra=("coverage80",))
    beats = all(r["Forecaster"]["mse"] < r["repeat-last"]["mse"] for r in rows)
    print(f"Forecaster beats repeat-last on MSE in every setting: {beats}")
    for (name, feature), methods in PUBLISHED.items():
        for method, values in methods.items():
            print(f"published {name} {feature} {method} MSE: " +
                  " ".join(f"H{h}={v}" for h, v in values.items()))
    return {"settings": numbers, "forecaster_beats_repeat_last": beats, "epochs": epochs,
            "input_length": length}


def _plots(args, z, splits, targets, horizon, length, table, forecaster, errors_by_step,
           naive_backtest) -> None:
    """The first setting's forecast (with its interval) and its errors per step ahead."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    from gated.viz import plot_horizon_errors

    test = z.iloc[splits["test"].start - length:splits["test"].stop]
    output = Path(args.output)
    naive = naive_backtest(test, targets, horizon, length)
    plot_horizon_errors({"Forecaster": errors_by_step(table), "repeat-last": errors_by_step(naive)},
                        output / f"errors_h{horizon}.png",
                        title=f"{targets[0]}: MSE per step ahead (test months)")
    cut = splits["test"].start + 10 * 24
    forecaster.plot(z.iloc[:cut], output / f"forecast_h{horizon}.png",
                    actual=z[targets[0]].iloc[cut:cut + horizon])
