"""BackupAndRestore: a run killed with SIGKILL and started again ends bit-identical to an
uninterrupted run (shuffle and dropout on); atomic backups; Keras' argument checks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from gated.callbacks import BackupAndRestore

SCRIPT = Path(__file__).with_name("_resume_script.py")
SRC = str(Path(__file__).parents[1] / "src")


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}


def _run(backup: Path, out: Path, freq: str) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), str(backup), str(out), freq],
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def _run_killed(backup: Path, out: Path, freq: str, kill_at: int) -> None:
    """Start the script and SIGKILL it right after its `kill_at`-th backup is written."""
    child = subprocess.Popen([sys.executable, str(SCRIPT), str(backup), str(out), freq],
                             env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:
            if line.strip() == f"SAVED {kill_at}":
                os.kill(child.pid, signal.SIGKILL)
                break
    finally:
        child.wait(timeout=300)
    assert child.returncode == -signal.SIGKILL
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize(("freq", "kill_at"), [("2", 2), ("epoch", 1)])
def test_killed_run_resumes_bit_identical(tmp_path, freq, kill_at):
    # freq 2 with 3 batches an epoch: the kill after the 2nd backup is mid-epoch (epoch 1,
    # batch 1 done), so the resumed run must redraw epoch 1's shuffle and skip one batch.
    _run(tmp_path / "clean", tmp_path / "clean.st", freq)
    _run_killed(tmp_path / "crash", tmp_path / "resumed.st", freq, kill_at)
    assert (tmp_path / "crash" / "latest.gated").exists()
    _run(tmp_path / "crash", tmp_path / "resumed.st", freq)
    clean, resumed = load_file(tmp_path / "clean.st"), load_file(tmp_path / "resumed.st")
    assert clean.keys() == resumed.keys()
    for key in clean:
        assert torch.equal(clean[key], resumed[key]), key
    assert not (tmp_path / "crash").exists()  # delete_checkpoint=True after success


def test_orphan_temp_file_of_a_killed_backup_is_removed(tmp_path):
    from gated.layers import Dense
    from gated.models import Sequential

    orphan = tmp_path / ".latest.gated.999999999.abc123.tmp"  # a kill inside a save leaves it
    orphan.write_bytes(b"half written")
    model = Sequential([Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0,
              callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)])
    assert not orphan.exists() and (tmp_path / "latest.gated").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_corrupt_latest_falls_back_to_previous(tmp_path):
    from gated.layers import Dense
    from gated.models import Sequential

    torch.manual_seed(0)
    model = Sequential([Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    backup = BackupAndRestore(tmp_path, save_freq=1, double_checkpoint=True,
                              delete_checkpoint=False)
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=[backup])
    assert (tmp_path / "latest.gated.bkp").exists()
    (tmp_path / "latest.gated").write_bytes(b"PK garbage")
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=[backup])
    # previous = after batch 0 of epoch 0: one more batch is trained, never the whole epoch
    assert int(model.optimizer.iterations) == 2
    (tmp_path / "latest.gated.bkp").write_bytes(b"junk")
    (tmp_path / "latest.gated").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"latest.gated"):
        model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=[backup])


@pytest.mark.parametrize("freq", [0, -1, "batch", True, 1.5])
def test_bad_save_freq(tmp_path, freq):
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore(tmp_path, save_freq=freq)


class _Interrupt(Exception):
    pass


def _fit_dense(tmp_path: Path, stop_after: int | None = None) -> list[np.ndarray]:
    """A seeded fit with shuffle and dropout; `stop_after` raises after that many batches
    (after BackupAndRestore has saved), as a crash would."""
    import random

    from gated.callbacks import Callback
    from gated.layers import Dense, Dropout
    from gated.models import Sequential

    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    data = np.random.default_rng(1)
    x, y = data.normal(size=(26, 4)).astype("float32"), data.normal(size=(26, 1)).astype(
        "float32")
    model = Sequential([Dense(8, activation="relu"), Dropout(0.4), Dropout(0.2, seed=3), Dense(1)])
    model.compile(optimizer="adam", loss="mse")

    class Crash(Callback):
        seen = 0

        def on_train_batch_end(self, batch, logs=None):
            Crash.seen += 1
            if stop_after is not None and Crash.seen == stop_after:
                raise _Interrupt

    model.fit(x, y, batch_size=4, epochs=3, verbose=0,
              callbacks=[BackupAndRestore(tmp_path, save_freq=3), Crash()])
    return model.get_weights()


@pytest.mark.parametrize("stop_after", [3, 7, 12])  # mid-epoch 0, epoch end, mid-epoch 1
def test_interrupted_fit_resumes_bit_identical_in_process(tmp_path, stop_after):
    clean = _fit_dense(tmp_path / "clean")
    with pytest.raises(_Interrupt):
        _fit_dense(tmp_path / "crash", stop_after=stop_after)
    resumed = _fit_dense(tmp_path / "crash")
    for a, b in zip(clean, resumed, strict=True):
        np.testing.assert_array_equal(a, b)
