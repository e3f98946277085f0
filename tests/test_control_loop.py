"""The real-time control recipe, tiny: the three runtimes run the same controller (equal
closed-loop errors), the plant and the expert behave as their equations say."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from gated.recipes import control_loop


def test_pendulum_follows_its_equation_and_the_expert_holds_a_reference():
    rng = np.random.default_rng(0)
    plant = control_loop.Pendulum(0.01, rng, noise=0.0)
    plant.theta, plant.omega = 0.3, 0.0
    plant.step(0.0)  # from rest: the first substeps accelerate by -(g/l) sin θ
    assert plant.omega < 0 and abs(plant.omega + 0.01 * 9.81 * np.sin(0.3)) < 2e-3
    for _ in range(500):  # the expert (true state) settles at the reference
        plant.step(control_loop.expert(plant.theta, plant.omega, 0.7))
    assert abs(plant.theta - 0.7) < 1e-3 and abs(plant.omega) < 1e-3


@pytest.mark.slow  # ~10 s: trains, exports and runs three real-time loops
def test_three_runtimes_close_the_same_loop(capsys):
    args = argparse.Namespace(rate=100.0, noise=0.03, seconds=0.3, epochs=1, runs=8, seed=0,
                              quick=True, verbose=0, data=None, output=None)
    numbers = control_loop.run(args)
    results = numbers["results"]
    learned = [v["rms_error"] for k, v in results.items() if k.startswith("LSTM")]
    assert len(learned) >= 2
    np.testing.assert_allclose(learned, learned[0], rtol=1e-4)
    assert results["no control"]["rms_error"] > results["expert (true state)"]["rms_error"]
    assert "p99 us" in capsys.readouterr().out
