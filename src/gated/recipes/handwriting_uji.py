"""Handwritten characters from pen strokes (UJI Pen Characters, 35 classes), whole writers
held out: a BiLSTM on the raw trajectories against 1-NN.

Data: `ujipenchars/` of the shared data: 11 writers, each writing a-z, A-Z and 0-9 twice
(1,364 samples); the classes merge each letter's two cases and o/O/0 (35 classes). Split by
writer: writers w01-w08 train, w09-w11 test (never seen in training). Sequences as in
`handwriting-pendigits` (`(dx, dy, pen_up)` rows, y flipped because this set's axis points
down, padded to 160 points), the same network and the same random distortions every epoch.
Baseline in the same run: 1-NN on 8 points resampled along the pen path. There is no
standard split or published score for this set (shared/data/README.md).

Command (2-core CPU shared with other jobs, torch 2.13):

    gated example handwriting-uji --data ../shared/data            # 80 epochs
    gated example handwriting-uji --data ../shared/data --quick    # 8 epochs

Numbers reached: see docs/applications.md.
"""

from __future__ import annotations

import argparse
import time

MAX_POINTS = 160
TEST_WRITERS = ("w09", "w10", "w11")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recipe's own options."""
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)


def run(args: argparse.Namespace) -> dict:
    """Trains on 8 writers, prints accuracy on the 3 unseen writers beside 1-NN."""
    from gated.data.pen import load_ujipenchars
    from gated.layers import LSTM, Bidirectional, Dense, Masking
    from gated.models import Sequential
    from gated.optimizers import Adam
    from gated.recipes import data_dir
    from gated.recipes._science import setup
    from gated.recipes.handwriting_pendigits import PAD, arrays, batches, one_nn_resampled

    samples = load_ujipenchars(data_dir(args, "ujipenchars", "UJIpenchars-w01"))
    train = [s for s in samples if s.writer not in TEST_WRITERS]
    test = [s for s in samples if s.writer in TEST_WRITERS]
    classes = sorted({s.label for s in samples})
    x_test, y_test = arrays(test, classes, MAX_POINTS, flip_y=True)
    setup(args.seed, threads=2)
    epochs = min(args.epochs, 8) if args.quick else args.epochs
    model = Sequential([
        Masking(PAD, input_shape=(MAX_POINTS, 3)),
        Bidirectional(LSTM(args.units, return_sequences=True)),
        Bidirectional(LSTM(args.units)),
        Dense(len(classes), activation="softmax"),
    ])
    model.compile(optimizer=Adam(args.lr, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(batches(train, classes, args.batch_size, args.seed, MAX_POINTS, flip_y=True),
              steps_per_epoch=len(train) // args.batch_size, epochs=epochs,
              verbose=args.verbose)
    seconds = time.perf_counter() - start
    accuracy = float((model.predict(x_test, verbose=0).argmax(1) == y_test).mean())
    nn = one_nn_resampled(train, test)
    print(f"\nUJI pen characters, {len(classes)} classes, writers {', '.join(TEST_WRITERS)} "
          f"held out ({len(test)} samples), {epochs} epochs in {seconds:.0f} s")
    for name, value in (("BiLSTM on raw strokes (gated)", accuracy),
                        ("1-NN, 8 resampled points (this run)", nn),
                        ("chance", 1 / len(classes))):
        print(f"  {name:40s} {value:.3f}")
    return {"test_accuracy": accuracy, "nn_resampled": nn, "classes": len(classes),
            "epochs": epochs, "train_seconds": seconds}
