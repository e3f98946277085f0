"""Char LM on tiny Shakespeare at equal parameters and wall clock: LSTM, Transformer, hybrid.

Data: Karpathy's tiny Shakespeare (`tinyshakespeare/input.txt`, about 1.1M characters), a
character vocabulary (`gated.data.CharVocabulary`), the first 90% for training and the last
10% for validation. Every model maps a window of characters to the next character at every
position (causal), is sized to about the same number of parameters (`--params`), and trains on
random windows (`--sequence-length`, `--batch-size`, Adam, gradient clipping 1.0) for the same
wall-clock budget (`--budget` seconds each). The CPU time each model used (`time.process_time`)
is reported beside the wall clock, because on a shared machine equal wall-clock budgets are
only as fair as the load was constant; `--clock cpu` makes the budget count CPU seconds.
Validation: nats per character over non-overlapping windows of the validation text (each
character predicted from the preceding ones in its window), against the unigram baseline (the
cross-entropy of the training set's character frequencies on the validation text). Each model
then writes a sample (temperature sampling from `--prompt`).

Models are built by name from `MODELS` (`name -> builder(vocabulary_size, sequence_length,
width)`), so that other families (sLSTM, mLSTM, xLSTM) join the table by adding a builder:

    lstm         Embedding -> LSTM -> Dense
    transformer  TokenAndPositionEmbedding -> 2 x TransformerEncoder (pre-LN, causal)
                 -> LayerNormalization -> Dense
    hybrid       Embedding -> LSTM -> TransformerEncoder (causal) -> Dense
    slstm        Embedding -> sLSTM (4 heads) -> Dense
    mlstm        Embedding -> mLSTM (4 heads, chunkwise) -> Dense
    xlstm        Embedding -> xLSTMBlockStack [mLSTM block, sLSTM block] -> LayerNorm -> Dense

Numbers reached (2 CPU cores shared with ~8 agents, load average 12-15, torch 2.13 CPU, one
thread; 60k parameters, 30 s each; unigram baseline 3.348 nats/char):

    gated example char-lm-compare --quick --clock cpu --data ../shared/data
    valid nats/char after 30 CPU s: lstm 1.840 | transformer 1.851 | hybrid 1.758
    gated example char-lm-compare --quick --data ../shared/data   (30 s wall clock, which
    left each model only 4-7 CPU s): lstm 2.020 | transformer 2.318 | hybrid 2.077

The tables, samples and the model sizes are in docs/transformer.md.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gated.recipes import data_dir

Builder = Callable[[int, int, int], Any]


def lstm_model(vocabulary_size: int, sequence_length: int, width: int) -> Any:
    """`Embedding(width) -> LSTM(width) -> Dense(vocabulary_size)`."""
    from gated.layers import LSTM, Dense, Embedding
    from gated.models import Sequential

    return Sequential([Embedding(vocabulary_size, width, input_shape=(None,)),
                       LSTM(width, return_sequences=True), Dense(vocabulary_size)])


def transformer_model(vocabulary_size: int, sequence_length: int, width: int) -> Any:
    """Learned positions, two causal pre-LN encoder blocks (4 heads, MLP 4x), a final norm."""
    from gated.layers import Dense, LayerNormalization, TokenAndPositionEmbedding
    from gated.layers import TransformerEncoder as Block
    from gated.models import Sequential

    return Sequential([
        TokenAndPositionEmbedding(vocabulary_size, sequence_length, width,
                                  input_shape=(None,)),
        Block(4 * width, 4, use_causal_mask=True), Block(4 * width, 4, use_causal_mask=True),
        LayerNormalization(epsilon=1e-5), Dense(vocabulary_size)])


def hybrid_model(vocabulary_size: int, sequence_length: int, width: int) -> Any:
    """An LSTM below (it also supplies the positions), one causal encoder block above."""
    from gated.layers import LSTM, Dense, Embedding
    from gated.layers import TransformerEncoder as Block
    from gated.models import Sequential

    return Sequential([Embedding(vocabulary_size, width, input_shape=(None,)),
                       LSTM(width, return_sequences=True),
                       Block(4 * width, 4, use_causal_mask=True), Dense(vocabulary_size)])


def slstm_model(vocabulary_size: int, sequence_length: int, width: int) -> Any:
    """An sLSTM layer (4 heads, exponential input gate) in place of the LSTM."""
    from gated.layers import Dense, Embedding, sLSTM
    from gated.models import Sequential

    return Sequential([Embedding(vocabulary_size, width, input_shape=(None,)),
                       sLSTM(width, num_heads=4, return_sequences=True),
                       Dense(vocabulary_size)])


def mlstm_model(vocabulary_size: int, sequence_length: int, width: int) -> Any:
    """An mLSTM layer (4 heads, matrix memory, chunkwise form) in place of the LSTM."""
    from gated.layers import Dense, Embedding, mLSTM
    from gated.models import Sequential

    return Sequential([Embedding(vocabulary_size, width, input_shape=(None,)),
                       mLSTM(width, num_heads=4, return_sequences=True),
                       Dense(vocabulary_size)])


def xlstm_model(vocabulary_size: int, sequence_length: int, width: int) -> Any:
    """xLSTM[1:1]: an mLSTM block then an sLSTM block (the paper's block stack), final norm."""
    from gated.layers import Dense, Embedding, LayerNormalization, xLSTMBlockStack
    from gated.models import Sequential

    return Sequential([Embedding(vocabulary_size, width, input_shape=(None,)),
                       xLSTMBlockStack(num_blocks=2, slstm_at=[1], num_heads=4),
                       LayerNormalization(epsilon=1e-5), Dense(vocabulary_size)])


#: name -> builder(vocabulary_size, sequence_length, width); widths are multiples of 4.
MODELS: dict[str, Builder] = {
    "lstm": lstm_model,
    "slstm": slstm_model,
    "mlstm": mlstm_model,
    "xlstm": xlstm_model,
    "transformer": transformer_model,
    "hybrid": hybrid_model,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated names among {', '.join(MODELS)} "
                        "(default: all)")
    parser.add_argument("--budget", type=float, default=None,
                        help="training seconds (wall clock) per model (default 120, --quick 30)")
    parser.add_argument("--params", type=int, default=None,
                        help="target parameter count of every model (default 200000, "
                        "--quick 60000)")
    parser.add_argument("--sequence-length", type=int, default=None,
                        help="characters per training window (default 128, --quick 64)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--validation-chars", type=int, default=None,
                        help="validation characters scored (default: all, --quick 20000)")
    parser.add_argument("--prompt", default="ROMEO:")
    parser.add_argument("--sample-length", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="what --budget counts: wall-clock seconds (default) or this "
                        "process' CPU seconds (fairer when the machine's load changes)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: fair CPU time on a shared machine)")


def size_to(builder: Builder, vocabulary_size: int, sequence_length: int,
            target: int) -> tuple[int, int]:
    """The width (a multiple of 4) whose model has the parameter count nearest `target`.

    Returns:
        `(width, parameter count)`.
    """
    def count(width: int) -> int:
        return builder(vocabulary_size, sequence_length, width).count_params()

    low, high = 1, 2
    while count(4 * high) < target:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if count(4 * mid) < target else (low, mid)
    best = min((low, high), key=lambda w: abs(count(4 * w) - target))
    return 4 * best, count(4 * best)


def unigram_nats(train: np.ndarray, valid: np.ndarray, vocabulary_size: int) -> float:
    """Cross-entropy (nats/char) on `valid` of the training frequencies (add-one smoothed)."""
    counts = np.bincount(train, minlength=vocabulary_size) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(-log_p[valid].mean())


def train_for(model: Any, train: np.ndarray, budget: float, sequence_length: int,
              batch_size: int, learning_rate: float, rng: np.random.Generator,
              clock: str = "wall") -> dict:
    """Adam on random windows until `budget` seconds of `clock` (`"wall"` or `"cpu"`) passed."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    data = torch.as_tensor(train, dtype=torch.long)
    steps, losses = 0, []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    now, start = (time.process_time, cpu0) if clock == "cpu" else (time.perf_counter, wall0)
    while now() - start < budget:
        starts = torch.as_tensor(rng.integers(0, len(train) - sequence_length - 1, batch_size))
        index = starts[:, None] + torch.arange(sequence_length + 1)[None, :]
        window = data[index]
        logits = model(window[:, :-1], training=True)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), window[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        steps += 1
    return {"steps": steps, "wall_s": time.perf_counter() - wall0,
            "cpu_s": time.process_time() - cpu0,
            "train_nats": float(np.mean(losses[-50:])) if losses else float("nan")}


@torch.no_grad()
def validation_nats(model: Any, valid: np.ndarray, sequence_length: int,
                    batch_size: int = 64) -> float:
    """Mean nats/char over non-overlapping windows (the first character of each is context)."""
    count = (len(valid) - 1) // sequence_length
    data = torch.as_tensor(valid[:count * sequence_length + 1], dtype=torch.long)
    total, n = 0.0, 0
    for first in range(0, count, batch_size):
        rows = torch.arange(first, min(first + batch_size, count))
        index = rows[:, None] * sequence_length + torch.arange(sequence_length + 1)[None, :]
        window = data[index]
        logits = model(window[:, :-1])
        total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                       window[:, 1:].reshape(-1), reduction="sum"))
        n += window[:, 1:].numel()
    return total / n


@torch.no_grad()
def sample(model: Any, vocab: Any, prompt: str, length: int, sequence_length: int,
           temperature: float, generator: torch.Generator) -> str:
    """Temperature sampling, feeding the model the last `sequence_length` characters."""
    ids = list(vocab.encode(prompt)) or [1]
    for _ in range(length):
        window = torch.as_tensor([ids[-sequence_length:]], dtype=torch.long)
        logits = model(window)[0, -1].double() / max(temperature, 1e-6)
        logits[0] = -math.inf  # never the padding id
        ids.append(int(torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)))
    return vocab.decode(ids)


def run(args: argparse.Namespace) -> dict:
    from gated.data import CharVocabulary, load_tiny_shakespeare

    budget = args.budget if args.budget is not None else (30.0 if args.quick else 120.0)
    target = args.params or (60_000 if args.quick else 200_000)
    length = args.sequence_length or (64 if args.quick else 128)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        raise ValueError(f"--models: unknown model(s) {unknown or names!r}; expected names "
                         f"among {list(MODELS)}.")
    torch.set_num_threads(args.threads)
    text = load_tiny_shakespeare(data_dir(args, "tinyshakespeare", "input.txt"))
    vocab = CharVocabulary().adapt(text)
    ids = np.asarray(vocab.encode(text), dtype=np.int64)
    split = int(0.9 * len(ids))
    train, valid = ids[:split], ids[split:]
    limit = args.validation_chars or (20_000 if args.quick else None)
    if limit:
        valid = valid[:limit]
    size = vocab.vocabulary_size()
    unigram = unigram_nats(train, valid, size)
    results: dict[str, Any] = {
        "budget_s": budget, "clock": args.clock, "target_params": target, "sequence_length": length,
        "vocabulary_size": size, "train_chars": len(train), "validation_chars": len(valid),
        "unigram_nats": unigram, "load_average_1min": _load(), "models": {}}
    if args.verbose:
        print(f"tiny Shakespeare: {len(train):,} training / {len(valid):,} validation chars, "
              f"vocabulary {size}; unigram baseline {unigram:.3f} nats/char")
    for k, name in enumerate(names):
        torch.manual_seed(args.seed + k)
        width, params = size_to(MODELS[name], size, length, target)
        model = MODELS[name](size, length, width)
        if args.verbose:
            print(f"{name}: width {width}, {params:,} parameters, training {budget:.0f} "
                  f"{args.clock} s ...")
        numbers = train_for(model, train, budget, length, args.batch_size, args.learning_rate,
                            np.random.default_rng(args.seed + k), args.clock)
        numbers.update(width=width, params=params,
                       valid_nats=validation_nats(model, valid, length),
                       sample=sample(model, vocab, args.prompt, args.sample_length, length,
                                     args.temperature,
                                     torch.Generator().manual_seed(args.seed)))
        results["models"][name] = numbers
    results["load_average_1min_end"] = _load()
    print(table(results))
    if args.verbose:
        for name, numbers in results["models"].items():
            print(f"\n--- {name} (temperature {args.temperature}) ---\n{numbers['sample']}")
    return results


def table(results: dict) -> str:
    """The comparison as a Markdown table."""
    lines = [f"budget {results['budget_s']:.0f} s ({results['clock']} clock) per model; "
             f"unigram baseline "
             f"{results['unigram_nats']:.3f} nats/char",
             "| model | params | steps | wall s | CPU s | train nats | valid nats/char | "
             "valid bits/char |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, m in results["models"].items():
        lines.append(f"| {name} | {m['params']:,} | {m['steps']} | {m['wall_s']:.0f} | "
                     f"{m['cpu_s']:.0f} | {m['train_nats']:.3f} | {m['valid_nats']:.3f} | "
                     f"{m['valid_nats'] / math.log(2):.3f} |")
    return "\n".join(lines)


def _load() -> float | None:
    try:
        import os

        return float(os.getloadavg()[0])
    except (OSError, AttributeError):
        return None


__all__ = ["MODELS", "add_arguments", "run", "size_to", "table", "unigram_nats"]
