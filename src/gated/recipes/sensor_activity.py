"""Human activity from a smart-watch's accelerometer and gyroscope (UEA BasicMotions): an
LSTM classifier against 1-NN.

Data: `basicmotions/` of the shared data (40 training and 40 test cases, 6 channels x 100
steps at 10 Hz; Standing, Running, Walking, Badminton). Each channel is z-scored with the
training statistics. Model: `LSTM(32) -> Dense(4, softmax)`, Adam, sparse categorical
cross-entropy; the weights of the epoch with the lowest training loss are kept (with 40
cases there is no validation split to spare). Baselines computed in the same run: 1-NN with
Euclidean distance (channels z-scored with training statistics, and each series z-normalised
on its own as in the UEA papers), and the majority class. Published anchor: 1-NN
with multivariate DTW 0.975 (UEA archive paper; rebuilt in shared/data/README.md).

Command and numbers (2-core CPU shared with other jobs, torch 2.13, seed 0):

    gated example sensor-activity --data ../shared/data      # 150 epochs
    gated example sensor-activity --data ../shared/data --quick   # 60 epochs

Numbers reached: see docs/applications.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recipe's own options."""
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-3)


def nearest_neighbour(x: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """1-NN with Euclidean distance over whole (time, channel) series."""
    a, b = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    distances = (b ** 2).sum(1)[:, None] - 2 * b @ a.T + (a ** 2).sum(1)[None]
    return y[distances.argmin(1)]


def run(args: argparse.Namespace) -> dict:
    """Trains the LSTM classifier and prints its test accuracy beside the baselines."""
    from gated.data.uea import load_basicmotions
    from gated.layers import LSTM, Dense
    from gated.models import Sequential
    from gated.optimizers import Adam
    from gated.recipes import data_dir
    from gated.recipes._science import setup

    folder = data_dir(args, "basicmotions", "BasicMotions_TRAIN.ts", "BasicMotions_TEST.ts")
    (x, y), (x_test, y_test), classes = load_basicmotions(folder)
    mean, std = x.mean((0, 1)), x.std((0, 1)) + 1e-8
    x, x_test = (x - mean) / std, (x_test - mean) / std
    setup(args.seed, threads=2)
    epochs = min(args.epochs, 60) if args.quick else args.epochs
    model = Sequential([LSTM(args.units, input_shape=x.shape[1:]),
                        Dense(len(classes), activation="softmax")])
    model.compile(optimizer=Adam(args.lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    best, best_loss = None, float("inf")
    for epoch in range(epochs):
        history = model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=True)
        loss = history.history["loss"][-1]
        if loss < best_loss:
            best, best_loss = [w.copy() for w in model.get_weights()], loss
        if args.verbose and (epoch + 1) % 10 == 0:
            print(f"epoch {epoch + 1:4d}  loss {loss:.4f}", flush=True)
    seconds = time.perf_counter() - start
    model.set_weights(best)
    accuracy = float((model.predict(x_test, verbose=0).argmax(1) == y_test).mean())
    nn = float((nearest_neighbour(x, y, x_test) == y_test).mean())
    raw_x, raw_test = x * std + mean, x_test * std + mean
    per_series = [(a - a.mean(1, keepdims=True)) / (a.std(1, keepdims=True) + 1e-8)
                  for a in (raw_x, raw_test)]
    nn_series = float((nearest_neighbour(per_series[0], y, per_series[1]) == y_test).mean())
    majority = float((y_test == np.bincount(y).argmax()).mean())
    rows = [("LSTM (gated)", accuracy), ("1-NN Euclidean, channel z-score (this run)", nn),
            ("1-NN Euclidean, per-series z-norm (this run)", nn_series),
            ("majority class", majority), ("1-NN DTW (published anchor)", 0.975)]
    print(f"\nBasicMotions test accuracy ({len(y_test)} cases), {epochs} epochs in "
          f"{seconds:.1f} s")
    for name, value in rows:
        print(f"  {name:46s} {value:.3f}")
    return {"test_accuracy": accuracy, "nn_euclidean": nn,
            "nn_euclidean_series_znorm": nn_series, "majority": majority,
            "dtw_anchor": 0.975, "epochs": epochs, "train_seconds": seconds,
            "train_loss": best_loss}
