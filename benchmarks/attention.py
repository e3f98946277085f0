"""Attention decoder cell benchmark: the fused engine against the reference loop.

For `AttentionCell(LSTMCell)` with each score, times inference (forward under `no_grad`) and a
training step (forward, a weighted-sum loss, backward into the memory too) on the reference
engine (an autograd loop over `cell.step`, which recomputes the memory's keys every step) and
the fused engine (keys once per sequence, hand-written attention backward around the LSTM's
fused stepper). Rounds interleave the candidates in a shuffled order; the table shows medians.

Usage:
    python benchmarks/attention.py            # batch 32, 20 decoder steps, 20 memory steps
    python benchmarks/attention.py --quick --threads 1
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gated.cells import AttentionCell, LSTMCell  # noqa: E402
from gated.engine import dispatch  # noqa: E402


def make(score: str, batch: int, steps: int, memory_steps: int, units: int):
    torch.manual_seed(0)
    cell = AttentionCell(LSTMCell(units), score=score)
    memory = torch.randn(batch, memory_steps, units, requires_grad=True)
    mask = torch.ones(batch, memory_steps, dtype=torch.bool)
    mask[: batch // 2, memory_steps // 2:] = False
    cell.bind_memory(memory, mask)
    cell._maybe_build((None, units))
    x = torch.randn(batch, steps, units, requires_grad=True)
    return cell, memory, x


def run(cell, memory, x, engine: str, train: bool) -> None:
    states = cell.get_initial_state(x.shape[0])
    if not train:
        with torch.no_grad():
            dispatch.scan(cell, x, states, engine=engine)
        return
    ys, _ = dispatch.scan(cell, x, states, engine=engine)
    ys.sum().backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--memory-steps", type=int, default=20)
    parser.add_argument("--units", type=int, default=128)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = 3 if args.quick else 10
    print(f"AttentionCell(LSTMCell({args.units})), batch {args.batch}, {args.steps} steps, "
          f"memory {args.memory_steps}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s); medians of {repeats} interleaved rounds")
    print(f"{'score':<10}{'mode':<7}{'reference ms':>14}{'fused ms':>10}{'speed-up':>10}")
    for score in ("general", "bahdanau"):
        cell, memory, x = make(score, args.batch, args.steps, args.memory_steps, args.units)
        for train in (False, True):
            times = {"reference": [], "fused": []}
            for engine in times:
                run(cell, memory, x, engine, train)  # warm-up
            for _ in range(repeats):
                order = list(times)
                random.shuffle(order)
                for engine in order:
                    t0 = time.perf_counter()
                    run(cell, memory, x, engine, train)
                    times[engine].append(1e3 * (time.perf_counter() - t0))
            ref, fused = (statistics.median(times[e]) for e in ("reference", "fused"))
            print(f"{score:<10}{'train' if train else 'infer':<7}{ref:>14.1f}{fused:>10.1f}"
                  f"{ref / fused:>9.2f}x")


if __name__ == "__main__":
    main()
