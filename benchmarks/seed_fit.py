"""Seed-example benchmark: one epoch of Keras-style `fit` against a hand-written PyTorch loop.

The seed example is the Keras three-liner

    model = Sequential([LSTM(50, activation="relu", input_shape=(100, 1)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, batch_size=32)

run here on 2000 windows of 100 steps of a noisy sine (the built-in sunspot series is too short
for 2000 windows). The baseline is what a PyTorch user writes by hand: `nn.LSTM(1, 50)` (tanh:
PyTorch has no relu LSTM) + `nn.Linear(50, 1)`, MSE, Adam(lr=1e-3), the same batches in the
same order. Each round trains fresh models for one epoch each, interleaved; the table shows
the first epoch (first-call and compilation costs included) and the median of the others.

Usage:
    python benchmarks/seed_fit.py [--rounds 5] [--windows 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gated import engine as engines  # noqa: E402
from gated.data import make_windows  # noqa: E402
from gated.layers import LSTM, Dense  # noqa: E402
from gated.models import Sequential  # noqa: E402


def data(windows: int, steps: int = 100) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(windows + steps, dtype=np.float32)
    series = np.sin(2 * np.pi * t / 50) + 0.1 * rng.standard_normal(t.shape).astype(np.float32)
    x, y = make_windows(series.astype(np.float32), window=steps)
    return x[:windows], y[:windows]


def gated_epoch(x: np.ndarray, y: np.ndarray, activation: str, engine: str) -> Callable:
    def run() -> None:
        torch.manual_seed(0)
        model = Sequential([LSTM(50, activation=activation, input_shape=(100, 1), engine=engine),
                            Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    return run


def torch_epoch(x: np.ndarray, y: np.ndarray) -> Callable:
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def run() -> None:
        torch.manual_seed(0)
        lstm = nn.LSTM(1, 50, batch_first=True)
        head = nn.Linear(50, 1)
        params = [*lstm.parameters(), *head.parameters()]
        optimizer = torch.optim.Adam(params, lr=1e-3)
        loss_fn = nn.MSELoss()
        for start in range(0, len(xt), 32):
            xb, yb = xt[start:start + 32], yt[start:start + 32]
            optimizer.zero_grad()
            out, _ = lstm(xb)
            loss = loss_fn(head(out[:, -1]), yb)
            loss.backward()
            optimizer.step()
    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--windows", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    x, y = data(args.windows)
    layer = LSTM(50, activation="relu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {len(x)} windows of "
          f"{x.shape[1]} steps, batch 32 ({-(-len(x) // 32)} steps per epoch)")
    print(engines.explain(layer, x[:32]))
    candidates = {
        "gated fit, relu, engine=auto": gated_epoch(x, y, "relu", "auto"),
        "gated fit, relu, engine=fused": gated_epoch(x, y, "relu", "fused"),
    }
    module, _ = engines.compiled_backend()
    if module is not None:
        candidates["gated fit, relu, engine=compiled"] = gated_epoch(x, y, "relu", "compiled")
    candidates["gated fit, tanh, engine=auto"] = gated_epoch(x, y, "tanh", "auto")
    candidates["PyTorch loop, nn.LSTM (tanh)"] = torch_epoch(x, y)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.rounds):
        for name, run in list(candidates.items()):
            start = time.perf_counter()
            try:
                run()
            except Exception as exc:  # a broken backend must not end the benchmark
                print(f"{name}: failed, left out ({type(exc).__name__}: {exc})")
                del candidates[name], times[name]
                continue
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["PyTorch loop, nn.LSTM (tanh)"][1:] or
                             times["PyTorch loop, nn.LSTM (tanh)"])
    header = (f"{'implementation':<34} {'first epoch s':>14} {'median epoch s':>15} "
              f"{'x PyTorch loop':>15}")
    print(header)
    print("-" * len(header))
    for name, values in times.items():
        med = statistics.median(values[1:] or values)
        print(f"{name:<34} {values[0]:14.3f} {med:15.3f} {med / base:15.2f}")


if __name__ == "__main__":
    main()
