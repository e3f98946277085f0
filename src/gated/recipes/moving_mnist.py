"""Moving MNIST next-frame prediction: a ConvLSTM encoder-forecaster against FC-LSTM and copying.

Shi et al. 2015, section 4.1: two MNIST digits bounce in a 64x64 frame; from 10 frames the
model predicts the next 10. Sequences are generated from the real MNIST digits
(`gated.data.moving_mnist`, `--data` holds `mnist/`): training sequences on the fly from the
training digits, a fixed test set from the test digits. As in the paper, frames are cut into
4x4 patches (16x16 maps of 16 channels); the encoder ConvLSTM (peepholes, `padding='same'`)
reads the 10 input maps, the forecaster ConvLSTM starts from its states and runs 10 steps on
no input (zeros), and a per-pixel `Dense(16, sigmoid)` on the forecaster's channels gives the
patches back. The FC-LSTM baseline is the same encoder-forecaster with `LSTM` layers on the
flattened 4096-pixel frames and a `Dense(4096, sigmoid)`. All trained with Adam on the
per-pixel binary cross-entropy, the paper's loss.

Reported on the test sequences: the cross-entropy per sequence (summed over the 10 x 64 x 64
predicted pixels; the paper reaches 4832 with FC-LSTM 2000-2000 and 3670 with its 3-layer
ConvLSTM after long GPU training) and the squared error per frame (summed over a frame's
pixels), for the ConvLSTM, the FC-LSTM and copying the last input frame (whose cross-entropy
uses the copied pixels clipped to [0.01, 0.99]) and for a motionless guess, every pixel at
the mean intensity of the input frames (what a model that has not learnt motion converges
to: a dark frame). A PNG strip shows the true and predicted
frames of one test sequence.

Configurations: `--quick` (CPU, under 5 minutes on 2 cores): 1 ConvLSTM layer of 16 filters,
3x3 kernels, FC-LSTM 128 units, 300 Adam steps (rate 0.01) of 16 sequences each, 128 test sequences
(about 0.13 s of CPU per ConvLSTM step and 0.07 s per FC-LSTM step on one core: a minute of
work on an idle machine).
Default (the paper's shape at CPU scale): 2 ConvLSTM layers of 64 filters, 5x5 kernels,
FC-LSTM 512 units, 3000 steps, 1000 test sequences (hours on a 2-core CPU).

Numbers reached (`OMP_NUM_THREADS=1 gated example moving-mnist --quick --data ../shared/data`,
shared 2-core VM at load average ~10, 4.5 minutes): cross-entropy per sequence / MSE per frame
on 128 test sequences: ConvLSTM 6462 / 146.7 (28,720 parameters), FC-LSTM 6652 / 151.8
(2,758,144), copying the last frame 13418 / 276.9, the mean intensity 7972 / 162.8. Far from
the paper (4832 / 3670): a CPU budget. The default configuration was not run (hours). See
docs/conv_lstm.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gated.data.moving_mnist import load_mnist, moving_mnist
from gated.layers import LSTM, ConvLSTM2D, Dense

PATCH, SIDE, FRAMES_IN, FRAMES_OUT = 4, 64, 10, 10
CLIP = 0.01


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=None, help="Adam steps per model")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--filters", type=int, default=None, help="ConvLSTM filters per layer")
    parser.add_argument("--layers", type=int, default=None, help="ConvLSTM layers")
    parser.add_argument("--test-sequences", type=int, default=None)
    parser.add_argument("--learning-rate", type=float, default=1e-2,
                        help="Adam's learning rate, both models (default 0.01)")


def to_patches(frames: torch.Tensor) -> torch.Tensor:
    """`(B, T, 64, 64)` -> `(B, T, 16, 16, 16)`: each 4x4 patch as 16 channels."""
    b, t = frames.shape[:2]
    n = SIDE // PATCH
    x = frames.reshape(b, t, n, PATCH, n, PATCH).permute(0, 1, 2, 4, 3, 5)
    return x.reshape(b, t, n, n, PATCH * PATCH)


def from_patches(maps: torch.Tensor) -> torch.Tensor:
    b, t, n = maps.shape[:3]
    x = maps.reshape(b, t, n, n, PATCH, PATCH).permute(0, 1, 2, 4, 3, 5)
    return x.reshape(b, t, SIDE, SIDE)


class ConvLSTMForecaster(nn.Module):
    """Encoder-forecaster of Shi et al. 2015 on 4x4 patches."""

    def __init__(self, filters: int, kernel: int, layers: int) -> None:
        super().__init__()

        def stack() -> nn.ModuleList:
            return nn.ModuleList([ConvLSTM2D(filters, kernel, padding="same", peephole=True,
                                             return_sequences=True, return_state=True)
                                  for _ in range(layers)])
        self.encoder, self.forecaster = stack(), stack()
        self.head = Dense(PATCH * PATCH, activation="sigmoid")

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = to_patches(frames)
        states = []
        for layer in self.encoder:
            x, h, c = layer(x)
            states.append([h, c])
        x = x.new_zeros(x.shape[0], FRAMES_OUT, *x.shape[2:4], 1)  # the forecaster: no input
        outputs = []
        for layer, state in zip(self.forecaster, states, strict=True):
            x, _, _ = layer(x, initial_state=state)
            outputs.append(x)
        return from_patches(self.head(torch.cat(outputs, dim=-1)))


class FCLSTMForecaster(nn.Module):
    """The same encoder-forecaster with fully connected LSTMs on flattened frames."""

    def __init__(self, units: int) -> None:
        super().__init__()
        self.encoder = LSTM(units, return_state=True)
        self.forecaster = LSTM(units, return_sequences=True)
        self.head = Dense(SIDE * SIDE, activation="sigmoid")

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b = frames.shape[0]
        _, h, c = self.encoder(frames.reshape(b, FRAMES_IN, -1))
        y = self.forecaster(frames.new_zeros(b, FRAMES_OUT, 1), initial_state=[h, c])
        return self.head(y).reshape(b, FRAMES_OUT, SIDE, SIDE)


def scores(pred: torch.Tensor, true: torch.Tensor) -> dict:
    """Cross-entropy per sequence and squared error per frame, averaged over sequences."""
    p = pred.clamp(1e-7, 1 - 1e-7)
    ce = -(true * p.log() + (1 - true) * (1 - p).log()).sum(dim=(1, 2, 3))
    mse = ((pred - true) ** 2).sum(dim=(2, 3)).mean(dim=1)
    return {"cross_entropy": float(ce.mean()), "mse_per_frame": float(mse.mean())}


def train(model: nn.Module, digits: np.ndarray, steps: int, batch: int, rate: float,
          rng: np.random.Generator, verbose: int) -> float:
    with torch.no_grad():  # build the layers (Keras style: weights on the first call)
        model(torch.zeros(1, FRAMES_IN, SIDE, SIDE))
    optimizer = torch.optim.Adam(model.parameters(), lr=rate)
    model.train()
    start = time.perf_counter()
    for step in range(steps):
        clips = torch.from_numpy(moving_mnist(digits, batch, FRAMES_IN + FRAMES_OUT, rng=rng))
        pred = model(clips[:, :FRAMES_IN])
        loss = nn.functional.binary_cross_entropy(pred, clips[:, FRAMES_IN:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if verbose and (step + 1) % max(1, steps // 10) == 0:
            print(f"  {type(model).__name__} step {step + 1}/{steps}: loss per sequence "
                  f"{loss.item() * FRAMES_OUT * SIDE * SIDE:.0f}", flush=True)
    model.eval()
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> dict:
    from gated.recipes import data_dir

    folder = data_dir(args, "mnist", "train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")
    quick = args.quick
    steps = args.steps or (300 if quick else 3000)
    filters = args.filters or (16 if quick else 64)
    layers = args.layers or (1 if quick else 2)
    kernel = 3 if quick else 5
    units = 128 if quick else 512
    n_test = args.test_sequences or (128 if quick else 1000)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_digits, _ = load_mnist(folder, "train")
    test_digits, _ = load_mnist(folder, "test")
    test = torch.from_numpy(moving_mnist(test_digits, n_test, FRAMES_IN + FRAMES_OUT,
                                         rng=np.random.default_rng(10_000 + args.seed)))
    inputs, targets = test[:, :FRAMES_IN], test[:, FRAMES_IN:]

    models = {"ConvLSTM": ConvLSTMForecaster(filters, kernel, layers),
              "FC-LSTM": FCLSTMForecaster(units)}
    results: dict = {}
    predictions = {}
    for name, model in models.items():
        seconds = train(model, train_digits, steps, args.batch_size, args.learning_rate, rng,
                        args.verbose)
        with torch.no_grad():
            pred = torch.cat([model(chunk) for chunk in inputs.split(64)])
        predictions[name] = pred
        results[name] = {**scores(pred, targets), "train_seconds": round(seconds, 1),
                         "parameters": sum(p.numel() for p in model.parameters())}
    copy = inputs[:, -1:].expand(-1, FRAMES_OUT, -1, -1)
    results["copy last frame"] = scores(copy.clamp(CLIP, 1 - CLIP), targets)
    results["copy last frame"]["mse_per_frame"] = scores(copy, targets)["mse_per_frame"]
    # a prediction that knows no motion: every pixel at the mean intensity of the input frames
    mean = inputs.mean(dim=(1, 2, 3), keepdim=True).expand_as(targets)
    results["mean intensity"] = scores(mean, targets)

    print(f"Moving MNIST, {n_test} test sequences ({'quick' if quick else 'full'}: "
          f"ConvLSTM {layers}x{filters} filters {kernel}x{kernel}, FC-LSTM {units} units, "
          f"{steps} steps of {args.batch_size})")
    print(f"{'model':<16} {'cross-entropy/seq':>18} {'MSE/frame':>10} {'params':>10}")
    for name, r in results.items():
        print(f"{name:<16} {r['cross_entropy']:>18.0f} {r['mse_per_frame']:>10.1f} "
              f"{r.get('parameters', 0):>10}")
    print("paper (Shi et al. 2015, GPU, long training): FC-LSTM 4832, ConvLSTM 3 layers 3670")
    try:
        from gated.viz.frames import plot_frames

        path = plot_frames([targets[0].numpy(), predictions["ConvLSTM"][0].numpy(),
                            predictions["FC-LSTM"][0].numpy(), copy[0].numpy()],
                           Path(args.output) / "moving_mnist.png",
                           ["true", "ConvLSTM", "FC-LSTM", "copy last"],
                           "Moving MNIST: the 10 predicted frames")
        results["strip"] = str(path)
    except ImportError as error:
        print(f"no PNG strip: {error}")
    return {"config": {"quick": quick, "steps": steps, "filters": filters, "layers": layers,
                       "kernel": kernel, "fc_units": units, "test_sequences": n_test},
            "results": results}
