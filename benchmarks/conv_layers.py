"""Convolutional layers: gated (Keras layout, channels-last) against torch's modules on
channels-first tensors and against Keras 3's layers on its torch backend.

Each case times a forward pass (no_grad) and a training step (forward, `sum().backward()`),
the competitors interleaved in rounds (median ms). `torch NCHW` is the native PyTorch module
on a channels-first input (its best case: no layout change); `torch NHWC` is what a user with
Keras-layout data writes by hand (`permute` to NCHW, the module, `permute` back); `keras` is
`keras.layers.*` with `KERAS_BACKEND=torch` (skipped when keras is not installed).

Usage:
    python benchmarks/conv_layers.py [--rounds 15] [--threads N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
os.environ.setdefault("KERAS_BACKEND", "torch")

import gated.layers as gl  # noqa: E402

try:
    import keras
except ImportError:  # pragma: no cover - optional competitor
    keras = None


def _nchw(module: nn.Module) -> Callable:
    return lambda x: module(x)


def _nhwc(module: nn.Module) -> Callable:
    return lambda x: module(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def cases(quick: bool) -> list[tuple[str, tuple, dict]]:
    """(name, channels-last input shape, {competitor: (callable, takes_nchw)})."""
    b = 8 if quick else 16
    shape = (b, 32, 32, 16)
    out: list[tuple[str, tuple, dict]] = []

    conv_t = nn.Conv2d(16, 32, 3, padding=1)
    conv_g = gl.Conv2D(32, 3, padding="same")
    conv_g.build(shape)
    comp = {"gated": (conv_g, False), "torch NCHW": (_nchw(conv_t), True),
            "torch NHWC": (_nhwc(conv_t), False)}
    if keras is not None:
        conv_k = keras.layers.Conv2D(32, 3, padding="same")
        conv_k.build(shape)
        comp["keras"] = (conv_k, False)
    out.append(("Conv2D 3x3 same 16->32", shape, comp))

    pool_t = nn.MaxPool2d(2)
    comp = {"gated": (gl.MaxPooling2D(), False), "torch NCHW": (_nchw(pool_t), True),
            "torch NHWC": (_nhwc(pool_t), False)}
    if keras is not None:
        comp["keras"] = (keras.layers.MaxPooling2D(), False)
    out.append(("MaxPooling2D 2x2", shape, comp))

    bn_t = nn.BatchNorm2d(16, eps=1e-3, momentum=0.01)
    bn_g = gl.BatchNormalization()
    bn_g.build(shape)
    comp = {"gated": (lambda x: bn_g(x, training=True), False),
            "torch NCHW": (_nchw(bn_t.train()), True), "torch NHWC": (_nhwc(bn_t), False)}
    if keras is not None:
        bn_k = keras.layers.BatchNormalization()
        bn_k.build(shape)
        comp["keras"] = (lambda x: bn_k(x, training=True), False)
    out.append(("BatchNormalization (training)", shape, comp))

    clip = (b // 2, 8, 32, 32, 3)
    td_g = gl.TimeDistributed(gl.Conv2D(16, 3, padding="same", activation="relu"))
    td_g.build(clip)
    conv3 = nn.Conv2d(3, 16, 3, padding=1)

    def td_torch(x: torch.Tensor) -> torch.Tensor:
        n, t = x.shape[:2]
        y = torch.relu(conv3(x.reshape(n * t, *x.shape[2:]).permute(0, 3, 1, 2)))
        return y.permute(0, 2, 3, 1).reshape(n, t, *y.shape[2:], y.shape[1])

    comp = {"gated": (td_g, False), "torch NHWC": (td_torch, False)}
    if keras is not None:
        td_k = keras.layers.TimeDistributed(keras.layers.Conv2D(16, 3, padding="same",
                                                                activation="relu"))
        td_k.build(clip)
        comp["keras"] = (td_k, False)
    out.append(("TimeDistributed(Conv2D) clip", clip, comp))
    return out


def _time(fn: Callable, x: torch.Tensor, train: bool) -> float:
    start = time.perf_counter()
    if train:
        fn(x).sum().backward()
    else:
        with torch.no_grad():
            fn(x)
    return (time.perf_counter() - start) * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="batch 8, 5 rounds")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds = 5 if args.quick else args.rounds
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}, "
          f"keras {'n/a' if keras is None else keras.__version__}")
    for name, shape, comp in cases(args.quick):
        torch.manual_seed(0)
        x_last = torch.randn(shape, requires_grad=True)
        x_first = x_last.detach().permute(0, 3, 1, 2).contiguous().requires_grad_(True) \
            if len(shape) == 4 else None
        print(f"\n{name}, input {shape} (channels-last)")
        print(f"{'':12} {'forward ms':>11} {'x torch':>8} {'train ms':>10} {'x torch':>8}")
        times: dict[str, dict[bool, list[float]]] = {k: {False: [], True: []} for k in comp}
        for r in range(rounds + 1):
            for key, (fn, nchw) in comp.items():
                x = x_first if nchw else x_last
                for train in (False, True):
                    t = _time(fn, x, train)
                    if r:  # round 0 warms up
                        times[key][train].append(t)
        base = "torch NCHW" if "torch NCHW" in comp else "torch NHWC"
        ref = {train: statistics.median(times[base][train]) for train in (False, True)}
        for key in comp:
            f, t = (statistics.median(times[key][train]) for train in (False, True))
            print(f"{key:12} {f:11.3f} {f / ref[False]:8.2f} {t:10.3f} {t / ref[True]:8.2f}")


if __name__ == "__main__":
    main()
