"""Handwritten digits from pen strokes (UCI pen-based digits, writer-independent): a BiLSTM
on the raw trajectories against k-NN.

Data: `pendigits/` of the shared data, the original pen trajectories (7,494 training digits
from 30 writers, 3,498 test digits from 14 other writers). Each digit becomes a sequence of
`(dx, dy, pen_up)` rows (`gated.data.pen.to_sequence`: centred, scaled to a unit box, pen
offsets, a flag on the last point of each stroke), padded to 96 points (99.9% of digits are
shorter) and masked. Model: `Masking -> Bidirectional(LSTM(64), return_sequences) ->
Bidirectional(LSTM(64)) -> Dense(10, softmax)`, Adam, 10% of the training digits held out for
early stopping. The test writers are unseen, so every epoch sees the training digits under a
fresh random affine distortion (rotation +-0.2 rad, per-axis scale 0.85-1.15, shear +-0.2),
applied to the pen points before they become offsets (`--no-augment` turns it off).
Baseline computed in the same run: Alimoglu & Alpaydin's representation (8 points evenly
spaced along the pen path) with 1-NN. Published anchors: resampling + k-NN 97.4-98%; the same
1-NN rebuilt in shared/data/README.md 97.8%.

Command (2-core CPU shared with other jobs, torch 2.13):

    gated example handwriting-pendigits --data ../shared/data            # 30 epochs
    gated example handwriting-pendigits --data ../shared/data --quick    # 3 epochs

Numbers reached: see docs/applications.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

MAX_POINTS = 96
DIGITS = [str(d) for d in range(10)]
PAD = 99.0  # not a value a normalised offset or flag can take


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recipe's own options."""
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--no-augment", dest="augment", action="store_false",
                        help="train on the digits as written, without random distortions")


def distort(sample, rng: np.random.Generator):
    """The sample under a random rotation, per-axis scaling and shear of its pen points."""
    angle, shear = rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2)
    scale = rng.uniform(0.85, 1.15, size=2)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag(scale)
    return sample._replace(strokes=[s @ matrix.T for s in sample.strokes])


def batches(samples: list, classes: list[str], batch_size: int, seed: int,
            max_points: int = MAX_POINTS, flip_y: bool = False):
    """An endless generator of distorted, shuffled `(x, y)` training batches."""
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(samples))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield arrays([distort(samples[k], rng) for k in order[start:start + batch_size]],
                         classes, max_points, flip_y)


def arrays(samples: list, classes: list[str], max_points: int = MAX_POINTS,
           flip_y: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Padded `(samples, max_points, 3)` stroke sequences and their class indices."""
    from gated.data import pad_sequences
    from gated.data.pen import to_sequence

    x = pad_sequences([to_sequence(s, flip_y) for s in samples], maxlen=max_points,
                      dtype="float32", padding="post", truncating="post", value=PAD)
    return x, np.array([classes.index(s.label) for s in samples], dtype=np.int64)


def one_nn_resampled(train: list, test: list, points: int = 8) -> float:
    """Test accuracy of 1-NN on `points` positions resampled along the pen path."""
    from gated.data.pen import resample

    a = np.stack([resample(s, points) for s in train])
    b = np.stack([resample(s, points) for s in test])
    distances = (b ** 2).sum(1)[:, None] - 2 * b @ a.T + (a ** 2).sum(1)[None]
    labels = np.array([s.label for s in train])
    return float((labels[distances.argmin(1)] == np.array([s.label for s in test])).mean())


def run(args: argparse.Namespace) -> dict:
    """Trains the BiLSTM and prints its writer-independent test accuracy beside 1-NN."""
    from gated.callbacks import EarlyStopping
    from gated.data.pen import load_pendigits
    from gated.layers import LSTM, Bidirectional, Dense, Masking
    from gated.models import Sequential
    from gated.optimizers import Adam
    from gated.recipes import data_dir
    from gated.recipes._science import setup

    folder = data_dir(args, "pendigits", "pendigits-orig.tra", "pendigits-orig.tes")
    train, test = load_pendigits(folder)
    x, y = arrays(train, DIGITS)
    x_test, y_test = arrays(test, DIGITS)
    setup(args.seed, threads=2)
    epochs = min(args.epochs, 3) if args.quick else args.epochs
    model = Sequential([
        Masking(PAD, input_shape=(MAX_POINTS, 3)),
        Bidirectional(LSTM(args.units, return_sequences=True)),
        Bidirectional(LSTM(args.units)),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=Adam(args.lr, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if args.verbose:
        model.summary()
    rng = np.random.default_rng(args.seed)
    held_out = rng.permutation(len(train))[: len(train) // 10]
    mask = np.zeros(len(train), bool)
    mask[held_out] = True
    fitting = [s for s, out in zip(train, mask, strict=True) if not out]
    stop = EarlyStopping(patience=5, restore_best_weights=True)
    start = time.perf_counter()
    if args.augment:
        model.fit(batches(fitting, DIGITS, args.batch_size, args.seed), epochs=epochs,
                  steps_per_epoch=len(fitting) // args.batch_size,
                  validation_data=(x[mask], y[mask]), callbacks=[stop], verbose=args.verbose)
    else:
        model.fit(x[~mask], y[~mask], epochs=epochs, batch_size=args.batch_size,
                  validation_data=(x[mask], y[mask]), callbacks=[stop], verbose=args.verbose)
    seconds = time.perf_counter() - start
    accuracy = float((model.predict(x_test, verbose=0).argmax(1) == y_test).mean())
    nn = one_nn_resampled(train, test)
    print(f"\npen digits, writer-independent test accuracy ({len(test)} digits), {epochs} "
          f"epochs in {seconds:.0f} s")
    for name, value in (("BiLSTM on raw strokes (gated)", accuracy),
                        ("1-NN, 8 resampled points (this run)", nn),
                        ("1-NN on raw points (published anchor)", 0.978)):
        print(f"  {name:40s} {value:.4f}")
    return {"test_accuracy": accuracy, "nn_resampled": nn, "anchor": 0.978,
            "epochs": epochs, "train_seconds": seconds, "augment": args.augment}
