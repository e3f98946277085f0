"""Saving: zip of JSON + safetensors, exact round trip, resumable training, atomic writes."""

import json
import zipfile

import numpy as np
import pytest
import torch

from gated.layers import GRU, LSTM, Bidirectional, Dense, Embedding
from gated.models import Sequential, load_model


def _data(n=48):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 6, 2)).astype(np.float32), rng.normal(size=(n, 1)).astype(
        np.float32)


def _model():
    model = Sequential([LSTM(5, return_sequences=True, input_shape=(6, 2), variant="cifg"),
                        Bidirectional(GRU(3)), Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def test_round_trip_predictions_and_no_pickle(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "model.gated"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert {"config.json", "metadata.json", "model.weights.safetensors",
                "optimizer.safetensors", "optimizer.json"} <= names
        assert not any(n.endswith((".pkl", ".pt", ".pth")) for n in names)
        config = json.loads(zf.read("config.json"))
    assert config["class_name"] == "Sequential"
    assert config["config"]["layers"][0]["config"]["variant"] == "cifg"
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [w.shape for w in loaded.get_weights()] == [w.shape for w in model.get_weights()]


def test_resumed_training_follows_the_same_trajectory(tmp_path):
    x, y = _data()
    torch.manual_seed(0)
    model = _model()
    model.fit(x, y, epochs=2, shuffle=False, verbose=0)
    model.save(tmp_path / "m.gated")
    model.fit(x, y, epochs=2, shuffle=False, verbose=0)
    uninterrupted = model.get_weights()

    resumed = load_model(tmp_path / "m.gated")
    assert resumed.optimizer.iterations == model.optimizer.iterations - 2 * 2
    resumed.fit(x, y, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(resumed.get_weights(), uninterrupted, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)

    fresh_optimizer = load_model(tmp_path / "m.gated")
    fresh_optimizer.compile(optimizer="adam", loss="mse")  # Adam moments lost
    fresh_optimizer.fit(x, y, epochs=2, shuffle=False, verbose=0)
    diff = max(np.abs(a - b).max() for a, b in zip(fresh_optimizer.get_weights(),
                                                    uninterrupted, strict=True))
    assert diff > 1e-4  # the test can tell a kept optimizer state from a lost one


def test_truncated_and_corrupted_files_name_the_file(tmp_path):
    x, y = _data()
    model = _model()
    path = tmp_path / "good.gated"
    model.save(path)
    raw = path.read_bytes()
    truncated = tmp_path / "truncated.gated"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated.gated"):
        load_model(truncated)
    corrupted = tmp_path / "corrupted.gated"
    flipped = bytearray(raw)
    start = raw.find(b"model.weights.safetensors") + 200
    for k in range(start, start + 64):
        flipped[k] ^= 0xFF
    corrupted.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="corrupted.gated"):
        load_model(corrupted)
    garbage = tmp_path / "garbage.gated"
    garbage.write_text("not a zip")
    with pytest.raises(ValueError, match="garbage.gated"):
        load_model(garbage)


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    x, y = _data()
    model = _model()
    path = tmp_path / "model.gated"
    model.save(path)
    before = path.read_bytes()
    expected = model.predict(x)
    model.fit(x, y, epochs=1, verbose=0)

    original = zipfile.ZipFile.writestr

    def failing_writestr(self, name, data, *args, **kwargs):
        if name == "model.weights.safetensors":
            raise OSError("disk full (simulated)")
        return original(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing_writestr)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gated"]  # no temp left
    np.testing.assert_array_equal(load_model(path).predict(x), expected)


def test_save_weights_and_load_weights(tmp_path):
    model = Sequential([Embedding(10, 3, input_shape=(4,)), LSTM(2), Dense(1)])
    other = Sequential([Embedding(10, 3, input_shape=(4,)), LSTM(2), Dense(1)])
    model.save_weights(tmp_path / "w.safetensors")
    other.load_weights(tmp_path / "w.safetensors")
    ids = np.array([[1, 2, 3, 4]])
    np.testing.assert_array_equal(other.predict(ids), model.predict(ids))
    wrong = Sequential([Embedding(10, 3, input_shape=(4,)), LSTM(3), Dense(1)])
    with pytest.raises(ValueError, match=r"w.safetensors.*shape"):
        wrong.load_weights(tmp_path / "w.safetensors")
