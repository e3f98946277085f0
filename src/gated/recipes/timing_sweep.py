"""Precise timing over many seeds at once: a second, independent look at `timing.py`.

The task, the scores and the success criterion are those of `timing.py` (a start pulse, then
a spike every N steps; LSTM(units) -> Dense(1); spike-weighted binary cross-entropy; Adam with
cosine decay and clipnorm 1; a free run of 30 periods). What differs is how it is run: the
LSTM is written out here in a dozen torch ops and *vectorised over networks*, so `--seeds`
peephole networks and `--seeds` networks without peepholes (the same initial weights per seed)
train in one loop. That makes 8+8 networks cost about as much as one, and it lets the 2002
paper's learning algorithm be tried too:

- `--gradient full`: full backpropagation through time (what `timing.py` does);
- `--gradient truncated`: the error flows back in time only through the cell state, h_{t-1}
  enters every gate as a constant (the LSTM gradient of Hochreiter & Schmidhuber 1997 and of
  Gers et al. 2000/2002, as in `reber.py`).

Peephole layout as `gated`'s `variant="peephole"`: i and f see c_{t-1}, o sees c_t (a test
checks the cell here against `gated.layers.LSTM` with copied weights). Initialisation as
Keras: Glorot-uniform kernels and peepholes, orthogonal recurrent kernel, forget bias 1.

Commands and numbers (2-core shared CPU, torch 2.13, 1 thread; the first two from the
exploratory version of this script, whose different float rounding moves per-seed results;
all runs in docs/science.md, section 4b):

    gated example timing-sweep --interval 20 --seeds 8 --steps 3000 --gradient full
        peephole 7/8 runs with all 30 spikes exact (mean 96%); no peephole 8/8 (100%); 350 s
    gated example timing-sweep --interval 20 --seeds 8 --steps 3000 --gradient truncated
        peephole 0/8 (mean 6%); no peephole 0/8 (15%); 350 s
    gated example timing-sweep --interval 50 --seeds 8 --steps 4000
        peephole 1/8 (mean 74%); no peephole 4/8 (86%); 904 s
    gated example timing-sweep --interval 20 --seeds 8 --steps 3000 --units 2
        peephole 0/8 (mean 15%); no peephole 0/8 (10%); 171 s (this script as committed)
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from gated.recipes._science import Timer, verdict
from gated.recipes.timing import spike_train, timing_scores


class Networks:
    """`2 * seeds` LSTM(units) -> Dense(1) networks with batch size 1 each: networks
    `0..seeds-1` have peepholes, `seeds..2*seeds-1` have them fixed at zero; network `k` and
    `seeds + k` start from the same weights."""

    def __init__(self, seeds: int, units: int, seed: int = 1234) -> None:
        g = torch.Generator().manual_seed(seed)
        h = units

        def glorot(shape: tuple, fan_in: int, fan_out: int) -> torch.Tensor:
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            return (torch.rand(shape, generator=g) * 2 - 1) * limit

        kernel = glorot((seeds, 1, 4 * h), 1, 4 * h)
        recurrent = torch.stack([torch.linalg.qr(torch.randn(4 * h, h, generator=g))[0].T
                                 for _ in range(seeds)])  # orthogonal rows, (h, 4h)
        bias = torch.zeros(seeds, 4 * h)
        bias[:, h:2 * h] = 1.0  # unit forget bias
        peephole = glorot((seeds, 3, h), 3, h)
        dense = glorot((seeds, h, 1), h, 1)
        dense_bias = torch.zeros(seeds, 1)
        self.params = [torch.cat([t, t]).clone().requires_grad_()
                       for t in (kernel, recurrent, bias, peephole, dense, dense_bias)]
        self.peephole_on = torch.cat([torch.ones(seeds, 1, 1), torch.zeros(seeds, 1, 1)])
        self.units, self.count = h, 2 * seeds

    def __call__(self, x: torch.Tensor, truncated: bool = False) -> torch.Tensor:
        """Logits `(networks, T)` for the input sequence `x (T,)` shared by all networks."""
        kernel, recurrent, bias, peephole, dense, dense_bias = self.params
        p = peephole * self.peephole_on
        p_i, p_f, p_o = p[:, None, 0], p[:, None, 1], p[:, None, 2]
        h = c = torch.zeros(self.count, 1, self.units)
        out = []
        for x_t in x:
            z = x_t * kernel + torch.bmm(h.detach() if truncated else h, recurrent) + bias[:, None]
            z_i, z_f, z_c, z_o = z.split(self.units, -1)
            c = torch.sigmoid(z_f + p_f * c) * c + torch.sigmoid(z_i + p_i * c) * torch.tanh(z_c)
            h = torch.sigmoid(z_o + p_o * c) * torch.tanh(c)
            out.append(torch.bmm(h, dense)[:, 0, 0] + dense_bias[:, 0])
        return torch.stack(out, 1)


def adam_step(params: list, moments: list, step: int, lr: float) -> None:
    """Adam (beta 0.9/0.999, eps 1e-7) with Keras' `clipnorm=1` applied per tensor *and per
    network*, so that each network trains exactly as it would alone."""
    with torch.no_grad():
        for q, (m, v) in zip(params, moments, strict=True):
            norm = q.grad.flatten(1).norm(dim=1).clamp_min(1.0)
            grad = q.grad / norm.view(-1, *[1] * (q.dim() - 1))
            m.mul_(0.9).add_(grad, alpha=0.1)
            v.mul_(0.999).addcmul_(grad, grad, value=0.001)
            m_hat, v_hat = m / (1 - 0.9 ** step), v / (1 - 0.999 ** step)
            q -= lr * m_hat / (v_hat.sqrt() + 1e-7)


def run_experiment(interval: int = 20, seeds: int = 8, units: int = 8, steps: int = 3000,
        periods: int = 10, learning_rate: float = 3e-3, gradient: str = "full",
        init_seed: int = 1234, verbose: bool = True) -> dict[str, list[dict]]:
    if gradient not in ("full", "truncated"):
        raise ValueError(f"gradient must be 'full' or 'truncated', received {gradient!r}.")
    nets = Networks(seeds, units, init_seed)
    moments = [(torch.zeros_like(q), torch.zeros_like(q)) for q in nets.params]
    x, y = (torch.from_numpy(a)[0, :, 0] for a in spike_train(interval, periods))
    spike_weight = torch.tensor(float(interval))
    with Timer() as timer:
        for step in range(1, steps + 1):
            logits = nets(x, truncated=gradient == "truncated")
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, y.expand_as(logits), pos_weight=spike_weight, reduction="none").mean(1)
            for q in nets.params:
                q.grad = None
            loss.sum().backward()  # the networks are independent: one backward for all
            decay = 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * step / steps))
            adam_step(nets.params, moments, step, learning_rate * decay)
            if verbose and step % 500 == 0:
                print(f"  update {step:5d}: mean loss, peephole {loss[:seeds].mean():.4f}, "
                      f"no peephole {loss[seeds:].mean():.4f} ({timer.elapsed:.0f}s)",
                      flush=True)
    x_test, y_test = spike_train(interval, 30)
    with torch.no_grad():
        out = torch.sigmoid(nets(torch.from_numpy(x_test)[0, :, 0])).numpy()
    scores = [timing_scores(out[k], y_test[0, :, 0], interval) for k in range(2 * seeds)]
    return {"peephole": scores[:seeds], "keras": scores[seeds:], "seconds": timer.seconds}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recipe's own options (`--quick` caps the updates at 1,000)."""
    parser.add_argument("--interval", type=int, default=20, help="N: steps between spikes")
    parser.add_argument("--seeds", type=int, default=8, help="networks per variant")
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3000, help="updates")
    parser.add_argument("--periods", type=int, default=10, help="spikes per training sequence")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--gradient", choices=("full", "truncated"), default="full")
    parser.add_argument("--init-seed", type=int, default=1234,
                        help="seed of the initial weights (network k of a run gets the k-th "
                             "draw)")


def run(args: argparse.Namespace) -> dict:
    """Trains the networks of both variants at once; returns their scores and the verdict."""
    torch.set_num_threads(1)
    steps = min(args.steps, 1000) if args.quick else args.steps
    r = run_experiment(args.interval, args.seeds, args.units, steps, args.periods, args.lr,
                       args.gradient, args.init_seed)
    for variant, label in (("peephole", "peephole"), ("keras", "no peephole")):
        exact = [s["exact"] for s in r[variant]]
        wins = sum(s["success"] for s in r[variant])
        print(f"{label:>12}: exact spikes per seed "
              f"{', '.join(f'{e:.0%}' for e in exact)}; {wins}/{args.seeds} runs with all 30 "
              f"exact; mean {np.mean(exact):.0%}")
    peep = np.mean([s["exact"] for s in r["peephole"]])
    plain = np.mean([s["exact"] for s in r["keras"]])
    verdict(peep >= plain + 0.10, f"N={args.interval}, {args.gradient} gradient: peephole mean "
                                  f"exact spikes {peep:.0%} >= no peephole {plain:.0%} + 10 "
                                  f"points ({r['seconds']:.0f}s)")
    return {"passed": bool(peep >= plain + 0.10), "results": r}
