"""Engine benchmark: gated's backends against `torch.nn.LSTM` and a plain eager PyTorch loop.

For each configuration (batch, steps, features, units) and each cell (default, peephole, CIFG,
layer norm), times inference (forward under `no_grad`) and a training step (forward, MSE-style
loss, backward) of every gated backend that runs the cell, `auto`, `torch.nn.LSTM` and a
hand-written eager loop. Every candidate runs once per round, rounds interleave all candidates
in a shuffled order (so a load change on the machine, or threads a backend leaves spinning,
hit all of them alike), and the table shows medians.

Columns: median ms; ratio to `nn.LSTM` (same mode, same sizes; nn.LSTM is always the tanh
cell); ratio to the eager loop of the same cell; GFLOP/s (matrix products only: forward
2*B*T*(F+H)*G*U, training 3x that) and the % of a large-GEMM GFLOP/s (2048^3 `torch.mm`,
measured in the same run); first-call time (compilation included); with `--memory` the peak
memory allocated by one training step (torch's CPU allocator, via the profiler).

Usage:
    python benchmarks/engine.py                 # S, M, L
    python benchmarks/engine.py --quick         # S only, few repeats
    python benchmarks/engine.py --configs S,M --repeats 10 --memory
"""

from __future__ import annotations

import argparse
import os
import platform as py_platform
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import gated.layers  # noqa: E402,F401  (import order: layers before cells)
from gated import engine as engines  # noqa: E402
from gated.cells import LSTMCell  # noqa: E402

CONFIGS = {  # name: (batch, steps, features, units, activation)
    "S": (32, 100, 1, 50, "relu"),
    "M": (64, 100, 128, 256, "tanh"),
    "L": (32, 200, 512, 512, "tanh"),
}
CELLS = {
    "default": {},
    "peephole": {"variant": "peephole"},
    "cifg": {"variant": "cifg"},
    "layer-norm": {"layer_norm": True},
}
BACKENDS = ("platform", "compiled", "fused", "reference")


# ----------------------------------------------------------------------------- baselines
class EagerLSTM(nn.Module):
    """The loop a PyTorch user writes by hand: projection of all steps, then a step loop."""

    def __init__(self, features: int, units: int, activation: str, variant: dict) -> None:
        super().__init__()
        self.units = units
        self.peephole = variant.get("variant") in ("peephole", "cifg")
        self.cifg = variant.get("variant") == "cifg"
        self.layer_norm = bool(variant.get("layer_norm"))
        blocks = 3 if self.cifg else 4
        self.inp = nn.Linear(features, blocks * units)
        self.rec = nn.Linear(units, blocks * units, bias=False)
        self.act = torch.relu if activation == "relu" else torch.tanh
        if self.peephole:
            self.p = nn.Parameter(0.1 * torch.randn(3, units))
        if self.layer_norm:
            self.ln_x = nn.LayerNorm(blocks * units, elementwise_affine=True, bias=False)
            self.ln_h = nn.LayerNorm(blocks * units, elementwise_affine=True, bias=False)
            self.ln_c = nn.LayerNorm(units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        h = x.new_zeros(batch, self.units)
        c = x.new_zeros(batch, self.units)
        xw = self.inp(x) if not self.layer_norm else self.ln_x(x @ self.inp.weight.t()) \
            + self.inp.bias
        outputs = []
        for xw_t in xw.unbind(1):
            hu = self.rec(h)
            z = xw_t + (self.ln_h(hu) if self.layer_norm else hu)
            if self.cifg:
                zi, zc, zo = z.chunk(3, 1)
                zf = None
            else:
                zi, zf, zc, zo = z.chunk(4, 1)
            if self.peephole:
                i = torch.sigmoid(zi + self.p[0] * c)
                f = 1 - i if self.cifg else torch.sigmoid(zf + self.p[1] * c)
            else:
                i, f = torch.sigmoid(zi), torch.sigmoid(zf)
            c = f * c + i * self.act(zc)
            o = torch.sigmoid(zo + self.p[2] * c) if self.peephole else torch.sigmoid(zo)
            h = o * self.act(self.ln_c(c) if self.layer_norm else c)
            outputs.append(h)
        return torch.stack(outputs, 1)


class GatedRun(nn.Module):
    """One gated cell run by `engine.scan` with a chosen engine."""

    def __init__(self, cell: LSTMCell, engine: str) -> None:
        super().__init__()
        self.cell = cell
        self.engine = engine

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = self.cell.get_initial_state(x.shape[0], x.dtype, x.device)
        return engines.scan(self.cell, x, states, engine=self.engine)[0]


class TorchLSTM(nn.Module):
    def __init__(self, features: int, units: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, units, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


# ----------------------------------------------------------------------------- timing
def inference(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            model(x)
    return run


def train_step(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    params = [p for p in model.parameters() if p.requires_grad]

    def run() -> None:
        for p in params:
            p.grad = None
        ys = model(x)
        loss = (ys[:, -1] ** 2).mean() + 1e-3 * (ys ** 2).mean()
        loss.backward()
    return run


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_memory_mb(fn: Callable[[], None]) -> float:
    """Peak of allocated-minus-freed CPU memory during `fn` (torch's allocator, profiler events).

    Allocations are counted at the start of the top-level op that made them (or as their own
    `[memory]` event outside ops), frees when they happen; so temporaries inside one op count
    as if alive together (a slight over-estimate, the same for every candidate).
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    changes = []
    for e in prof.events():
        usage = e.cpu_memory_usage
        if not usage:
            continue
        if e.name == "[memory]":
            if usage < 0 or e.cpu_parent is None:
                changes.append((e.time_range.start, usage))
        elif e.cpu_parent is None and usage > 0:
            changes.append((e.time_range.start, usage))
    changes.sort(key=lambda change: change[0])
    now = peak = 0
    for _, usage in changes:
        now += usage
        peak = max(peak, now)
    return peak / 2 ** 20


def gemm_gflops(repeats: int = 5, n: int = 2048) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = statistics.median(timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def lstm_flops(batch: int, steps: int, features: int, units: int, blocks: int) -> float:
    return 2.0 * batch * steps * (features + units) * blocks * units


# ----------------------------------------------------------------------------- the run
def candidates(cfg: tuple, cell_name: str, with_reference: bool) -> dict[str, nn.Module]:
    batch, steps, features, units, activation = cfg
    out: dict[str, nn.Module] = {}
    x = torch.zeros(batch, steps, features)
    for engine in ("auto", *BACKENDS):
        if engine == "reference" and not with_reference:
            continue
        torch.manual_seed(0)
        cell = LSTMCell(units, activation=activation, **CELLS[cell_name])
        cell._maybe_build((None, features))
        if engine != "auto":
            ok, _ = engines.supported(engine, cell, x)
            if not ok:
                continue
        else:
            engine_picked = engines.select(cell, x)
            out[f"gated auto ({engine_picked})"] = GatedRun(cell, "auto")
            continue
        out[f"gated {engine}"] = GatedRun(cell, engine)
    torch.manual_seed(0)
    out["eager loop"] = EagerLSTM(features, units, activation, CELLS[cell_name])
    return out


def run_config(name: str, repeats: int, gemm: float, with_reference: bool,
               memory: bool) -> None:
    cfg = CONFIGS[name]
    batch, steps, features, units, activation = cfg
    x = torch.randn(batch, steps, features)
    torch.manual_seed(0)
    baseline = TorchLSTM(features, units)
    print(f"\n=== {name}: batch {batch}, {steps} steps, {features} features, {units} units, "
          f"activation={activation!r} (nn.LSTM: tanh) ===")
    for mode, make in (("inference", inference), ("training step", train_step)):
        rows: dict[tuple[str, str], dict] = {}
        fns: dict[tuple[str, str], Callable[[], None]] = {
            ("nn.LSTM", "torch.nn.LSTM"): make(baseline, x)}
        for cell_name in CELLS:
            for label, model in candidates(cfg, cell_name, with_reference).items():
                fns[(cell_name, label)] = make(model, x)
        for key, fn in list(fns.items()):  # first call: compilation, caches, warm-up
            try:
                rows[key] = {"first": timed(fn), "times": []}
            except Exception as exc:  # a broken backend must not end the benchmark
                print(f"  {key[0]} / {key[1]}: failed, left out ({type(exc).__name__}: {exc})")
                del fns[key]
        for fn in fns.values():
            fn()
        order = list(fns)
        shuffle = random.Random(0).shuffle
        for _ in range(repeats):
            shuffle(order)  # no candidate always runs right after the same neighbour
            for key in order:
                rows[key]["times"].append(timed(fns[key]))
        if memory and mode == "training step":
            for key, fn in fns.items():
                rows[key]["peak"] = peak_memory_mb(fn)
        base = statistics.median(rows[("nn.LSTM", "torch.nn.LSTM")]["times"])
        print(f"\n{name} {mode} (median of {repeats})")
        header = (f"{'cell':<11} {'implementation':<26} {'median ms':>10} {'x nn.LSTM':>10} "
                  f"{'x eager':>8} {'GFLOP/s':>8} {'% GEMM':>7} {'first ms':>9}")
        if memory and mode == "training step":
            header += f" {'peak MB':>8}"
        print(header)
        print("-" * len(header))
        for (cell_name, label), row in rows.items():
            med = statistics.median(row["times"])
            eager = rows.get((cell_name, "eager loop"))
            x_eager = f"{med / statistics.median(eager['times']):8.2f}" if eager else f"{'-':>8}"
            blocks = 3 if cell_name == "cifg" else 4
            flops = lstm_flops(batch, steps, features, units, blocks)
            flops *= 3 if mode == "training step" else 1
            gflops = flops / med / 1e9
            line = (f"{cell_name:<11} {label:<26} {med * 1e3:10.2f} {med / base:10.2f} "
                    f"{x_eager} {gflops:8.1f} {100 * gflops / gemm:6.1f}% "
                    f"{row['first'] * 1e3:9.1f}")
            if "peak" in row:
                line += f" {row['peak']:8.1f}"
            print(line)


def machine() -> str:
    cpu = py_platform.processor() or py_platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    module, why = engines.compiled_backend()
    compiled = "available" if module is not None else why
    return (f"{cpu}; {os.cpu_count()} logical CPUs; torch {torch.__version__}, "
            f"{torch.get_num_threads()} intra-op threads; Python {py_platform.python_version()}; "
            f"load average {load:.2f}; compiled backend: {compiled}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="S,M,L", help="comma-separated subset of S,M,L")
    parser.add_argument("--quick", action="store_true", help="S only, 5 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="rounds per configuration")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--with-reference", action="store_true",
                        help="also time the reference engine at M and L (slow)")
    parser.add_argument("--memory", action="store_true",
                        help="peak memory of one training step per candidate")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    configs = ["S"] if args.quick else [c.strip() for c in args.configs.split(",") if c]
    for c in configs:
        if c not in CONFIGS:
            parser.error(f"unknown configuration {c!r}; known: {', '.join(CONFIGS)}")
    print(f"Machine: {machine()}")
    gemm = gemm_gflops()
    print(f"Large GEMM (2048^3 torch.mm, float32): {gemm:.1f} GFLOP/s")
    default_repeats = {"S": 30, "M": 10, "L": 5}
    for c in configs:
        repeats = args.repeats or (5 if args.quick else default_repeats[c])
        run_config(c, repeats, gemm, args.with_reference or c == "S", args.memory)
    gemm_end = gemm_gflops()
    print(f"\nLarge GEMM at the end of the run: {gemm_end:.1f} GFLOP/s (start: {gemm:.1f}); "
          "timings are comparable only within one run.")


if __name__ == "__main__":
    main()
