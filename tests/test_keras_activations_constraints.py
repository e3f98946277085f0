"""`gated.activations` functions and `gated.constraints` against Keras 3's numbers."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras (Keras 3) is not installed")

from gated import activations, constraints  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.skip("these tests need Keras on its torch backend", allow_module_level=True)

X = torch.linspace(-4.0, 4.0, 24).reshape(3, 8)

CALLS = [
    ("relu", {}), ("relu", {"negative_slope": 0.1}), ("relu", {"max_value": 2.0}),
    ("relu", {"max_value": 6.0}), ("relu", {"threshold": 1.0}),
    ("relu", {"negative_slope": 0.3, "max_value": 2.5, "threshold": -0.5}),
    ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.05}), ("relu6", {}),
    ("softmax", {}), ("softmax", {"axis": 0}), ("log_softmax", {}), ("elu", {}),
    ("elu", {"alpha": 0.5}), ("celu", {"alpha": 2.0}), ("selu", {}), ("gelu", {}),
    ("gelu", {"approximate": True}), ("glu", {}), ("glu", {"axis": 0}) if False else
    ("glu", {"axis": -1}), ("sigmoid", {}), ("tanh", {}), ("exponential", {}),
    ("softplus", {}), ("softsign", {}), ("silu", {}), ("swish", {}), ("hard_silu", {}),
    ("hard_swish", {}), ("hard_sigmoid", {}), ("log_sigmoid", {}), ("mish", {}),
    ("hard_tanh", {}), ("tanh_shrink", {}), ("soft_shrink", {}), ("soft_shrink",
                                                                  {"threshold": 1.5}),
    ("hard_shrink", {"threshold": 0.9}), ("threshold", {"threshold": 0.5,
                                                        "default_value": -2.0}),
    ("squareplus", {}), ("squareplus", {"b": 1}), ("sparse_plus", {}),
    ("sparse_sigmoid", {}), ("linear", {}),
]


@pytest.mark.parametrize("name,kwargs", CALLS, ids=lambda v: str(v))
def test_activation_equals_keras(name, kwargs):
    ours = getattr(activations, name)(X, **kwargs)
    theirs = getattr(keras.activations, name)(X, **kwargs)
    np.testing.assert_allclose(ours.numpy(), np.asarray(theirs.cpu()), rtol=1e-6, atol=1e-6)


def _sparsemax_by_bisection(row):
    """tau with sum(max(row - tau, 0)) = 1, found by bisection (independent of sorting)."""
    low, high = row.min() - 1.0, row.max()
    for _ in range(200):
        tau = (low + high) / 2
        low, high = (tau, high) if np.maximum(row - tau, 0).sum() > 1 else (low, tau)
    return np.maximum(row - (low + high) / 2, 0)


@pytest.mark.parametrize("axis", [-1, 0])
def test_sparsemax_is_the_simplex_projection(axis):
    # Keras 3.15's torch sparsemax sums the cumulative sums over the support instead of
    # taking the last one (its rows do not sum to 1), so the truth here is a bisection.
    x = X.double()
    ours = activations.sparsemax(x, axis=axis).numpy()
    expected = np.apply_along_axis(_sparsemax_by_bisection, axis, x.numpy())
    np.testing.assert_allclose(ours, expected, atol=1e-9)
    np.testing.assert_allclose(ours.sum(axis=axis), 1.0)


def test_every_keras_activation_name_is_covered():
    keras_names = {n for n in dir(keras.activations)
                   if not n.startswith("_") and callable(getattr(keras.activations, n))}
    missing = sorted(n for n in keras_names if not hasattr(activations, n))
    assert missing == []
    for name in keras_names - {"get", "serialize", "deserialize", "threshold"}:
        assert callable(activations.get(name)), name


def test_keras_functions_name_the_fused_table_entries():
    assert activations.name_of(activations.tanh) == "tanh"
    assert activations.serialize(activations.relu) == "relu"
    assert activations.deserialize("sigmoid") is activations.get("sigmoid")
    assert activations.deserialize({"class_name": "function", "config": "relu"}) is torch.relu


W = torch.tensor([[3.0, -0.1, 0.2], [4.0, 0.3, -2.0], [0.0, 0.1, 1.0]])

CONSTRAINTS = [
    ("MaxNorm", {}), ("MaxNorm", {"max_value": 1.0}), ("MaxNorm", {"max_value": 1.0, "axis": 1}),
    ("NonNeg", {}), ("UnitNorm", {}), ("UnitNorm", {"axis": 1}), ("MinMaxNorm", {}),
    ("MinMaxNorm", {"min_value": 0.5, "max_value": 2.0, "rate": 0.5}),
    ("MinMaxNorm", {"min_value": 1.0, "max_value": 3.0, "axis": 1}),
]


@pytest.mark.parametrize("name,kwargs", CONSTRAINTS, ids=lambda v: str(v))
def test_constraint_equals_keras(name, kwargs):
    ours = getattr(constraints, name)(**kwargs)
    theirs = getattr(keras.constraints, name)(**kwargs)
    np.testing.assert_allclose(ours(W).numpy(), np.asarray(theirs(W).cpu()), rtol=1e-6)
    assert ours.get_config() == theirs.get_config()
    back = constraints.deserialize(constraints.serialize(ours))
    assert type(back) is type(ours) and back.get_config() == ours.get_config()


def test_constraint_names_and_errors():
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert isinstance(constraints.get("NonNeg"), constraints.NonNeg)
    assert constraints.max_norm is constraints.MaxNorm
    with pytest.raises(ValueError, match="Unknown constraint"):
        constraints.get("max_nrom")
    with pytest.raises(ValueError, match="min_value"):
        constraints.MinMaxNorm(min_value=2.0, max_value=1.0)


def test_optimizer_applies_a_parameter_constraint_after_each_step():
    from gated import optimizers

    p = torch.nn.Parameter(torch.tensor([[3.0], [4.0]]))
    p.constraint = constraints.NonNeg()
    opt = optimizers.SGD(learning_rate=1.0)
    opt.build([p])
    p.grad = torch.tensor([[4.0], [1.0]])
    opt.step()
    assert p.detach().flatten().tolist() == [0.0, 3.0]  # 3-4 = -1 -> 0 ; 4-1 = 3
