"""Losses checked against torch.nn.functional, NumPy formulas and hand-computed numbers."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gated import losses
from gated.losses import EPSILON

torch.manual_seed(0)


def _rand(*shape, dtype=torch.float64):
    return torch.randn(*shape, dtype=dtype)


# ------------------------------------------------------------------- values vs independent truth
def test_mse_mae_huber_match_torch_functional():
    y_true, y_pred = _rand(5, 3), _rand(5, 3)
    torch.testing.assert_close(losses.MeanSquaredError()(y_true, y_pred),
                               F.mse_loss(y_pred, y_true))
    torch.testing.assert_close(losses.MeanAbsoluteError()(y_true, y_pred),
                               F.l1_loss(y_pred, y_true))
    for delta in (1.0, 0.3):
        torch.testing.assert_close(losses.Huber(delta=delta)(y_true, y_pred),
                                   F.huber_loss(y_pred, y_true, delta=delta))


def test_huber_hand_value():
    # |e| = 2 > delta = 0.5: 0.5 * 2 - 0.5 * 0.25 = 0.875
    assert float(losses.Huber(delta=0.5)([[0.0]], [[2.0]])) == pytest.approx(0.875)


def test_mape_hand_value():
    # |(2 - 1) / 2| = 0.5 and |(4 - 5) / 4| = 0.25 -> 100 * mean = 37.5
    assert float(losses.get("mape")([[2.0], [4.0]], [[1.0], [5.0]])) == pytest.approx(37.5)


def test_log_cosh_matches_direct_formula_and_is_stable():
    y_true, y_pred = _rand(4, 6), _rand(4, 6)
    expected = torch.log(torch.cosh(y_pred - y_true)).mean()
    torch.testing.assert_close(losses.LogCosh()(y_true, y_pred), expected)
    big = losses.LogCosh()(torch.zeros(1, 1), torch.full((1, 1), 1000.0))
    assert float(big) == pytest.approx(1000.0 - np.log(2.0))


def _bce_numpy(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_binary_crossentropy_probabilities_match_clipped_numpy():
    y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    p = np.array([[0.9, 0.2], [0.0, 1.0], [0.5, 1e-12]])  # includes values that get clipped
    value = losses.BinaryCrossentropy()(torch.tensor(y), torch.tensor(p))
    assert float(value) == pytest.approx(_bce_numpy(y, p), rel=1e-12)


def test_binary_crossentropy_logits_and_label_smoothing():
    y = torch.randint(0, 2, (6, 2)).double()
    logits = _rand(6, 2)
    torch.testing.assert_close(losses.BinaryCrossentropy(from_logits=True)(y, logits),
                               F.binary_cross_entropy_with_logits(logits, y))
    p = torch.sigmoid(logits)
    smoothed = y.numpy() * 0.8 + 0.5 * 0.2
    value = losses.BinaryCrossentropy(label_smoothing=0.2)(y, p)
    assert float(value) == pytest.approx(_bce_numpy(smoothed, p.numpy()), rel=1e-10)


def test_categorical_crossentropy_probabilities_normalised_and_clipped():
    y = np.eye(3)[[0, 2, 1]]
    raw = np.array([[2.0, 1.0, 1.0], [0.0, 1.0, 1.0], [1.0, 0.0, 3.0]])  # rows not normalised
    p = np.clip(raw / raw.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)
    expected = np.mean(-(y * np.log(p)).sum(-1))
    value = losses.CategoricalCrossentropy()(torch.tensor(y), torch.tensor(raw))
    assert float(value) == pytest.approx(expected, rel=1e-12)


def test_categorical_crossentropy_logits_and_smoothing_match_cross_entropy():
    labels = torch.tensor([0, 2, 1, 2])
    logits = _rand(4, 3)
    onehot = F.one_hot(labels, 3).double()
    torch.testing.assert_close(losses.CategoricalCrossentropy(from_logits=True)(onehot, logits),
                               F.cross_entropy(logits, labels))
    torch.testing.assert_close(
        losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(onehot, logits),
        F.cross_entropy(logits, labels, label_smoothing=0.1),
    )


def test_sparse_categorical_crossentropy_matches_cross_entropy():
    logits = _rand(8, 5)
    labels = torch.randint(0, 5, (8,))
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    torch.testing.assert_close(loss(labels, logits), F.cross_entropy(logits, labels))
    torch.testing.assert_close(loss(labels[:, None], logits), F.cross_entropy(logits, labels))
    # probabilities: -log(clip(p[label]))
    probs = torch.softmax(logits, -1)
    expected = -torch.log(probs[torch.arange(8), labels].clamp(EPSILON, 1 - EPSILON)).mean()
    torch.testing.assert_close(losses.SparseCategoricalCrossentropy()(labels, probs), expected)


def test_sparse_categorical_crossentropy_sequence_and_ignore_class():
    logits = _rand(3, 4, 6)
    labels = torch.randint(0, 6, (3, 4))
    labels[0, 3] = labels[2, 0] = 0
    per_step = losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
    assert per_step(labels, logits).shape == (3, 4)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    torch.testing.assert_close(
        loss(labels, logits),
        F.cross_entropy(logits.reshape(-1, 6), labels.reshape(-1), ignore_index=0),
    )


def test_gradients_flow_through_the_loss():
    y_pred = _rand(4, 2).requires_grad_()
    losses.get("mse")(torch.zeros(4, 2), y_pred).backward()
    torch.testing.assert_close(y_pred.grad, 2 * y_pred.detach() / 8)


def test_half_precision_predictions_give_float32_loss():
    value = losses.MeanSquaredError()(torch.zeros(2, 2), torch.ones(2, 2, dtype=torch.float16))
    assert value.dtype == torch.float32 and float(value) == 1.0


# ------------------------------------------------------------------ weights, masks, reductions
def test_per_sample_shapes():
    assert losses.MeanSquaredError(reduction="none")(_rand(4, 3), _rand(4, 3)).shape == (4,)
    assert losses.MeanSquaredError(reduction="none")(_rand(4, 7, 3), _rand(4, 7, 3)).shape == (4, 7)


def test_sample_weight_and_sum_reductions_by_hand():
    y_true = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    y_pred = torch.tensor([[1.0, 1.0], [2.0, 2.0]])  # per-sample MSE: [1, 4]
    mse = losses.MeanSquaredError()
    assert float(mse(y_true, y_pred)) == pytest.approx(2.5)
    assert float(mse(y_true, y_pred, sample_weight=[1.0, 0.5])) == pytest.approx(1.5)
    assert float(losses.MeanSquaredError(reduction="sum")(y_true, y_pred, [1.0, 0.5])) == 3.0
    none = losses.MeanSquaredError(reduction="none")(y_true, y_pred, sample_weight=[1.0, 0.5])
    assert none.tolist() == [1.0, 2.0]


def test_sequence_mask_excludes_entries_from_the_denominator():
    y_true = torch.zeros(2, 3, 1)
    y_pred = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])[..., None]  # per-step MSE: v ** 2
    mask = torch.tensor([[True, True, False], [True, False, False]])
    mse = losses.MeanSquaredError()
    # (1 + 4 + 16) / 3
    assert float(mse(y_true, y_pred, mask=mask)) == pytest.approx(7.0)
    # sample weights (2, 1) per sequence: (2 * 1 + 2 * 4 + 1 * 16) / 3
    assert float(mse(y_true, y_pred, sample_weight=[2.0, 1.0], mask=mask)) == pytest.approx(26 / 3)
    assert float(mse(y_true, y_pred, mask=torch.zeros(2, 3, dtype=torch.bool))) == 0.0
    assert float(losses.MeanSquaredError(reduction="sum")(y_true, y_pred, mask=mask)) == 21.0


def test_rank_one_predictions_keep_the_batch_axis():
    value = losses.MeanSquaredError()([0.0, 0.0], torch.tensor([1.0, 2.0]), sample_weight=[1, 0])
    assert float(value) == pytest.approx(0.5)


def test_target_rank_alignment_and_shape_errors():
    y_pred = torch.tensor([[1.0], [3.0]])
    assert float(losses.get("mse")([1.0, 1.0], y_pred)) == pytest.approx(2.0)
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 3\).*y_pred.shape=\(2, 1\)"):
        losses.get("mse")(torch.zeros(2, 3), y_pred)
    with pytest.raises(ValueError, match="sample_weight"):
        losses.get("mse")(torch.zeros(2, 1), y_pred, sample_weight=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        losses.get("categorical_crossentropy")([0, 1], torch.rand(2, 3))
    with pytest.raises(ValueError, match="outside"):
        losses.get("sparse_categorical_crossentropy")([0, 3], torch.rand(2, 3))
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="avg")


# ------------------------------------------------------------------------------- registry
@pytest.mark.parametrize("name, cls", [
    ("mse", losses.MeanSquaredError), ("MSE", losses.MeanSquaredError),
    ("mean_squared_error", losses.MeanSquaredError), ("MeanSquaredError", losses.MeanSquaredError),
    ("mae", losses.MeanAbsoluteError), ("mean_absolute_error", losses.MeanAbsoluteError),
    ("mape", losses.MeanAbsolutePercentageError), ("huber", losses.Huber),
    ("huber_loss", losses.Huber), ("log_cosh", losses.LogCosh), ("logcosh", losses.LogCosh),
    ("binary_crossentropy", losses.BinaryCrossentropy), ("bce", losses.BinaryCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
])
def test_get_resolves_keras_names(name, cls):
    assert type(losses.get(name)) is cls


def test_get_passes_instances_and_wraps_callables():
    loss = losses.Huber(delta=2.0)
    assert losses.get(loss) is loss
    assert losses.get(None) is None

    def per_sample(y_true, y_pred):
        return (y_pred - y_true).abs().sum(dim=-1)

    wrapped = losses.get(per_sample)
    assert wrapped.name == "per_sample"
    assert float(wrapped([[0.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [3.0, 4.0]],
                         sample_weight=[1.0, 0.0])) == pytest.approx(1.5)
    scalar = losses.get(lambda y_true, y_pred: (y_pred - y_true).sum())
    assert float(scalar([[1.0]], [[3.0]])) == 2.0


def test_unknown_name_suggests_close_match():
    with pytest.raises(ValueError, match=r"Unknown loss 'mse2'\. Did you mean 'mse'\? Known"):
        losses.get("mse2")
    with pytest.raises(ValueError, match="Did you mean 'binary_crossentropy'"):
        losses.get("binary_crosentropy")


def test_non_string_non_callable_is_a_type_error_naming_loss():
    with pytest.raises(TypeError, match=r"`loss`.*int"):
        losses.get(3)


def test_config_round_trip():
    loss = losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, reduction="sum")
    config = loss.get_config()
    assert config == {"name": "binary_crossentropy", "reduction": "sum", "from_logits": True,
                      "label_smoothing": 0.1}
    again = losses.BinaryCrossentropy.from_config(config)
    assert again.get_config() == config
    rebuilt = losses.deserialize(losses.serialize(losses.Huber(delta=0.3)))
    assert isinstance(rebuilt, losses.Huber) and rebuilt.delta == 0.3
    scce = losses.get(losses.serialize(losses.SparseCategoricalCrossentropy(ignore_class=0)))
    assert scce.ignore_class == 0
