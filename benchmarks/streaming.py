"""Streaming benchmark: latency of ONE time step at batch 1 (64 inputs, 256 units).

Real-time inference feeds one frame at a time and carries the state. Compared, interleaved in
one process (medians of per-step latencies, each round timing a burst of consecutive steps):

- gated `engine.step` (the fastest exact path: compiled streaming kernel when available, else
  torch's fused cell kernel for the standard cell),
- gated `cell.step` under `torch.no_grad` (the reference step),
- gated compiled `streaming_step` directly (when numba is installed),
- `torch.nn.LSTMCell`, and `torch.nn.LSTM` called with a one-step sequence.

Usage:
    python benchmarks/streaming.py [--units 256] [--features 64] [--rounds 50] [--steps 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import gated.layers  # noqa: E402,F401
from gated import engine as engines  # noqa: E402
from gated.cells import LSTMCell  # noqa: E402


def stepper(fn: Callable, states: tuple) -> Callable[[torch.Tensor], None]:
    """Wrap `fn(x, states) -> (y, states)` so that the state is carried between calls."""
    box = {"states": states}

    def run(x: torch.Tensor) -> None:
        _, box["states"] = fn(x, box["states"])
    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--steps", type=int, default=100, help="consecutive steps per round")
    parser.add_argument("--variant", default="keras", help="LSTMCell variant for gated")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    units, features = args.units, args.features
    torch.manual_seed(0)
    cell = LSTMCell(units, variant=args.variant)
    cell._maybe_build((None, features))
    zeros = (torch.zeros(1, units), torch.zeros(1, units))
    frames = torch.randn(args.steps, 1, features)

    lstm_cell = torch.nn.LSTMCell(features, units)
    lstm = torch.nn.LSTM(features, units, batch_first=True)

    def torch_cell(x, states):
        h, c = lstm_cell(x, states)
        return h, (h, c)

    def torch_lstm(x, states):
        y, (h, c) = lstm(x.unsqueeze(1), (states[0].unsqueeze(0), states[1].unsqueeze(0)))
        return y[:, 0], (h[0], c[0])

    candidates: dict[str, Callable] = {
        "gated engine.step": stepper(lambda x, s: engines.step(cell, x, s), zeros),
        "gated cell.step (no_grad)": stepper(lambda x, s: cell.step(x, s), zeros),
    }
    module, why = engines.compiled_backend()
    if module is not None and hasattr(module, "streaming_step"):
        candidates["gated compiled streaming_step"] = stepper(
            lambda x, s: module.streaming_step(cell, x, s), zeros)
    candidates["torch.nn.LSTMCell"] = stepper(torch_cell, zeros)
    candidates["torch.nn.LSTM (1 step)"] = stepper(torch_lstm, zeros)

    first: dict[str, float] = {}
    times: dict[str, list[float]] = {name: [] for name in candidates}
    with torch.no_grad():
        for name, run in list(candidates.items()):
            start = time.perf_counter()
            try:
                run(frames[0])
            except Exception as exc:  # a broken backend must not end the benchmark
                print(f"{name}: failed, left out ({type(exc).__name__}: {exc})")
                del candidates[name], times[name]
                continue
            first[name] = time.perf_counter() - start
        for _ in range(args.rounds):
            for name, run in candidates.items():
                start = time.perf_counter()
                for x in frames:
                    run(x)
                times[name].append((time.perf_counter() - start) / len(frames))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; compiled backend: "
          f"{'available' if module is not None else why}")
    print(f"Streaming one step at batch 1, {features} inputs, {units} units, LSTM variant "
          f"{args.variant!r}; median of {args.rounds} rounds of {args.steps} carried steps")
    base = statistics.median(times["torch.nn.LSTMCell"])
    header = f"{'implementation':<32} {'us/step':>9} {'x LSTMCell':>11} {'first call ms':>14}"
    print(header)
    print("-" * len(header))
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:<32} {med * 1e6:9.1f} {med / base:11.2f} {first[name] * 1e3:14.2f}")


if __name__ == "__main__":
    main()
