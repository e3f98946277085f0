"""Spoken digits (Free Spoken Digit Dataset, official split): a bidirectional LSTM on MFCCs,
and its fit time against the same network written by hand in PyTorch.

Data: `fsdd/` of the shared data (3,000 recordings, 6 speakers, 8 kHz; index 0-4 of every
speaker and digit is the test set: 300 test, 2,700 training recordings). Features: 20 MFCCs
with deltas and delta-deltas from librosa (`gated.data.audio.mfcc`, 25 ms windows, 10 ms
hop), z-scored with training statistics, padded per batch of similar lengths and masked.
Model: `Masking -> Bidirectional(LSTM(64)) -> Dense(10, softmax)`, Adam 3e-3, 10% of the
training recordings held out for early stopping. The hand-written PyTorch twin is the same
network (`nn.LSTM(bidirectional=True)` on packed sequences, final states of both directions,
`nn.Linear`), the same batches in the same order and the same epochs, timed in the same run.

Command (2-core CPU, torch 2.13; needs `pip install "gated[audio]"`):

    gated example speech-fsdd --data ../shared/data            # up to 40 epochs
    gated example speech-fsdd --data ../shared/data --quick    # 4 epochs

Numbers reached: see docs/applications.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recipe's own options."""
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--no-torch-twin", dest="twin", action="store_false",
                        help="skip the hand-written PyTorch network's timing")


def _batches(features: list[np.ndarray], labels: np.ndarray, batch_size: int, seed: int,
             epochs: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every epoch's batches of similar-length sequences (zero-padded), in a seeded order."""
    from gated.data import pad_sequences

    rng = np.random.default_rng(seed)
    lengths = np.array([len(f) for f in features])
    out = []
    for _ in range(epochs):
        order = np.lexsort((rng.random(len(features)), lengths))
        batches = [order[k:k + batch_size] for k in range(0, len(order), batch_size)]
        for b in rng.permutation(len(batches)):
            index = batches[b]
            out.append((pad_sequences([features[k] for k in index], dtype="float32",
                                      padding="post", value=0.0), labels[index]))
    return out


def torch_twin_seconds(batches: list, features: int, units: int, lr: float,
                       seed: int) -> float:
    """Trains the same network written by hand in PyTorch on the same batches; its seconds."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    lstm = nn.LSTM(features, units, batch_first=True, bidirectional=True)
    head = nn.Linear(2 * units, 10)
    optimizer = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=lr)
    start = time.perf_counter()
    for x, y in batches:
        x = torch.from_numpy(x)
        lengths = (x.abs().sum(-1) > 0).sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                   enforce_sorted=False)
        _, (h, _) = lstm(packed)
        loss = nn.functional.cross_entropy(head(torch.cat([h[0], h[1]], 1)),
                                           torch.from_numpy(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> dict:
    """Trains the BiLSTM (and its PyTorch twin for timing); prints test accuracy and times."""
    from gated.callbacks import EarlyStopping
    from gated.data import pad_sequences
    from gated.data.audio import mfcc, standardize
    from gated.data.datasets import load_fsdd, split_fsdd
    from gated.layers import LSTM, Bidirectional, Dense, Input, Masking
    from gated.models import Sequential
    from gated.optimizers import Adam
    from gated.recipes import data_dir
    from gated.recipes._science import setup

    folder = data_dir(args, "fsdd", "recordings")
    train, test = split_fsdd(load_fsdd(folder))
    start = time.perf_counter()
    train_x = [mfcc(r.waveform, r.sample_rate) for r in train]
    test_x = [mfcc(r.waveform, r.sample_rate) for r in test]
    feature_seconds = time.perf_counter() - start
    train_x, test_x = standardize(train_x, test_x)
    train_y = np.array([r.digit for r in train], dtype=np.int64)
    test_y = np.array([r.digit for r in test], dtype=np.int64)
    rng = np.random.default_rng(args.seed)
    held = np.zeros(len(train_x), bool)
    held[rng.permutation(len(train_x))[: len(train_x) // 10]] = True
    fit_x = [f for f, h in zip(train_x, held, strict=True) if not h]
    val = (pad_sequences([f for f, h in zip(train_x, held, strict=True) if h], dtype="float32",
                         padding="post"), train_y[held])
    epochs = min(args.epochs, 4) if args.quick else args.epochs
    batches = _batches(fit_x, train_y[~held], args.batch_size, args.seed, epochs)
    per_epoch = len(batches) // epochs
    setup(args.seed, threads=2)
    features = train_x[0].shape[1]
    model = Sequential([Input(shape=(None, features)), Masking(0.0),
                        Bidirectional(LSTM(args.units)), Dense(10, activation="softmax")])
    model.compile(optimizer=Adam(args.lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    stop = EarlyStopping(patience=6, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(iter(batches), steps_per_epoch=per_epoch, epochs=epochs,
                        validation_data=val, callbacks=[stop], verbose=args.verbose)
    seconds = time.perf_counter() - start
    trained_epochs = len(history.history["loss"])
    accuracy = float((model.predict(pad_sequences(test_x, dtype="float32", padding="post"),
                                    verbose=0).argmax(1) == test_y).mean())
    twin = None
    if args.twin:
        twin = torch_twin_seconds(batches[: trained_epochs * per_epoch], features, args.units,
                                  args.lr, args.seed)
    print(f"\nFSDD spoken digits, official split ({len(test)} test recordings); MFCCs in "
          f"{feature_seconds:.0f} s")
    print(f"  BiLSTM (gated) test accuracy        {accuracy:.3f}   (target >= 0.97; chance 0.1)")
    print(f"  gated fit, {trained_epochs} epochs             {seconds:.1f} s "
          "(with validation and early stopping)")
    if twin is not None:
        print(f"  hand-written PyTorch, same batches  {twin:.1f} s (training steps only)")
    return {"test_accuracy": accuracy, "epochs": trained_epochs, "fit_seconds": seconds,
            "torch_twin_seconds": twin, "feature_seconds": feature_seconds}
