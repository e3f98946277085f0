"""The application recipes at their `--quick` budget (slow: `pytest -m slow`).

Each asserts that the quick number is far better than chance or the naive baseline; the full
runs' numbers are in docs/applications.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gated.recipes import run_recipe

DATA = Path(__file__).parents[1].parent / "shared" / "data"


def _quick(name: str, subfolder: str, tmp_path: Path, *extra: str) -> dict:
    if not (DATA / subfolder).is_dir():
        pytest.skip(f"{subfolder} not found under {DATA} (see shared/data/README.md)")
    return run_recipe(name, ["--quick", "--quiet", "--data", str(DATA), "--output",
                             str(tmp_path), *extra])


@pytest.mark.slow
def test_sensor_activity_beats_nearest_neighbour(tmp_path):
    numbers = _quick("sensor-activity", "basicmotions", tmp_path)
    assert numbers["test_accuracy"] >= 0.85 > numbers["nn_euclidean_series_znorm"], numbers


@pytest.mark.slow
def test_handwriting_pendigits_far_above_chance(tmp_path):
    numbers = _quick("handwriting-pendigits", "pendigits", tmp_path)
    assert numbers["test_accuracy"] >= 0.8, numbers  # chance: 0.1
    assert numbers["nn_resampled"] > 0.97, numbers   # the published k-NN figure, rebuilt
