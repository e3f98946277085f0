"""Every class of bad input to fit/evaluate/predict is refused at the boundary, naming the
argument, what was expected and what was received (gated.models.validate)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gated.callbacks import EarlyStopping
from gated.layers import LSTM, Dense
from gated.models import Sequential

X = np.random.default_rng(0).normal(size=(6, 5, 3)).astype("float32")
Y = np.random.default_rng(1).normal(size=(6, 1)).astype("float32")


def _model(loss: str = "mse", units: int = 1, activation: str | None = None) -> Sequential:
    torch.manual_seed(0)
    model = Sequential([LSTM(4), Dense(units, activation=activation)])
    model.compile(optimizer="adam", loss=loss)
    return model


def test_integer_x_is_cast_as_keras_does():
    model = _model()
    ints = np.arange(90).reshape(6, 5, 3) % 4
    np.testing.assert_array_equal(model.predict(ints, verbose=0),
                                  model.predict(ints.astype("float32"), verbose=0))


@pytest.mark.parametrize(("x", "dtype"), [(X.astype(np.complex64), "complex64"),
                                          (np.full((6, 5, 3), "a"), "<U1"),
                                          (torch.zeros(6, 5, 3, dtype=torch.complex64),
                                           "torch.complex64")])
def test_non_real_x_refused_by_name(x, dtype):
    with pytest.raises(TypeError, match=rf"`x` of fit\(\) must hold real numbers.*{dtype}"):
        _model().fit(x, Y, verbose=0)


@pytest.mark.parametrize(("x", "y", "what"), [
    (np.zeros((6, 0, 3), "float32"), Y, r"has a time axis of length 0 \(shape \(6, 0, 3\)\)"),
    (np.zeros((0, 5, 3), "float32"), np.zeros((0, 1), "float32"),
     r"holds 0 samples \(shape \(0, 5, 3\)\)")])
def test_empty_axes(x, y, what):
    with pytest.raises(ValueError, match=rf"`x` of fit\(\) {what}"):
        _model().fit(x, y, verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_sample_weight_must_be_finite(bad):
    weights = np.ones(6)
    weights[2] = bad
    with pytest.raises(ValueError, match=rf"`sample_weight`.*finite weights; received "
                                         rf"{bad}.*index \(2,\)"):
        _model().fit(X, Y, sample_weight=weights, verbose=0)


def test_fractional_sparse_labels():
    model = _model("sparse_categorical_crossentropy", 3, "softmax")
    with pytest.raises(ValueError, match="integer class ids in y_true; received 0.5"):
        model.fit(X, np.array([0.5, 1, 2, 0, 1, 2]), verbose=0)
    model.fit(X, np.array([0.0, 1, 2, 0, 1, 2]), verbose=0)  # whole numbers as floats: fine


@pytest.mark.parametrize(("units", "y", "key", "classes"), [
    (3, np.array([0, 1, 2, 0, 1, 2]), 7, "0..2"),
    (3, np.eye(3)[[0, 1, 2, 0, 1, 2]], 3, "0..2"),
    (1, np.array([0, 1, 0, 1, 0, 1]), 2, "0..1"),
    (3, np.array([0, 1, 2, 0, 1, 2]), -1, "0..2")])
def test_class_weight_names_a_class_the_model_has(units, y, key, classes):
    loss = "binary_crossentropy" if units == 1 else (
        "categorical_crossentropy" if y.ndim == 2 else "sparse_categorical_crossentropy")
    model = _model(loss, units, "sigmoid" if units == 1 else "softmax")
    with pytest.raises(ValueError, match=rf"`class_weight`.*class {key}; the model's classes "
                                         rf"are {classes}"):
        model.fit(X, y, class_weight={0: 1.0, key: 2.0}, verbose=0)


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"initial_epoch": -3}, r"`initial_epoch` of fit\(\) must be an integer >= 0, received "
                            r"initial_epoch=-3"),
    ({"validation_freq": 0, "validation_split": 0.5},
     r"`validation_freq` of fit\(\) must be an integer >= 1.*validation_freq=0"),
    ({"verbose": "loud"}, r"`verbose` of fit\(\) must be 'auto', 0, 1 or 2, received "
                          r"verbose='loud'"),
])
def test_fit_arguments(kwargs, pattern):
    kwargs.setdefault("verbose", 0)
    with pytest.raises(ValueError, match=pattern):
        _model().fit(X, Y, **kwargs)


@pytest.mark.parametrize("verbose", [3, -1, 1.0, "1", None])
def test_verbose_values(verbose):
    with pytest.raises(ValueError, match=rf"received verbose={verbose!r}"):
        _model().fit(X, Y, verbose=verbose)


def test_callbacks_not_in_a_list():
    with pytest.raises(TypeError, match=r"`callbacks` of fit\(\) must be a list of callbacks, "
                                        r"received EarlyStopping. Wrap it in a list"):
        _model().fit(X, Y, callbacks=EarlyStopping(), verbose=0)


@pytest.mark.parametrize("shape", [(10, -1), (0, 3), (10, 2.5), "10"])
def test_input_shape_sizes(shape):
    with pytest.raises(ValueError, match=r"`input_shape` of LSTM must be a tuple of sizes"):
        LSTM(4, input_shape=shape)


def test_predict_on_a_tensor_requiring_grad():
    model = _model()
    x = torch.tensor(X, requires_grad=True)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(X, verbose=0))
    assert x.grad is None


def test_empty_sequential_refuses_to_run():
    with pytest.raises(ValueError, match="no layers"):
        Sequential().predict(X, verbose=0)


def test_validation_data_errors_name_validation_data():
    bad = X.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"`validation_data\[0\]` of fit\(\) contains NaN"):
        _model().fit(X, Y, validation_data=(bad, Y), verbose=0)
    with pytest.raises(ValueError,
                       match=r"`validation_data` of fit\(\).*received shape \(2, 5, 4\)"):
        _model().fit(X, Y, validation_data=(np.ones((2, 5, 4), "float32"), Y[:2]), verbose=0)
