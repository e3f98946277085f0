"""The torch-free runtime `gated.runtime.numpy` against the torch path (`model.predict`,
`model.stream()`), within 1e-5 in float32, and proof that it never imports torch."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import gated.runtime.numpy as rt
from gated.cells import GRUCell, LSTMCell, SimpleRNNCell
from gated.cells.lstm.cell import VARIANTS
from gated.layers import (
    GRU,
    LSTM,
    RNN,
    Activation,
    Add,
    Average,
    Bidirectional,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Input,
    LayerNormalization,
    Masking,
    Multiply,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
)
from gated.models import Model, Sequential

B, T, D = 3, 6, 4
TOL = 1e-5


def _saved(tmp_path, *layers, input_shape=(None, D)):
    model = Sequential([Input(input_shape, dtype="int64" if len(input_shape) == 1 else None),
                        *layers])
    rng = np.random.default_rng(1)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    model.save(tmp_path / "m.gated")
    return model, rt.load(tmp_path / "m.gated")


def _x(seed=0):
    x = np.random.default_rng(seed).standard_normal((B, T, D)).astype(np.float32)
    x[0, :2] = 0.0  # padding for the models with Masking
    x[2, 3] = 0.0
    return x


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_lstm_preset_predicts_as_torch(tmp_path, variant):
    model, numpy_model = _saved(tmp_path, LSTM(5, variant=variant, return_sequences=True),
                                Dense(2))
    x = _x()
    np.testing.assert_allclose(numpy_model.predict(x), model.predict(x, verbose=0),
                               rtol=TOL, atol=TOL)


@pytest.mark.parametrize("layers", [
    lambda: [LSTM(5, proj_size=3, layer_norm=True, peephole=True)],
    lambda: [LSTM(5, zoneout_cell=0.3, zoneout_hidden=0.2, activation="relu",
                  return_sequences=True)],
    lambda: [Masking(), GRU(5, return_sequences=True), GRU(4, reset_after=False)],
    lambda: [SimpleRNN(5, return_sequences=True), TimeDistributed(Dense(3)),
             LayerNormalization(), Dropout(0.5), Activation("softmax")],
    lambda: [RNN([LSTMCell(4, variant="cifg"), GRUCell(3), SimpleRNNCell(2)],
                 return_sequences=True)],
    lambda: [Bidirectional(LSTM(4, return_sequences=True)),
             Bidirectional(GRU(3), merge_mode="sum")],
], ids=["lstmp_layer_norm", "zoneout_relu", "masking_gru", "simple_and_layers", "stacked",
        "bidirectional"])
def test_layers_predict_as_torch(tmp_path, layers):
    model, numpy_model = _saved(tmp_path, *layers())
    x = _x(2)
    np.testing.assert_allclose(numpy_model.predict(x), model.predict(x, verbose=0),
                               rtol=TOL, atol=TOL)


def test_embedding_with_mask_zero_predicts_and_streams(tmp_path):
    model, numpy_model = _saved(tmp_path, Embedding(9, 4, mask_zero=True),
                                LSTM(5, return_sequences=True), input_shape=(None,))
    ids = np.random.default_rng(3).integers(1, 9, (B, T))
    ids[1, 2:4] = 0
    want = model.predict(ids, verbose=0)
    np.testing.assert_allclose(numpy_model.predict(ids), want, rtol=TOL, atol=TOL)
    stream = numpy_model.stream(B)
    got = np.stack([stream.step(ids[:, t]) for t in range(T)], axis=1)
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


def test_functional_models_load(tmp_path):
    inputs = Input((None, D))
    model = Model(inputs, Dense(2)(LSTM(4, variant="peephole")(inputs)))
    model.save(tmp_path / "f.gated")
    x = _x(4)
    np.testing.assert_allclose(rt.load(tmp_path / "f.gated").predict(x),
                               model.predict(x, verbose=0), rtol=TOL, atol=TOL)
    masked = Masking()(inputs)
    a = LSTM(4, return_sequences=True)(masked)
    b = GRU(4, return_sequences=True)(masked)
    merged = Concatenate()([Add()([a, b]), Average()([a, b]), Multiply()([a, b])])
    dag = Model(inputs, Dense(2)(merged))
    rng = np.random.default_rng(9)
    dag.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32)
                     for w in dag.get_weights()])
    dag.save(tmp_path / "dag.gated")
    loaded = rt.load(tmp_path / "dag.gated")
    want = dag.predict(x, verbose=0)
    np.testing.assert_allclose(loaded.predict(x), want, rtol=TOL, atol=TOL)
    stream = loaded.stream(B)
    got = np.stack([stream.step(x[:, t]) for t in range(T)], axis=1)
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


def test_stream_equals_the_torch_stream_and_shares_its_state(tmp_path):
    model, numpy_model = _saved(tmp_path, LSTM(5, variant="peephole", return_sequences=True),
                                GRU(4, return_sequences=True), Dense(2))
    x = _x(5)
    torch_stream, numpy_stream = model.stream(B), numpy_model.stream(B)
    for t in range(3):
        np.testing.assert_allclose(numpy_stream.step(x[:, t]), torch_stream.step(x[:, t]),
                                   rtol=TOL, atol=TOL)
    state = {k: v.numpy() for k, v in torch_stream.state_dict().items()}
    fresh = numpy_model.stream(B)
    fresh.load_state_dict(state)  # a torch stream's state continues on NumPy
    np.testing.assert_allclose(fresh.step(x[:, 3:]), model.predict(x, verbose=0)[:, 3:],
                               rtol=TOL, atol=TOL)
    numpy_stream.reset(0)
    bad = dict(state)
    key = next(iter(bad))
    bad[key] = np.zeros((B, 99), np.float32)
    with pytest.raises(ValueError, match=rf"'{key}' must have shape"):
        fresh.load_state_dict(bad)
    with pytest.raises(ValueError, match="`x` must have shape"):
        fresh.step(np.zeros((B, 7), np.float32))


def test_bad_files_and_unsupported_layers_are_named(tmp_path):
    _, numpy_model = _saved(tmp_path, LSTM(3))
    data = (tmp_path / "m.gated").read_bytes()
    (tmp_path / "cut.gated").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.gated"):
        rt.load(tmp_path / "cut.gated")
    import json
    import zipfile

    with zipfile.ZipFile(tmp_path / "m.gated") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][0]["config"]["name"] = "renamed"  # its weights now missing
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "odd.gated", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(ValueError, match="odd.gated.*'renamed'"):
        rt.load(tmp_path / "odd.gated")
    with pytest.raises(rt.Unsupported, match="'again'"):
        _saved(tmp_path, LSTM(3), RepeatVector(2, name="again"), LSTM(2))
    _, bi = _saved(tmp_path, Bidirectional(LSTM(3), name="bi"))
    with pytest.raises(rt.Unsupported, match="'bi'"):
        bi.stream()


def test_runs_without_importing_torch(tmp_path):
    model, _ = _saved(tmp_path, LSTM(4, layer_norm=True, return_sequences=True),
                      GRU(3), Dense(1))
    x = _x(6)
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import gated.runtime.numpy as rt
        model = rt.load({str(tmp_path / 'm.gated')!r})
        x = np.load({str(tmp_path / 'x.npy')!r})
        y = model.predict(x)
        stream = model.stream(batch_size=x.shape[0])
        for t in range(x.shape[1]):
            y_t = stream.step(x[:, t])
        assert np.allclose(y, y_t, atol=1e-6)
        np.save({str(tmp_path / 'y.npy')!r}, y)
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        assert not loaded, loaded
    """)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), model.predict(x, verbose=0),
                               rtol=TOL, atol=TOL)


def test_go_backwards_predicts_as_torch(tmp_path):
    model, numpy_model = _saved(tmp_path, Masking(), LSTM(4, go_backwards=True,
                                                           return_sequences=True),
                                GRU(3, go_backwards=True))
    x = _x(7)
    np.testing.assert_allclose(numpy_model.predict(x), model.predict(x, verbose=0),
                               rtol=TOL, atol=TOL)
