"""xLSTM benchmark: sLSTM and mLSTM training steps, gated against a plain eager PyTorch loop
of the same equations and (where installed) NX-AI's `xlstm` reference code, in one run.

A training step is: input projection, the sequence, a squared-output loss, backward. Every
candidate runs once per round, rounds interleave the candidates in a shuffled order, and the
table shows medians (ms) and the ratio to the eager loop of the same cell.

Candidates:
- sLSTM: gated `sLSTM` on the fused engine and on the reference engine; an eager loop of the
  stabilized step; NX-AI's vanilla sLSTM (`slstm_forward` with its pointwise step: the loop
  its `sLSTMCell_vanilla` runs, without the layout permutes).
- mLSTM: gated `mLSTM` in chunkwise, parallel and recurrent (fused engine) form; an eager loop
  of the stabilized recurrent step; NX-AI's `chunkwise_simple` and `parallel_stabilized_simple`
  (float32; chunkwise needs a length divisible by the chunk).

Usage:
    python benchmarks/xlstm.py             # S and M
    python benchmarks/xlstm.py --quick     # S only, few repeats
    python benchmarks/xlstm.py --threads 1 # one thread (steadier on a loaded machine)
"""

from __future__ import annotations

import argparse
import math
import os
import platform as py_platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# this script is named xlstm.py: its folder must not shadow NX-AI's `xlstm` package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent / "src"))

from gated.layers import mLSTM, sLSTM  # noqa: E402

CONFIGS = {  # name: (batch, steps, features, units, heads)
    "S": (16, 64, 32, 64, 4),
    "M": (16, 256, 64, 128, 4),
}
CHUNK = 32


# ----------------------------------------------------------------------------- eager loops
class EagerSLSTM(nn.Module):
    """The stabilized sLSTM as a PyTorch user writes it: one projection, then a step loop."""

    def __init__(self, features: int, units: int, heads: int) -> None:
        super().__init__()
        self.units, self.heads, self.hd = units, heads, units // heads
        self.inp = nn.Linear(features, 4 * units)
        self.rec = nn.Parameter(0.1 * torch.randn(heads, self.hd, 4 * self.hd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        xw = self.inp(x).unbind(1)
        h = c = n = m = x.new_zeros(b, self.units)
        ys = []
        for xw_t in xw:
            r = torch.einsum("bkd,kde->bke", h.view(b, self.heads, self.hd), self.rec)
            pre = xw_t + r.view(b, self.heads, 4, self.hd).transpose(1, 2).reshape(b, -1)
            i_raw, f_raw, z_raw, o_raw = pre.chunk(4, dim=1)
            log_f = F.logsigmoid(f_raw)
            m_new = torch.maximum(log_f + m, i_raw)
            i, f = torch.exp(i_raw - m_new), torch.exp(log_f + m - m_new)
            c = f * c + i * torch.tanh(z_raw)
            n = f * n + i
            m = m_new
            h = torch.sigmoid(o_raw) * c / n
            ys.append(h)
        return torch.stack(ys, 1)


class EagerMLSTM(nn.Module):
    """The stabilized recurrent mLSTM as a PyTorch user writes it."""

    def __init__(self, features: int, units: int, heads: int) -> None:
        super().__init__()
        self.units, self.heads, self.d = units, heads, units // heads
        self.inp = nn.Linear(features, 4 * units + 2 * heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, steps = x.shape[0], x.shape[1]
        u, nh, d = self.units, self.heads, self.d
        q, k, v, i_raw, f_raw, o_raw = self.inp(x).split((u, u, u, nh, nh, u), dim=-1)
        q, v = q.view(b, steps, nh, d), v.view(b, steps, nh, d)
        k = k.view(b, steps, nh, d) / math.sqrt(d)
        log_f = F.logsigmoid(f_raw)
        c = x.new_zeros(b, nh, d, d)
        n = x.new_zeros(b, nh, d)
        m = x.new_zeros(b, nh)
        ys = []
        for t in range(steps):
            m_new = torch.maximum(log_f[:, t] + m, i_raw[:, t])
            i = torch.exp(i_raw[:, t] - m_new)[..., None]
            f = torch.exp(log_f[:, t] + m - m_new)[..., None]
            m = m_new
            c = f[..., None] * c + (i * k[:, t])[..., None] * v[:, t, :, None, :]
            n = f * n + i * k[:, t]
            num = torch.einsum("bhd,bhde->bhe", q[:, t], c)
            den = torch.maximum((q[:, t] * n).sum(-1).abs(), torch.exp(-m)) + 1e-6
            ys.append(num / den[..., None])
        return torch.sigmoid(o_raw) * torch.stack(ys, 1).reshape(b, steps, u)


# ----------------------------------------------------------------------------- NX-AI
def nxai_candidates(features: int, units: int, heads: int) -> dict[str, nn.Module]:
    try:
        from xlstm.blocks.mlstm import backends
        from xlstm.blocks.slstm.src import vanilla
    except ImportError:
        return {}

    class NXSLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Linear(features, 4 * units, bias=False)
            hd = units // heads
            self.rec = nn.Parameter(0.1 * torch.randn(heads, 4 * hd, hd))
            self.bias = nn.Parameter(torch.zeros(4 * units))
            self.pointwise = vanilla.slstm_pointwise_function_registry["slstm"]

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            wx = self.inp(x).transpose(0, 1)
            states = x.new_zeros(4, x.shape[0], units)
            return vanilla.slstm_forward(wx, states, self.rec, self.bias, self.pointwise)[0][0]

    class NXMLSTM(nn.Module):
        def __init__(self, form: str) -> None:
            super().__init__()
            self.inp = nn.Linear(features, 3 * units + 2 * heads)
            self.form = form

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, steps = x.shape[0], x.shape[1]
            q, k, v, i_raw, f_raw = self.inp(x).split((units, units, units, heads, heads), -1)
            q, k, v = (t.view(b, steps, heads, -1).transpose(1, 2) for t in (q, k, v))
            i_raw, f_raw = i_raw.transpose(1, 2), f_raw.transpose(1, 2)
            if self.form == "chunkwise":
                return backends.chunkwise_simple(q, k, v, i_raw, f_raw, chunk_size=CHUNK)
            return backends.parallel_stabilized_simple(q, k, v, i_raw[..., None],
                                                       f_raw[..., None])

    return {"slstm nxai-vanilla": NXSLSTM(), "mlstm nxai-chunkwise": NXMLSTM("chunkwise"),
            "mlstm nxai-parallel": NXMLSTM("parallel")}


# ----------------------------------------------------------------------------- timing
def candidates(features: int, units: int, heads: int) -> dict[str, nn.Module]:
    out: dict[str, nn.Module] = {
        "slstm gated-fused": sLSTM(units, num_heads=heads, return_sequences=True,
                                   engine="fused"),
        "slstm gated-reference": sLSTM(units, num_heads=heads, return_sequences=True,
                                       engine="reference"),
        "slstm eager": EagerSLSTM(features, units, heads),
        "mlstm gated-chunkwise": mLSTM(units, num_heads=heads, return_sequences=True,
                                       chunk_size=CHUNK),
        "mlstm gated-parallel": mLSTM(units, num_heads=heads, return_sequences=True,
                                      form="parallel"),
        "mlstm gated-recurrent": mLSTM(units, num_heads=heads, return_sequences=True,
                                       form="recurrent", engine="fused"),
        "mlstm eager": EagerMLSTM(features, units, heads),
    }
    out.update(nxai_candidates(features, units, heads))
    return out


def train_step(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        module.zero_grad(set_to_none=True)
        y = module(x)
        y.pow(2).mean().backward()
    return run


def bench(config: str, repeats: int) -> list[tuple[str, float, float]]:
    batch, steps, features, units, heads = CONFIGS[config]
    torch.manual_seed(0)
    x = torch.randn(batch, steps, features)
    mods = candidates(features, units, heads)
    runs = {}
    for name, mod in mods.items():
        mod(x)  # build
        runs[name] = train_step(mod, x)
        runs[name]()  # warm up
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        order = list(runs)
        random.shuffle(order)
        for name in order:
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    medians = {name: 1e3 * statistics.median(t) for name, t in times.items()}
    rows = []
    for name, ms in medians.items():
        eager = medians[name.split()[0] + " eager"]
        rows.append((name, ms, ms / eager))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="S only, 5 repeats")
    parser.add_argument("--configs", default="S,M")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = ["S"] if args.quick else args.configs.split(",")
    repeats = 5 if args.quick else args.repeats
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{py_platform.processor() or py_platform.machine()}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for config in configs:
        batch, steps, features, units, heads = CONFIGS[config]
        print(f"\n{config}: batch {batch}, steps {steps}, features {features}, units {units}, "
              f"heads {heads}, float32, training step (forward + backward), median of "
              f"{repeats}")
        print(f"{'candidate':<24} {'ms':>9} {'/ eager':>8}")
        for name, ms, ratio in bench(config, repeats):
            print(f"{name:<24} {ms:>9.2f} {ratio:>8.2f}")


if __name__ == "__main__":
    main()
