"""A CNN+LSTM (TimeDistributed Conv2D + LSTM) classifies the direction a moving MNIST digit takes.

Clips of one real MNIST digit (`--data` holds `mnist/`; training clips from the training
digits, test clips from the test digits) moving in a straight line in one of 8 directions
(or 4, `--directions 4`) in a 32x32 frame, 10 frames, one pixel a frame along each moving axis,
made by `gated.data.moving_mnist.moving_digit_clips`. The digit wraps around the borders
(a torus) from a uniformly random start, so every single frame is a digit at a uniformly random
place whatever the direction: one frame cannot tell the direction, only the motion can, and a
classifier of one frame is at chance (1/8).

The model, Keras API (`Sequential`, `compile`, `fit`, `evaluate`):
`TimeDistributed(Conv2D(16, 3, relu))` -> `TimeDistributed(MaxPooling2D())` ->
`TimeDistributed(Conv2D(32, 3, relu))` -> `TimeDistributed(MaxPooling2D())` ->
`TimeDistributed(Flatten())` -> `LSTM(64)` -> `Dense(8, softmax)`, trained on the sparse
categorical cross-entropy with Adam. `Flatten`, not `GlobalAveragePooling2D`: averaging over
the frame throws away where the digit is, so on a torus every frame's features would be
(nearly) the same and the motion invisible (`--pooling average` runs that variant). The
baseline, trained in the same run on the same clips: the same convolutional stack and a
`Dense(8, softmax)` on the last frame only (no LSTM). `--target digit` classifies the digit
(0-9) instead, which one frame does tell.

`--quick`: 3,000 training clips, 1,000 test clips, 10 epochs; the default: 20,000 / 5,000,
15 epochs.

Numbers reached (`OMP_NUM_THREADS=1 gated example video-cnn-lstm --quick --data
../shared/data`, seed 0, shared 2-core VM at load average ~5, one torch thread, 65 s in all):
test accuracy on the 8 directions, CNN+LSTM 0.953 (316,872 parameters, 59 s of training),
the last-frame CNN 0.126, chance 0.125; with `--pooling average` the CNN+LSTM is at chance
too (0.126). `--target digit`: CNN+LSTM 0.735, the last-frame CNN 0.515 (chance 0.1).
The default (`gated example video-cnn-lstm --data ../shared/data`, same machine, 12.4 minutes):
CNN+LSTM 0.999 on 5,000 test clips (706 s of training), the last-frame CNN 0.118.
See docs/conv_lstm.md (section "CNN+LSTM on moving digits").
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gated.data.moving_mnist import load_mnist, moving_digit_clips

FRAMES, SIZE = 10, 32


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--directions", type=int, default=8, choices=(4, 8))
    parser.add_argument("--target", default="direction", choices=("direction", "digit"),
                        help="what to classify (default: the direction of motion)")
    parser.add_argument("--pooling", default="flatten", choices=("flatten", "average"),
                        help="per-frame features: Flatten (default) or GlobalAveragePooling2D")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--train-clips", type=int, default=None)
    parser.add_argument("--test-clips", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)


def conv_stack(pooling: str, distributed: bool) -> list:
    """The per-frame convolutional layers, each wrapped in `TimeDistributed` for clips."""
    import gated.layers as gl

    layers = [gl.Conv2D(16, 3, activation="relu"), gl.MaxPooling2D(),
              gl.Conv2D(32, 3, activation="relu")]
    layers += ([gl.MaxPooling2D(), gl.Flatten()] if pooling == "flatten"
               else [gl.GlobalAveragePooling2D()])
    return [gl.TimeDistributed(layer) for layer in layers] if distributed else layers


def build(kind: str, pooling: str, classes: int, rate: float):
    """`"cnn_lstm"` (clips `(T, 32, 32, 1)`) or `"last_frame"` (one frame `(32, 32, 1)`)."""
    from gated.layers import LSTM, Dense, Input
    from gated.models import Sequential
    from gated.optimizers import Adam

    if kind == "cnn_lstm":
        layers = [Input(shape=(FRAMES, SIZE, SIZE, 1)), *conv_stack(pooling, True), LSTM(64)]
    else:
        layers = [Input(shape=(SIZE, SIZE, 1)), *conv_stack(pooling, False)]
    model = Sequential([*layers, Dense(classes, activation="softmax")])
    model.compile(optimizer=Adam(rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def run(args: argparse.Namespace) -> dict:
    from gated.recipes import data_dir
    from gated.recipes._science import setup

    folder = data_dir(args, "mnist", "train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")
    quick = args.quick
    n_train = args.train_clips or (3000 if quick else 20000)
    n_test = args.test_clips or (1000 if quick else 5000)
    epochs = args.epochs or (10 if quick else 15)
    setup(args.seed, threads=1)
    data = {}
    for split, n, seed in (("train", n_train, args.seed), ("test", n_test, 10_000 + args.seed)):
        images, labels = load_mnist(folder, split)
        clips, direction, index = moving_digit_clips(
            images, n, FRAMES, SIZE, args.directions, rng=np.random.default_rng(seed))
        y = direction if args.target == "direction" else labels[index].astype(np.int64)
        data[split] = (clips[..., None], y)
    classes = args.directions if args.target == "direction" else 10
    (x, y), (x_test, y_test) = data["train"], data["test"]
    chance = 1.0 / classes if args.target == "direction" else 0.1
    majority = float(np.bincount(y_test, minlength=classes).max() / len(y_test))

    results: dict = {}
    for kind in ("cnn_lstm", "last_frame"):
        model = build(kind, args.pooling, classes, args.learning_rate)
        inputs, test_inputs = (x, x_test) if kind == "cnn_lstm" else (x[:, -1], x_test[:, -1])
        start = time.perf_counter()
        model.fit(inputs, y, batch_size=args.batch_size, epochs=epochs, shuffle=True,
                  verbose=2 if args.verbose else 0)
        seconds = time.perf_counter() - start
        loss, accuracy = model.evaluate(test_inputs, y_test, batch_size=256, verbose=0)
        results[kind] = {"test_accuracy": float(accuracy), "test_loss": float(loss),
                         "train_seconds": round(seconds, 1),
                         "parameters": sum(p.numel() for p in model.parameters())}

    print(f"\nMoving digit clips ({FRAMES} frames of {SIZE}x{SIZE}, one MNIST digit on a torus), "
          f"target: {args.target} ({classes} classes); {n_train} training clips, {n_test} test "
          f"clips, {epochs} epochs, per-frame features: {args.pooling}")
    print(f"{'model':<34} {'test accuracy':>13} {'params':>8} {'train s':>8}")
    names = {"cnn_lstm": "CNN+LSTM (all 10 frames)", "last_frame": "CNN on the last frame only"}
    for kind, r in results.items():
        print(f"{names[kind]:<34} {r['test_accuracy']:>13.3f} {r['parameters']:>8} "
              f"{r['train_seconds']:>8.1f}")
    print(f"{'chance':<34} {chance:>13.3f}")
    print(f"{'the most frequent test class':<34} {majority:>13.3f}")
    if args.target == "direction":
        print("(one frame cannot tell the direction: every frame is a digit at a uniformly "
              "random place)")
    return {"config": {"quick": quick, "target": args.target, "directions": args.directions,
                       "pooling": args.pooling, "train_clips": n_train, "test_clips": n_test,
                       "epochs": epochs, "frames": FRAMES, "size": SIZE, "seed": args.seed},
            "chance": chance, "majority_class": majority, "results": results}
