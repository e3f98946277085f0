"""Data-parallel fit/evaluate/predict on torch.distributed: a 2-process gloo run launched by
torchrun equals one process with the same global batch; the sharding rule; the switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import gated
from gated.distribute.data_parallel import _bounds

SCRIPT = Path(__file__).with_name("_ddp_script.py")
SRC = str(Path(__file__).parents[1] / "src")


def _run(args: list[str], cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_torchrun_two_processes_equal_one(tmp_path):
    """3 epochs, shuffle, validation_split, a metric, a last batch of uneven shards."""
    _run([str(SCRIPT), "single"], tmp_path)
    _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(SCRIPT),
          "multi"], tmp_path)
    one = load_file(tmp_path / "single.weights.safetensors")
    two = load_file(tmp_path / "multi.weights.safetensors")
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(two[key], one[key], atol=1e-6, rtol=0)
    a = json.loads((tmp_path / "single.json").read_text())
    b = json.loads((tmp_path / "multi.json").read_text())
    for key, values in a["history"].items():  # epoch logs aggregated over both processes
        np.testing.assert_allclose(b["history"][key], values, rtol=1e-6)
    for key, value in a["evaluate"].items():
        assert b["evaluate"][key] == pytest.approx(value, rel=1e-6)
    np.testing.assert_allclose(b["predict"], a["predict"], atol=1e-6)  # gathered in order


@pytest.mark.slow
def test_torchrun_stateful_streams_equal_one_process(tmp_path):
    """Truncated BPTT with stateful=True: each process carries the states of its own block
    of streams from batch to batch; weights and predictions equal the one-process run."""
    _run([str(SCRIPT), "single", "stateful"], tmp_path)
    _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(SCRIPT),
          "multi", "stateful"], tmp_path)
    one = load_file(tmp_path / "single.weights.safetensors")
    two = load_file(tmp_path / "multi.weights.safetensors")
    for key in one:
        torch.testing.assert_close(two[key], one[key], atol=1e-6, rtol=0)
    a = json.loads((tmp_path / "single.json").read_text())
    b = json.loads((tmp_path / "multi.json").read_text())
    np.testing.assert_allclose(b["predict"], a["predict"], atol=1e-6)


def test_shards_are_contiguous_and_cover_the_batch():
    for n in range(2, 30):
        for parts in range(1, 5):
            pieces = [_bounds(n, parts, r) for r in range(parts)]
            assert pieces[0][0] == 0 and pieces[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))
            sizes = [hi - lo for lo, hi in pieces]
            assert max(sizes) - min(sizes) <= 1


def test_switch():
    assert gated.distribute.distribution() is None
    with pytest.raises(TypeError, match="set_distribution"):
        gated.distribute.set_distribution("data_parallel")
    with pytest.raises(ValueError, match="backend"):
        gated.distribute.DataParallel(backend="mpi")
    if not torch.distributed.is_initialized() and "WORLD_SIZE" not in os.environ:
        with pytest.raises(RuntimeError, match="torchrun"):
            gated.distribute.DataParallel()
