"""Greff et al. 2017, "LSTM: A Search Space Odyssey": every LSTM variant on the JSB chorales.

Polyphonic music modelling: each Bach chorale (quarter-note steps) is a sequence of 88-dim
binary piano-roll frames (MIDI pitches 21..108); the network reads frames 0..T-2 and predicts
frames 1..T-1 through a sigmoid output (88 independent Bernoulli units). The figure of merit is
the frame-level negative log-likelihood: the sum over the 88 units of the binary
cross-entropy, averaged over all predicted frames of the split (nats per frame; lower is
better). Split: Boulanger-Lewandowski 2012 (229 train, 76 validation, 77 test chorales).

Every variant gets the same network and budget: one LSTM layer, the same units, Adam with
the same learning rate and clipnorm 1, batches of 16 chorales, the same number of epochs and
the same seeds; the reported test NLL is taken at the epoch of best validation NLL, averaged
over seeds. Variants (`gated.cells.lstm`): "keras" (= Greff's NP, no peepholes), "greff"
(vanilla, with peepholes) and, relative to it, "nig", "nfg", "nog", "niaf", "noaf", "cifg",
"fgr"; plus "1997" (Hochreiter & Schmidhuber: no forget gate).

Paper's conclusions (Greff et al. 2017, on JSB among others): the forget gate and the output
activation function are the most critical components (NFG and NOAF hurt most); NP, CIFG,
NIG and FGR perform about as well as vanilla.

Command (2-core shared CPU, torch 2.13, 1 thread):

    gated example greff-variants --data ../shared/data --seeds 3 --engine fused

(`--write-docs docs/science.md` puts the table into that file between its GREFF markers.)

Numbers reached (64 units, 60 epochs, seeds 0-2, `--seeds 3 --engine fused`), 656 s wall;
test NLL in nats per frame, mean over seeds (memory-less baseline 11.093):
    V 8.564, NP 8.659, NIG 8.659, NFG 8.743, NOG 8.874, NIAF 8.655, NOAF 8.587,
    CIFG 8.746, FGR 9.247, 1997 8.749. Full table and comparison: docs/science.md.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch

from gated.layers import LSTM, Dense
from gated.models import Sequential
from gated.optimizers import Adam
from gated.recipes._science import Timer, setup, verdict

KEYS = 88
LOWEST_PITCH = 21
DATA_FILE = "jsb-chorales-quarter.json"

#: (variant, label as in Greff et al. 2017)
VARIANTS = [
    ("greff", "V (vanilla, peepholes)"),
    ("keras", "NP (no peepholes; Keras default)"),
    ("nig", "NIG (no input gate)"),
    ("nfg", "NFG (no forget gate)"),
    ("nog", "NOG (no output gate)"),
    ("niaf", "NIAF (no input activation)"),
    ("noaf", "NOAF (no output activation)"),
    ("cifg", "CIFG (coupled input-forget gate)"),
    ("fgr", "FGR (full gate recurrence)"),
    ("1997", "1997 (Hochreiter & Schmidhuber)"),
]

PAPER = {
    "greff": "reference",
    "keras": "about as good as V",
    "nig": "about as good as V",
    "nfg": "significantly worse",
    "nog": "worse",
    "niaf": "worse",
    "noaf": "significantly worse",
    "cifg": "about as good as V",
    "fgr": "about as good as V",
    "1997": "(not in the study; no forget gate as NFG)",
}


def load_rolls(path: str | Path) -> dict[str, list[np.ndarray]]:
    """The piano rolls `{"train", "valid", "test"}` -> list of `(T, 88)` float32 arrays."""
    try:
        from gated.data.datasets import load_jsb_chorales
    except ImportError:  # an older gated without the loader: parse the JSON here
        load_jsb_chorales = None
    if load_jsb_chorales is not None:
        return load_jsb_chorales(path)
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    rolls = {}
    for split in ("train", "valid", "test"):
        rolls[split] = []
        for chorale in raw[split]:
            roll = np.zeros((len(chorale), KEYS), np.float32)
            for t, pitches in enumerate(chorale):
                roll[t, [int(p) - LOWEST_PITCH for p in pitches]] = 1.0
            rolls[split].append(roll)
    return rolls


def batch(rolls: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs `(n, T, 88)`, targets `(n, T, 88)` (the next frames) and frame weights `(n, T)`
    (0 on padding; padding sits at the end, so a causal RNN's outputs do not depend on it)."""
    steps = max(len(r) for r in rolls) - 1
    x = np.zeros((len(rolls), steps, KEYS), np.float32)
    y = np.zeros_like(x)
    w = np.zeros((len(rolls), steps), np.float32)
    for k, r in enumerate(rolls):
        x[k, :len(r) - 1] = r[:-1]
        y[k, :len(r) - 1] = r[1:]
        w[k, :len(r) - 1] = 1.0
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(w)


def frame_nll(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Sum over the 88 units of the binary cross-entropy, averaged over the weighted frames."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
    return (bce.sum(-1) * w).sum() / w.sum()


def marginal_baseline(rolls: dict[str, list[np.ndarray]]) -> float:
    """Test NLL of a model without memory: every key on with its training-set frequency."""
    train = np.concatenate(rolls["train"])
    p = np.clip(train.mean(0), 1e-4, 1 - 1e-4)
    test = np.concatenate([r[1:] for r in rolls["test"]])
    return float(-(test * np.log(p) + (1 - test) * np.log(1 - p)).sum(1).mean())


def build_model(variant: str, units: int, engine: str = "auto") -> Sequential:
    """LSTM -> Dense(88) logits (the sigmoid is inside the loss, for numerical safety)."""
    model = Sequential([
        LSTM(units, variant=variant, return_sequences=True, input_shape=(None, KEYS),
             engine=engine),
        Dense(KEYS),
    ])
    model.build((None, None, KEYS))
    return model


def evaluate(model: Sequential, data: tuple) -> float:
    model.eval()
    with torch.no_grad():
        return float(frame_nll(model(data[0]), data[1], data[2]))


def train(variant: str, rolls: dict, units: int = 64, epochs: int = 60, batch_size: int = 16,
          learning_rate: float = 1e-2, seed: int = 0, verbose: bool = True,
          engine: str = "auto", return_model: bool = False) -> dict:
    """Train one variant; returns the test NLL at the epoch of best validation NLL (and, with
    `return_model`, the model holding that epoch's weights as `"model"`)."""
    setup(seed)
    rng = random.Random(seed)
    model = build_model(variant, units, engine)
    optimizer = Adam(learning_rate=learning_rate, clipnorm=1.0)
    optimizer.build([p for p in model.parameters() if p.requires_grad])
    valid, test = batch(rolls["valid"]), batch(rolls["test"])
    # batches of chorales of similar length (less padding), in a new random order each epoch
    order = sorted(range(len(rolls["train"])), key=lambda k: len(rolls["train"][k]))
    groups = [order[k:k + batch_size] for k in range(0, len(order), batch_size)]
    batches = [batch([rolls["train"][k] for k in g]) for g in groups]
    best = {"valid": float("inf"), "test": float("inf"), "epoch": 0}
    with Timer() as timer:
        for epoch in range(1, epochs + 1):
            model.train()
            total, frames = 0.0, 0.0
            for k in rng.sample(range(len(batches)), len(batches)):
                x, y, w = batches[k]
                loss = frame_nll(model(x, training=True), y, w)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * float(w.sum())
                frames += float(w.sum())
            val = evaluate(model, valid)
            if val < best["valid"]:
                best = {"valid": val, "test": evaluate(model, test), "epoch": epoch}
                if return_model:
                    best_state = {k: v.clone() for k, v in model.state_dict().items()}
            if verbose and (epoch % 10 == 0 or epoch == epochs):
                print(f"  {variant:>6} seed {seed} epoch {epoch:3d}  train {total / frames:.3f}"
                      f"  valid {val:.3f}  (best valid {best['valid']:.3f} at epoch "
                      f"{best['epoch']}, test {best['test']:.3f})  {timer.elapsed:.0f}s",
                      flush=True)
    best["seconds"] = timer.seconds
    best["parameters"] = sum(p.numel() for p in model.parameters())
    if return_model:
        model.load_state_dict(best_state)
        best["model"] = model
    return best


def table(results: dict, seeds: list[int]) -> str:
    """Markdown table: test NLL per variant (mean over seeds), next to the paper."""
    reference = "greff" if "greff" in results else next(iter(results))
    base = np.mean(results[reference]["test"])
    lines = [
        f"| variant | parameters | test NLL (nats/frame) | vs. {reference} | valid NLL | "
        "best epoch | Greff et al. 2017 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for variant, label in VARIANTS:
        if variant not in results:
            continue
        r = results[variant]
        tests = ", ".join(f"{t:.3f}" for t in r["test"])
        mean = np.mean(r["test"])
        shown = f"{mean:.3f}" + (f" ({tests})" if len(seeds) > 1 else "")
        lines.append(
            f"| {label} | {r['parameters']:,} | {shown} | {mean - base:+.3f} | "
            f"{np.mean(r['valid']):.3f} | {', '.join(str(e) for e in r['epoch'])} | "
            f"{PAPER[variant]} |"
        )
    return "\n".join(lines)


def write_docs(text: str, docs: Path) -> None:
    """Replace what sits between the GREFF markers of `docs` with `text`."""
    start, end = "<!-- GREFF TABLE START -->", "<!-- GREFF TABLE END -->"
    content = docs.read_text(encoding="utf-8")
    if start not in content or end not in content:
        raise ValueError(f"{docs} lacks the markers {start} ... {end}.")
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    docs.write_text(f"{head}{start}\n{text}\n{end}{tail}", encoding="utf-8")


def run_experiment(data: str | Path, variants: list[str] | None = None, units: int = 64,
        epochs: int = 60, batch_size: int = 16, learning_rate: float = 1e-2,
        seeds: tuple[int, ...] = (0,), verbose: bool = True, engine: str = "auto") -> dict:
    """Train every variant with every seed; returns `{variant: {"test": [...], ...}}`."""
    rolls = load_rolls(data)
    results: dict[str, dict] = {}
    for variant in variants or [v for v, _ in VARIANTS]:
        for seed in seeds:
            r = train(variant, rolls, units, epochs, batch_size, learning_rate, seed, verbose,
                      engine)
            entry = results.setdefault(variant, {"test": [], "valid": [], "epoch": [],
                                                 "seconds": 0.0})
            entry["test"].append(r["test"])
            entry["valid"].append(r["valid"])
            entry["epoch"].append(r["epoch"])
            entry["seconds"] += r["seconds"]
            entry["parameters"] = r["parameters"]
            if verbose:
                print(f"{variant:>6} seed {seed}: test NLL {r['test']:.3f} (valid "
                      f"{r['valid']:.3f}, epoch {r['epoch']}), {r['seconds']:.0f}s", flush=True)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recipe's own options (`--quick`: at most 10 epochs; `--seed` is the first seed)."""
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seeds", type=int, default=1, help="number of seeds per variant")
    parser.add_argument("--variants", nargs="*", default=None,
                        help="subset of variants (default: all ten)")
    parser.add_argument("--engine", default="auto", help="recurrence engine (gated.engine)")
    parser.add_argument("--write-docs", metavar="FILE", default=None,
                        help="write the table between the markers of FILE (docs/science.md)")


def run(args: argparse.Namespace) -> dict:
    """Trains every variant on JSB chorales; returns the test NLLs and the verdict."""
    from gated.recipes import data_dir

    data = data_dir(args, "jsb_chorales", DATA_FILE) / DATA_FILE
    epochs = min(args.epochs, 10) if args.quick else args.epochs
    seeds = list(range(args.seed, args.seed + args.seeds))
    results = run_experiment(data, args.variants, args.units, epochs, args.batch_size, args.lr,
                             tuple(seeds), verbose=bool(args.verbose), engine=args.engine)
    text = table(results, seeds)
    print(text)
    if args.write_docs:
        write_docs(text, Path(args.write_docs))
    nll = {v: float(np.mean(r["test"])) for v, r in results.items()}
    baseline = marginal_baseline(load_rolls(data))
    print(f"memory-less baseline (each key on with its training frequency): {baseline:.3f}")
    passed = all(np.isfinite(v) and v < baseline for v in nll.values())
    order = sorted(nll, key=nll.get)
    verdict(passed, f"every variant trains to a test NLL below the memory-less baseline "
                    f"{baseline:.2f} (worst: {order[-1]} {nll[order[-1]]:.3f}); ranking best to "
                    f"worst: {', '.join(order)} (paper: NFG and NOAF hurt most)")
    return {"passed": passed, "baseline": baseline, "test_nll": nll, "results": results}
