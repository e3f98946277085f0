"""ONNX export (`model.export(..., format="onnx")`) against gated itself, run by onnxruntime.

The truth is `model.predict` (torch); the exported graph runs in onnxruntime (float32, 1e-5)
at two batch sizes and two lengths on the same file (dynamic axes). The standard cells must
map to ONNX's own `LSTM`/`GRU`/`RNN` operators, the other variants to a `Scan`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gated.cells import GRUCell, LSTMCell
from gated.cells.lstm.cell import VARIANTS
from gated.layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    Dense,
    Embedding,
    Input,
    LayerNormalization,
    Masking,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
)
from gated.models import Sequential

onnx = pytest.importorskip("onnx", reason="onnx is not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

from gated.export.onnx import NotExportable, load_onnx, to_onnx  # noqa: E402

D = 4
TOL = 1e-5


def _model(*layers, input_shape=(None, D)) -> Sequential:
    model = Sequential([Input(input_shape), *layers])
    rng = np.random.default_rng(1)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    return model


def _session(proto):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(proto.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def _ops(proto) -> set[str]:
    return {node.op_type for node in proto.graph.node}


def _check(model, ops_expected: set[str] | None = None):
    proto = to_onnx(model)
    if ops_expected is not None:
        assert ops_expected <= _ops(proto), _ops(proto)
    session = _session(proto)
    rng = np.random.default_rng(2)
    for batch in (1, 3):
        for steps in (1, 6):
            x = rng.standard_normal((batch, steps, D)).astype(np.float32)
            got = session.run(None, {"input": x})[0]
            np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=TOL, atol=TOL)
    return proto


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_lstm_preset_equals_onnxruntime(variant):
    model = _model(LSTM(5, variant=variant, return_sequences=True))
    op = "Scan" if variant == "fgr" else "LSTM"
    proto = _check(model, {op})
    if variant == "cifg":
        (node,) = [n for n in proto.graph.node if n.op_type == "LSTM"]
        assert {a.name: a.i for a in node.attribute}["input_forget"] == 1


@pytest.mark.parametrize("kwargs", [{"proj_size": 3}, {"layer_norm": True},
                                    {"variant": "peephole", "layer_norm": True, "proj_size": 2},
                                    {"zoneout_cell": 0.3, "zoneout_hidden": 0.1},
                                    {"activation": "relu", "use_bias": False},
                                    {"recurrent_activation": "hard_sigmoid"}],
                         ids=["projection", "layer_norm", "peephole_ln_proj", "zoneout",
                              "relu_nobias", "hard_sigmoid"])
def test_lstm_options_equal_onnxruntime(kwargs):
    op = "LSTM" if set(kwargs) <= {"activation", "use_bias", "recurrent_activation"} \
        else "Scan"
    _check(_model(LSTM(5, return_sequences=True, **kwargs)), {op})


@pytest.mark.parametrize("layer, op", [
    (lambda: GRU(5, return_sequences=True), "GRU"),
    (lambda: GRU(5, return_sequences=True, reset_after=False), "GRU"),
    (lambda: SimpleRNN(5, return_sequences=True), "RNN"),
    (lambda: SimpleRNN(5, activation="relu", return_sequences=True), "RNN"),
], ids=["gru_reset_after", "gru_reset_before", "simple_rnn", "simple_relu"])
def test_gru_and_simple_rnn_equal_onnxruntime(layer, op):
    _check(_model(layer(), TimeDistributed(Dense(2))), {op})


def test_stacked_models_equal_onnxruntime():
    _check(_model(LSTM(6, variant="peephole", return_sequences=True), LayerNormalization(),
                  GRU(5, return_sequences=True),
                  RNN([LSTMCell(4, layer_norm=True), GRUCell(3)], return_sequences=True),
                  SimpleRNN(4), Dense(2, activation="softmax")))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
def test_bidirectional_models_equal_onnxruntime(merge_mode):
    _check(_model(Bidirectional(LSTM(4, variant="cifg", return_sequences=True),
                                merge_mode=merge_mode),
                  Bidirectional(LSTM(3, proj_size=2), merge_mode=merge_mode), Dense(1)))


def test_go_backwards_layers_equal_onnxruntime():
    _check(_model(LSTM(4, go_backwards=True, return_sequences=True),
                  LSTM(3, layer_norm=True, go_backwards=True, return_sequences=True),
                  GRU(3, go_backwards=True)))


@pytest.mark.parametrize("layers", [
    lambda: [LSTM(5, variant="cifg", return_sequences=True),
             GRU(4, return_sequences=True, zero_output_for_mask=True),
             SimpleRNN(3, return_sequences=True, go_backwards=True), LSTM(3, proj_size=2)],
    lambda: [Bidirectional(GRU(3, reset_after=False, return_sequences=True)),
             Bidirectional(LSTM(3, layer_norm=True), merge_mode="sum"), Dense(2)],
], ids=["stack", "bidirectional"])
def test_masked_models_equal_onnxruntime(layers):
    model = _model(Masking(), *layers())
    proto = to_onnx(model)
    assert "Scan" in _ops(proto)
    session = _session(proto)
    x = np.random.default_rng(6).standard_normal((4, 7, D)).astype(np.float32)
    x[0, :3] = 0.0  # leading, inner and trailing padding
    x[1, 2:4] = 0.0
    x[2, 5:] = 0.0
    np.testing.assert_allclose(session.run(None, {"input": x})[0],
                               model.predict(x, verbose=0), rtol=TOL, atol=TOL)


def test_embedding_mask_zero_equals_onnxruntime():
    model = Sequential([Input((None,), dtype="int64"), Embedding(11, 4, mask_zero=True),
                        LSTM(5, return_sequences=True), GRU(3)])
    ids = np.random.default_rng(7).integers(1, 11, (3, 7))
    ids[0, :2] = 0
    ids[2, 4:] = 0
    got = _session(to_onnx(model)).run(None, {"input": ids})[0]
    np.testing.assert_allclose(got, model.predict(ids, verbose=0), rtol=TOL, atol=TOL)


def test_embedding_model_equals_onnxruntime():
    model = Sequential([Input((None,), dtype="int64"), Embedding(11, 4), LSTM(5), Dense(2)])
    ids = np.random.default_rng(3).integers(0, 11, (3, 7))
    got = _session(to_onnx(model)).run(None, {"input": ids})[0]
    np.testing.assert_allclose(got, model.predict(ids, verbose=0), rtol=TOL, atol=TOL)


def test_step_graph_streams_with_state_inputs(tmp_path):
    model = _model(LSTM(5, variant="peephole", return_sequences=True, name="a"),
                   LSTM(4, layer_norm=True, return_sequences=True, name="b"),
                   GRU(3, name="c"), Dense(2))
    path = model.export(tmp_path / "step.onnx", format="onnx", step=True)
    session = _session(load_onnx(path))
    names = [i.name for i in session.get_inputs()]
    assert names == ["x", "a.cell0.state0", "a.cell0.state1", "b.cell0.state0",
                     "b.cell0.state1", "c.cell0.state0"]
    x = np.random.default_rng(4).standard_normal((2, 5, D)).astype(np.float32)
    states = {i.name: np.zeros((2, i.shape[1]), np.float32) for i in session.get_inputs()[1:]}
    outputs = [o.name for o in session.get_outputs()]
    stream = model.stream(batch_size=2)
    for t in range(x.shape[1]):
        result = dict(zip(outputs, session.run(None, {"x": x[:, t], **states}), strict=True))
        states = {k: result[f"{k}_next"] for k in states}
        np.testing.assert_allclose(result["output"], model.predict(x[:, :t + 1], verbose=0),
                                   rtol=TOL, atol=TOL)
        stream.step(x[:, t])
    for key, value in stream.state_dict().items():  # the same states under the same names
        if key in states:
            np.testing.assert_allclose(states[key], value.numpy(), rtol=TOL, atol=TOL)


def test_bad_input_is_named(tmp_path):
    model = _model(LSTM(3), RepeatVector(2, name="again"), LSTM(2))
    with pytest.raises(NotExportable, match="'again'"):
        to_onnx(model)
    with pytest.raises(NotExportable, match="masks are not supported in the streaming step"):
        to_onnx(_model(Masking(), LSTM(3)), step=True)
    good = _model(LSTM(3))
    with pytest.raises(ValueError, match="format='tf'"):
        good.export(tmp_path / "m", format="tf")
    with pytest.raises(NotExportable, match="'bi'"):
        to_onnx(_model(Bidirectional(LSTM(3), name="bi")), step=True)
    path = good.export(tmp_path / "m.onnx")
    data = Path(path).read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.onnx"):
        load_onnx(tmp_path / "cut.onnx")


def test_gated_export_command(tmp_path, capsys):
    from gated.cli import main

    model = _model(LSTM(5, variant="cifg"), Dense(1))
    model.save(tmp_path / "m.gated")
    assert main(["export", str(tmp_path / "m.gated"), str(tmp_path / "m.onnx")]) == 0
    x = np.random.default_rng(5).standard_normal((2, 6, D)).astype(np.float32)
    got = _session(load_onnx(tmp_path / "m.onnx")).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=TOL, atol=TOL)
    (tmp_path / "bad.gated").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(SystemExit) as stop:
        main(["export", str(tmp_path / "bad.gated"), str(tmp_path / "x.onnx")])
    assert stop.value.code == 2 and "bad.gated" in capsys.readouterr().err
