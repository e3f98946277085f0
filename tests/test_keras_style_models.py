"""Functional, Sequential and subclassed models behave as Keras 3 where programs look:
`model.layers` order, `Model.input/output`, `layer.input/output`, symbolic masks, torch
modules inside a `Sequential`, and saving a subclassed model."""

from __future__ import annotations

import os

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


def _two_branch(k):
    seq = k.Input((6, 2), name="seq")
    static = k.Input((3,), name="static")
    h = k.layers.LSTM(4, name="rnn")(seq)
    s = k.layers.Dense(2, name="proj")(static)
    merged = k.layers.Concatenate(name="merge")([h, s])
    return k.Model([seq, static], k.layers.Dense(1, name="head")(merged))


def test_functional_layers_list_the_inputs_first_in_keras_order():
    model = _two_branch(gated)
    # Keras' order: by depth from the output (inputs deepest), ties in first-seen order.
    assert [layer.name for layer in model.layers] == ["seq", "static", "rnn", "proj", "merge",
                                                      "head"]
    assert isinstance(model.layers[0], gated.layers.InputLayer)
    assert model.layers[2] is model.get_layer("rnn")


@needs_keras
def test_functional_layers_and_weights_order_equal_keras():
    ours, theirs = _two_branch(gated), _two_branch(keras)
    assert [type(v).__name__ for v in ours.layers] == [type(v).__name__ for v in theirs.layers]
    assert [v.name for v in ours.layers] == [v.name for v in theirs.layers]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    theirs.set_weights(ours.get_weights())
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((3, 6, 2)).astype("float32"),
         rng.standard_normal((3, 3)).astype("float32")]
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


@needs_keras
def test_sequential_layers_do_not_list_the_input_as_keras():
    def build(k):
        return k.Sequential([k.Input((5, 2)), k.layers.GRU(3), k.layers.Dense(1)])

    ours, theirs = build(gated), build(keras)
    assert [type(v).__name__ for v in ours.layers] == [type(v).__name__ for v in theirs.layers]


def test_model_and_layer_inputs_outputs():
    model = _two_branch(gated)
    assert [t.shape for t in model.inputs] == [(None, 6, 2), (None, 3)]
    assert model.input == model.inputs and model.output is model.outputs[0]
    assert model.output.shape == (None, 1)
    rnn = model.get_layer("rnn")
    assert rnn.input is model.inputs[0] and rnn.output.shape == (None, 4)
    # A feature extractor on an intermediate output equals calling the layers by hand.
    extractor = gated.Model(model.inputs, [rnn.output, model.get_layer("merge").output])
    x = [np.random.default_rng(1).standard_normal((2, 6, 2)).astype("float32"),
         np.ones((2, 3), "float32")]
    h, merged = extractor.predict(x, verbose=0)
    with torch.no_grad():
        want_h = rnn(torch.as_tensor(x[0]))
        want_s = model.get_layer("proj")(torch.as_tensor(x[1]))
    np.testing.assert_allclose(h, want_h.numpy(), rtol=1e-6)
    np.testing.assert_allclose(merged, torch.cat([want_h, want_s], -1).numpy(), rtol=1e-6)
    with pytest.raises(AttributeError, match="never been called"):
        _ = gated.layers.Dense(2).output


def test_sequential_exposes_inputs_outputs_and_layer_outputs():
    model = gated.Sequential([gated.Input((5, 3)), gated.layers.LSTM(4, return_sequences=True),
                              gated.layers.GRU(2), gated.layers.Dense(1)])
    assert model.input.shape == (None, 5, 3) and model.output.shape == (None, 1)
    features = gated.Model(model.inputs, [layer.output for layer in model.layers])
    x = np.random.default_rng(2).standard_normal((3, 5, 3)).astype("float32")
    outs = features.predict(x, verbose=0)
    assert [o.shape for o in outs] == [(3, 5, 4), (3, 2), (3, 1)]
    np.testing.assert_allclose(outs[-1], model.predict(x, verbose=0), rtol=1e-6)


def _mask_flags(k):
    inputs = k.Input((7,), dtype="int32")
    emb = k.layers.Embedding(10, 4, mask_zero=True)(inputs)
    seq = k.layers.LSTM(3, return_sequences=True)(emb)
    last = k.layers.LSTM(3)(seq)
    return [getattr(t, "_keras_mask", None) for t in (inputs, emb, seq, last)]


def test_symbolic_tensors_carry_keras_mask():
    flags = _mask_flags(gated)
    assert [m is not None for m in flags] == [False, True, True, False]
    assert flags[1].shape == (None, 7) and flags[1].dtype == torch.bool


@needs_keras
def test_symbolic_masks_equal_keras():
    ours, theirs = _mask_flags(gated), _mask_flags(keras)
    assert [m is not None for m in ours] == [m is not None for m in theirs]
    assert [tuple(m.shape) for m in ours if m is not None] == \
        [tuple(m.shape) for m in theirs if m is not None]


def test_torch_modules_inside_a_sequential():
    torch.manual_seed(0)
    norm = torch.nn.BatchNorm1d(4)
    model = gated.Sequential([gated.Input((3,)), gated.layers.Dense(4), norm,
                              torch.nn.Linear(4, 2), gated.layers.Dense(1)])
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert norm.name.startswith("batch_norm1d") and model.layers[2].name.startswith("linear")
    assert f"{norm.name} (BatchNorm1d)" in text and f"{model.layers[2].name} (Linear)" in text
    assert "(None, 4)" in text and "│             8 │" in text  # BatchNorm1d: gamma, beta
    assert model.get_layer(model.layers[2].name) is model.layers[2]
    assert model.count_params() == (3 * 4 + 4) + 8 + (4 * 2 + 2) + 3
    x = np.random.default_rng(3).standard_normal((8, 3)).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.ones((8, 1), "float32"), epochs=2, verbose=0)
    dense, _, linear, head = model.layers
    with torch.no_grad():  # the chain by hand, BatchNorm1d at inference
        want = head(linear(norm(dense(torch.as_tensor(x)))))
    np.testing.assert_allclose(model.predict(x, verbose=0), want.numpy(), rtol=1e-5, atol=1e-6)


class Forecaster(gated.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.rnn = gated.layers.GRU(units)
        self.head = gated.layers.Dense(1)

    def call(self, inputs, training=None):
        return self.head(self.rnn(inputs, training=training))


def test_subclassed_model_summary_save_and_load(tmp_path):
    model = Forecaster(units=3)
    model.build((None, 5, 2))
    assert model.count_params() == 3 * (3 * 2 + 3 * 3 + 2 * 3) + 4
    assert [layer.name for layer in model.layers] == [model.rnn.name, model.head.name]
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert "GRU" in "\n".join(lines)
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(4).standard_normal((6, 5, 2)).astype("float32")
    model.fit(x, np.zeros((6, 1), "float32"), epochs=1, verbose=0)
    path = tmp_path / "forecaster.keras"
    model.save(path)
    loaded = gated.models.load_model(path, custom_objects={"Forecaster": Forecaster})
    assert isinstance(loaded, Forecaster) and loaded.units == 3
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def _summary_rows(model) -> list[list[str]]:
    lines: list[str] = []
    model.summary(print_fn=lambda text, *a, **k: lines.extend(text.splitlines()))
    rows = [[c.strip() for c in line.split("│")[1:4]] for line in lines if line.startswith("│")]
    return [r for r in rows if r[0]]  # Keras wraps long cells onto continuation lines


def test_functional_summary_lists_layers_in_keras_order():
    rows = _summary_rows(_two_branch(gated))
    assert [r[0] for r in rows] == ["seq (InputLayer)", "static (InputLayer)", "rnn (LSTM)",
                                    "proj (Dense)", "merge (Concatenate)", "head (Dense)"]
    assert rows[4][1:] == ["(None, 6)", "0"]
    if keras is not None:
        assert rows == _summary_rows(_two_branch(keras))


def _super_train_step(k, init=None):
    class Logged(k.Model):
        def train_step(self, data):
            self.steps = getattr(self, "steps", 0) + 1
            return super().train_step(data)

    inputs = k.Input(shape=(5, 2))
    model = Logged(inputs, k.layers.Dense(1)(k.layers.LSTM(3)(inputs)))
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    if init is not None:
        model.set_weights(init)
    start = [np.array(w) for w in model.get_weights()]
    rng = np.random.default_rng(5)
    x = rng.standard_normal((20, 5, 2)).astype("float32")
    hist = model.fit(x, x.sum((1, 2))[:, None], epochs=2, batch_size=5, shuffle=False,
                     verbose=0)
    return model, start, hist.history


def test_train_step_override_calling_super_on_a_functional_model():
    model, start, ours = _super_train_step(gated)
    assert model.steps == 8 and sorted(ours) == ["loss", "mae"]  # 2 epochs x 4 batches
    if keras is not None:
        theirs = _super_train_step(keras, start)[2]
        for key in ("loss", "mae"):
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-4)


def _two_input_subclassed(k, init=None):
    class Fusion(k.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.rnn = k.layers.GRU(3)
            self.proj = k.layers.Dense(2)
            self.head = k.layers.Dense(1)

        def call(self, inputs):
            seq, static = inputs
            return self.head(k.ops.concatenate([self.rnn(seq), self.proj(static)], axis=-1))

    rng = np.random.default_rng(6)
    x = [rng.standard_normal((12, 4, 2)).astype("float32"),
         rng.standard_normal((12, 3)).astype("float32")]
    y = (x[0].sum((1, 2)) + x[1][:, 0])[:, None].astype("float32")
    model = Fusion()
    model([x[0][:1], x[1][:1]])
    if init is not None:
        model.set_weights(init)
    start = [np.array(w) for w in model.get_weights()]
    model.compile(optimizer=k.optimizers.SGD(0.01), loss="mse")
    hist = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    return start, hist.history["loss"], model.predict(x, verbose=0)


def test_subclassed_model_with_a_list_of_inputs():
    start, losses, pred = _two_input_subclassed(gated)
    assert pred.shape == (12, 1) and np.isfinite(losses).all()
    if keras is not None:
        _, their_losses, their_pred = _two_input_subclassed(keras, start)
        np.testing.assert_allclose(losses, their_losses, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(pred, their_pred, rtol=1e-4, atol=1e-4)


def _dict_outputs(k, init=None):
    a = k.Input((5, 2), name="a")
    h = k.layers.GRU(3)(a)
    model = k.Model(a, [k.layers.Dense(1, name="r")(h),
                        k.layers.Dense(1, activation="sigmoid", name="c")(h)])
    model.compile(optimizer="sgd", loss={"r": "mse", "c": "binary_crossentropy"},
                  loss_weights={"r": 2.0, "c": 1.0})
    if init is not None:
        model.set_weights(init)
    start = [np.array(w) for w in model.get_weights()]
    x = np.random.default_rng(8).standard_normal((8, 5, 2)).astype("float32")
    y = {"r": x.sum((1, 2))[:, None], "c": (x[:, 0, 0] > 0).astype("float32")[:, None]}
    hist = model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    return start, hist.history, model.evaluate(x, y, verbose=0, return_dict=True)


def test_losses_by_output_name_with_weights():
    start, history, logs = _dict_outputs(gated)
    assert sorted(history) == ["c_loss", "loss", "r_loss"]
    # The total is the weighted sum of the per-output losses (means over the same batches).
    np.testing.assert_allclose(logs["loss"], 2.0 * logs["r_loss"] + logs["c_loss"], rtol=1e-6)
    if keras is not None:
        _, their_history, their_logs = _dict_outputs(keras, start)
        for key in history:
            np.testing.assert_allclose(history[key], their_history[key], rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(logs[key], their_logs[key], rtol=1e-4, atol=1e-4)


def test_a_layer_that_cannot_run_on_zeros_still_joins_a_sequential():
    class Picky(gated.layers.Layer):
        def call(self, inputs):
            if not bool((inputs != 0).all()):
                raise ValueError("zeros are not allowed")
            return inputs * 2.0

    model = gated.Sequential([gated.Input((3,)), gated.layers.Dense(3), Picky(),
                              gated.layers.Dense(1)])
    assert model.inputs is None  # no symbolic graph, but the model runs
    x = np.ones((2, 3), "float32")
    dense, _, head = model.layers
    torch.nn.init.ones_(dense.kernel)
    with torch.no_grad():
        want = head(2.0 * dense(torch.as_tensor(x)))
    np.testing.assert_allclose(model.predict(x, verbose=0), want.numpy(), rtol=1e-6)


def test_sequential_runs_other_lengths_than_it_was_built_on_as_keras():
    """Keras 3 checks only the rank and the feature axis of a Sequential's input: a model built
    on batches of length 7 runs on length 3 (variable-length batches), and the result is what
    its layers compute on that input."""
    import numpy as np
    import torch

    from gated.layers import LSTM, Dense, Embedding
    from gated.models import Sequential

    torch.manual_seed(0)
    model = Sequential([Embedding(10, 4), LSTM(3), Dense(2)])
    model(np.zeros((2, 7), "int64"))
    short = np.array([[1, 2, 3], [4, 5, 6]])
    expected = model.layers[2](model.layers[1](model.layers[0](torch.as_tensor(short))))
    torch.testing.assert_close(model(short), expected)
    features = Sequential([LSTM(3)])
    features(np.zeros((2, 7, 2), "float32"))
    with pytest.raises(ValueError, match=r"lstm.*2.*5|lstm.*5.*2"):  # named by the layer
        features(np.zeros((2, 7, 5), "float32"))


def test_a_model_deep_copies_after_it_has_run():
    """`copy.deepcopy(model)` (kept best weights, quantization) works after a run, whatever
    the engines cached on the cells, and the copy computes the same function."""
    import copy

    import numpy as np

    from gated.layers import GRU, LSTM, Dense, Input
    from gated.models import Sequential

    model = Sequential([Input((5, 3)), LSTM(4, return_sequences=True), GRU(3), Dense(2)])
    x = np.random.default_rng(0).random((2, 5, 3), dtype=np.float32)
    y = model.predict(x, verbose=0)
    twin = copy.deepcopy(model)
    np.testing.assert_array_equal(twin.predict(x, verbose=0), y)
    assert twin.layers[0].cell.kernel is not model.layers[0].cell.kernel
