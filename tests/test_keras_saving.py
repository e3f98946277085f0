"""`gated.saving`: Keras 3's registration, custom-object scopes, object (de)serialization,
and a registered custom layer saved and reloaded (names checked against Keras itself)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import gated as keras_like
from gated import saving, serialization

os.environ.setdefault("KERAS_BACKEND", "torch")


@saving.register_keras_serializable(package="MyPkg")
class ScaledDense(keras_like.layers.Dense):
    """A Dense layer whose output is multiplied by `scale` (a config field)."""

    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(units, **kwargs)
        self.scale = scale

    def forward(self, inputs, *args, **kwargs):
        return super().forward(inputs, *args, **kwargs) * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _model():
    keras_like.utils.set_random_seed(0)
    model = keras_like.Sequential([keras_like.Input((4,)), ScaledDense(3, scale=2.5),
                                   keras_like.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_registered_names_equal_keras():
    keras = pytest.importorskip("keras")

    @keras.saving.register_keras_serializable(package="MyPkg")
    class ScaledDense(keras.layers.Dense):  # noqa: F811 - the same name on purpose
        def get_config(self):
            return super().get_config()

    assert saving.get_registered_name(globals()["ScaledDense"]) == \
        keras.saving.get_registered_name(ScaledDense) == "MyPkg>ScaledDense"
    assert saving.get_registered_name(keras_like.layers.Dense) == \
        keras.saving.get_registered_name(keras.layers.Dense) == "Dense"
    assert saving.get_registered_object("MyPkg>ScaledDense") is globals()["ScaledDense"]
    assert "MyPkg>ScaledDense" in saving.get_custom_objects()


def test_registered_custom_layer_saves_and_reloads(tmp_path):
    model = _model()
    x = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
    model.fit(x, x[:, :1], epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    saving.save_model(model, path)
    loaded = saving.load_model(path)
    assert type(loaded.layers[0]) is ScaledDense and loaded.layers[0].scale == 2.5
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    assert keras_like.saving.load_model is saving.load_model


def test_unregistered_layer_needs_custom_objects_or_a_scope(tmp_path):
    class Plain(keras_like.layers.Dense):
        pass

    model = keras_like.Sequential([keras_like.Input((2,)), Plain(2)])
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="Plain"):
        saving.load_model(tmp_path / "m.keras")
    assert type(saving.load_model(tmp_path / "m.keras",
                                  custom_objects={"Plain": Plain}).layers[0]) is Plain
    with saving.custom_object_scope({"Plain": Plain}):
        assert type(saving.load_model(tmp_path / "m.keras").layers[0]) is Plain
    with pytest.raises(ValueError, match="Plain"):  # the scope is closed again
        saving.load_model(tmp_path / "m.keras")
    saving.get_custom_objects()["Plain"] = Plain  # Keras 2 style global registration
    try:
        assert type(saving.load_model(tmp_path / "m.keras").layers[0]) is Plain
    finally:
        del saving.get_custom_objects()["Plain"]


def test_registering_never_shadows_gated_classes():
    @saving.register_keras_serializable(package="Other")
    class Dense(keras_like.layers.Dense):
        pass

    assert serialization.get_registered_object("Dense") is keras_like.layers.Dense
    assert serialization.get_registered_object("Other>Dense") is Dense
    config = serialization.serialize(Dense(2))
    assert config["registered_name"] == "Other>Dense"
    assert type(serialization.deserialize(config)) is Dense
    with pytest.raises(ValueError, match="get_config"):
        saving.register_keras_serializable()(type("NoConfig", (), {}))
    with pytest.raises(TypeError, match="package"):
        saving.register_keras_serializable(ScaledDense)


def test_serialize_keras_object_round_trips():
    layer = ScaledDense(3, scale=0.5, name="sd")
    config = saving.serialize_keras_object(layer)
    assert config["registered_name"] == "MyPkg>ScaledDense"
    assert config["class_name"] == "ScaledDense"
    back = saving.deserialize_keras_object(config)
    assert type(back) is ScaledDense and back.scale == 0.5 and back.units == 3
    for value in (None, 3, "relu", [1, 2], {"a": 1}):
        assert saving.serialize_keras_object(value) == value
    assert saving.deserialize_keras_object(saving.serialize_keras_object((1, 2))) == (1, 2)
    opt = saving.deserialize_keras_object(
        {"module": "keras.optimizers", "class_name": "Adam",
         "config": {"learning_rate": 0.01}, "registered_name": None})
    assert type(opt) is keras_like.optimizers.Adam and opt.get_config()["learning_rate"] == 0.01
    with pytest.raises(ValueError, match="Nowhere"):
        saving.deserialize_keras_object({"class_name": "Nowhere", "config": {}})


def test_keras_serialized_optimizers_and_schedules_load_in_gated():
    keras = pytest.importorskip("keras")
    for obj in (keras.optimizers.Adam(0.01), keras.optimizers.SGD(0.1, momentum=0.9),
                keras.optimizers.schedules.ExponentialDecay(0.1, 100, 0.5)):
        config = keras.saving.serialize_keras_object(obj)
        ours = saving.deserialize_keras_object(config)
        assert type(ours).__name__ == type(obj).__name__
        theirs = obj.get_config()
        for key, value in ours.get_config().items():
            if key in theirs and isinstance(value, float):
                assert value == pytest.approx(theirs[key], rel=1e-6), key


@saving.register_keras_serializable(package="MyPkg")
def scaled_mse(y_true, y_pred):
    return 2.0 * ((y_true - y_pred) ** 2).mean(dim=-1)


def test_registered_loss_function_survives_save_and_load(tmp_path):
    keras = pytest.importorskip("keras")

    @keras.saving.register_keras_serializable(package="MyPkg")
    def scaled_mse_k(y_true, y_pred):
        return y_pred

    assert saving.get_registered_name(scaled_mse) == "MyPkg>scaled_mse"
    assert keras.saving.get_registered_name(scaled_mse_k) == "MyPkg>scaled_mse_k"
    model = keras_like.Sequential([keras_like.Input((2,)), keras_like.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=scaled_mse)
    x = np.ones((4, 2), "float32")
    model.save(tmp_path / "m.keras")
    loaded = saving.load_model(tmp_path / "m.keras")
    assert loaded.loss.fn is scaled_mse
    assert loaded.evaluate(x, x[:, :1], verbose=0) == pytest.approx(
        model.evaluate(x, x[:, :1], verbose=0))
