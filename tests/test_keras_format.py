"""Keras 3 `.keras` files both ways (`gated.export.keras_format`), against Keras 3 itself
(torch backend); skipped when keras is not installed."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

from gated.layers import (  # noqa: E402
    GRU,
    LSTM,
    Bidirectional,
    Dense,
    Dropout,
    Input,
    LayerNormalization,
    SimpleRNN,
    TimeDistributed,
)
from gated.models import Sequential  # noqa: E402
from gated.models.saving import load_model  # noqa: E402

D, TOL = 4, 1e-5


def _x(batch=3, steps=6, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, steps, D)).astype(np.float32)


def _randomize(model, seed=1):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32)
                       for w in model.get_weights()])


# ---------------------------------------------------------------------- Keras 3
keras = pytest.importorskip("keras", reason="keras (Keras 3) is not installed")
if keras.backend.backend() != "torch":  # pragma: no cover - keras imported with another backend
    pytest.skip("these tests need Keras' torch backend", allow_module_level=True)


def _keras_randomize(model, seed=3):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32)
                       for w in model.get_weights()])


@pytest.mark.parametrize("build", [
    lambda k: k.Sequential([k.Input((None, D)), k.layers.LSTM(5, return_sequences=True),
                            k.layers.Dropout(0.2),
                            k.layers.Bidirectional(k.layers.GRU(3, return_sequences=True)),
                            k.layers.TimeDistributed(k.layers.Dense(2)),
                            k.layers.LayerNormalization(),
                            k.layers.GRU(3, reset_after=False, return_sequences=True),
                            k.layers.SimpleRNN(2), k.layers.Dense(1, activation="sigmoid")]),
    lambda k: (lambda i: k.Model(i, k.layers.Dense(2)(k.layers.LSTM(4)(i))))(
        k.Input((None, D))),
], ids=["sequential", "functional"])
def test_keras_file_loads_into_an_equal_gated_model(tmp_path, build):
    model = build(keras)
    _keras_randomize(model)
    model.save(tmp_path / "k.keras")
    x = _x(seed=4)
    gated_model = load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(gated_model.predict(x, verbose=0),
                               model.predict(x, verbose=0), rtol=TOL, atol=TOL)


def test_embedding_keras_file_loads(tmp_path):
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(9, 4),
                              keras.layers.LSTM(3)])
    _keras_randomize(model)
    model.save(tmp_path / "e.keras")
    ids = np.random.default_rng(5).integers(0, 9, (2, 5))
    np.testing.assert_allclose(load_model(tmp_path / "e.keras").predict(ids, verbose=0),
                               model.predict(ids, verbose=0), rtol=TOL, atol=TOL)


def test_gated_save_keras_is_a_real_keras_file(tmp_path):
    model = Sequential([Input((None, D)), LSTM(5, return_sequences=True),
                        Bidirectional(GRU(3, return_sequences=True), merge_mode="sum"),
                        TimeDistributed(Dense(2)), LayerNormalization(), Dropout(0.1),
                        SimpleRNN(3), Dense(1)])
    _randomize(model)
    model.save(tmp_path / "g.keras")
    x = _x(seed=6)
    want = model.predict(x, verbose=0)
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(load_model(tmp_path / "g.keras").predict(x, verbose=0), want,
                               rtol=TOL, atol=TOL)


def test_keras_errors_name_the_file_and_layer(tmp_path):
    from gated.export.keras_format import save_keras

    peephole = Sequential([Input((None, D)), LSTM(3, variant="peephole", name="peep")])
    with pytest.raises(ValueError, match="'peep'.*peephole"):
        save_keras(peephole, tmp_path / "p.keras")
    assert not (tmp_path / "p.keras").exists()
    with pytest.warns(UserWarning, match="'peep'.*gated's own format"):
        peephole.save(tmp_path / "p.keras")  # a Keras-style checkpoint name still saves
    x = _x(seed=8)
    np.testing.assert_allclose(load_model(tmp_path / "p.keras").predict(x, verbose=0),
                               peephole.predict(x, verbose=0), rtol=TOL, atol=TOL)
    good = Sequential([Input((None, D)), LSTM(3)])
    good.save(tmp_path / "g.keras")
    data = (tmp_path / "g.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.keras"):
        load_model(tmp_path / "cut.keras")
    conv = keras.Sequential([keras.Input((6, D)), keras.layers.Conv1D(2, 3, name="conv")])
    conv.save(tmp_path / "c.keras")
    with pytest.raises(ValueError, match="c.keras.*'conv'"):
        load_model(tmp_path / "c.keras")


def test_gated_export_command_writes_keras(tmp_path):
    from gated.cli import main

    model = Sequential([Input((None, D)), GRU(3, return_sequences=True), Dense(2)])
    _randomize(model)
    model.save(tmp_path / "m.gated")
    assert main(["export", str(tmp_path / "m.gated"), str(tmp_path / "m.keras")]) == 0
    x = _x(seed=7)
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "m.keras").predict(
        x, verbose=0), model.predict(x, verbose=0), rtol=TOL, atol=TOL)


def test_gated_functional_model_saves_as_keras(tmp_path):
    from gated.export.errors import NotExportable
    from gated.export.keras_format import save_keras
    from gated.layers import Concatenate
    from gated.models import Model

    inputs = Input((None, D))
    a = LSTM(4, return_sequences=True)(inputs)
    b = GRU(4, return_sequences=True)(inputs)
    model = Model(inputs, Dense(2)(LSTM(3)(Concatenate()([a, b]))))
    _randomize(model)
    model.save(tmp_path / "f.keras")
    x = _x(seed=9)
    want = model.predict(x, verbose=0)
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "f.keras").predict(
        x, verbose=0), want, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(load_model(tmp_path / "f.keras").predict(x, verbose=0), want,
                               rtol=TOL, atol=TOL)
    # two LSTMs on parallel branches: Keras would name their weights by its own order
    twin = Model(inputs, Concatenate()([LSTM(3, name="left")(inputs),
                                        LSTM(3, name="right")(inputs)]))
    with pytest.raises(NotExportable, match="'left' and 'right'"):
        save_keras(twin, tmp_path / "twin.keras")


def test_compile_settings_travel_in_the_keras_file_both_ways(tmp_path):
    """`compile_config` as Keras writes it: Keras 3 compiles a gated-written file with the same
    optimizer, loss and metrics, and gated compiles a Keras-written one."""
    keras = pytest.importorskip("keras")
    x, y = _x(), np.ones((3, 2), "float32")
    model = Sequential([Input((6, D)), LSTM(5), Dense(2)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.save(tmp_path / "g.keras")
    theirs = keras.saving.load_model(tmp_path / "g.keras")
    assert type(theirs.optimizer).__name__ == "Adam"
    ours_loss, ours_mae = model.evaluate(x, y, verbose=0)
    their_loss, their_mae = theirs.evaluate(x, y, verbose=0)
    assert their_loss == pytest.approx(ours_loss, abs=TOL)
    assert their_mae == pytest.approx(ours_mae, abs=TOL)

    kmodel = keras.Sequential([keras.Input((6, D)), keras.layers.GRU(3), keras.layers.Dense(2)])
    kmodel.compile(optimizer=keras.optimizers.SGD(0.05), loss="mae")
    kmodel.save(tmp_path / "k.keras")
    loaded = load_model(tmp_path / "k.keras")
    assert type(loaded.optimizer).__name__ == "SGD"
    assert loaded.optimizer.learning_rate == pytest.approx(0.05)
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(
        kmodel.evaluate(x, y, verbose=0), abs=TOL)
    assert not load_model(tmp_path / "k.keras", compile=False).compiled
