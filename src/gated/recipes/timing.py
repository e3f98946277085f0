"""Precise timing (Gers, Schraudolph & Schmidhuber 2002, "generating timed spikes"): a
peephole LSTM against the same LSTM without peepholes.

Task: the only input is a start pulse at t = 0 (then zeros for ever); the network must emit a
spike at t = N, 2N, 3N, ... and stay silent in between, i.e. count N steps, fire, reset itself
and count again, with nothing in the input to count on. Network: LSTM(8) -> Dense(1)
(sigmoid), trained on one sequence of 10 periods (ending half a period after the last spike)
with binary cross-entropy (spike steps weighted N times, as spikes are N times rarer), Adam
(learning rate 0.003 with cosine decay, clipnorm 1), 6,000 updates.

Test: a free run 3 times longer than training (30 periods). A predicted spike is a local
maximum of the output above 0.5. Reported per network: the fraction of the 30 target spikes
matched by a predicted spike at exactly the same step, the mean timing error (steps from each
target spike to the nearest predicted spike), and the number of predicted spikes. A run
*succeeds* when all 30 spikes are exact and there is no extra spike.

Both variants ("peephole": Gers & Schmidhuber 2000, the gates see the cell state; "keras":
no peepholes) get the same units, seeds, learning rate and number of updates.
Criterion (fixed after exploratory runs, see docs/science.md): over the seeds, the peephole
LSTM's mean fraction of exact spikes is at least 10 points higher, and its mean timing error
lower, than the LSTM's without peepholes. Runs with all 30 spikes exact and no extra spike are
counted as well.

Command (2-core shared CPU, torch 2.13, 1 thread):

    gated example timing --interval 50 --seeds 5

Numbers reached (N = 50, seeds 0-4, 6,000 updates each), 204 s wall in all:
    peephole: exact spikes 100%, 53%, 7%, 100%, 100% (mean 72%), 2/5 perfect runs;
    no peephole: 7%, 100%, 100%, 100%, 100% (mean 81%), 3/5 perfect runs.
    CRITERION -> FAIL: the peephole advantage is not reproduced at this budget.
With `--quick` (seeds 0-2, 3,000 updates, 71 s): peephole 57%, 100%, 93% (mean 83%) vs
    3%, 100%, 100% (mean 68%), 1/3 perfect runs each -> PASS: the verdict hinges on seeds.
`timing_sweep.py` runs 8+8 seeds at once (and the paper's truncated gradient): no robust
peephole advantage there either (docs/science.md, section 4b).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from gated.layers import LSTM, Dense
from gated.models import Sequential
from gated.optimizers import Adam, CosineDecay
from gated.recipes._science import Timer, setup, verdict

VARIANTS = {"peephole": "LSTM with peepholes", "keras": "LSTM without peepholes"}


def spike_train(interval: int, periods: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Input `(1, T, 1)` with a start pulse at `offset`, target `(1, T, 1)` with spikes at
    `offset + k * interval`, k = 1..periods; the sequence ends half a period after the last
    spike: `T = offset + periods * interval + interval // 2 + 1`."""
    steps = offset + periods * interval + interval // 2 + 1
    x = np.zeros((1, steps, 1), np.float32)
    y = np.zeros((1, steps, 1), np.float32)
    x[0, offset, 0] = 1.0
    y[0, offset + interval::interval, 0][:periods] = 1.0
    return x, y


def spikes_of(output: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Steps where a 1-d output has a local maximum above `threshold`."""
    left = np.concatenate([[-np.inf], output[:-1]])
    right = np.concatenate([output[1:], [-np.inf]])
    return np.flatnonzero((output > threshold) & (output >= left) & (output > right))


def timing_scores(output: np.ndarray, target: np.ndarray, interval: int) -> dict[str, float]:
    """Fraction of target spikes hit exactly, mean timing error, number of predicted spikes."""
    wanted = np.flatnonzero(target > 0.5)
    got = spikes_of(output)
    exact = float(np.isin(wanted, got).mean())
    error = float(np.mean([np.abs(got - t).min() if len(got) else interval for t in wanted]))
    return {"exact": exact, "error": error, "predicted": int(len(got)),
            "success": bool(exact == 1.0 and len(got) == len(wanted))}


def train(variant: str = "peephole", interval: int = 50, units: int = 8, steps: int = 6000,
          periods: int = 10, learning_rate: float = 3e-3, seed: int = 0,
          test_periods: int = 30, verbose: bool = True, engine: str = "auto") -> dict:
    """Train one network; returns its timing scores on the long free run."""
    setup(seed)
    model = Sequential([
        LSTM(units, variant=variant, return_sequences=True, input_shape=(None, 1),
             engine=engine),
        Dense(1),  # logits; the sigmoid sits in the loss
    ])
    model.build((None, None, 1))
    schedule = CosineDecay(learning_rate, decay_steps=steps, alpha=0.01)
    optimizer = Adam(learning_rate=schedule, clipnorm=1.0)
    optimizer.build([p for p in model.parameters() if p.requires_grad])
    x, y = (torch.from_numpy(a) for a in spike_train(interval, periods))
    x_test, y_test = spike_train(interval, test_periods)
    spike_weight = torch.tensor(float(interval))
    with Timer() as timer:
        for done in range(1, steps + 1):
            model.train()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                model(x, training=True), y, pos_weight=spike_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if verbose and done % 1000 == 0:
                print(f"  {variant:>8} N={interval} seed {seed} update {done:5d}  loss "
                      f"{loss.item():.4f}  ({timer.elapsed:.0f}s)", flush=True)
    model.eval()
    with torch.no_grad():
        out = torch.sigmoid(model(torch.from_numpy(x_test)))[0, :, 0].numpy()
    result = timing_scores(out, y_test[0, :, 0], interval)
    result["seconds"] = timer.seconds
    return result


def run_experiment(interval: int, seeds: list[int], units: int = 8, steps: int = 6000,
                   periods: int = 10, learning_rate: float = 3e-3, verbose: bool = True,
                   engine: str = "auto") -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for seed in seeds:
        for variant in VARIANTS:
            r = train(variant, interval, units, steps, periods, learning_rate, seed,
                      verbose=verbose, engine=engine)
            results[variant].append(r)
            if verbose:
                print(f"{VARIANTS[variant]:>23}, N={interval}, seed {seed}: exact spikes "
                      f"{r['exact']:.0%}, timing error {r['error']:.2f} steps, "
                      f"{r['predicted']} spikes predicted for 30, "
                      f"{'success' if r['success'] else 'failure'} ({r['seconds']:.0f}s)",
                      flush=True)
    return results


def summary(results: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    return {v: {"successes": sum(r["success"] for r in rs),
                "runs": len(rs),
                "exact": float(np.mean([r["exact"] for r in rs])),
                "error": float(np.mean([r["error"] for r in rs]))}
            for v, rs in results.items()}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recipe's own options (`--quick`: 3 seeds, 3,000 updates; `--seed` is the first seed)."""
    parser.add_argument("--interval", type=int, default=50, help="N: steps between spikes")
    parser.add_argument("--steps", type=int, default=6000, help="updates per network")
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--periods", type=int, default=10, help="spikes per training sequence")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds")
    parser.add_argument("--engine", default="auto", help="recurrence engine (gated.engine)")


def run(args: argparse.Namespace) -> dict:
    """Trains both variants over the seeds; returns the spike-timing summary and the verdict."""
    n_seeds = min(args.seeds, 3) if args.quick else args.seeds
    steps = min(args.steps, 3000) if args.quick else args.steps
    seeds = list(range(args.seed, args.seed + n_seeds))
    results = run_experiment(args.interval, seeds, args.units, steps, args.periods, args.lr,
                  engine=args.engine)
    s = summary(results)
    for v, label in VARIANTS.items():
        print(f"{label:>23}: {s[v]['successes']}/{s[v]['runs']} seeds with all 30 spikes "
              f"exact; mean exact spikes {s[v]['exact']:.0%}, mean timing error "
              f"{s[v]['error']:.2f} steps")
    peep, plain = s["peephole"], s["keras"]
    passed = peep["exact"] >= plain["exact"] + 0.10 and peep["error"] < plain["error"]
    verdict(passed, f"N={args.interval}: exact spikes, peephole >= no peephole + 10 points "
                    f"({peep['exact']:.0%} vs {plain['exact']:.0%}), timing error lower "
                    f"({peep['error']:.2f} vs {plain['error']:.2f} steps); all 30 exact: "
                    f"{peep['successes']}/{peep['runs']} vs {plain['successes']}/{plain['runs']}")
    return {"passed": passed, "summary": s}
