"""Streaming benchmark: latency of ONE time step at batch 1 (64 inputs, 256 units by default).

Real-time inference feeds one frame at a time and carries the state. Compared, interleaved in
one process on the same weights (every step timed on its own; p50/p99 over all steps of all
rounds, and the median of the per-round means):

- gated `engine.step` (the fastest exact path: compiled streaming kernel when available, else
  torch's fused cell kernel for the standard cell), `cell.step` under `torch.no_grad`, the
  compiled `streaming_step` directly (when numba is installed);
- gated `model.stream().step` (the streaming object over a `Sequential`, tensor in and out);
- the torch-free runtime `gated.runtime.numpy` (`load(...).stream().step`, NumPy in and out);
- ONNX Runtime running gated's exported step graph (ONNX's `LSTM` operator with state inputs),
  float32 and int8 (onnxruntime `quantize_dynamic`);
- `torch.nn.LSTMCell`, `torch.nn.LSTM` called with a one-step sequence, and torch's int8
  dynamic-quantized `nn.LSTM` (`gated.export.quantize`).

`--layers 2 --units 128` measures a 2-layer stack (the torch.nn rows then run 2 layers).

Usage:
    python benchmarks/streaming.py [--units 256] [--features 64] [--layers 1] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import gated.layers  # noqa: E402,F401
from gated import engine as engines  # noqa: E402
from gated.layers import LSTM, Input  # noqa: E402
from gated.models import Sequential  # noqa: E402


def stepper(fn: Callable, states: tuple) -> Callable:
    """Wrap `fn(x, states) -> (y, states)` so that the state is carried between calls."""
    box = {"states": states}

    def run(x):
        _, box["states"] = fn(x, box["states"])
    return run


def onnx_stepper(path: Path, threads: int) -> Callable:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()][1:]
    outputs = [o.name for o in session.get_outputs()]
    feeds = {n: np.zeros((1, i.shape[1]), np.float32)
             for n, i in zip(names, session.get_inputs()[1:], strict=True)}
    index = [outputs.index(f"{n}_next") for n in names]

    def run(x):
        result = session.run(None, {"x": x, **feeds})
        for n, k in zip(names, index, strict=True):
            feeds[n] = result[k]
    return run


def build(args: argparse.Namespace, tmp: Path) -> tuple[dict, Sequential]:
    units, features, layers = args.units, args.features, args.layers
    torch.manual_seed(0)
    model = Sequential([Input((None, features)),
                        *[LSTM(units, return_sequences=True, name=f"lstm{k}")
                          for k in range(layers)]])
    cells = [layer.cell for layer in model.layers]
    zeros = tuple(torch.zeros(1, units) for _ in range(2 * layers))

    def stack(step):
        def fn(x, states):
            new = []
            for k, cell in enumerate(cells):
                x, s = step(cell, x, states[2 * k:2 * k + 2])
                new.extend(s)
            return x, tuple(new)
        return fn

    tensor: dict[str, Callable] = {
        "gated engine.step": stepper(stack(engines.step), zeros),
        "gated cell.step (no_grad)": stepper(stack(lambda c, x, s: c.step(x, s)), zeros),
    }
    module, _ = engines.compiled_backend()
    if module is not None and hasattr(module, "streaming_step"):
        tensor["gated compiled streaming_step"] = stepper(stack(module.streaming_step), zeros)
    stream = model.stream(batch_size=1)
    tensor["gated model.stream().step"] = stream.step
    lstm = torch.nn.LSTM(features, units, num_layers=layers, batch_first=True)
    from gated.export.torch_nn import to_torch

    lstm.load_state_dict(to_torch(model).state_dict())
    cell = torch.nn.LSTMCell(features, units)
    if layers == 1:
        tensor["torch.nn.LSTMCell"] = stepper(lambda x, s: (lambda h, c: (h, (h, c)))(
            *cell(x, s)), zeros[:2])

    def torch_lstm(net):
        def fn(x, s):
            y, (h, c) = net(x.unsqueeze(1), s)
            return y, (h, c)
        return fn

    torch_zeros = (torch.zeros(layers, 1, units), torch.zeros(layers, 1, units))
    tensor["torch.nn.LSTM (1 step)"] = stepper(torch_lstm(lstm), torch_zeros)
    from gated.export.quantize import quantize_dynamic

    rnns = [part.rnn for part in quantize_dynamic(model).parts]  # one int8 nn.LSTM per layer

    def int8_stack(x, states):
        x, new = x.unsqueeze(1), []
        for k, rnn in enumerate(rnns):
            x, (h, c) = rnn(x, states[2 * k:2 * k + 2])
            new += [h, c]
        return x, tuple(new)

    tensor["torch int8 nn.LSTM (1 step)"] = stepper(
        int8_stack, tuple(torch.zeros(1, 1, units) for _ in range(2 * layers)))
    arrays: dict[str, Callable] = {}
    model.save(tmp / "m.gated")
    import gated.runtime.numpy as rt

    arrays["numpy runtime stream.step"] = rt.load(tmp / "m.gated").stream(1).step
    try:
        from gated.export.quantize import quantize_onnx

        model.export(tmp / "step.onnx", step=True)
        arrays["onnxruntime LSTM op (step graph)"] = onnx_stepper(tmp / "step.onnx",
                                                                  args.threads or 1)
        quantize_onnx(tmp / "step.onnx", tmp / "step_int8.onnx")
        arrays["onnxruntime int8 (step graph)"] = onnx_stepper(tmp / "step_int8.onnx",
                                                               args.threads or 1)
    except ImportError as exc:
        print(f"onnx/onnxruntime not available ({exc}); ONNX rows left out")
    return {**{k: ("tensor", v) for k, v in tensor.items()},
            **{k: ("array", v) for k, v in arrays.items()}}, model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--steps", type=int, default=100, help="consecutive steps per round")
    parser.add_argument("--threads", type=int, default=1, help="torch and ORT threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    tmp = Path(tempfile.mkdtemp())
    candidates, _ = build(args, tmp)
    frames = torch.randn(args.steps, 1, args.features)
    frames_np = [f.numpy() for f in frames]
    first: dict[str, float] = {}
    per_step: dict[str, list[float]] = {name: [] for name in candidates}
    means: dict[str, list[float]] = {name: [] for name in candidates}
    clock = time.perf_counter
    with torch.no_grad():
        for name, (kind, run) in list(candidates.items()):
            start = clock()
            try:
                run(frames[0] if kind == "tensor" else frames_np[0])
            except Exception as exc:  # a broken path must not end the benchmark
                print(f"{name}: failed, left out ({type(exc).__name__}: {exc})")
                del candidates[name], per_step[name], means[name]
                continue
            first[name] = clock() - start
        for _ in range(args.rounds):
            for name, (kind, run) in candidates.items():
                inputs = frames if kind == "tensor" else frames_np
                times = per_step[name]
                start_round = clock()
                for x in inputs:
                    start = clock()
                    run(x)
                    times.append(clock() - start)
                means[name].append((clock() - start_round) / len(inputs))
    module, why = engines.compiled_backend()
    import os

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); compiled backend: "
          f"{'available' if module is not None else why}; load average {load:.1f} on "
          f"{os.cpu_count()} cores")
    print(f"One carried step at batch 1, {args.features} inputs, {args.layers} x {args.units} "
          f"LSTM units; {args.rounds} rounds of {args.steps} steps, every step timed")
    base = statistics.median(means.get("torch.nn.LSTM (1 step)", [1.0]))
    header = (f"{'implementation':<34} {'p50 us':>8} {'p99 us':>8} {'mean us':>8} "
              f"{'x nn.LSTM':>9} {'first ms':>9}")
    print(header)
    print("-" * len(header))
    for name, values in per_step.items():
        p50, p99 = np.percentile(np.array(values) * 1e6, [50, 99])
        mean = statistics.median(means[name])
        print(f"{name:<34} {p50:8.1f} {p99:8.1f} {mean * 1e6:8.1f} {mean / base:9.2f} "
              f"{first[name] * 1e3:9.2f}")


if __name__ == "__main__":
    main()
