"""Sentiment of movie-review sentences (SST-2): an Embedding + bidirectional LSTM classifier,
test accuracy against the majority class and the published LSTM figures.

Data: `sst2/` of the shared data (67,349 labelled training phrases, 872 dev and 1,821 test
sentences). Text: `gated.data.TextVectorization` (lower-cased, whitespace tokens as the set
is already tokenized; the 20,000 most frequent tokens). Model: `Embedding(20000, 128,
mask_zero=True) -> Bidirectional(LSTM(64)) -> Dropout(0.3) -> Dense(1, sigmoid)`, Adam 1e-3,
binary cross-entropy; batches of phrases of similar length (padded per batch, masked) so a
batch of 5-token phrases does not pay for 50 steps. Early stopping on dev accuracy, test
accuracy reported once at the end. No pretrained embeddings. Published anchors (Tai et al.
2015): LSTM 84.9%, BiLSTM 87.5% with GloVe; without pretrained embeddings about 80-84%.

Command (2-core CPU shared with other jobs, torch 2.13):

    gated example text-sst2 --data ../shared/data             # up to 6 epochs
    gated example text-sst2 --data ../shared/data --quick     # 600 batches (1 epoch: 1,053)

Numbers reached: see docs/applications.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recipe's own options."""
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--embedding", type=int, default=128)
    parser.add_argument("--vocabulary", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)


def length_batches(tokens: list[np.ndarray], labels: np.ndarray, batch_size: int, seed: int):
    """Endless `(x, y)` batches of similar-length sequences, padded per batch, in random order.

    Args:
        tokens: one int array of token indices per text.
        labels: the labels, one per text.
        batch_size: texts per batch.
        seed: seeds the batch order and the shuffling within equal lengths.
    """
    from gated.data import pad_sequences

    rng = np.random.default_rng(seed)
    lengths = np.array([len(t) for t in tokens])
    while True:
        order = np.lexsort((rng.random(len(tokens)), lengths))
        batches = [order[k:k + batch_size] for k in range(0, len(order), batch_size)]
        for b in rng.permutation(len(batches)):
            index = batches[b]
            yield (pad_sequences([tokens[k] for k in index], padding="post"),
                   labels[index].astype(np.float32)[:, None])


def run(args: argparse.Namespace) -> dict:
    """Trains the classifier and prints dev and test accuracy beside the anchors."""
    from gated.callbacks import EarlyStopping
    from gated.data import TextVectorization, pad_sequences
    from gated.data.sst import load_sst2
    from gated.layers import LSTM, Bidirectional, Dense, Dropout, Embedding, Input
    from gated.models import Sequential
    from gated.optimizers import Adam
    from gated.recipes import data_dir
    from gated.recipes._science import setup

    folder = data_dir(args, "sst2", "train.tsv", "dev.tsv", "test.tsv")
    splits = load_sst2(folder)
    setup(args.seed, threads=2)
    vectorizer = TextVectorization(max_tokens=args.vocabulary, standardize="lower")
    vectorizer.adapt(splits["train"][0])
    encoded = {name: ([np.array(vectorizer.encode(t), dtype=np.int64) for t in texts], labels)
               for name, (texts, labels) in splits.items()}
    train_tokens, train_labels = encoded["train"]
    keep = [k for k, t in enumerate(train_tokens) if len(t)]
    train_tokens, train_labels = [train_tokens[k] for k in keep], train_labels[keep]

    def padded(name: str) -> tuple[np.ndarray, np.ndarray]:
        tokens, labels = encoded[name]
        return pad_sequences(tokens, padding="post"), labels.astype(np.float32)[:, None]

    dev, test = padded("dev"), padded("test")
    epochs = 1 if args.quick else args.epochs
    model = Sequential([
        Input(shape=(None,), dtype="int64"),  # any length: batches are padded per batch
        Embedding(vectorizer.vocabulary_size(), args.embedding, mask_zero=True),
        Bidirectional(LSTM(args.units)),
        Dropout(0.3),
        Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=Adam(args.lr), loss="binary_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    steps = -(-len(train_tokens) // args.batch_size)
    if args.quick:  # about 38,000 of the 67,349 phrases: the quick budget
        steps = min(steps, 600)
    model.fit(length_batches(train_tokens, train_labels, args.batch_size, args.seed),
              steps_per_epoch=steps, epochs=epochs,
              validation_data=dev, verbose=args.verbose,
              callbacks=[EarlyStopping(monitor="val_accuracy", mode="max", patience=2,
                                       restore_best_weights=True)])
    seconds = time.perf_counter() - start

    def accuracy(data: tuple[np.ndarray, np.ndarray]) -> float:
        return float(((model.predict(data[0], verbose=0) > 0.5) == (data[1] > 0.5)).mean())

    dev_accuracy, test_accuracy = accuracy(dev), accuracy(test)
    majority = float(max(test[1].mean(), 1 - test[1].mean()))
    print(f"\nSST-2, {epochs} epoch(s) in {seconds:.0f} s ({model.count_params():,} parameters)")
    for name, value in (("BiLSTM, no pretrained embeddings (gated), test", test_accuracy),
                        ("  the same, dev", dev_accuracy),
                        ("majority class, test", majority),
                        ("LSTM / BiLSTM with GloVe (Tai et al. 2015)", "0.849 / 0.875"),
                        ("LSTMs without pretrained embeddings (lit.)", "0.80-0.84")):
        print(f"  {name:48s} {value if isinstance(value, str) else f'{value:.3f}'}")
    return {"test_accuracy": test_accuracy, "dev_accuracy": dev_accuracy, "majority": majority,
            "epochs": epochs, "train_seconds": seconds, "parameters": model.count_params()}
