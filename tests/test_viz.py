"""Tests of gated.viz.plots: real PNG files, atomic writes, clear errors."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from gated.viz.plots import plot_forecast, plot_gates, plot_history

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason='matplotlib is not installed (pip install "gated[plot]")',
)


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert len(data) > 1000
    assert data[:8] == PNG_SIGNATURE


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


class _History:  # stands in for the History returned by fit
    history = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.2, 0.7, 0.6], "mae": [0.9, 0.6, 0.5]}


@needs_matplotlib
def test_plot_history_writes_png(tmp_path):
    out = plot_history(_History(), tmp_path / "sub" / "history.png", title="run")
    assert out == tmp_path / "sub" / "history.png"
    _assert_png(out)
    _assert_png(plot_history({"loss": [0.5, 0.0]}, tmp_path / "dict.png"))  # a dict works too
    assert _leftovers(tmp_path) == []


@needs_matplotlib
def test_plot_forecast_writes_png(tmp_path):
    index = np.arange(1900, 2000)
    actual = np.sin(np.arange(100) / 5.0)
    predictions = {"model": actual[-30:] + 0.1, "naive": actual[-31:-1], "full": actual}
    out = plot_forecast(index, actual, predictions, tmp_path / "f.png", split_index=70)
    _assert_png(out)
    assert _leftovers(tmp_path) == []


@needs_matplotlib
def test_plot_gates_writes_png(tmp_path):
    rng = np.random.default_rng(0)
    activations = {"forget gate": rng.random((40, 8)), "cell state": rng.normal(size=(40, 8))}
    _assert_png(plot_gates(activations, tmp_path / "gates.png", title="LSTM gates"))


@needs_matplotlib
def test_failed_plot_leaves_no_partial_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    target = tmp_path / "history.png"
    target.write_bytes(b"previous content")

    def broken_savefig(self, handle, **kwargs):
        handle.write(PNG_SIGNATURE + b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        plot_history(_History(), target)
    with pytest.raises(OSError, match="disk full"):
        plot_forecast([0, 1, 2], [1, 2, 3], {"m": [2]}, tmp_path / "new.png")
    assert target.read_bytes() == b"previous content"  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.png"]  # no temp, no new.png


@needs_matplotlib
def test_bad_inputs_raise_before_writing(tmp_path):
    with pytest.raises(ValueError, match="empty history"):
        plot_history({"loss": []}, tmp_path / "a.png")
    with pytest.raises(TypeError, match="history"):
        plot_history([1, 2, 3], tmp_path / "a.png")
    with pytest.raises(ValueError, match="same length"):
        plot_forecast([0, 1], [1, 2, 3], {}, tmp_path / "b.png")
    with pytest.raises(ValueError, match=r"predictions\['m'\]"):
        plot_forecast([0, 1], [1, 2], {"m": [1, 2, 3]}, tmp_path / "b.png")
    with pytest.raises(ValueError, match="split_index"):
        plot_forecast([0, 1], [1, 2], {}, tmp_path / "b.png", split_index=5)
    with pytest.raises(ValueError, match=r"activations\['g'\].*\(5,\)"):
        plot_gates({"g": np.zeros(5)}, tmp_path / "c.png")
    assert list(tmp_path.iterdir()) == []


def test_missing_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=r'pip install "gated\[plot\]"'):
        plot_history({"loss": [1.0]}, tmp_path / "h.png")
    assert list(tmp_path.iterdir()) == []
