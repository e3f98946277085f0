"""Keras 3's confusion-matrix, top-k and loss-valued metrics in gated, against Keras' numbers
on the same batches (several batches, sample weights, thresholds)."""

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
BIN_TRUE = [RNG.integers(0, 2, (8, 1)).astype("float32") for _ in range(3)]
BIN_PRED = [RNG.uniform(size=(8, 1)).astype("float32") for _ in range(3)]
WEIGHTS = [RNG.uniform(size=(8,)).astype("float32") for _ in range(3)]
C = 5
CAT_LABELS = [RNG.integers(0, C, (8,)) for _ in range(3)]
CAT_TRUE = [np.eye(C, dtype="float32")[y] for y in CAT_LABELS]
CAT_PRED = [(lambda z: (z / z.sum(-1, keepdims=True)).astype("float32"))(
    RNG.uniform(0.01, 1, size=(8, C))) for _ in range(3)]


def _run(metric, batches, weighted):
    for i, (t, p) in enumerate(batches):
        metric.update_state(t, p, sample_weight=WEIGHTS[i] if weighted else None)
    value = metric.result()
    return np.asarray(value.cpu() if hasattr(value, "cpu") else value, dtype="float64")


BINARY = [
    ("TruePositives", {}), ("FalsePositives", {"thresholds": 0.3}), ("TrueNegatives", {}),
    ("FalseNegatives", {"thresholds": [0.2, 0.7]}), ("Precision", {}),
    ("Precision", {"thresholds": [0.1, 0.5, 0.9]}), ("Recall", {}), ("Recall", {"thresholds": 0.8}),
    ("AUC", {}), ("AUC", {"num_thresholds": 7}), ("AUC", {"curve": "PR"}),
    ("AUC", {"summation_method": "minoring"}), ("AUC", {"curve": "PR",
                                                       "summation_method": "majoring"}),
    ("AUC", {"thresholds": [0.25, 0.5, 0.75]}), ("BinaryCrossentropy", {}),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}), ("Hinge", {}), ("SquaredHinge", {}),
    ("Poisson", {}), ("LogCoshError", {}), ("MeanSquaredLogarithmicError", {}),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name,kwargs", BINARY, ids=lambda v: str(v))
def test_binary_metric_equals_keras(name, kwargs, weighted):
    batches = list(zip(BIN_TRUE, BIN_PRED, strict=True))
    ours = _run(getattr(gated.metrics, name)(**kwargs), batches, weighted)
    theirs = _run(getattr(keras.metrics, name)(**kwargs), batches, weighted)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


CATEGORICAL = [
    ("TopKCategoricalAccuracy", {}), ("TopKCategoricalAccuracy", {"k": 2}),
    ("CategoricalCrossentropy", {}), ("KLDivergence", {}), ("CategoricalHinge", {}),
    ("CosineSimilarity", {}), ("Precision", {"class_id": 2}), ("Recall", {"top_k": 2}),
    ("Precision", {"top_k": 1}),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name,kwargs", CATEGORICAL, ids=lambda v: str(v))
def test_categorical_metric_equals_keras(name, kwargs, weighted):
    batches = list(zip(CAT_TRUE, CAT_PRED, strict=True))
    ours = _run(getattr(gated.metrics, name)(**kwargs), batches, weighted)
    theirs = _run(getattr(keras.metrics, name)(**kwargs), batches, weighted)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name,kwargs", [
    ("SparseTopKCategoricalAccuracy", {}), ("SparseTopKCategoricalAccuracy", {"k": 1}),
    ("SparseCategoricalCrossentropy", {}),
], ids=lambda v: str(v))
def test_sparse_metric_equals_keras(name, kwargs, weighted):
    batches = list(zip(CAT_LABELS, CAT_PRED, strict=True))
    ours = _run(getattr(gated.metrics, name)(**kwargs), batches, weighted)
    theirs = _run(getattr(keras.metrics, name)(**kwargs), batches, weighted)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_sum_and_logits_auc_equal_keras():
    ours, theirs = gated.metrics.Sum(), keras.metrics.Sum()
    for values in ([1.0, 2.0], [3.5]):
        ours.update_state(values)
        theirs.update_state(values)
    assert ours.result() == pytest.approx(float(theirs.result()))
    logits = [p * 6 - 3 for p in BIN_PRED]
    batches = list(zip(BIN_TRUE, logits, strict=True))
    np.testing.assert_allclose(_run(gated.metrics.AUC(from_logits=True), batches, False),
                               _run(keras.metrics.AUC(from_logits=True), batches, False),
                               rtol=1e-5)


def test_names_and_compile_strings_equal_keras():
    for name in ("precision", "recall", "auc", "true_positives", "top_k_categorical_accuracy",
                 "sparse_top_k_categorical_accuracy", "AUC", "Precision", "TruePositives"):
        ours, theirs = gated.metrics.get(name), keras.metrics.get(name)
        assert type(ours).__name__ == type(theirs).__name__
        assert ours.name == theirs.name.rsplit("_", 1)[0] if theirs.name[-1].isdigit() \
            else ours.name == theirs.name
    with pytest.raises(ValueError, match="thresholds"):
        gated.metrics.Precision(thresholds=1.5)
    with pytest.raises(ValueError, match="curve"):
        gated.metrics.AUC(curve="XY")


def test_fit_logs_precision_recall_auc():
    x = RNG.normal(size=(32, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = gated.Sequential([gated.Input((3,)), gated.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy",
                  metrics=["precision", gated.metrics.Recall(), gated.metrics.AUC()])
    logs = model.fit(x, y, epochs=1, verbose=0).history
    assert {"precision", "recall", "auc"} <= set(logs)
    pred = model.predict(x, verbose=0)
    m = keras.metrics.AUC()
    m.update_state(y, pred)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["auc"] == \
        pytest.approx(float(m.result()), rel=1e-5)


@pytest.mark.parametrize("name", ["binary_crossentropy", "mean_squared_error", "kl_divergence",
                                  "categorical_hinge", "top_k_categorical_accuracy"])
def test_metric_functions_equal_keras(name):
    y_true, y_pred = (BIN_TRUE[0], BIN_PRED[0]) if name in ("binary_crossentropy",
                                                            "mean_squared_error") \
        else (CAT_TRUE[0], CAT_PRED[0])
    kwargs = {"k": 2} if name.startswith("top_k") else {}
    ours = getattr(gated.metrics, name)(y_true, torch.tensor(y_pred), **kwargs)
    theirs = getattr(keras.metrics, name)(y_true, y_pred, **kwargs)
    np.testing.assert_allclose(ours.numpy(), np.asarray(theirs.cpu()), rtol=1e-5)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name,kwargs", [
    ("F1Score", {}), ("F1Score", {"average": "micro"}), ("F1Score", {"average": "macro"}),
    ("F1Score", {"average": "weighted", "threshold": 0.3}),
    ("FBetaScore", {"beta": 2.0, "average": "macro"}), ("FBetaScore", {"beta": 0.5}),
], ids=lambda v: str(v))
def test_f_scores_equal_keras(name, kwargs, weighted):
    batches = list(zip(CAT_TRUE, CAT_PRED, strict=True))
    ours = _run(getattr(gated.metrics, name)(**kwargs), batches, weighted)
    theirs = _run(getattr(keras.metrics, name)(**kwargs), batches, weighted)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kwargs", [
    {}, {"class_aggregation": None}, {"class_aggregation": "variance_weighted_average"},
    {"num_regressors": 2},
], ids=repr)
def test_r2_score_equals_keras(kwargs, weighted):
    y_true = [RNG.normal(size=(8, 3)).astype("float32") for _ in range(3)]
    y_pred = [t + RNG.normal(scale=0.5, size=t.shape).astype("float32") for t in y_true]
    batches = list(zip(y_true, y_pred, strict=True))
    ours = _run(gated.metrics.R2Score(**kwargs), batches, weighted)
    theirs = _run(keras.metrics.R2Score(**kwargs), batches, weighted)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="class_aggregation"):
        gated.metrics.R2Score(class_aggregation="median")
