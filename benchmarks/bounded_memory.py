"""Peak memory of `fit` on a series bigger than it should hold: a memory-mapped `.npy` series
windowed lazily by `timeseries_dataset_from_array` (windows of 512 steps), trained for a few
hundred batches, in a fresh process per case. Prints a table of resident memory (MiB).

    PYTHONPATH=src python benchmarks/bounded_memory.py --gib 1 --steps 200
    PYTHONPATH=src python benchmarks/bounded_memory.py --gib 10   # the issue's 10 GB series

Cases: `lazy`: the memmap goes straight to timeseries_dataset_from_array (windows made per
batch); `lazy, MADV_RANDOM`: the same without the kernel's read-ahead around each window;
`series in RAM` (only for --gib <= 2): the whole series read into memory first (np.load
without mmap), for comparison. Peak RSS is the process's `VmHWM`; it counts the file-backed
pages of the memmap that batches touched (the page cache, which the kernel can drop), shown
apart from anonymous memory at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

import numpy as np

FEATURES = 8
WINDOW = 512


def _child(path: str, case: str, steps: int) -> None:
    import torch

    from gated.data import timeseries_dataset_from_array
    from gated.layers import LSTM, Dense
    from gated.models import Sequential

    torch.manual_seed(0)
    series = np.load(path, mmap_mode="r")
    targets = series[WINDOW:, 0]
    model = Sequential([LSTM(16, input_shape=(WINDOW, FEATURES)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    if case == "series in RAM":
        series = np.load(path)  # the whole series in memory
        targets = series[WINDOW:, 0]
    elif case == "lazy, MADV_RANDOM":  # no read-ahead around each window's pages
        import mmap

        series._mmap.madvise(mmap.MADV_RANDOM)
    before = _high_water_mib()
    data = timeseries_dataset_from_array(series, targets, WINDOW, batch_size=32,
                                         shuffle=True, seed=0)
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    print(json.dumps({"before_mib": before, "peak_mib": _high_water_mib(),
                      "anon_mib": _status("RssAnon"), "file_mib": _status("RssFile")}))


def _status(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _high_water_mib() -> float:
    """Peak resident memory of this process (Linux `VmHWM`; ru_maxrss inherits the parent's
    value across fork + exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="series size in GiB")
    parser.add_argument("--steps", type=int, default=200, help="batches to train")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return
    length = int(args.gib * 2**30 / 4 / FEATURES)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "series.npy")
        series = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                           shape=(length, FEATURES))
        rng = np.random.default_rng(0)
        for start in range(0, length, 2**20):
            stop = min(start + 2**20, length)
            series[start:stop] = rng.normal(size=(stop - start, FEATURES))
        series.flush()
        del series
        cases = ["lazy", "lazy, MADV_RANDOM"] + (["series in RAM"] if args.gib <= 2 else [])
        print(f"series: {length} steps x {FEATURES} features, float32, {args.gib:g} GiB on "
              f"disk; windows of {WINDOW}; {args.steps} batches of 32")
        print(f"{'case':<18} {'RSS before fit':>15} {'peak RSS':>9} {'anon at end':>12} "
              f"{'file-backed at end':>19}   (MiB)")
        for case in cases:
            out = subprocess.run([sys.executable, __file__, "--child", path, case,
                                  str(args.steps)], capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{case:<18} failed: {out.stderr.strip().splitlines()[-1]}")
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{case:<18} {row['before_mib']:>15.0f} {row['peak_mib']:>9.0f} "
                  f"{row['anon_mib']:>12.0f} {row['file_mib']:>19.0f}")


if __name__ == "__main__":
    main()
