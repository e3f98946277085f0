"""ConvLSTM2D benchmark: gated against a hand-written eager PyTorch ConvLSTM and Keras 3's
ConvLSTM2D (torch backend), inference and a training step, interleaved in one run.

Default configuration (the issue's): batch 8, 10 steps, 64x64x1 frames -> 64 filters, 3x3
kernel, `padding='same'`, `return_sequences=True`. All three compute the same numbers (the
weights of gated's layer are copied into the other two, and the script checks the outputs
agree before timing). Every round runs each candidate once, in a shuffled order; the table
shows medians and the ratio of each to gated (> 1: gated is faster), of the wall time and of
the process' CPU time (all threads; with `--threads 1` on a loaded machine the CPU time is the
steadier measure, as it does not count the time the process waits for a core).

- inference: forward under `torch.no_grad()`;
- training step: forward, a mean-square loss over the output sequence, backward (gradients of
  every weight; no optimizer step, identical for all three).

The eager baseline is the ConvLSTM a PyTorch user writes by hand: per step, one `nn.Conv2d`
over `cat([x_t, h])` (4 * filters output channels, bias), the four gates, the state update.

Usage:
    python benchmarks/conv_lstm.py                     # the issue's size, 5 rounds
    python benchmarks/conv_lstm.py --quick             # batch 2, 32x32, 16 filters, 3 rounds
    python benchmarks/conv_lstm.py --threads 1 --repeats 7
"""

from __future__ import annotations

import argparse
import os
import platform as py_platform
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
os.environ.setdefault("KERAS_BACKEND", "torch")

from gated.layers import ConvLSTM2D  # noqa: E402


class EagerConvLSTM(nn.Module):
    """A hand-written ConvLSTM (channels-first): one convolution of `[x_t, h]` per step."""

    def __init__(self, channels: int, filters: int, kernel: int) -> None:
        super().__init__()
        self.filters = filters
        self.conv = nn.Conv2d(channels + filters, 4 * filters, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, _, rows, cols = x.shape
        h = x.new_zeros(batch, self.filters, rows, cols)
        c = torch.zeros_like(h)
        outputs = []
        for x_t in x.unbind(1):
            z = self.conv(torch.cat([x_t, h], dim=1))
            i, f, g, o = z.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1)

    def load_keras(self, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> None:
        """Keras' `(k, k, C, 4F)` and `(k, k, F, 4F)` kernels as one `(4F, C + F, k, k)`."""
        both = np.concatenate([kernel, recurrent], axis=2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.as_tensor(both).permute(3, 2, 0, 1))
            self.conv.bias.copy_(torch.as_tensor(bias))


def _machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{py_platform.processor() or py_platform.machine()}, {os.cpu_count()} cores, "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"load average {load:.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-keras", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    batch, steps, side, filters, kernel = (2, 10, 32, 16, 3) if args.quick else (8, 10, 64, 64, 3)
    repeats = args.repeats or (3 if args.quick else 5)
    torch.manual_seed(0)
    x_last = torch.rand(batch, steps, side, side, 1)            # Keras layout
    x_first = x_last.permute(0, 1, 4, 2, 3).contiguous()        # the eager module's layout

    ours = ConvLSTM2D(filters, kernel, padding="same", return_sequences=True)
    ours(x_last[:1, :2])
    weights = ours.get_weights()
    eager = EagerConvLSTM(1, filters, kernel)
    eager.load_keras(*weights)
    candidates = {
        "gated ConvLSTM2D": (ours, x_last),
        "eager PyTorch": (eager, x_first),
    }
    if not args.no_keras:
        try:
            import keras

            layer = keras.layers.ConvLSTM2D(filters, kernel, padding="same",
                                            return_sequences=True)
            layer(x_last[:1, :2].numpy())
            layer.set_weights(weights)
            candidates["Keras 3 ConvLSTM2D"] = (layer, x_last)
        except ImportError:
            print("keras is not installed: Keras is left out")

    with torch.no_grad():  # the three compute the same numbers
        want = ours(x_last[:, :3])
        for name, (model, x) in candidates.items():
            got = model(x[:, :3])
            if model is eager:  # channels-first
                got = got.permute(0, 1, 3, 4, 2)
            err = (got - want).abs().max().item()
            assert err < 1e-4, f"{name} differs from gated by {err}"

    def infer(model, x):
        with torch.no_grad():
            model(x)

    def train(model, x):
        params = [p for p in _params(model) if p.requires_grad]
        y = model(x)
        loss = (y * y).mean()
        torch.autograd.grad(loss, params)

    times: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    for mode, fn in (("inference", infer), ("training step", train)):
        for model, x in candidates.values():  # warm-up
            fn(model, x)
        for _ in range(repeats):
            order = list(candidates.items())
            random.shuffle(order)
            for name, (model, x) in order:
                start, start_cpu = time.perf_counter(), time.process_time()
                fn(model, x)
                times.setdefault((mode, name), []).append(time.perf_counter() - start)
                cpu.setdefault((mode, name), []).append(time.process_time() - start_cpu)

    print(f"ConvLSTM2D: batch {batch}, {steps} steps, {side}x{side}x1 -> {filters} filters, "
          f"{kernel}x{kernel}, padding='same', return_sequences=True; {repeats} rounds")
    print(f"machine: {_machine()}")
    print("| mode | implementation | median ms | / gated | CPU ms | CPU / gated |\n"
          "|---|---|---:|---:|---:|---:|")
    for mode in ("inference", "training step"):
        base = statistics.median(times[(mode, "gated ConvLSTM2D")])
        base_cpu = statistics.median(cpu[(mode, "gated ConvLSTM2D")])
        for name in candidates:
            t = statistics.median(times[(mode, name)])
            c = statistics.median(cpu[(mode, name)])
            print(f"| {mode} | {name} | {1000 * t:.1f} | {t / base:.2f}x | {1000 * c:.1f} | "
                  f"{c / base_cpu:.2f}x |")


def _params(model):
    if isinstance(model, nn.Module):
        return list(model.parameters())
    return [v.value for v in model.trainable_variables]


if __name__ == "__main__":
    main()
