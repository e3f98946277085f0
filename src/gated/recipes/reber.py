"""Embedded Reber grammar (Hochreiter & Schmidhuber 1997, experiment 1): LSTM vs SimpleRNN.

Task: read an embedded Reber string one symbol at a time (one-hot, 7 symbols) and predict the
next symbol (softmax over 7, cross-entropy against the symbol that actually follows). The
second symbol (T or P) decides the second-to-last one, across the whole embedded Reber string
(lags of ~5 to 35 steps). Training strings are drawn fresh for every batch (every branch with
probability 1/2); the test set is 1,000 further strings from another seed.

A string is *fully right* when at every step the symbols with predicted probability above
0.25 are exactly its legal successors (after the inner "E": exactly the branch symbol of step
2). We also report the paper's milder criterion (at every step the k largest outputs are the k
legal successors).

Two learning algorithms, same budget (units, Adam, learning rate, batch, max updates):

- `truncated` (the paper's): as in the 1997 LSTM, the error flows back in time only through
  the cell state c; the recurrent input h_{t-1} of every step is treated as a constant
  (`h.detach()`). For a SimpleRNN, whose only memory is h, this is Elman's truncated gradient.
- `full`: modern full backpropagation through time.

Criterion (on `truncated`, the protocol of the paper): LSTM >= 99% of test strings fully right,
SimpleRNN < 99%. The `full` run is reported as well: with full BPTT, Adam, gradient clipping
and an orthogonal recurrent initialisation, a SimpleRNN solves this grammar too (the paper
itself notes that the embedded Reber grammar's time lags are short).

Command (2-core shared CPU, torch 2.13, 1 thread), about 1 minute:

    gated example reber --steps 3000 --seed 0

Numbers reached (seed 0), 67 s wall in all:
    truncated gradient: LSTM 100.0% of test strings fully right (top-k 100.0%) after 1,000
        updates (23 s); SimpleRNN 0.0% (top-k 57.1%, 91.00% of steps right), 3,000 updates.
    full BPTT: LSTM 100.0% after 750 updates; SimpleRNN 100.0% after 1,000 updates.
    CRITERION (truncated): LSTM 100.0% >= 99%, SimpleRNN 0.0% < 99% -> PASS
"""

from __future__ import annotations

import argparse
import random

import numpy as np
import torch

from gated.layers import LSTM, Dense, SimpleRNN
from gated.models import Sequential
from gated.optimizers import Adam
from gated.recipes._science import (
    NUM_SYMBOLS,
    SYMBOL_INDEX,
    Timer,
    embedded_reber_string,
    legal_mask,
    one_hot,
    setup,
    step_correct,
    step_correct_topk,
    verdict,
)

THRESHOLD = 0.25
CELLS = {"keras": "LSTM", "simple": "SimpleRNN"}


def encode(strings: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pad a batch of strings at the end (a causal RNN's outputs before the padding do not
    depend on it). Returns inputs `(n, T, 7)`, next-symbol targets `(n, T)`, the weight of
    each step `(n, T)` (0 on padding) and the legal-successor masks `(n, T, 7)`, with
    `T = longest string - 1`."""
    steps = max(len(s) for s in strings) - 1
    n = len(strings)
    x = np.zeros((n, steps, NUM_SYMBOLS), np.float32)
    y = np.zeros((n, steps), np.int64)
    w = np.zeros((n, steps), np.float32)
    legal = np.zeros((n, steps, NUM_SYMBOLS), np.float32)
    for k, s in enumerate(strings):
        t = len(s) - 1
        x[k, :t] = one_hot(s[:-1])
        y[k, :t] = [SYMBOL_INDEX[c] for c in s[1:]]
        w[k, :t] = 1.0
        legal[k, :t] = legal_mask(s)
    return x, y, w, legal


def build_model(cell: str, units: int, learning_rate: float,
                engine: str = "auto") -> Sequential:
    """`cell`: "simple" for a SimpleRNN, else an LSTM `variant` name ("keras", "1997", ...)."""
    shape = (None, NUM_SYMBOLS)  # any number of time steps
    rnn = (SimpleRNN(units, return_sequences=True, input_shape=shape, engine=engine)
           if cell == "simple"
           else LSTM(units, variant=cell, return_sequences=True, input_shape=shape,
                     engine=engine))
    model = Sequential([rnn, Dense(NUM_SYMBOLS, activation="softmax")])
    model.compile(optimizer=Adam(learning_rate=learning_rate, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy")
    model.build((None, None, NUM_SYMBOLS))
    return model


def forward(model: Sequential, x: torch.Tensor, truncated: bool) -> torch.Tensor:
    """Softmax outputs `(n, T, 7)`. `truncated`: the 1997 gradient (see the module doc)."""
    if not truncated:
        return model(x, training=True)
    rnn, dense = model.layers
    cell = rnn.cell
    states = cell.get_initial_state(x.shape[0], x.dtype)
    outputs = []
    for x_t in x.unbind(1):
        y, states = cell.step(x_t, (states[0].detach(), *states[1:]))
        outputs.append(y)
    return dense(torch.stack(outputs, 1))


def score(model: Sequential, data: tuple) -> dict[str, float]:
    """Fractions of strings fully right (threshold and top-k criteria) and of steps right."""
    x, _, w, legal = data
    probs = model.predict(x, batch_size=500, verbose=0)
    valid = w > 0.5
    by_threshold = step_correct(probs, legal, THRESHOLD) | ~valid
    by_rank = step_correct_topk(probs, legal) | ~valid
    return {
        "strings": float(by_threshold.all(1).mean()),
        "strings_topk": float(by_rank.all(1).mean()),
        "steps": float(by_threshold[valid].mean()),
    }


def train(cell: str = "keras", gradient: str = "truncated", units: int = 16,
          steps: int = 3000, batch_size: int = 32, learning_rate: float = 1e-2,
          seed: int = 0, test_strings: int = 1000, eval_every: int = 250,
          verbose: bool = True, engine: str = "auto") -> dict[str, float]:
    """Train one network on fresh embedded Reber strings; returns its test scores.

    Training stops early once 256 held-out validation strings are all fully right (checked
    every `eval_every` updates), else after `steps` updates.
    """
    if gradient not in ("truncated", "full"):
        raise ValueError(f"gradient must be 'truncated' or 'full', received {gradient!r}.")
    setup(seed)
    rng = random.Random(seed)
    valid = encode([embedded_reber_string(random.Random(10_000 + 1_000 * seed + k))
                    for k in range(256)])
    test = encode([embedded_reber_string(random.Random(1_000_000 + k))
                   for k in range(test_strings)])
    model = build_model(cell, units, learning_rate, engine)
    optimizer = model.optimizer
    optimizer.build([p for p in model.parameters() if p.requires_grad])
    done = 0
    with Timer() as timer:
        for done in range(1, steps + 1):
            x, y, w, _ = encode([embedded_reber_string(rng) for _ in range(batch_size)])
            x, y, w = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(w)
            model.train()
            probs = forward(model, x, gradient == "truncated")
            picked = probs.gather(-1, y.unsqueeze(-1)).squeeze(-1)
            loss = -(torch.log(picked.clamp_min(1e-7)) * w).sum() / w.sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            model.eval()
            if done % eval_every == 0 or done == steps:
                v = score(model, valid)
                if verbose:
                    print(f"  {CELLS.get(cell, cell):>9} ({gradient}) update {done:5d}  loss "
                          f"{loss.item():.4f}  validation strings fully right "
                          f"{v['strings']:.3f}  ({timer.elapsed:.0f}s)", flush=True)
                if v["strings"] == 1.0:
                    break
    result = score(model, test)
    result.update(updates=done, seconds=timer.seconds)
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recipe's own options (`--quick`: at most 1,500 updates)."""
    parser.add_argument("--steps", type=int, default=3000, help="max updates per network")
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--gradient", choices=("both", "truncated", "full"), default="both",
                        help="learning algorithm(s) to run (the criterion uses 'truncated')")
    parser.add_argument("--engine", default="auto", help="recurrence engine (gated.engine)")


def run(args: argparse.Namespace) -> dict:
    """Trains both cells with each learning algorithm; returns the scores and the verdict."""
    steps = min(args.steps, 1500) if args.quick else args.steps
    gradients = ("truncated", "full") if args.gradient == "both" else (args.gradient,)
    results = {}
    for gradient in gradients:
        for cell in CELLS:
            r = train(cell, gradient, args.units, steps, args.batch_size, args.lr, args.seed,
                      engine=args.engine)
            results[cell, gradient] = r
            print(f"{CELLS[cell]:>9} ({gradient} gradient): {r['strings']:.1%} of test strings "
                  f"fully right (top-k criterion {r['strings_topk']:.1%}), steps right "
                  f"{r['steps']:.2%}, {r['updates']} updates, {r['seconds']:.0f}s", flush=True)
    gradient = "truncated" if "truncated" in gradients else "full"
    lstm, simple = results["keras", gradient]["strings"], results["simple", gradient]["strings"]
    passed = lstm >= 0.99 and simple < 0.99
    verdict(passed, f"({gradient} gradient) LSTM >= 99% of test strings fully right "
                    f"({lstm:.1%}), SimpleRNN < 99% ({simple:.1%})")
    return {"passed": passed, "results": {f"{cell}/{grad}": r
                                          for (cell, grad), r in results.items()}}
