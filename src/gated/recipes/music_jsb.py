"""Polyphonic music on Bach's chorales (JSB, quarter notes): frame-level test NLL of an LSTM,
and new chorales sampled from it, written as MIDI files.

Data: `jsb_chorales/jsb-chorales-quarter.json` of the shared data (229/76/77 chorales, the
Boulanger-Lewandowski 2012 split), 88-key piano rolls. Model: `LSTM(units,
return_sequences=True) -> Dense(88)` on the previous frame, 88 independent Bernoulli outputs
(trained and evaluated as in the greff-variants recipe: the frame NLL is the sum over keys of
the binary cross-entropy, averaged over the predicted frames; the weights of the epoch with
the best validation NLL are kept). Baselines in the same run: a memory-less model (each key
on with its training frequency). Published anchor: LSTMs around 8.5 nats per frame
(Boulanger-Lewandowski et al. 2012 report RNN 8.71 and RNN-RBM 7.27 on this split).

Generation: the first `--prompt` frames of a test chorale, then frames sampled one at a time
from the model's Bernoulli outputs (`--temperature` scales the logits), each frame a quarter
note at 100 bpm; consecutive frames that hold the same key are tied. Written with `mido`
(`pip install "gated[music]"`) as `<output>/chorale_<k>.mid`.

Command (2-core CPU, torch 2.13):

    gated example music-jsb --data ../shared/data             # 128 units, 60 epochs
    gated example music-jsb --data ../shared/data --quick     # 64 units, 25 epochs

Numbers reached: see docs/applications.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

LOWEST_PITCH = 21
TICKS_PER_BEAT = 480


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recipe's own options."""
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--samples", type=int, default=3, help="chorales to generate")
    parser.add_argument("--prompt", type=int, default=8, help="frames of a test chorale given")
    parser.add_argument("--length", type=int, default=48, help="frames in a generated chorale")
    parser.add_argument("--temperature", type=float, default=1.0)


def sample_chorale(model, prompt: np.ndarray, length: int, temperature: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Continues `prompt` (frames, 88) to `length` frames by sampling the model's outputs."""
    import torch

    if temperature <= 0:
        raise ValueError(f"`temperature` must be > 0; received {temperature!r}.")
    frames = [f for f in prompt.astype(np.float32)]
    model.eval()
    with torch.no_grad():
        while len(frames) < length:
            logits = model(torch.from_numpy(np.stack(frames)[None]))[0, -1].numpy()
            probability = 1.0 / (1.0 + np.exp(-logits / temperature))
            frames.append((rng.random(probability.shape) < probability).astype(np.float32))
    return np.stack(frames)


def write_midi(roll: np.ndarray, path: str | Path, bpm: int = 100) -> Path:
    """Writes a piano roll (frames, 88) as a one-track MIDI file, one quarter note per frame,
    tying a key held over consecutive frames; atomically."""
    import mido

    from gated.models.saving import atomic_write

    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    padded = np.vstack([np.zeros((1, roll.shape[1])), roll, np.zeros((1, roll.shape[1]))])
    pending = 0
    for t in range(1, len(padded)):
        starts = np.flatnonzero((padded[t] > 0) & (padded[t - 1] == 0))
        stops = np.flatnonzero((padded[t] == 0) & (padded[t - 1] > 0))
        for keys, kind in ((stops, "note_off"), (starts, "note_on")):
            for key in keys:
                track.append(mido.Message(kind, note=int(key) + LOWEST_PITCH, velocity=64,
                                          time=pending))
                pending = 0
        pending += TICKS_PER_BEAT
    midi = mido.MidiFile(ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    return atomic_write(path, lambda handle: midi.save(file=handle))


def run(args: argparse.Namespace) -> dict:
    """Trains the LSTM, prints its test NLL beside the baselines, writes sampled chorales."""
    from gated.recipes import data_dir
    from gated.recipes.greff_variants import DATA_FILE, load_rolls, marginal_baseline, train

    data = data_dir(args, "jsb_chorales", DATA_FILE) / DATA_FILE
    rolls = load_rolls(data)
    units = min(args.units, 64) if args.quick else args.units
    epochs = min(args.epochs, 25) if args.quick else args.epochs
    result = train("keras", rolls, units=units, epochs=epochs, learning_rate=args.lr,
                   seed=args.seed, verbose=bool(args.verbose), return_model=True)
    baseline = marginal_baseline(rolls)
    rng = np.random.default_rng(args.seed)
    files = []
    for k in range(args.samples):
        prompt = rolls["test"][k % len(rolls["test"])][: args.prompt]
        roll = sample_chorale(result["model"], prompt, args.length, args.temperature, rng)
        files.append(str(write_midi(roll, Path(args.output) / f"chorale_{k}.mid")))
    print(f"\nJSB chorales, frame-level test NLL (nats per frame), LSTM({units}), best of "
          f"{epochs} epochs at epoch {result['epoch']}, {result['seconds']:.0f} s")
    for name, value in (("LSTM (gated)", f"{result['test']:.3f}"),
                        ("memory-less baseline (this run)", f"{baseline:.3f}"),
                        ("LSTMs in the literature", "about 8.5"),
                        ("RNN / RNN-RBM (Boulanger-Lewandowski 2012)", "8.71 / 7.27")):
        print(f"  {name:44s} {value}")
    print("  generated:", ", ".join(files))
    return {"test_nll": result["test"], "valid_nll": result["valid"], "epoch": result["epoch"],
            "baseline_nll": baseline, "units": units, "epochs": epochs,
            "train_seconds": result["seconds"], "midi_files": files}
