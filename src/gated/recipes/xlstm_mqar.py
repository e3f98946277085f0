"""Multi-query associative recall (MQAR): mLSTM blocks recall key-value pairs, an LSTM does not.

The task (Arora et al. 2023, "Zoology"; used in Beck et al. 2024, figure 6): a sequence shows
`--pairs` key-value pairs `k1 v1 k2 v2 ...` (keys and values drawn without replacement from
two vocabularies of `--keys` tokens each), then queries every key once in a random order;
after each query the model must output that key's value. Loss and accuracy count the query
positions only. Models share the embedding width: a two-layer LSTM, and two residual xLSTM
blocks (xLSTM[1:0]: mLSTM blocks; xLSTM[1:1]: one mLSTM and one sLSTM block), each with an
embedding and a linear read-out. The mLSTM block's causal convolution lets its keys read the
key token while its values read the value token after it; its matrix memory then stores
the pairs. The paper reports mLSTM-based models near perfect and recurrent models with a
vector state (LSTM, sLSTM-only) failing as the number of pairs grows.

Numbers (2-core VM shared with ~8 other jobs; query accuracy, chance 0.031):
`gated example xlstm-mqar --quick` (400 batches, ~125 s): LSTM 0.029, xLSTM[1:0] 1.000,
xLSTM[1:1] 0.865. `gated example xlstm-mqar` (2000 batches): LSTM 0.030, xLSTM[1:0] 1.000,
xLSTM[1:1] 1.000. See docs/xlstm.md.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

KINDS = ("lstm", "xlstm[1:0]", "xlstm[1:1]")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, default=64, help="embedding width (default 64)")
    parser.add_argument("--pairs", type=int, default=8, help="key-value pairs per sequence")
    parser.add_argument("--keys", type=int, default=32, help="size of each vocabulary")
    parser.add_argument("--steps", type=int, default=None,
                        help="training batches per model (default 2000; --quick 400)")
    parser.add_argument("--models", default=",".join(KINDS),
                        help=f"comma-separated subset of {','.join(KINDS)}")


def batch(rng: np.random.Generator, size: int, pairs: int,
          keys: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`(tokens (size, 3 pairs), targets (size, 3 pairs))`: keys are tokens 0..keys-1, values
    keys..2 keys-1; the target is -100 (ignored) everywhere but at the queries."""
    k = np.stack([rng.choice(keys, pairs, replace=False) for _ in range(size)])
    v = np.stack([rng.choice(keys, pairs, replace=False) for _ in range(size)]) + keys
    order = np.argsort(rng.random((size, pairs)), axis=1)
    queries = np.take_along_axis(k, order, axis=1)
    answers = np.take_along_axis(v, order, axis=1)
    tokens = np.concatenate([np.stack([k, v], axis=2).reshape(size, 2 * pairs), queries], 1)
    targets = np.full(tokens.shape, -100)
    targets[:, 2 * pairs:] = answers
    return torch.from_numpy(tokens), torch.from_numpy(targets)


def make_model(kind: str, width: int, vocab: int) -> torch.nn.Module:
    from gated.layers import LSTM, Dense, Embedding, xLSTMBlockStack

    if kind == "lstm":
        body = [LSTM(width, return_sequences=True), LSTM(width, return_sequences=True)]
    elif kind in ("xlstm[1:0]", "xlstm[1:1]"):
        slstm_at = [] if kind == "xlstm[1:0]" else [1]
        body = [xLSTMBlockStack(num_blocks=2, slstm_at=slstm_at, num_heads=4, chunk_size=32)]
    else:
        raise ValueError(f"Unknown model {kind!r}; expected one of {KINDS}.")
    return torch.nn.Sequential(Embedding(vocab, width), *body, Dense(vocab))


def query_accuracy(model: torch.nn.Module, rng: np.random.Generator, pairs: int, keys: int,
                   batches: int = 8) -> float:
    hits = []
    with torch.no_grad():
        for _ in range(batches):
            x, y = batch(rng, 128, pairs, keys)
            pred = model(x).argmax(-1)
            at = y != -100
            hits.append((pred[at] == y[at]).float().mean().item())
    return float(np.mean(hits))


def train(kind: str, steps: int, width: int = 64, pairs: int = 8, keys: int = 32,
          seed: int = 0, batch_size: int = 64, verbose: bool = True) -> dict[str, Any]:
    """Train one model on MQAR; returns its query accuracy on fresh sequences.

    Args:
        kind: `"lstm"`, `"xlstm[1:0]"` or `"xlstm[1:1]"`.
        steps: Training batches.
        width: Embedding (and recurrent) width.
        pairs: Key-value pairs per sequence.
        keys: Size of the key vocabulary (and of the value vocabulary).
        seed: Seeds the weights and the data.
        batch_size: Sequences per batch.
        verbose: Print progress.

    Returns:
        `{"accuracy": query accuracy, "seconds": training time, "params": parameter count}`.

    Example:
        >>> train("lstm", steps=5, verbose=False)["accuracy"] >= 0.0
        True
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = make_model(kind, width, 2 * keys)
    model(batch(rng, 2, pairs, keys)[0])  # build
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps,
                                                   pct_start=0.1)
    start = time.perf_counter()
    for step in range(steps):
        x, y = batch(rng, batch_size, pairs, keys)
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 y.reshape(-1), ignore_index=-100)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if verbose and (step + 1) % max(1, steps // 5) == 0:
            print(f"  {kind:10s} step {step + 1:5d}  loss {loss.item():.4f}")
    seconds = time.perf_counter() - start
    accuracy = query_accuracy(model, np.random.default_rng(seed + 1000), pairs, keys)
    return {"accuracy": accuracy, "seconds": seconds,
            "params": sum(p.numel() for p in model.parameters())}


def run(args: argparse.Namespace) -> dict:
    steps = args.steps or (400 if args.quick else 2000)
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    results = {kind: train(kind, steps, args.width, args.pairs, args.keys, args.seed,
                           verbose=bool(args.verbose)) for kind in kinds}
    print(f"\nMQAR, {args.pairs} key-value pairs from {args.keys} keys and {args.keys} values, "
          f"width {args.width}, {steps} batches of 64; accuracy at the queries (chance "
          f"{1 / args.keys:.3f}). Paper (Beck et al. 2024, fig. 6): mLSTM-based xLSTM near "
          "1.0, LSTM far below.")
    print(f"{'model':10s} {'params':>7s} {'accuracy':>9s} {'seconds':>8s}")
    for kind, r in results.items():
        print(f"{kind:10s} {r['params']:7d} {r['accuracy']:9.3f} {r['seconds']:8.1f}")
    return {"steps": steps, "pairs": args.pairs, "keys": args.keys, "width": args.width,
            "models": results}
