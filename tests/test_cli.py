"""Tests of the `gated` command: help, version, argument errors, and the demo end to end."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gated.cli import main

SRC = Path(__file__).parents[1] / "src"


def test_help_lists_the_demo(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: gated" in out and "demo" in out


def test_demo_help_lists_its_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--epochs", "--output", "--window", "--seed", "--quiet"):
        assert option in out


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("gated ")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["demo", "--epochs", "0"], ["--epochs", "positive integer"]),
        (["demo", "--epochs", "ten"], ["--epochs", "'ten'"]),
        (["demo", "--window", "1000"], ["window", "1000"]),
        (["demo", "--bogus"], ["unrecognized arguments", "--bogus"]),
        (["train"], ["invalid choice", "train"]),
    ],
)
def test_bad_arguments_exit_2_with_message_on_stderr(argv, words, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    for word in words:
        assert word in captured.err


def test_no_command_prints_help_and_returns_2(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "usage: gated" in err and "command is required" in err


def test_module_entry_point_runs_in_a_subprocess():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "gated.cli", "demo", "--window", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--window" in done.stderr and done.stdout == ""


def _require_models() -> None:
    for module in ("gated.models", "gated.layers", "gated.callbacks"):
        pytest.importorskip(module, reason=f"{module} is not available yet; the demo needs it")
    from gated.models import Sequential  # noqa: F401  (the API the demo uses)


def test_demo_end_to_end(tmp_path, capsys):
    _require_models()
    status = main(["demo", "--epochs", "2", "--output", str(tmp_path), "--quiet"])
    assert status == 0
    out = capsys.readouterr().out
    assert "naive" in out and "seasonal naive" in out and "LSTM" in out
    assert "best (lowest RMSE)" in out
    if importlib.util.find_spec("matplotlib") is not None:
        for name in ("forecast.png", "history.png"):
            data = (tmp_path / name).read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert str(tmp_path / "forecast.png") in out


def test_demo_results_and_baselines_against_hand_computation(tmp_path):
    _require_models()
    from gated.data.datasets import load_sunspots
    from gated.demo import run_demo

    results = run_demo(epochs=1, output_dir=tmp_path, window=11, verbose=0, report=False)
    assert results["test_years"] == (1969, 2008)
    _, values = load_sunspots()
    v = values.astype(np.float64)
    test = v[-40:]
    naive = v[-41:-1]  # last year's value
    seasonal = v[-51:-11]  # the value 11 years earlier
    metrics = results["metrics"]
    assert metrics["naive (last value)"]["mae"] == pytest.approx(np.mean(np.abs(test - naive)))
    assert metrics["naive (last value)"]["rmse"] == pytest.approx(
        np.sqrt(np.mean((test - naive) ** 2))
    )
    assert metrics["seasonal naive (11 y)"]["mae"] == pytest.approx(
        np.mean(np.abs(test - seasonal))
    )
    lstm = results["predictions"]["LSTM"]
    assert lstm.shape == (40,) and np.all(np.isfinite(lstm))
    assert results["best"] in metrics
    assert results["epochs_run"] == 1
