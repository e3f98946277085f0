"""int8 on a real task: the FSDD spoken-digit classifier, float32 against int8 (torch and ONNX).

Trains a small LSTM on the Free Spoken Digit Dataset (`../shared/data/fsdd`, official split:
2,700 train, 300 test recordings) from log band energies (32 bands, 16 ms hop, 1 s), then
prints the test accuracy and the time to classify the test set (batch 1 per recording, one
thread) for: float32 torch (`model.predict`), int8 torch (`gated.export.quantize`), float32
and int8 ONNX Runtime.

Usage:
    python benchmarks/int8_fsdd.py [--epochs 15] [--units 64] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gated.data import load_fsdd, split_fsdd  # noqa: E402
from gated.export.quantize import quantize_dynamic, quantize_onnx  # noqa: E402
from gated.layers import LSTM, Dense, Input  # noqa: E402
from gated.models import Sequential  # noqa: E402

FRAME, HOP, BANDS, STEPS = 256, 128, 32, 64


def features(waveform: np.ndarray) -> np.ndarray:
    """(STEPS, BANDS) log band energies, left-padded with silence to 1 s."""
    wave = waveform[: HOP * (STEPS - 1) + FRAME]
    wave = np.pad(wave, (HOP * (STEPS - 1) + FRAME - len(wave), 0))
    frames = np.lib.stride_tricks.sliding_window_view(wave, FRAME)[::HOP][:STEPS]
    power = np.abs(np.fft.rfft(frames * np.hanning(FRAME), axis=-1)) ** 2
    bands = np.array_split(power[:, 1:], BANDS, axis=-1)
    return np.log(np.stack([b.sum(-1) for b in bands], -1) + 1e-6).astype(np.float32)


def timed(fn, xs) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = np.concatenate([fn(x[None]) for x in xs])
    return out, (time.perf_counter() - start) / len(xs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared"
                                              / "data"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    warnings.simplefilter("ignore")
    train, test = split_fsdd(load_fsdd(Path(args.data) / "fsdd"))
    x_train = np.stack([features(r.waveform) for r in train])
    x_test = np.stack([features(r.waveform) for r in test])
    mean, std = x_train.mean((0, 1)), x_train.std((0, 1)) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    y_train = np.array([r.digit for r in train])
    y_test = np.array([r.digit for r in test])
    model = Sequential([Input((None, BANDS)), LSTM(args.units, return_sequences=True),
                        LSTM(args.units), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, verbose=0)
    train_s = time.perf_counter() - start

    rows = {}
    rows["float32 torch"] = timed(lambda x: model.predict(x, verbose=0), x_test)
    q = quantize_dynamic(model)
    rows["int8 torch (quantize_dynamic)"] = timed(q.predict, x_test)
    import onnxruntime as ort

    tmp = Path(tempfile.mkdtemp())
    model.export(tmp / "fsdd.onnx")
    quantize_onnx(tmp / "fsdd.onnx", tmp / "fsdd_int8.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    for name, path in (("float32 ONNX Runtime", "fsdd.onnx"),
                       ("int8 ONNX Runtime", "fsdd_int8.onnx")):
        session = ort.InferenceSession(str(tmp / path), options,
                                       providers=["CPUExecutionProvider"])
        rows[name] = timed(lambda x, s=session: s.run(None, {"input": x})[0], x_test)
    float_probs = rows["float32 torch"][0]
    print(f"FSDD: {len(train)} train / {len(test)} test, {args.units}-unit 2-layer LSTM, "
          f"{args.epochs} epochs in {train_s:.0f} s; torch {torch.__version__}, 1 thread")
    header = (f"{'path':<32} {'test accuracy':>13} {'agrees with f32':>15} "
              f"{'ms / recording':>14}")
    print(header)
    print("-" * len(header))
    for name, (probs, seconds) in rows.items():
        accuracy = (probs.argmax(-1) == y_test).mean()
        agree = (probs.argmax(-1) == float_probs.argmax(-1)).mean()
        print(f"{name:<32} {accuracy:13.3f} {agree:15.3f} {seconds * 1e3:14.2f}")


if __name__ == "__main__":
    main()
