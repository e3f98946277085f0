"""Acceptance: Keras-style programs run with `import gated as keras` and match Keras 3.

Each program in `keras_programs.py` is written once as a function of a `keras` module. It
runs with `gated`; where Keras 3 is installed (torch backend) it runs again with Keras from
gated's initial weights (`set_weights`) on the same unshuffled batches, and the parameter
counts, the per-epoch losses (1e-4) and what else the program reports must agree.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from keras_programs import PROGRAMS

import gated

os.environ.setdefault("KERAS_BACKEND", "torch")
try:
    import keras
except ImportError:  # the programs still run with gated alone
    keras = None
if keras is not None and keras.backend.backend() != "torch":
    keras = None

TOL = 1e-4


def _gated_run(program):
    torch.manual_seed(0)
    return program(gated)


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program_runs_with_gated(program):
    result = _gated_run(program)
    losses = np.asarray(result["losses"], dtype=float)
    assert losses.size >= 2 and np.isfinite(losses).all()
    assert result["params"] == sum(w.size for w in result["weights"])


@pytest.mark.skipif(keras is None, reason="keras (Keras 3, torch backend) is not installed")
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program_matches_keras(program):
    ours = _gated_run(program)
    theirs = program(keras, init=ours["weights"])
    assert ours["params"] == theirs["params"]
    assert [w.shape for w in ours["weights"]] == [np.shape(w) for w in theirs["weights"]]
    np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=TOL, atol=TOL)
    for key in ours["history"]:
        np.testing.assert_allclose(ours["history"][key], theirs["history"][key], rtol=TOL,
                                   atol=TOL, err_msg=key)
    assert sorted(ours["history"]) == sorted(theirs["history"])
    for key in ("config_units", "predict_shape", "epochs_run"):
        if key in ours:
            assert ours[key] == theirs[key], key
    for key in ("predict", "evaluate"):
        if key in ours:
            np.testing.assert_allclose(ours[key], theirs[key], rtol=TOL, atol=TOL)
    theirs_final = [np.asarray(w) for w in theirs["model"].get_weights()]
    for a, b in zip(ours["model"].get_weights(), theirs_final, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
