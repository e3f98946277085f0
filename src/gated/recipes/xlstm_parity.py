"""Parity (xLSTM paper, formal languages): LSTM and sLSTM solve it and extrapolate, mLSTM does not.

The task (Delétang et al. 2023, used in Beck et al. 2024, figure 4): read a bit string and
output whether it holds an odd number of ones. Every model is a one-hot input, one recurrent
layer (`LSTM`, `sLSTM` or `mLSTM`) or two residual xLSTM blocks (xLSTM[0:1]: sLSTM blocks,
xLSTM[1:0]: mLSTM blocks) and a linear read-out per step, trained
with the running parity of each prefix as per-step targets on lengths 1..`--train-length`,
and tested on the final bit of strings of `--train-length`+1 .. `--test-length`
(extrapolation: lengths never seen in training). State tracking of this kind needs a
nonlinear recurrence: the sLSTM has one (h feeds its gates), the mLSTM's memory update is
linear in its state, so the paper reports LSTM and sLSTM at 1.0 and mLSTM-only models near
chance.

Numbers (2-core VM shared with ~8 other jobs; extrapolation accuracy, lengths 21..60):
`gated example xlstm-parity --quick` (500 batches, ~95 s): LSTM 1.000, sLSTM 0.997,
mLSTM 0.473, xLSTM[0:1] 1.000, xLSTM[1:0] 0.496. `gated example xlstm-parity` (1500 batches):
LSTM 1.000, sLSTM 1.000, mLSTM 0.501, xLSTM[0:1] 1.000, xLSTM[1:0] 0.521. See docs/xlstm.md.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

KINDS = ("lstm", "slstm", "mlstm", "xlstm[0:1]", "xlstm[1:0]")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--units", type=int, default=32, help="recurrent width (default 32)")
    parser.add_argument("--steps", type=int, default=None,
                        help="training batches per model (default 1500; --quick 500)")
    parser.add_argument("--train-length", type=int, default=20)
    parser.add_argument("--test-length", type=int, default=60)
    parser.add_argument("--models", default=",".join(KINDS),
                        help=f"comma-separated subset of {','.join(KINDS)}")


def batch(rng: np.random.Generator, size: int, length: int) -> tuple[torch.Tensor, ...]:
    """`(x one-hot (size, length, 2), running parity (size, length))`."""
    bits = rng.integers(0, 2, size=(size, length))
    x = np.eye(2, dtype=np.float32)[bits]
    return torch.from_numpy(x), torch.from_numpy(np.cumsum(bits, axis=1) % 2)


def make_model(kind: str, units: int) -> torch.nn.Module:
    """One recurrent layer, or (xLSTM[a:b]) an embedding and two residual blocks, then a
    linear read-out. The mLSTM layer is 4x wider (4 heads) than the others: it has no
    recurrent weights, and even so has fewer parameters."""
    from gated.layers import LSTM, Dense, mLSTM, sLSTM, xLSTMBlockStack

    if kind == "lstm":
        layers = [LSTM(units, return_sequences=True)]
    elif kind == "slstm":
        layers = [sLSTM(units, num_heads=1, return_sequences=True)]
    elif kind == "mlstm":
        layers = [mLSTM(4 * units, num_heads=4, return_sequences=True, chunk_size=16)]
    elif kind in ("xlstm[0:1]", "xlstm[1:0]"):
        slstm_at = "all" if kind == "xlstm[0:1]" else []
        layers = [Dense(units), xLSTMBlockStack(num_blocks=2, slstm_at=slstm_at, num_heads=4,
                                                chunk_size=16)]
    else:
        raise ValueError(f"Unknown model {kind!r}; expected one of {KINDS}.")
    return torch.nn.Sequential(*layers, Dense(2))


def accuracy(model: torch.nn.Module, rng: np.random.Generator, lengths: range,
             per_length: int = 64) -> float:
    """Accuracy of the final parity bit, averaged over `lengths`."""
    correct = []
    with torch.no_grad():
        for length in lengths:
            x, y = batch(rng, per_length, length)
            pred = model(x)[:, -1].argmax(-1)
            correct.append((pred == y[:, -1]).float().mean().item())
    return float(np.mean(correct))


def train(kind: str, steps: int, units: int = 32, train_length: int = 20,
          test_length: int = 60, seed: int = 0, batch_size: int = 64,
          verbose: bool = True) -> dict[str, Any]:
    """Train one model on parity; returns its in-range and extrapolation accuracies.

    Args:
        kind: `"lstm"`, `"slstm"` or `"mlstm"`.
        steps: Training batches (each of one length drawn from 1..train_length).
        units: Width of the recurrent layer.
        train_length, test_length: Longest training length; longest test length.
        seed: Seeds the weights and the data.
        batch_size: Strings per batch.
        verbose: Print progress.

    Returns:
        `{"train": accuracy on lengths 1..train_length, "extrapolation": on train_length+1 ..
        test_length, "seconds": training time, "params": parameter count}`.

    Example:
        >>> train("lstm", steps=10, verbose=False)["train"] >= 0.0
        True
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = make_model(kind, units)
    model(batch(rng, 2, 3)[0])  # build
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    start = time.perf_counter()
    for step in range(steps):
        x, y = batch(rng, batch_size, int(rng.integers(1, train_length + 1)))
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 2), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if verbose and (step + 1) % max(1, steps // 5) == 0:
            print(f"  {kind:6s} step {step + 1:5d}  loss {loss.item():.4f}")
    seconds = time.perf_counter() - start
    eval_rng = np.random.default_rng(seed + 1000)
    return {"train": accuracy(model, eval_rng, range(1, train_length + 1)),
            "extrapolation": accuracy(model, eval_rng, range(train_length + 1, test_length + 1)),
            "seconds": seconds, "params": sum(p.numel() for p in model.parameters())}


def run(args: argparse.Namespace) -> dict:
    steps = args.steps or (500 if args.quick else 1500)
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    results = {}
    for kind in kinds:
        results[kind] = train(kind, steps, args.units, args.train_length, args.test_length,
                              args.seed, verbose=bool(args.verbose))
    print(f"\nParity, trained on lengths 1..{args.train_length} ({steps} batches of 64), tested "
          f"on the final bit; extrapolation: lengths {args.train_length + 1}.."
          f"{args.test_length}. Paper (Beck et al. 2024, fig. 4): LSTM 1.0, sLSTM 1.0, "
          "mLSTM-only ~chance.")
    print(f"{'model':10s} {'params':>7s} {'train acc':>10s} {'extrap acc':>11s} "
          f"{'seconds':>8s}")
    for kind, r in results.items():
        print(f"{kind:10s} {r['params']:7d} {r['train']:10.3f} {r['extrapolation']:11.3f} "
              f"{r['seconds']:8.1f}")
    return {"steps": steps, "train_length": args.train_length,
            "test_length": args.test_length, "models": results}
