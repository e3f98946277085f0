"""Keras 3's focal cross-entropies, categorical hinge and CTC in gated, against Keras'
numbers (values, gradients of CTC, sample weights, reductions)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras (Keras 3) is not installed")

import gated  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.skip("these tests need Keras on its torch backend", allow_module_level=True)

RNG = np.random.default_rng(0)
B, C = 6, 4
BIN_TRUE = RNG.integers(0, 2, (B, 3)).astype("float32")
BIN_PRED = RNG.uniform(0.02, 0.98, (B, 3)).astype("float32")
CAT_TRUE = np.eye(C, dtype="float32")[RNG.integers(0, C, B)]
CAT_PRED = RNG.uniform(0.05, 1, (B, C)).astype("float32")
CAT_PRED /= CAT_PRED.sum(-1, keepdims=True)
WEIGHT = RNG.uniform(size=(B,)).astype("float32")


def _value(loss, y_true, y_pred, weighted):
    out = loss(y_true, torch.tensor(y_pred), sample_weight=WEIGHT if weighted else None)
    return np.asarray(out.detach().cpu() if hasattr(out, "detach") else out, dtype="float64")


CASES = [
    ("BinaryFocalCrossentropy", {}, "bin"),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5},
     "bin"),
    ("BinaryFocalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "bin"),
    ("CategoricalFocalCrossentropy", {}, "cat"),
    ("CategoricalFocalCrossentropy", {"alpha": 0.5, "gamma": 0.5, "label_smoothing": 0.2},
     "cat"),
    ("CategoricalFocalCrossentropy", {"from_logits": True}, "cat"),
    ("CategoricalHinge", {}, "cat"), ("CategoricalHinge", {"reduction": "sum"}, "cat"),
    ("CategoricalHinge", {"reduction": "none"}, "cat"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name,kwargs,kind", CASES, ids=lambda v: str(v))
def test_loss_equals_keras(name, kwargs, kind, weighted):
    y_true, y_pred = (BIN_TRUE, BIN_PRED) if kind == "bin" else (CAT_TRUE, CAT_PRED)
    if kwargs.get("from_logits"):
        y_pred = np.log(y_pred) * 2.0
    ours = _value(getattr(gated.losses, name)(**kwargs), y_true, y_pred, weighted)
    theirs = _value(getattr(keras.losses, name)(**kwargs), y_true, y_pred, weighted)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def test_ctc_equals_keras_values_and_gradients():
    labels = np.array([[1, 2, 2, 0], [3, 1, 0, 0], [2, 0, 0, 0]])
    logits = RNG.normal(size=(3, 9, 5)).astype("float32")
    ours_in = torch.tensor(logits, requires_grad=True)
    theirs_in = torch.tensor(logits, requires_grad=True)
    ours = gated.losses.CTC()(labels, ours_in)
    theirs = keras.losses.CTC()(torch.tensor(labels), theirs_in)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(ours_in.grad.numpy(), theirs_in.grad.cpu().numpy(), atol=1e-6)
    per_sample = gated.losses.ctc(labels, torch.tensor(logits))
    np.testing.assert_allclose(per_sample.numpy(), np.asarray(
        keras.losses.ctc(torch.tensor(labels), torch.tensor(logits)).cpu()), rtol=1e-5)
    with pytest.raises(ValueError, match="y_pred"):
        gated.losses.ctc(labels, torch.zeros(3, 9))


def test_names_resolve_and_round_trip():
    for name in ("ctc", "categorical_hinge", "binary_focal_crossentropy",
                 "categorical_focal_crossentropy", "CTC", "BinaryFocalCrossentropy"):
        loss = gated.losses.get(name)
        theirs = keras.losses.get(name)  # Keras gives the function for a lower-case name
        assert type(loss).__name__ == (type(theirs).__name__ if name[0].isupper() else
                                       {"ctc": "CTC"}.get(name, type(loss).__name__))
        assert loss.name == (theirs.name if name[0].isupper() else theirs.__name__)
        back = gated.losses.deserialize(gated.losses.serialize(loss))
        assert type(back) is type(loss) and back.get_config() == loss.get_config()
