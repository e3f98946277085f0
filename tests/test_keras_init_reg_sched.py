"""`gated.initializers`, `gated.regularizers` and the new learning-rate schedules against
Keras 3 (configs, exact values where deterministic, moments and bounds where random)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras (Keras 3) is not installed")

from gated import initializers, regularizers  # noqa: E402
from gated.optimizers import schedules  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.skip("these tests need Keras on its torch backend", allow_module_level=True)

SHAPE = (300, 200)
RANDOM = [
    ("GlorotUniform", {}), ("GlorotNormal", {}), ("HeUniform", {}), ("HeNormal", {}),
    ("LecunUniform", {}), ("LecunNormal", {}), ("RandomUniform", {"minval": -0.2, "maxval": 0.4}),
    ("RandomNormal", {"mean": 0.5, "stddev": 0.1}), ("TruncatedNormal", {"stddev": 0.2}),
    ("VarianceScaling", {"scale": 3.0, "mode": "fan_out", "distribution": "uniform"}),
    ("VarianceScaling", {"scale": 0.5, "mode": "fan_avg",
                         "distribution": "untruncated_normal"}),
    ("Orthogonal", {"gain": 2.0}),
]


@pytest.mark.parametrize("name,kwargs", RANDOM, ids=lambda v: str(v))
def test_random_initializer_matches_keras_statistics_and_config(name, kwargs):
    ours = getattr(initializers, name)(seed=3, **kwargs)
    theirs = getattr(keras.initializers, name)(seed=3, **kwargs)
    a = ours(SHAPE).numpy().astype("float64")
    b = np.asarray(theirs(SHAPE).cpu(), dtype="float64")
    assert a.shape == b.shape and ours(SHAPE).dtype == torch.float32
    assert abs(a.mean() - b.mean()) < 0.05 * max(b.std(), 1e-3) + 1e-3
    assert a.std() == pytest.approx(b.std(), rel=0.02)
    assert a.min() >= b.min() - 0.1 * b.std() and a.max() <= b.max() + 0.1 * b.std()
    assert ours.get_config() == theirs.get_config()
    # Keras 3: a seeded initializer gives the same values at every call
    assert torch.equal(ours(SHAPE), ours(SHAPE))
    assert np.array_equal(np.asarray(theirs(SHAPE).cpu()), np.asarray(theirs(SHAPE).cpu()))


def test_deterministic_initializers_equal_keras():
    for ours, theirs in ((initializers.Identity(gain=2.0), keras.initializers.Identity(2.0)),
                         (initializers.Constant(0.3), keras.initializers.Constant(0.3)),
                         (initializers.Zeros(), keras.initializers.Zeros()),
                         (initializers.Ones(), keras.initializers.Ones())):
        np.testing.assert_array_equal(ours((3, 4)).numpy(), np.asarray(theirs((3, 4)).cpu()))
    assert initializers.get("lecun_normal").__class__ is initializers.LecunNormal
    assert initializers.glorot_uniform is initializers.GlorotUniform
    t = torch.empty(4, 3)
    assert initializers.Ones()(t) is t and bool((t == 1).all())  # the in-place form
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(TypeError, match="seed"):
        initializers.GlorotUniform(seed=1.5)


W = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.2, -0.3], [0.0, 0.7, 0.9], [-2.0, 1.0, 0.1]])


@pytest.mark.parametrize("name,kwargs", [
    ("L1", {}), ("L1", {"l1": 0.3}), ("L2", {}), ("L2", {"l2": 0.2}),
    ("L1L2", {"l1": 0.1, "l2": 0.05}), ("OrthogonalRegularizer", {}),
    ("OrthogonalRegularizer", {"factor": 0.5, "mode": "columns"}),
], ids=lambda v: str(v))
def test_regularizer_equals_keras(name, kwargs):
    ours = getattr(regularizers, name)(**kwargs)
    theirs = getattr(keras.regularizers, name)(**kwargs)
    assert float(ours(W)) == pytest.approx(float(theirs(W)), rel=1e-6)
    assert ours.get_config() == pytest.approx(theirs.get_config())
    back = regularizers.deserialize(regularizers.serialize(ours))
    assert type(back) is type(ours) and float(back(W)) == float(ours(W))


def test_regularizer_names_and_errors():
    assert regularizers.l2 is regularizers.L2 and regularizers.l1_l2 is regularizers.L1L2
    assert float(regularizers.l2(0.01)(W)) == pytest.approx(
        float(keras.regularizers.l2(0.01)(W)))
    assert isinstance(regularizers.get("l2"), regularizers.L2)
    with pytest.raises(ValueError, match="l2"):
        regularizers.L2(-1.0)
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")


@pytest.mark.parametrize("name,kwargs", [
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 10}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7,
                         "end_learning_rate": 0.01, "power": 2.0}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "power": 0.5,
                         "cycle": True}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 5}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.2, "first_decay_steps": 4,
                             "t_mul": 1.0, "m_mul": 0.5, "alpha": 0.1}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.2, "first_decay_steps": 3,
                             "t_mul": 1.5, "m_mul": 0.9}),
], ids=lambda v: str(v))
def test_schedule_equals_keras(name, kwargs):
    ours = getattr(schedules, name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    for step in range(0, 40):
        assert ours(step) == pytest.approx(float(theirs(step)), rel=1e-5, abs=1e-7), step
    assert ours.get_config() == pytest.approx(theirs.get_config())
    assert schedules.deserialize(schedules.serialize(ours)).get_config() == ours.get_config()


def test_optimizer_saves_a_new_schedule_in_its_config():
    from gated import optimizers

    opt = optimizers.SGD(learning_rate=schedules.PolynomialDecay(0.1, 10, power=2.0))
    config = opt.get_config()
    assert config["learning_rate"]["class_name"] == "PolynomialDecay"
    again = optimizers.SGD.from_config(config)
    assert again.get_config() == config
