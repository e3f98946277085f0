"""Custom layers and cells written the Keras 3 way run unchanged on `gated.layers.Layer`.

Each class below is written once against a `keras` module and instantiated from both gated
and (where installed) Keras 3 on its torch backend; the truths are Keras' own outputs from
the same weights, NumPy written here, or hand-computed values.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import torch

import gated

os.environ.setdefault("KERAS_BACKEND", "torch")
try:
    import keras
    if keras.backend.backend() != "torch":
        keras = None
except ImportError:
    keras = None

needs_keras = pytest.mark.skipif(keras is None, reason="keras (Keras 3, torch) not installed")
TOL = 1e-5


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def make_linear(k):
    class Linear(k.layers.Layer):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
            self.count = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                         name="count")

        def call(self, inputs, training=None):
            out = k.ops.matmul(inputs, self.w) + self.b
            return out * 2.0 if training else out

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Linear


def test_custom_layer_call_build_add_weight_as_numpy():
    layer = make_linear(gated)(4)
    x = np.random.default_rng(0).standard_normal((2, 3)).astype("float32")
    y = layer(x)
    w, b, count = (_np(v) for v in layer.weights)
    np.testing.assert_allclose(_np(y), x @ w + b, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(_np(layer(x, training=True)), 2 * (x @ w + b), rtol=TOL,
                               atol=TOL)
    assert layer.built and w.shape == (3, 4) and count.shape == ()
    assert [re.sub(r"_\d+$", "", v.name) for v in layer.weights] == ["variable", "b", "count"]
    assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 1
    assert layer.w.value is layer.w and layer.w.path == f"{layer.name}/{layer.w.name}"
    # `self.w = self.add_weight(...)`: one registration, under the attribute's name.
    assert [n for n, _ in layer.named_parameters()] == ["w", "b", "count"]
    assert layer.count_params() == 3 * 4 + 4 + 1
    clone = type(layer).from_config(layer.get_config())
    assert clone.units == 4 and clone.name == layer.name


@needs_keras
def test_custom_layer_weights_and_outputs_equal_keras():
    ours, theirs = make_linear(gated)(4), make_linear(keras)(4)
    x = np.random.default_rng(1).standard_normal((5, 3)).astype("float32")
    ours(x)
    theirs(x)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert [re.sub(r"_\d+$", "", w.name) for w in ours.weights] == \
        [re.sub(r"_\d+$", "", w.name) for w in theirs.weights]
    assert [w.trainable for w in ours.weights] == [w.trainable for w in theirs.weights]
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), rtol=TOL, atol=TOL)


def test_add_weight_positional_forms_defaults_and_dtypes():
    layer = gated.layers.Layer()
    a = layer.add_weight((2, 3), "ones")  # Keras 3 positional: shape, initializer
    b = layer.add_weight("legacy", (4,), "zeros")  # gated/Keras 2 order: name, shape, ...
    c = layer.add_weight(shape=(50, 60))  # default glorot_uniform for float weights
    d = layer.add_weight(shape=(3,), dtype="int32")  # default zeros, never trainable
    assert _np(a).tolist() == [[1.0] * 3] * 2 and b.name == "legacy" and b.shape == (4,)
    limit = np.sqrt(6 / (50 + 60))
    assert np.abs(_np(c)).max() <= limit and np.abs(_np(c)).max() > 0.9 * limit
    assert d.dtype == torch.int32 and not d.requires_grad and _np(d).tolist() == [0, 0, 0]
    e = layer.add_weight(shape=(2,), initializer=lambda shape, dtype=None: np.arange(2.0))
    assert _np(e).tolist() == [0.0, 1.0]
    e.assign([5.0, 6.0])
    assert e.numpy().tolist() == [5.0, 6.0]
    with pytest.raises(ValueError, match="shape"):
        e.assign([1.0, 2.0, 3.0])


def test_add_weight_regularizer_and_constraint():
    class Penalized(gated.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 1), initializer="ones",
                                          regularizer=gated.regularizers.L1L2(l2=0.1),
                                          constraint=lambda w: w.clamp(min=0.0))

        def call(self, inputs):
            return inputs @ self.kernel

    model = gated.Sequential([gated.Input((2,)), Penalized()])
    (penalty,) = model.losses
    assert float(penalty) == pytest.approx(0.1 * 2.0)  # 0.1 * sum(1^2 + 1^2)
    model.compile(optimizer=gated.optimizers.SGD(1.0), loss="mse")
    x = np.array([[1.0, 0.0]] * 8, dtype="float32")
    model.fit(x, np.full((8, 1), -5.0, dtype="float32"), epochs=2, verbose=0)
    assert _np(model.layers[0].kernel).min() >= 0.0  # the constraint kept it non-negative


def make_activity(k):
    class Activity(k.layers.Layer):
        def call(self, inputs):
            self.add_loss(0.5 * k.ops.mean(inputs ** 2))
            return inputs

    return Activity


def test_add_loss_is_collected_and_cleared_each_call():
    layer = make_activity(gated)()
    layer(torch.ones(2, 3))
    assert [float(v) for v in layer.losses] == [0.5]
    layer(torch.full((2, 3), 2.0))
    assert [float(v) for v in layer.losses] == [2.0]  # the latest call only
    with pytest.raises(ValueError, match="add_loss"):
        layer.add_loss(1.0)


@needs_keras
def test_add_loss_enters_the_fit_loss_as_keras():
    def run(k, init=None):
        model = k.Sequential([k.Input((3,)), k.layers.Dense(2), make_activity(k)(),
                              k.layers.Dense(1)])
        model.compile(optimizer=k.optimizers.SGD(0.05), loss="mse")
        if init is not None:
            model.set_weights(init)
        start = [np.array(w) for w in model.get_weights()]
        rng = np.random.default_rng(2)
        x, y = rng.standard_normal((16, 3)).astype("float32"), np.ones((16, 1), "float32")
        hist = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        return start, hist.history["loss"]

    start, ours = run(gated)
    _, theirs = run(keras, start)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def make_split(k):
    class Split(k.layers.Layer):
        """Returns two halves of the features, each with its own mask."""

        def call(self, inputs, mask=None):
            half = inputs.shape[-1] // 2
            return [inputs[..., :half], inputs[..., half:]]

        def compute_mask(self, inputs, mask=None):
            first = k.ops.any(inputs[..., :1] != 0, axis=-1)
            second = k.ops.any(inputs[..., 1:2] != 0, axis=-1)
            return [first, second]

        def compute_output_shape(self, input_shape):
            half = input_shape[-1] // 2
            return [(*input_shape[:-1], half), (*input_shape[:-1], input_shape[-1] - half)]

    return Split


def _split_masks(k, x):
    a, b = make_split(k)()(x)
    return _np(a._keras_mask), _np(b._keras_mask)


def test_two_outputs_get_their_own_masks():
    x = torch.tensor([[[1.0, 0.0, 2.0, 3.0], [0.0, 1.0, 1.0, 1.0]]])
    first, second = _split_masks(gated, x)
    np.testing.assert_array_equal(first, [[True, False]])  # feature 0 nonzero
    np.testing.assert_array_equal(second, [[False, True]])  # feature 1 nonzero
    inputs = gated.Input((5, 4))
    a, b = make_split(gated)()(inputs)
    assert a._keras_mask is not None and b._keras_mask is not None
    assert a._keras_mask.shape == (None, 5) and b.shape == (None, 5, 2)


@needs_keras
def test_two_output_masks_equal_keras():
    x = np.array([[[1.0, 0.0, 2.0, 3.0], [0.0, 1.0, 1.0, 1.0]]], dtype="float32")
    for ours, theirs in zip(_split_masks(gated, torch.as_tensor(x)),
                            _split_masks(keras, keras.ops.convert_to_tensor(x)), strict=True):
        np.testing.assert_array_equal(ours, keras.ops.convert_to_numpy(theirs))


def make_passthrough(k):
    class Scale(k.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs):
            return inputs * 3.0

    return Scale


def _masked_run(k, weights=None):
    model = k.Sequential([k.Input((5,), dtype="int32"), k.layers.Embedding(9, 3, mask_zero=True),
                          make_passthrough(k)(), k.layers.LSTM(2)])
    if weights is not None:
        model.set_weights(weights)
    x = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0]])
    return model, _np(model.predict(x, verbose=0))


@needs_keras
def test_supports_masking_passes_the_mask_on_as_keras():
    ours, ours_out = _masked_run(gated)
    _, theirs_out = _masked_run(keras, ours.get_weights())
    np.testing.assert_allclose(ours_out, theirs_out, rtol=TOL, atol=TOL)


def test_integer_inputs_are_cast_in_dense_and_recurrent_layers():
    x_int = torch.tensor([[[1, 2], [3, 0], [0, 1]]])
    for layer in (gated.layers.LSTM(3), gated.layers.GRU(2, return_sequences=True),
                  gated.layers.Dense(4), gated.layers.Bidirectional(gated.layers.LSTM(2))):
        out_int = layer(x_int)
        out_float = layer(x_int.float())
        assert out_int.dtype == torch.float32
        torch.testing.assert_close(out_int, out_float)


@needs_keras
def test_integer_inputs_equal_keras():
    ours = gated.layers.LSTM(3)
    x = np.array([[[1, 2], [3, 0], [0, 1]]], dtype="int64")
    ours_out = _np(ours(x))
    theirs = keras.layers.LSTM(3)
    theirs.build((None, 3, 2))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours_out, _np(theirs(x)), rtol=TOL, atol=TOL)


def test_a_subclass_overriding_call_of_a_builtin_calls_it_through_super():
    class Doubled(gated.layers.Dense):
        def call(self, inputs):
            return super().call(inputs) * 2.0

    layer = Doubled(2)
    x = torch.randn(3, 4)
    y = layer(x)
    torch.testing.assert_close(y, 2.0 * (x @ layer.kernel + layer.bias))


def make_block(k):
    class Block(k.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.stack = [k.layers.Dense(4, activation="tanh"), k.layers.Dense(2)]

        def call(self, inputs):
            for layer in self.stack:
                inputs = layer(inputs)
            return inputs

    return Block


def test_layers_held_in_a_list_are_tracked():
    block = make_block(gated)()
    block(torch.randn(2, 3))
    assert block.count_params() == (3 * 4 + 4) + (4 * 2 + 2)
    if keras is not None:
        theirs = make_block(keras)()
        theirs(np.zeros((2, 3), "float32"))
        assert theirs.count_params() == block.count_params()


def make_multi_input(k, seen):
    class Gate(k.layers.Layer):
        def build(self, input_shape):
            seen.append([tuple(s) for s in input_shape])
            self.scale = self.add_weight(shape=(input_shape[1][-1],), initializer="ones")

        def call(self, inputs):
            x, g = inputs
            return x * k.ops.sigmoid(g * self.scale)

    return Gate


def test_build_sees_every_input_shape_of_a_list_input():
    seen: list = []
    a, b = gated.Input((3,)), gated.Input((3,))
    out = make_multi_input(gated, seen)()([a, b])
    assert seen == [[(None, 3), (None, 3)]] and out.shape == (None, 3)
    if keras is not None:
        theirs: list = []
        make_multi_input(keras, theirs)()([keras.Input((3,)), keras.Input((3,))])
        assert theirs == seen


def make_pair_cell(k):
    class PairCell(k.layers.Layer):
        """Two states of different sizes; output size differs from both."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.state_size = [3, 2]
            self.output_size = 4

        def build(self, input_shape):
            self.k1 = self.add_weight(shape=(input_shape[-1] + 3, 3), name="k1")
            self.k2 = self.add_weight(shape=(3 + 2, 2), name="k2")
            self.out = self.add_weight(shape=(5, 4), name="out")

        def call(self, inputs, states, training=None):
            h1, h2 = states
            n1 = k.ops.tanh(k.ops.matmul(k.ops.concatenate([inputs, h1], axis=-1), self.k1))
            n2 = k.ops.tanh(k.ops.matmul(k.ops.concatenate([n1, h2], axis=-1), self.k2))
            y = k.ops.matmul(k.ops.concatenate([n1, n2], axis=-1), self.out)
            return y, [n1, n2]

    return PairCell


def test_keras_style_cell_with_a_list_state_size_as_numpy():
    layer = gated.layers.RNN(make_pair_cell(gated)(), return_sequences=True, return_state=True)
    x = np.random.default_rng(3).standard_normal((2, 4, 3)).astype("float32")
    ys, s1, s2 = (_np(t) for t in layer(x))
    k1, k2, out = (_np(w) for w in layer.weights)
    h1, h2, want = np.zeros((2, 3)), np.zeros((2, 2)), []
    for t in range(4):
        h1 = np.tanh(np.concatenate([x[:, t], h1], -1) @ k1)
        h2 = np.tanh(np.concatenate([h1, h2], -1) @ k2)
        want.append(np.concatenate([h1, h2], -1) @ out)
    np.testing.assert_allclose(ys, np.stack(want, 1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(s1, h1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(s2, h2, rtol=1e-5, atol=1e-5)
    assert ys.shape == (2, 4, 4)


@needs_keras
def test_keras_style_cell_equals_keras():
    x = np.random.default_rng(4).standard_normal((2, 4, 3)).astype("float32")
    ours = gated.layers.RNN(make_pair_cell(gated)())
    theirs = keras.layers.RNN(make_pair_cell(keras)())
    ours_out = _np(ours(x))
    theirs.build((None, 4, 3))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours_out, _np(theirs(x)), rtol=TOL, atol=TOL)


def make_stats(k):
    class Stats(k.layers.Layer):
        """A non-trainable weight created before the trainable ones."""

        def build(self, input_shape):
            self.moving = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                          trainable=False, name="moving")
            self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                         name="gamma")

        def call(self, inputs):
            return inputs * self.gamma / self.moving

    return Stats


def test_weights_list_trainable_first_as_keras():
    layer = make_stats(gated)()
    layer(torch.ones(1, 2))
    assert [w.name for w in layer.weights] == ["gamma", "moving"]
    layer.set_weights([np.full(2, 3.0), np.full(2, 2.0)])
    assert _np(layer.gamma).tolist() == [3.0, 3.0] and _np(layer.moving).tolist() == [2.0, 2.0]
    if keras is not None:
        theirs = make_stats(keras)()
        theirs(np.ones((1, 2), "float32"))
        assert [w.name for w in theirs.weights] == ["gamma", "moving"]


def test_output_shape_of_a_layer_without_compute_output_shape_is_traced():
    class Widen(gated.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 6))

        def call(self, inputs):
            return gated.ops.matmul(inputs, self.kernel)

    model = gated.Sequential([gated.Input((4, 3)), gated.layers.LSTM(5, return_sequences=True),
                              Widen(), gated.layers.GRU(2)])
    assert model.layers[1].output.shape == (None, 4, 6)  # the time axis stays known
    assert model.layers[2].kernel.shape == (6, 6)  # GRU built on 6 features
    assert model.predict(np.zeros((2, 4, 3), "float32"), verbose=0).shape == (2, 2)
    free = gated.Input((None, 3))
    assert Widen()(free).shape == (None, None, 6)  # an unknown axis stays unknown


def test_a_keras_style_cell_receives_training():
    seen: list = []

    class Cell(gated.layers.Layer):
        state_size = 2

        def call(self, inputs, states, training=None):
            seen.append(training)
            return inputs[:, :2] + states[0], [inputs[:, :2] + states[0]]

    layer = gated.layers.RNN(Cell())
    x = torch.ones(1, 3, 4)
    torch.testing.assert_close(layer(x), torch.full((1, 2), 3.0))  # a running sum
    layer(x, training=True)
    assert seen[:3] == [False] * 3 and seen[3:] == [True] * 3


def _lambda_model(k):
    inputs = k.Input((5, 3))
    seq = k.layers.LSTM(4, return_sequences=True)(inputs)
    last = k.layers.Lambda(lambda x: x[:, -1])(seq)
    mean = k.layers.Lambda(lambda x, axis: k.ops.mean(x, axis=axis), arguments={"axis": 1})(seq)
    fixed = k.layers.Lambda(lambda t: t[0] * t[1], output_shape=(4,))([last, mean])
    return k.Model(inputs, k.layers.Dense(1)(fixed)), [last, mean, fixed]


def test_lambda_layer_shapes_and_values():
    model, tensors = _lambda_model(gated)
    assert [t.shape for t in tensors] == [(None, 4), (None, 4), (None, 4)]
    x = np.random.default_rng(7).standard_normal((2, 5, 3)).astype("float32")
    lstm, dense = model.layers[1], model.layers[-1]
    with torch.no_grad():
        seq = lstm(torch.as_tensor(x))
        want = dense(seq[:, -1] * seq.mean(1))
    np.testing.assert_allclose(model.predict(x, verbose=0), want.numpy(), rtol=1e-6)
    masked = gated.layers.Lambda(lambda x: x, mask=lambda x, m: x[..., 0] > 0)
    out = masked(torch.tensor([[[1.0], [-1.0]]]))
    assert out._keras_mask.tolist() == [[True, False]]
    with pytest.raises(NotImplementedError, match="no pickle"):
        gated.layers.Lambda(lambda x: x).get_config()
    if keras is not None:
        theirs, their_tensors = _lambda_model(keras)
        assert [tuple(t.shape) for t in their_tensors] == [t.shape for t in tensors]
        theirs.set_weights(model.get_weights())
        np.testing.assert_allclose(model.predict(x, verbose=0), theirs.predict(x, verbose=0),
                                   rtol=1e-5, atol=1e-6)


def test_bidirectional_default_names_follow_keras():
    """Keras names a wrapper after its own class ("bidirectional", "bidirectional_1"), not
    after the wrapped layer; a summary or `get_layer` lookup written for Keras finds it."""
    keras = pytest.importorskip("keras")
    from gated import backend
    from gated.layers import GRU, LSTM, Bidirectional

    backend.clear_session()
    keras.backend.clear_session()
    ours = [Bidirectional(LSTM(3)).name, Bidirectional(GRU(3)).name]
    theirs = [keras.layers.Bidirectional(keras.layers.LSTM(3)).name,
              keras.layers.Bidirectional(keras.layers.GRU(3)).name]
    assert ours == theirs == ["bidirectional", "bidirectional_1"]


def test_dense_weight_constraints_equal_keras_after_training():
    """`Dense(kernel_constraint=..., bias_constraint=...)` as Keras 3: the optimizer projects
    the weights after each step (MaxNorm on the kernel's columns, NonNeg on the bias); three
    SGD steps from the same weights give Keras' weights, and the config round-trips."""
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype("float32"), rng.normal(size=(16, 3)).astype("float32")

    def build(k):
        model = k.Sequential([k.Input((4,)), k.layers.Dense(
            3, kernel_constraint=k.constraints.MaxNorm(0.5), bias_constraint="non_neg")])
        model.compile(optimizer=k.optimizers.SGD(0.5), loss="mse")
        return model

    ours, theirs = build(gated), build(keras)
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    theirs.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    kernel, bias = ours.get_weights()
    assert np.linalg.norm(kernel, axis=0).max() <= 0.5 + 1e-6 and bias.min() >= 0
    again = gated.layers.Dense.from_config(ours.layers[0].get_config())
    assert type(again.kernel_constraint).__name__ == "MaxNorm"
