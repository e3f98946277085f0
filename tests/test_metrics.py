"""Stateful metrics checked against NumPy over several batches, and Keras name resolution."""

import math

import numpy as np
import pytest
import torch

from gated import losses, metrics

rng = np.random.default_rng(0)


def _batches():
    """Two batches of unequal size: the epoch value must weight samples, not batches."""
    y_true = rng.normal(size=(7, 2)) + 3.0
    y_pred = rng.normal(size=(7, 2)) + 3.0
    return y_true, y_pred, [(y_true[:5], y_pred[:5]), (y_true[5:], y_pred[5:])]


@pytest.mark.parametrize("name, truth", [
    ("mse", lambda t, p: np.mean((t - p) ** 2)),
    ("mae", lambda t, p: np.mean(np.abs(t - p))),
    ("rmse", lambda t, p: math.sqrt(np.mean((t - p) ** 2))),
    ("mape", lambda t, p: 100 * np.mean(np.abs((t - p) / t))),
])
def test_regression_metrics_accumulate_over_batches(name, truth):
    y_true, y_pred, batches = _batches()
    metric = metrics.get(name)
    for t, p in batches:
        metric.update_state(torch.tensor(t), torch.tensor(p))
    assert metric.result() == pytest.approx(truth(y_true, y_pred), rel=1e-10)
    assert metric.name == name
    metric.reset_state()
    assert metric.result() == 0.0


def test_accuracies_by_hand():
    assert metrics.BinaryAccuracy()([[1.0], [0.0], [1.0], [0.0]],
                                    [[0.7], [0.6], [0.2], [0.1]]) == pytest.approx(0.5)
    assert metrics.BinaryAccuracy(threshold=0.0)([1, 0], [[0.3], [-2.0]]) == 1.0
    onehot = np.eye(3)[[0, 1, 2]]
    probs = np.array([[0.8, 0.1, 0.1], [0.5, 0.4, 0.1], [0.1, 0.2, 0.7]])
    assert metrics.CategoricalAccuracy()(onehot, probs) == pytest.approx(2 / 3)
    assert metrics.SparseCategoricalAccuracy()([0, 1, 2], probs) == pytest.approx(2 / 3)
    assert metrics.SparseCategoricalAccuracy()([[0], [1], [2]], probs) == pytest.approx(2 / 3)
    assert metrics.Accuracy()([[1], [2], [3], [4]], [[1], [2], [0], [4]]) == pytest.approx(0.75)


def test_sample_weight_and_sequence_mask():
    m = metrics.MeanAbsoluteError()
    m.update_state([[0.0], [0.0]], [[1.0], [3.0]], sample_weight=[3.0, 1.0])
    assert m.result() == pytest.approx((3 * 1 + 1 * 3) / 4)
    # sequence: per-step errors |v|, mask keeps 3 of 6 steps
    seq = metrics.MeanAbsoluteError()
    y_pred = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])[..., None]
    mask = torch.tensor([[True, True, False], [True, False, False]])
    seq.update_state(torch.zeros(2, 3, 1), y_pred, mask=mask)
    assert seq.result() == pytest.approx((1 + 2 + 4) / 3)
    seq.update_state(torch.zeros(1, 3, 1), torch.full((1, 3, 1), 10.0),
                     mask=torch.tensor([[True, False, False]]))
    assert seq.result() == pytest.approx((1 + 2 + 4 + 10) / 4)
    acc = metrics.SparseCategoricalAccuracy()
    logits = torch.tensor([[[2.0, 0.0], [0.0, 2.0]], [[2.0, 0.0], [2.0, 0.0]]])
    acc.update_state([[0, 0], [1, 1]], logits, mask=[[True, True], [False, True]])
    assert acc.result() == pytest.approx(1 / 3)


def test_mean_tracks_a_batch_size_weighted_loss():
    m = metrics.Mean()
    m.update_state(2.0, sample_weight=32)
    m.update_state(4.0, sample_weight=8)
    assert m.result() == pytest.approx((2 * 32 + 4 * 8) / 40)
    m.update_state(torch.tensor([1.0, 3.0], requires_grad=True))
    assert m.result() == pytest.approx((64 + 32 + 4) / 42)


@pytest.mark.parametrize("loss, expected", [
    ("binary_crossentropy", metrics.BinaryAccuracy),
    (losses.BinaryCrossentropy(from_logits=True), metrics.BinaryAccuracy),
    ("sparse_categorical_crossentropy", metrics.SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy(from_logits=True), metrics.SparseCategoricalAccuracy),
    ("categorical_crossentropy", metrics.CategoricalAccuracy),
    (losses.binary_crossentropy, metrics.BinaryAccuracy),
])
def test_accuracy_resolves_from_the_loss_and_keeps_the_given_name(loss, expected):
    for name in ("accuracy", "acc"):
        metric = metrics.get(name, loss=loss)
        assert type(metric) is expected
        assert metric.name == name


def test_accuracy_resolves_from_output_shape_or_first_batch():
    assert type(metrics.get("accuracy", loss="mse", output_shape=(None, 1))) is \
        metrics.BinaryAccuracy
    inferred = metrics.get("accuracy")
    assert inferred.name == "accuracy"
    inferred.update_state([1, 0], torch.tensor([[0.1, 0.9, 0.0], [0.0, 0.0, 1.0]]))
    assert inferred.result() == pytest.approx(0.5)
    inferred.reset_state()
    assert inferred.result() == 0.0


def test_get_other_identifiers():
    assert metrics.get("mae").name == "mae"
    assert type(metrics.get("mean_absolute_error")) is metrics.MeanAbsoluteError
    assert type(metrics.get("RootMeanSquaredError")) is metrics.RootMeanSquaredError
    m = metrics.MeanSquaredError(name="my_mse")
    assert metrics.get(m) is m
    bce = metrics.get("binary_crossentropy")  # any loss name works as a metric
    bce.update_state([[1.0]], [[0.5]])
    assert bce.result() == pytest.approx(math.log(2))
    huber = metrics.get(losses.Huber(delta=0.5))
    assert huber.name == "huber_loss"
    huber.update_state([[0.0]], [[2.0]])
    assert huber.result() == pytest.approx(0.875)

    def max_error(y_true, y_pred):
        return (y_pred - y_true).abs().amax(dim=-1)

    custom = metrics.get(max_error)
    custom.update_state([[0.0, 0.0]], [[1.0, -3.0]])
    assert custom.name == "max_error" and custom.result() == 3.0


def test_unknown_metric_suggests_close_match_and_bad_type_names_argument():
    with pytest.raises(ValueError, match=r"Unknown metric 'acurracy'\. Did you mean 'accuracy'\?"):
        metrics.get("acurracy")
    with pytest.raises(TypeError, match=r"`metrics`.*float"):
        metrics.get(0.5)


def test_serialize_round_trip():
    rebuilt = metrics.deserialize(metrics.serialize(metrics.BinaryAccuracy(name="acc",
                                                                           threshold=0.2)))
    assert type(rebuilt) is metrics.BinaryAccuracy
    assert rebuilt.get_config() == {"name": "acc", "threshold": 0.2}
    inferred = metrics.deserialize(metrics.serialize(metrics.get("accuracy")))
    assert inferred.name == "accuracy"
