"""The adding problem with T = 200 (Hochreiter & Schmidhuber 1997, experiment 4): LSTM vs
SimpleRNN, and the original 1997 cell.

Formulation (the common modern one, Le et al. 2015 / Arjovsky et al. 2016, not the 1997
paper's [-1, 1] variant): the input is a sequence of T pairs (value, marker) with values drawn
from U(0, 1); exactly two markers are 1, one at a random step of the first half and one in
the second half. The target, read from the last output, is the sum of the two marked values.
Predicting the mean (1.0) gives MSE = Var(U + U) = 2/12 = 0.167: the trivial baseline (the
1,000 test sequences' own variance is printed as well).

Training: fresh random batches of 50 through `model.train_on_batch` (Keras API), Adam
(learning rate 0.01, clipnorm 1), MSE, 32 units, the same budget for every network (at most
3,000 updates, stopping early once the validation MSE is below 0.002).
The "1997" cell (no forget gate, g = 2 tanh(x/2), h = tanh(x/2)) starts with input-gate bias
-3, as the paper starts its input gates with negative biases (`--input-gate-bias`).

Criterion: LSTM test MSE < 0.01, the "1997" cell test MSE < 0.01, SimpleRNN test MSE above
0.1 (near the 0.167 baseline).

Command (2-core shared CPU, torch 2.13, 1 thread):

    gated example adding-problem --steps 3000 --seed 0

Numbers reached (seed 0), 150 s wall in all; trivial baseline on the test set 0.1677:
    LSTM ("keras") test MSE 0.0014 (2,100 updates, 45 s); LSTM ("1997") 0.0021 (500
    updates, 18 s); SimpleRNN 0.1996 (3,000 updates, 79 s). CRITERION -> PASS
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from gated.layers import LSTM, Dense, SimpleRNN
from gated.models import Sequential
from gated.optimizers import Adam
from gated.recipes._science import Timer, setup, verdict

CELLS = {"keras": "LSTM (keras)", "1997": "LSTM (1997)", "simple": "SimpleRNN"}


def adding_data(n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`n` adding-problem sequences: x `(n, steps, 2)` = (value, marker), y `(n, 1)`."""
    x = np.zeros((n, steps, 2), np.float32)
    x[:, :, 0] = rng.uniform(0.0, 1.0, (n, steps))
    first = rng.integers(0, steps // 2, n)
    second = rng.integers(steps // 2, steps, n)
    rows = np.arange(n)
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    y = (x[rows, first, 0] + x[rows, second, 0])[:, None]
    return x, y.astype(np.float32)


def build_model(cell: str, units: int, steps: int, learning_rate: float,
                input_gate_bias: float, engine: str = "auto") -> Sequential:
    """`cell`: "simple" for a SimpleRNN, else an LSTM `variant` name."""
    shape = (steps, 2)
    rnn = (SimpleRNN(units, input_shape=shape, engine=engine) if cell == "simple"
           else LSTM(units, variant=cell, input_shape=shape, engine=engine))
    model = Sequential([rnn, Dense(1)])
    model.compile(optimizer=Adam(learning_rate=learning_rate, clipnorm=1.0), loss="mse")
    model.build((None, *shape))
    if cell == "1997" and input_gate_bias:
        with torch.no_grad():  # gate blocks i, c, o: the input gate's bias comes first
            rnn.cell.bias[:units] = input_gate_bias
    return model


def train(cell: str = "keras", steps: int = 3000, seq_len: int = 200, units: int = 32,
          batch_size: int = 50, learning_rate: float = 1e-2, input_gate_bias: float = -3.0,
          seed: int = 0, stop_below: float = 0.002, eval_every: int = 100,
          verbose: bool = True, engine: str = "auto") -> dict[str, float]:
    """Train one network; returns `{"mse", "baseline", "updates", "seconds"}` on test data."""
    setup(seed)
    rng = np.random.default_rng(seed)
    valid = adding_data(500, seq_len, np.random.default_rng(10_000 + seed))
    x_test, y_test = adding_data(1000, seq_len, np.random.default_rng(1_000_000))
    model = build_model(cell, units, seq_len, learning_rate, input_gate_bias, engine)
    done = 0
    with Timer() as timer:
        for done in range(1, steps + 1):
            x, y = adding_data(batch_size, seq_len, rng)
            loss = model.train_on_batch(x, y)
            if done % eval_every == 0 or done == steps:
                val = model.evaluate(*valid, batch_size=500, verbose=0)
                if verbose and (done % (5 * eval_every) == 0 or val < stop_below):
                    print(f"  {CELLS.get(cell, cell):>12} update {done:5d}  loss {loss:.4f}  "
                          f"validation MSE {val:.4f}  ({timer.elapsed:.0f}s)", flush=True)
                if val < stop_below:
                    break
    mse = float(model.evaluate(x_test, y_test, batch_size=1000, verbose=0))
    return {"mse": mse, "baseline": float(np.var(y_test)), "updates": done,
            "seconds": timer.seconds}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recipe's own options (`--quick`: at most 2,000 updates)."""
    parser.add_argument("--steps", type=int, default=3000, help="max updates per network")
    parser.add_argument("--length", type=int, default=200, help="sequence length T")
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--input-gate-bias", type=float, default=-3.0,
                        help="initial input-gate bias of the 1997 cell")
    parser.add_argument("--engine", default="auto", help="recurrence engine (gated.engine)")


def run(args: argparse.Namespace) -> dict:
    """Trains the three cells; returns their test MSE and the verdict."""
    steps = min(args.steps, 2000) if args.quick else args.steps
    results = {}
    for cell in CELLS:
        r = train(cell, steps, args.length, args.units, args.batch_size, args.lr,
                  args.input_gate_bias, args.seed, engine=args.engine)
        results[cell] = r
        print(f"{CELLS[cell]:>12}: test MSE {r['mse']:.4f} (baseline: variance of the test "
              f"targets {r['baseline']:.4f}), {r['updates']} updates, {r['seconds']:.0f}s",
              flush=True)
    mse = {cell: results[cell]["mse"] for cell in CELLS}
    passed = mse["keras"] < 0.01 and mse["1997"] < 0.01 and mse["simple"] > 0.1
    verdict(passed, f"T={args.length}: LSTM test MSE < 0.01 ({mse['keras']:.4f}), 1997 cell "
                    f"< 0.01 ({mse['1997']:.4f}), SimpleRNN > 0.1 ({mse['simple']:.4f})")
    return {"passed": passed, "results": results}
