"""Character language model on tiny Shakespeare: a stateful LSTM trained by truncated BPTT
over the whole text, validation nats/char within a time budget, and text sampled from a
prompt (temperature, top-k) through the streaming runtime.

Data: `tinyshakespeare/input.txt` of the shared data (1.1 MB), first 90% for training, last
10% for validation. Training mode: the training text is cut into `--streams` contiguous
shards read side by side; each batch is the next `--bptt` characters of every shard, and the
stateful LSTM carries its state from one batch to the next (Keras' `stateful=True`), so the
gradient is truncated after `--bptt` steps but the state sees the whole text (states reset
after each pass). Model: `Embedding(V, 64) -> LSTM(units, stateful) -> LSTM(units, stateful)
-> Dense(V)` logits, Adam with clipnorm. Validation nats/char: the same stateful reading of
the validation text. Sampling: `model.stream()` carries the state one character at a time.
Anchors: the unigram entropy of the text (computed in the run); char-rnn-class models reach
about 1.4-1.5 nats/char after long GPU training.

Command (2-core CPU, torch 2.13):

    gated example char-lm --data ../shared/data                  # 600 s budget
    gated example char-lm --data ../shared/data --quick          # 120 s, 128 units

Numbers reached: see docs/applications.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recipe's own options."""
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds")
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--streams", type=int, default=32, help="parallel shards (batch)")
    parser.add_argument("--bptt", type=int, default=64, help="steps per truncated segment")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--prompt", default="ROMEO:\n")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--sample-length", type=int, default=300)


def shards(ids: np.ndarray, streams: int, bptt: int) -> tuple[np.ndarray, np.ndarray]:
    """`(inputs, targets)` of shape `(segments, streams, bptt)`: batch k holds the k-th
    segment of every contiguous shard, so consecutive batches continue each stream."""
    per = (len(ids) - 1) // streams // bptt * bptt
    if per < bptt:
        raise ValueError(f"text of {len(ids)} characters is too short for {streams} streams "
                         f"of {bptt} steps.")
    x = ids[: streams * per].reshape(streams, per)
    y = ids[1: streams * per + 1].reshape(streams, per)
    return (x.reshape(streams, -1, bptt).transpose(1, 0, 2),
            y.reshape(streams, -1, bptt).transpose(1, 0, 2))


def sample(model, vocabulary, prompt: str, length: int, temperature: float, top_k: int,
           rng: np.random.Generator) -> str:
    """Text continuing `prompt`, one character at a time through `model.stream()`."""
    if temperature <= 0:
        raise ValueError(f"`temperature` must be > 0; received {temperature!r}.")
    if top_k < 1:
        raise ValueError(f"`top_k` must be >= 1; received {top_k!r}.")
    stream = model.stream(batch_size=1)
    ids = vocabulary.encode(prompt) or [1]
    logits = stream.step(np.array([ids], dtype=np.int64))[0, -1]
    out = []
    for _ in range(length):
        scaled = np.asarray(logits, dtype=np.float64) / temperature
        keep = np.argsort(scaled)[-top_k:]
        p = np.exp(scaled[keep] - scaled[keep].max())
        choice = int(rng.choice(keep, p=p / p.sum()))
        out.append(choice)
        logits = stream.step(np.array([[choice]], dtype=np.int64))[0, -1]
    return prompt + vocabulary.decode(out)


def _reset(model) -> None:
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_states()


def run(args: argparse.Namespace) -> dict:
    """Trains within the budget; prints validation nats/char, the baseline and a sample."""
    from gated.data import CharVocabulary
    from gated.data.datasets import load_tiny_shakespeare
    from gated.layers import LSTM, Dense, Embedding, Input
    from gated.losses import SparseCategoricalCrossentropy
    from gated.models import Sequential
    from gated.optimizers import Adam
    from gated.recipes import data_dir
    from gated.recipes._science import setup

    text = load_tiny_shakespeare(data_dir(args, "tinyshakespeare", "input.txt"))
    vocabulary = CharVocabulary().adapt(text)
    ids = np.array(vocabulary.encode(text), dtype=np.int64)
    split = int(0.9 * len(ids))
    train_x, train_y = shards(ids[:split], args.streams, args.bptt)
    val_x, val_y = shards(ids[split:], args.streams, args.bptt)
    counts = np.bincount(ids[:split], minlength=vocabulary.vocabulary_size())[1:]
    p = counts[counts > 0] / counts.sum()
    unigram = float(-(p * np.log(p)).sum())
    setup(args.seed, threads=2)
    budget = min(args.budget, 120.0) if args.quick else args.budget
    units = min(args.units, 128) if args.quick else args.units
    vocab = vocabulary.vocabulary_size()
    model = Sequential([
        Input(batch_shape=(args.streams, args.bptt), dtype="int64"),
        Embedding(vocab, 64),
        LSTM(units, stateful=True, return_sequences=True),
        LSTM(units, stateful=True, return_sequences=True),
        Dense(vocab),
    ])
    model.compile(optimizer=Adam(args.lr, clipnorm=1.0),
                  loss=SparseCategoricalCrossentropy(from_logits=True))
    start, steps, passes, k = time.perf_counter(), 0, 0, 0
    while time.perf_counter() - start < budget:
        loss = model.train_on_batch(train_x[k], train_y[k])
        steps, k = steps + 1, k + 1
        if k == len(train_x):
            k, passes = 0, passes + 1
            _reset(model)
        if args.verbose and steps % 50 == 0:
            print(f"step {steps:5d}  train nats/char {float(np.ravel(loss)[0]):.3f}  "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    seconds = time.perf_counter() - start
    _reset(model)
    val = float(np.mean([np.ravel(model.test_on_batch(x, y))[0]
                         for x, y in zip(val_x, val_y, strict=True)]))
    text_out = sample(model, vocabulary, args.prompt, args.sample_length, args.temperature,
                      args.top_k, np.random.default_rng(args.seed))
    print(f"\ntiny Shakespeare, {steps} truncated-BPTT steps ({steps * args.streams * args.bptt:,}"
          f" characters, {passes + k / len(train_x):.2f} passes) in {seconds:.0f} s")
    print(f"  stateful 2-layer LSTM({units}), validation nats/char  {val:.3f}")
    print(f"  unigram baseline (character frequencies)            {unigram:.3f}")
    print("  char-rnn-class models after long GPU training        about 1.4-1.5")
    print(f"\nsample (temperature {args.temperature}, top-{args.top_k}):\n{text_out}")
    return {"validation_nats_per_char": val, "unigram_nats_per_char": unigram,
            "steps": steps, "passes": passes + k / len(train_x), "train_seconds": seconds,
            "parameters": model.count_params(), "sample": text_out}
