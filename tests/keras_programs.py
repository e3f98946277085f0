"""Keras-style programs, each written once as a function of a `keras` module.

`tests/test_keras_programs.py` runs every program with `gated` in place of `keras` and, where
Keras 3 is installed, with Keras on its torch backend from gated's initial weights, and
compares parameter counts and per-epoch losses. A program returns a dict with `params`
(the model's parameter count), `weights` (the weights it trained from), `losses` (per
epoch) and anything else worth comparing. `init`, when given, replaces the initial weights.
Data are NumPy arrays made from fixed seeds; batches are not shuffled.
"""

from __future__ import annotations

import numpy as np

EPOCHS = 3


def _fit(model, x, y, init, batch_size=16, epochs=EPOCHS, **kwargs) -> dict:
    if init is not None:
        model.set_weights(init)
    weights = [np.array(w) for w in model.get_weights()]
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0,
                        **kwargs)
    return {"params": model.count_params(), "weights": weights,
            "losses": history.history["loss"], "history": history.history, "model": model}


def sequential_lstm_regression(keras, init=None) -> dict:
    """Sum of a noisy sequence, read by an LSTM."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 10, 3)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None].astype("float32") / 5
    model = keras.Sequential([keras.Input(shape=(10, 3)), keras.layers.LSTM(8),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    return _fit(model, x, y, init)


def functional_gru_classifier(keras, init=None) -> dict:
    """Which of three channels has the largest mean: GRU + softmax, SGD with momentum."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((60, 12, 3)).astype("float32")
    y = x.mean(axis=1).argmax(-1)
    inputs = keras.Input(shape=(12, 3))
    h = keras.layers.GRU(6)(inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    out = _fit(model, x, y, init, batch_size=20)
    out["accuracy"] = out["history"]["accuracy"]
    return out


def stacked_bidirectional(keras, init=None) -> dict:
    """Bidirectional LSTM with return_sequences under a second LSTM, RMSprop."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((48, 8, 4)).astype("float32")
    y = (x[:, :, 0] * x[:, :, 1]).mean(1, keepdims=True).astype("float32")
    model = keras.Sequential([
        keras.Input(shape=(8, 4)),
        keras.layers.Bidirectional(keras.layers.LSTM(5, return_sequences=True)),
        keras.layers.LSTM(4, return_sequences=True),
        keras.layers.GRU(3),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer="rmsprop", loss="mae")
    return _fit(model, x, y, init)


def masked_embedding(keras, init=None) -> dict:
    """Padded token sequences (0 = padding) through Embedding(mask_zero=True) and an LSTM."""
    rng = np.random.default_rng(3)
    x = rng.integers(1, 20, size=(40, 9))
    lengths = rng.integers(2, 10, size=40)
    for i, n in enumerate(lengths):
        x[i, n:] = 0
    y = (x == 7).any(axis=1).astype("float32")[:, None]
    model = keras.Sequential([keras.Input(shape=(9,), dtype="int32"),
                              keras.layers.Embedding(20, 6, mask_zero=True),
                              keras.layers.LSTM(5), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    return _fit(model, x, y, init, batch_size=8)


def encoder_decoder(keras, init=None) -> dict:
    """Seq2seq with teacher forcing: the encoder's [h, c] is the decoder's initial_state."""
    rng = np.random.default_rng(4)
    src = rng.standard_normal((32, 7, 3)).astype("float32")
    tgt_in = rng.standard_normal((32, 5, 2)).astype("float32")
    tgt_out = np.cumsum(tgt_in, axis=1).astype("float32") + src[:, :5, :2]
    enc_in = keras.Input(shape=(7, 3))
    dec_in = keras.Input(shape=(5, 2))
    _, h, c = keras.layers.LSTM(6, return_state=True)(enc_in)
    dec = keras.layers.LSTM(6, return_sequences=True)(dec_in, initial_state=[h, c])
    out = keras.layers.TimeDistributed(keras.layers.Dense(2))(dec)
    model = keras.Model([enc_in, dec_in], out)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return _fit(model, [src, tgt_in], tgt_out, init, batch_size=8)


def custom_layer(keras, init=None) -> dict:
    """A Keras-style custom layer (build / call / add_weight / get_config) after a GRU."""

    class ScaledDense(keras.layers.Layer):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="glorot_uniform", trainable=True, name="w")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
            self.scale = self.add_weight(shape=(), initializer="ones", trainable=True)

        def call(self, inputs):
            return keras.ops.tanh(keras.ops.matmul(inputs, self.w) + self.b) * self.scale

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], self.units)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    rng = np.random.default_rng(5)
    x = rng.standard_normal((48, 6, 2)).astype("float32")
    y = np.sin(x.sum(axis=(1, 2)))[:, None].astype("float32")
    model = keras.Sequential([keras.Input(shape=(6, 2)), keras.layers.GRU(5),
                              ScaledDense(4), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    out = _fit(model, x, y, init)
    out["config_units"] = ScaledDense.from_config(model.layers[1].get_config()).units
    return out


def custom_cell(keras, init=None) -> dict:
    """A minimal Keras-style RNN cell (state_size, build, call(inputs, states)) in RNN."""

    class MinimalCell(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer="glorot_uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                    initializer="orthogonal",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            prev = states[0]
            h = keras.ops.tanh(keras.ops.matmul(inputs, self.kernel)
                               + keras.ops.matmul(prev, self.recurrent_kernel))
            return h, [h]

    rng = np.random.default_rng(6)
    x = rng.standard_normal((40, 7, 3)).astype("float32")
    y = x[:, -3:, :].sum(axis=(1, 2))[:, None].astype("float32") / 3
    inputs = keras.Input(shape=(7, 3))
    h = keras.layers.RNN(MinimalCell(6))(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return _fit(model, x, y, init, batch_size=10)


def subclassed_model(keras, init=None) -> dict:
    """A subclassed Model with layers in __init__, call(training=), and a custom train_step
    written as Keras' torch backend allows."""
    import torch

    class Forecaster(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.rnn = keras.layers.LSTM(6, return_sequences=True)
            self.pool = keras.layers.GRU(4)
            self.head = keras.layers.Dense(1)

        def call(self, inputs, training=None):
            return self.head(self.pool(self.rnn(inputs), training=training))

        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            self.metrics[0].update_state(loss)
            return self.compute_metrics(x, y, y_pred)

    rng = np.random.default_rng(7)
    x = rng.standard_normal((40, 6, 2)).astype("float32")
    y = x[:, :, 0].mean(1, keepdims=True).astype("float32")
    model = Forecaster()
    model(x[:2])  # builds the weights (Keras 3 builds a subclassed model by calling it)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    out = _fit(model, x[:30], y[:30], init, batch_size=10, validation_data=(x[30:], y[30:]))
    out["mae"] = out["history"]["mae"]
    out["predict_shape"] = model.predict(x[:3], verbose=0).shape
    out["evaluate"] = model.evaluate(x, y, verbose=0)
    return out


def multi_input_multi_output(keras, init=None) -> dict:
    """Two inputs (a sequence and static features), two outputs with their own losses."""
    rng = np.random.default_rng(8)
    seq = rng.standard_normal((48, 8, 3)).astype("float32")
    static = rng.standard_normal((48, 2)).astype("float32")
    y_reg = (seq.mean(axis=(1, 2)) + static[:, 0])[:, None].astype("float32")
    y_cls = (static[:, 1] > 0).astype("float32")[:, None]
    seq_in = keras.Input(shape=(8, 3), name="seq")
    static_in = keras.Input(shape=(2,), name="static")
    h = keras.layers.GRU(5)(seq_in)
    merged = keras.layers.Concatenate()([h, keras.layers.Dense(3, activation="relu")(static_in)])
    reg = keras.layers.Dense(1, name="reg")(merged)
    cls = keras.layers.Dense(1, activation="sigmoid", name="cls")(merged)
    model = keras.Model([seq_in, static_in], [reg, cls])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=["mse", "binary_crossentropy"], loss_weights=[1.0, 0.5])
    return _fit(model, [seq, static], [y_reg, y_cls], init, batch_size=12)


def early_stopping(keras, init=None) -> dict:
    """EarlyStopping on val_loss with a validation split; a learning rate too high to keep
    improving, so training stops before the last epoch."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((60, 5, 2)).astype("float32")
    y = x[:, :, 1].sum(1, keepdims=True).astype("float32")
    model = keras.Sequential([keras.Input(shape=(5, 2)), keras.layers.SimpleRNN(4),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.3), loss="mse")
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1,
                                         restore_best_weights=True)
    out = _fit(model, x, y, init, batch_size=10, epochs=12, validation_split=0.25,
               callbacks=[stop])
    out["val_losses"] = out["history"]["val_loss"]
    out["epochs_run"] = len(out["losses"])
    return out


def integer_inputs(keras, init=None) -> dict:
    """Integer arrays fed straight into LSTM and Dense models (Keras casts them)."""
    rng = np.random.default_rng(10)
    x = rng.integers(0, 5, size=(40, 6, 2)).astype("int64")
    y = (x.sum(axis=(1, 2)) % 3 == 0).astype("float32")[:, None]
    model = keras.Sequential([keras.Input(shape=(6, 2)), keras.layers.LSTM(4),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    out = _fit(model, x, y, init, batch_size=10)
    out["predict"] = model.predict(x[:4], verbose=0)
    return out


def masked_return_sequences(keras, init=None) -> dict:
    """Masking layer over zero-padded frames, stacked GRU/LSTM with return_sequences and a
    per-step Dense: the loss skips the padded steps."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((36, 7, 2)).astype("float32")
    for i in range(36):
        x[i, rng.integers(3, 8):] = 0.0
    y = np.cumsum(x[:, :, :1], axis=1).astype("float32")
    model = keras.Sequential([keras.Input(shape=(7, 2)), keras.layers.Masking(0.0),
                              keras.layers.GRU(5, return_sequences=True),
                              keras.layers.LSTM(4, return_sequences=True),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return _fit(model, x, y, init, batch_size=12)


PROGRAMS = [sequential_lstm_regression, functional_gru_classifier, stacked_bidirectional,
            masked_embedding, encoder_decoder, custom_layer, custom_cell, subclassed_model,
            multi_input_multi_output, early_stopping, integer_inputs, masked_return_sequences]
