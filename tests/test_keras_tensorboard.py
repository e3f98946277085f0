"""`gated.callbacks.TensorBoard`: Keras' event-file layout and tags, values equal to History.

Read back with TensorBoard's own `EventAccumulator`; skipped without the tensorboard package.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorboard", reason="tensorboard is not installed")

from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)

import gated  # noqa: E402


def _read(folder):
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def _model():
    gated.utils.set_random_seed(0)
    model = gated.Sequential([gated.Input((3,)), gated.layers.Dense(1)])
    model.compile(gated.optimizers.SGD(0.05), "mse", metrics=["mae"])
    return model


def test_epoch_scalars_follow_keras_layout(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)).astype("float32"), rng.normal(size=(40, 1)).astype("float32")
    model = _model()
    history = model.fit(x, y, batch_size=10, epochs=3, validation_split=0.25, verbose=0,
                        callbacks=[gated.callbacks.TensorBoard(tmp_path, histogram_freq=2)])
    train, val = _read(tmp_path / "train"), _read(tmp_path / "validation")
    for name in ("loss", "mae"):
        got = [e.value for e in train.Scalars(f"epoch_{name}")]
        np.testing.assert_allclose(got, history.history[name], rtol=1e-6)
        assert [e.step for e in train.Scalars(f"epoch_{name}")] == [0, 1, 2]
        got = [e.value for e in val.Scalars(f"epoch_{name}")]
        np.testing.assert_allclose(got, history.history[f"val_{name}"], rtol=1e-6)
    assert [e.value for e in train.Scalars("epoch_learning_rate")] == pytest.approx([0.05] * 3)
    histograms = train.Tags()["histograms"]
    assert any(tag.endswith("kernel/histogram") for tag in histograms)
    assert [e.step for e in train.Histograms(histograms[0])] == [0, 2]


def test_batch_scalars_every_update_freq(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 3)).astype("float32"), rng.normal(size=(30, 1)).astype("float32")
    _model().fit(x, y, batch_size=5, epochs=2, verbose=0,
                 callbacks=[gated.callbacks.TensorBoard(tmp_path, update_freq=4)])
    steps = [e.step for e in _read(tmp_path / "train").Scalars("batch_loss")]
    assert steps == [4, 8, 12]  # 12 batches, every 4th (Keras counts from 1)


def test_unsupported_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="update_freq"):
        gated.callbacks.TensorBoard(tmp_path, update_freq="hour")
    with pytest.raises(ValueError, match="profile_batch"):
        gated.callbacks.TensorBoard(tmp_path, profile_batch=3)
