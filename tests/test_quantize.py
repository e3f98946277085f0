"""int8 dynamic quantization: the accuracy change on a small task, torch and ONNX paths.

The task: classify random sequences by the decision of a fixed float32 model (the teacher), so
the float model's accuracy is 1 by construction and the int8 model's accuracy is its agreement
with float32. The int8 outputs must differ from float32 (int8 kernels really ran) yet keep
the decisions.
"""

from __future__ import annotations

import numpy as np
import pytest

from gated.layers import GRU, LSTM, Dense, Input, LayerNormalization
from gated.models import Sequential

N, T, D = 400, 12, 8


def _teacher():
    model = Sequential([Input((None, D)), LSTM(32, return_sequences=True),
                        GRU(24), LayerNormalization(), Dense(4, activation="softmax")])
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(-0.4, 0.4, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    return model, x, model.predict(x, verbose=0)


def test_torch_int8_keeps_the_decisions():
    from gated.export.quantize import quantize_dynamic

    model, x, want = _teacher()
    q = quantize_dynamic(model)
    assert q.int8_layers == [layer.name for layer in model.layers
                             if not isinstance(layer, LayerNormalization)]
    got = q.predict(x)
    error = np.abs(got - want).max()
    assert 1e-6 < error < 0.05, error  # int8 ran, and stayed close
    accuracy = (got.argmax(-1) == want.argmax(-1)).mean()
    assert accuracy >= 0.95, accuracy


def test_onnx_int8_keeps_the_decisions(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from gated.export.quantize import quantize_onnx

    model, x, want = _teacher()
    model.export(tmp_path / "f.onnx")
    path = quantize_onnx(tmp_path / "f.onnx", tmp_path / "q.onnx")
    import onnx

    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "DynamicQuantizeLSTM" in ops and ops & {"MatMulInteger", "DynamicQuantizeMatMul"}, ops
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    error = np.abs(got - want).max()
    assert 1e-6 < error < 0.05, error
    assert (got.argmax(-1) == want.argmax(-1)).mean() >= 0.95
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    with pytest.raises(ValueError, match="bad.onnx"):
        quantize_onnx(tmp_path / "bad.onnx", tmp_path / "out.onnx")
