"""Beijing PM2.5, hourly: the Forecaster with weather covariates against persistence.

Data: `beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv` (hourly PM2.5 at the US embassy plus
dew point, temperature, pressure, wind direction and speed, hours of snow and rain). Train
2010-2012, validation 2013 (early stopping), test 2014. The Forecaster reads 48 hours of
PM2.5 and the weather columns (past-observed covariates; the wind direction one-hot) and
forecasts the next `H` hours (quantiles 0.1/0.5/0.9). Missing PM2.5 inputs are interpolated
(`fill="interpolate"`); errors count only the hours whose PM2.5 was measured, for every method
alike.

Baselines: persistence (each hour as the one before; the data README computes RMSE 22.1 and
MAE 11.9 ug/m^3 for next-hour on 2014) and, for day-ahead, the value 24 hours back.

Reached (`gated example forecast-weather --quick --data ../shared/data`, units 32, 4 epochs,
shared 2-core CPU machine, 3 min): RMSE/MAE at 1 h persistence 22.06/11.92, Forecaster
21.38/11.44; at 24 h persistence 78.48/49.61, same hour yesterday 98.97/67.44, Forecaster
71.12/46.27; 80% interval coverage 0.772 (1 h) and 0.749 (24 h). See docs/forecasting.md.
"""

from __future__ import annotations

import argparse

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--horizons", default="1,24", help="comma list (default 1,24)")
    parser.add_argument("--epochs", type=int, default=None, help="default 15 (quick 4)")
    parser.add_argument("--input-length", type=int, default=48)


def load_pm25(folder) -> object:
    """The table by hour: `pm25` (NaN where missing), weather columns, wind one-hot."""
    import pandas as pd

    raw = pd.read_csv(folder / "PRSA_data_2010.1.1-2014.12.31.csv")
    index = pd.DatetimeIndex(pd.to_datetime(raw[["year", "month", "day", "hour"]]), name="time")
    frame = raw[["pm2.5", "DEWP", "TEMP", "PRES", "Iws", "Is", "Ir"]].astype(np.float64)
    frame = frame.rename(columns={"pm2.5": "pm25"})
    wind = pd.get_dummies(raw["cbwd"], prefix="wind").astype(np.float64)
    frame = pd.concat([frame, wind], axis=1)
    frame.index = index
    return frame


def _errors(forecast: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    error = forecast - actual
    return {"rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error)))}


def run(args: argparse.Namespace) -> dict:
    from gated.forecasting import Forecaster
    from gated.forecasting.backtest import coverage
    from gated.recipes import data_dir

    folder = data_dir(args, "beijing_pm25", "PRSA_data_2010.1.1-2014.12.31.csv")
    frame = load_pm25(folder)
    measured = frame["pm25"].copy()
    covariates = [c for c in frame.columns if c != "pm25"]
    length = args.input_length
    epochs = args.epochs or (4 if args.quick else 15)
    horizons = [int(h) for h in args.horizons.split(",")]
    position = {y: int(np.searchsorted(frame.index, np.datetime64(f"{y}-01-01")))
                for y in (2013, 2014)}
    train = frame.iloc[:position[2013]]
    val = frame.iloc[position[2013] - length:position[2014]]
    test = frame.iloc[position[2014] - length:]
    filled = measured.interpolate(limit_direction="both").to_numpy()
    results: dict = {}
    print(f"\nBeijing PM2.5 (ug/m^3), test 2014, input {length} h, epochs <= {epochs}; "
          "errors on measured hours only")
    print(f"{'horizon':<10}{'method':<24}{'RMSE':>8}{'MAE':>8}")
    for horizon in horizons:
        forecaster = Forecaster(horizon=horizon, input_length=length,
                                quantiles=(0.1, 0.5, 0.9), units=32 if args.quick else 64,
                                epochs=epochs, fill="interpolate", seed=args.seed)
        forecaster.fit(train, target="pm25", covariates=covariates, validation=val,
                       verbose=args.verbose)
        table = forecaster.backtest(test, start=length)
        times = frame.index.get_indexer(table["time"])
        origins = frame.index.get_indexer(table["origin"])
        steps = table["step"].to_numpy()
        actual = measured.to_numpy()[times]
        ok = ~np.isnan(actual) & ~np.isnan(measured.to_numpy()[origins])
        methods = {"persistence": filled[origins], "Forecaster median":
                   table["forecast"].to_numpy()}
        if horizon > 1:
            methods["same hour yesterday"] = filled[times - 24 * np.ceil(steps / 24).astype(int)]
        row = {name: _errors(values[ok], actual[ok]) for name, values in methods.items()}
        row["coverage80"] = coverage(table[ok], 0.1, 0.9)
        row["epochs_run"] = len(forecaster.history.history["loss"])
        results[f"H={horizon}"] = row
        for name in methods:
            print(f"{'H=' + str(horizon):<10}{name:<24}{row[name]['rmse']:>8.2f}"
                  f"{row[name]['mae']:>8.2f}")
        print(f"{'':<10}{'80% interval coverage':<24}{row['coverage80']:>8.3f}")
    return {"horizons": results, "epochs": epochs, "input_length": length}
