"""The Keras model API: the seed example, compile/fit/evaluate/predict, weights, config, errors.

Independent truths: Keras' parameter formulas and summary numbers, a hand-written PyTorch
training loop with the same weights and batches, and hand-computed losses.
"""

import numpy as np
import pytest
import torch

from gated.callbacks import Callback, EarlyStopping
from gated.layers import (
    LSTM,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    Masking,
    RepeatVector,
    TimeDistributed,
)
from gated.models import Model, Sequential
from gated.optimizers import Adam


def seed_model():
    model = Sequential()
    model.add(LSTM(50, activation="relu", input_shape=(100, 1)))
    model.add(Dense(1))
    model.compile(optimizer="adam", loss="mean_squared_error")
    return model


def test_seed_example_summary(capsys):
    model = seed_model()
    model.summary()
    out = capsys.readouterr().out
    assert "(None, 50)" in out and "(None, 1)" in out
    assert "10,400" in out and "│            51 │" in out
    assert "Total params: 10,451 (40.82 KB)" in out
    assert "Trainable params: 10,451" in out and "Non-trainable params: 0" in out
    assert model.count_params() == 10451


def test_seed_example_trains_and_predicts_numpy():
    torch.manual_seed(0)
    t = np.arange(160 + 10) * 0.3
    series = np.sin(t)
    x = np.stack([series[i:i + 10] for i in range(160)])[..., None]
    y = series[10:170][:, None]
    model = Sequential([LSTM(16, input_shape=(10, 1)), Dense(1)])
    model.compile(optimizer=Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=6, batch_size=16, verbose=0, validation_split=0.1)
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert len(history.history["loss"]) == 6
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    pred = model.predict(x[:7])
    assert isinstance(pred, np.ndarray) and pred.shape == (7, 1) and pred.dtype == np.float32
    loss, mae = model.evaluate(x, y, verbose=0)
    expected = float(np.mean((model.predict(x, batch_size=64) - y) ** 2))
    assert loss == pytest.approx(expected, rel=1e-5)
    assert isinstance(mae, float)


def test_fit_equals_hand_written_torch_loop():
    """Same weights, same batches (shuffle=False): gated's fit equals a plain PyTorch loop."""
    torch.manual_seed(1)
    x = np.random.default_rng(1).normal(size=(64, 12, 3)).astype(np.float32)
    y = np.random.default_rng(2).normal(size=(64, 2)).astype(np.float32)
    model = Sequential([LSTM(8, input_shape=(12, 3)), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    lstm = torch.nn.LSTM(3, 8, batch_first=True)
    lin = torch.nn.Linear(8, 2)
    k, rk, b, dk, db = model.get_weights()
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.tensor(k.T))
        lstm.weight_hh_l0.copy_(torch.tensor(rk.T))
        lstm.bias_ih_l0.copy_(torch.tensor(b))
        lstm.bias_hh_l0.zero_()
        lin.weight.copy_(torch.tensor(dk.T))
        lin.bias.copy_(torch.tensor(db))
    lstm.bias_hh_l0.requires_grad_(False)  # Keras has one bias: keep torch's second at zero
    params = [p for p in [*lstm.parameters(), *lin.parameters()] if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01)
    for _ in range(2):
        for s in range(0, 64, 16):
            xb, yb = torch.tensor(x[s:s + 16]), torch.tensor(y[s:s + 16])
            out, _ = lstm(xb)
            loss = torch.nn.functional.mse_loss(lin(out[:, -1]), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    k2, rk2, b2, dk2, db2 = model.get_weights()
    np.testing.assert_allclose(k2, lstm.weight_ih_l0.detach().numpy().T, atol=1e-5)
    np.testing.assert_allclose(rk2, lstm.weight_hh_l0.detach().numpy().T, atol=1e-5)
    np.testing.assert_allclose(b2, (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().numpy(),
                               atol=1e-5)
    np.testing.assert_allclose(dk2, lin.weight.detach().numpy().T, atol=1e-5)


def test_masked_steps_do_not_count_in_the_loss():
    model = Sequential([Masking(0.0, input_shape=(4, 1)), LSTM(3, return_sequences=True),
                        TimeDistributed(Dense(1))])
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[[1.0], [2.0], [0.0], [0.0]]], dtype=np.float32)
    y = np.zeros((1, 4, 1), dtype=np.float32)
    pred = model.predict(x)
    expected = float(np.mean(pred[0, :2] ** 2))  # only the two real steps
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-5)
    y_changed = y.copy()
    y_changed[0, 2:] = 100.0  # targets at padded steps are ignored
    assert model.evaluate(x, y_changed, verbose=0) == pytest.approx(expected, rel=1e-5)


def test_sample_weight_and_train_on_batch():
    model = Sequential([Dense(1, input_shape=(2,), kernel_initializer="zeros")])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((2, 2), np.float32)
    y = np.array([[1.0], [3.0]], np.float32)
    w = np.array([1.0, 0.0], np.float32)
    assert model.evaluate(x, y, sample_weight=w, verbose=0) == pytest.approx(0.5)
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx((1 + 9) / 2)


def test_get_set_weights_keras_order_and_config_roundtrip():
    model = Sequential([Embedding(20, 4, input_shape=(7,)), LSTM(5, return_sequences=True),
                        LSTM(3), Dropout(0.2), Dense(2, activation="softmax")])
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(20, 4), (4, 20), (5, 20), (20,), (5, 12), (3, 12), (12,), (3, 2), (2,)]
    clone = Sequential.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).integers(0, 20, size=(3, 7))
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))


def test_functional_encoder_decoder_with_states():
    enc_in = Input(shape=(None, 3))
    _, h, c = LSTM(6, return_state=True)(enc_in)
    dec_in = Input(shape=(None, 2))
    dec_seq = LSTM(6, return_sequences=True)(dec_in, initial_state=[h, c])
    out = TimeDistributed(Dense(2))(dec_seq)
    model = Model([enc_in, dec_in], out)
    model.compile(optimizer="adam", loss="mse")
    xe = np.random.rand(4, 5, 3).astype(np.float32)
    xd = np.random.rand(4, 6, 2).astype(np.float32)
    y = np.random.rand(4, 6, 2).astype(np.float32)
    model.fit([xe, xd], y, epochs=1, verbose=0)
    assert model.predict([xe, xd]).shape == (4, 6, 2)
    clone = Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict([xe, xd]), model.predict([xe, xd]), atol=1e-6)


def test_repeat_vector_autoencoder_shapes():
    model = Sequential([LSTM(8, input_shape=(10, 2)), RepeatVector(10),
                        LSTM(8, return_sequences=True), TimeDistributed(Dense(2))])
    assert model.predict(np.zeros((3, 10, 2))).shape == (3, 10, 2)
    flat = Sequential([LSTM(4, return_sequences=True, input_shape=(5, 2)), Flatten(), Dense(1)])
    assert flat.count_params() == 4 * (4 * (2 + 4) + 4) + 21


def test_dense_on_any_rank():
    d = Dense(3)
    assert d(torch.randn(2, 4, 5, 6)).shape == (2, 4, 5, 3)


class _Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((epoch, dict(logs)))


def test_callbacks_and_early_stopping_restore_best():
    x = np.random.rand(32, 5, 1).astype(np.float32)
    y = np.random.rand(32, 1).astype(np.float32)
    model = Sequential([LSTM(4, input_shape=(5, 1)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    rec = _Recorder()
    stopper = EarlyStopping(monitor="loss", patience=0, min_delta=1e9)
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[rec, stopper])
    assert len(history.history["loss"]) == 2  # no improvement of 1e9: stops after patience
    assert [e for e, _ in rec.epochs] == [0, 1]


@pytest.mark.parametrize("verbose", [1, 2])
def test_progress_output(capsys, verbose):
    model = Sequential([LSTM(2, input_shape=(3, 1)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((10, 3, 1)), np.zeros((10, 1)), epochs=2, batch_size=5, verbose=verbose)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and "loss" in text


# ---------------------------------------------------------------------------- bad input
def test_fit_errors_name_the_argument():
    model = seed_model()
    x = np.zeros((10, 100, 1), np.float32)
    with pytest.raises(ValueError, match=r"same number of samples.*x has 10 samples.*"
                                         r"y has 9 samples"):
        model.fit(x, np.zeros((9, 1)), verbose=0)
    bad = x.copy()
    bad[3, 7, 0] = np.nan
    with pytest.raises(ValueError, match=r"`x` of fit\(\) contains NaN \(first at index "
                                         r"\(3, 7, 0\)"):
        model.fit(bad, np.zeros((10, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"wrong rank: expected ndim=3.*received ndim=2"):
        model.fit(np.zeros((10, 100)), np.zeros((10, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"built for input shape \(None, 100, 1\)\), "
                                         r"received shape \(10, 100, 3\)"):
        model.fit(np.zeros((10, 100, 3)), np.zeros((10, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"`batch_size` of fit\(\).*batch_size=0"):
        model.fit(x, np.zeros((10, 1)), batch_size=0, verbose=0)


def test_compile_errors_suggest_close_names():
    model = seed_model()
    with pytest.raises(ValueError, match=r"Unknown loss 'mean_sqared_error'.*"
                                         r"Did you mean 'mean_squared_error'"):
        model.compile(optimizer="adam", loss="mean_sqared_error")
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adm'.*Did you mean 'adam'"):
        model.compile(optimizer="adm", loss="mse")
    with pytest.raises(ValueError, match=r"Unknown metric 'acurracy'.*Did you mean 'accuracy'"):
        model.compile(optimizer="adam", loss="mse", metrics=["acurracy"])


def test_fit_before_compile_is_explained():
    model = Sequential([Dense(1, input_shape=(2,))])
    with pytest.raises(RuntimeError, match=r"compile\(\) before fit\(\)"):
        model.fit(np.zeros((2, 2)), np.zeros((2, 1)))


def test_layer_kwargs_and_units_errors():
    with pytest.raises(TypeError, match=r"Unrecognized keyword arguments passed to Dense: "
                                        r"\{'unit': 3\}"):
        Dense(3, unit=3)
    with pytest.raises(ValueError, match=r"`units` of Dense.*units=0"):
        Dense(0)


def test_callbacks_with_a_real_model(tmp_path):
    from gated.callbacks import CSVLogger, ModelCheckpoint, ReduceLROnPlateau
    from gated.models import load_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5, 1)).astype(np.float32)
    y = rng.normal(size=(40, 1)).astype(np.float32)
    model = Sequential([LSTM(4, input_shape=(5, 1)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    best = tmp_path / "best.gated"
    log = tmp_path / "log.csv"
    history = model.fit(
        x, y, epochs=4, verbose=0, validation_split=0.25,
        callbacks=[ModelCheckpoint(best, save_best_only=True),
                   ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=0, min_delta=1e9),
                   CSVLogger(log)])
    val = history.history["val_loss"]
    restored = load_model(best)
    best_epoch = int(np.argmin(val))
    assert restored.evaluate(x[30:], y[30:], verbose=0) == pytest.approx(val[best_epoch],
                                                                         rel=1e-5)
    rows = log.read_text().strip().splitlines()
    assert rows[0].split(",")[0] == "epoch" and len(rows) == 5
    # epoch 1 improves on +inf; epochs 2-4 miss the huge min_delta: three halvings
    assert model.optimizer.learning_rate == pytest.approx(0.001 * 0.5 ** 3)
    assert history.history["learning_rate"][0] == pytest.approx(0.001)


# --------------------------------------------------------------------------- streams of batches
def _stream_data():
    x = np.random.default_rng(3).normal(size=(40, 6, 2)).astype(np.float32)
    y = np.random.default_rng(4).normal(size=(40, 1)).astype(np.float32)
    return x, y


def _twin_models():
    torch.manual_seed(5)
    a = Sequential([LSTM(4, input_shape=(6, 2)), Dense(1)])
    b = Sequential([LSTM(4, input_shape=(6, 2)), Dense(1)])
    for m in (a, b):
        m.compile(optimizer="adam", loss="mse", metrics=["mae"])
    b.set_weights(a.get_weights())
    return a, b


def test_fit_on_a_dataloader_equals_fit_on_arrays():
    """The same batches in the same order: a DataLoader gives the array path's numbers (which
    test_fit_equals_hand_written_torch_loop checks against plain PyTorch)."""
    from torch.utils.data import DataLoader, TensorDataset

    x, y = _stream_data()
    arrays, stream = _twin_models()
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=8)
    val = DataLoader(TensorDataset(torch.tensor(x[:16]), torch.tensor(y[:16])), batch_size=5)
    h1 = arrays.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                    validation_data=(x[:16], y[:16]), validation_batch_size=5)
    h2 = stream.fit(loader, epochs=3, verbose=0, validation_data=val)
    for key in ("loss", "mae", "val_loss", "val_mae"):
        np.testing.assert_allclose(h2.history[key], h1.history[key], rtol=1e-5, err_msg=key)
    for w1, w2 in zip(arrays.get_weights(), stream.get_weights(), strict=True):
        np.testing.assert_allclose(w2, w1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stream.evaluate(loader, verbose=0),
                               arrays.evaluate(x, y, batch_size=8, verbose=0), rtol=1e-6)
    # predict takes x from (x, y) batches, and bare x batches
    np.testing.assert_allclose(stream.predict(loader, verbose=0),
                               arrays.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    bare = DataLoader(torch.tensor(x), batch_size=16)
    np.testing.assert_allclose(stream.predict(bare, verbose=0), arrays.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_fit_on_a_generator_draws_exactly_steps_per_epoch_batches():
    x, y = _stream_data()
    drawn = []

    def batches():
        k = 0
        while True:
            s = (k * 8) % 40
            drawn.append(s)
            k += 1
            yield x[s:s + 8], y[s:s + 8], np.ones(8, np.float32)

    model, _ = _twin_models()
    history = model.fit(batches(), steps_per_epoch=3, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert drawn == [0, 8, 16, 24, 32, 0]  # a generator goes on across epochs, no batch skipped
    np.testing.assert_allclose(model.evaluate(batches(), steps=2, verbose=0),
                               model.evaluate(x[:16], y[:16], batch_size=8, verbose=0),
                               rtol=1e-6)


def test_streams_errors_name_the_argument():
    from torch.utils.data import DataLoader, TensorDataset

    x, y = _stream_data()
    model, _ = _twin_models()
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=8)
    with pytest.raises(ValueError, match=r"Argument `y` of fit\(\) must be left at None when "
                                         r"`x` is a DataLoader"):
        model.fit(loader, y, verbose=0)
    with pytest.raises(ValueError, match="`validation_split` of fit"):
        model.fit(loader, validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match=r"generator without len\(\): pass `steps_per_epoch`"):
        model.fit((b for b in [(x, y)]), verbose=0)
    with pytest.raises(ValueError, match=r"`steps_per_epoch` of fit\(\) must be a positive "
                                         r"integer, received steps_per_epoch=0"):
        model.fit(loader, steps_per_epoch=0, verbose=0)
    x_only = DataLoader(torch.tensor(x), batch_size=8)
    with pytest.raises(ValueError, match=r"fit\(\) needs targets.*without y"):
        model.fit(x_only, verbose=0)
    with pytest.raises(ValueError, match="`x` yielded no batch"):
        model.evaluate(iter([]), verbose=0)
    with pytest.raises(ValueError, match=r"built for input shape \(None, 6, 2\)\), "
                                         r"received shape \(4, 6, 3\)"):
        model.fit(DataLoader(TensorDataset(torch.zeros(8, 6, 3), torch.zeros(8, 1)),
                             batch_size=4), verbose=0)
