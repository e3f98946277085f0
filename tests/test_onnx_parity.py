"""Peephole and CIFG LSTMs against the ONNX `LSTM` operator run by onnxruntime.

The ONNX operator (opset 14, docs/Operators.md#LSTM) computes, per direction:

    i = f(X W_i^T + H R_i^T + P_i * C_{t-1} + Wb_i + Rb_i)
    f = f(X W_f^T + H R_f^T + P_f * C_{t-1} + Wb_f + Rb_f)
    c = g(X W_c^T + H R_c^T + Wb_c + Rb_c)
    C = f * C_{t-1} + i * c
    o = f(X W_o^T + H R_o^T + P_o * C + Wb_o + Rb_o)
    H = o * h(C)

with W (num_dir, 4h, in) and R (num_dir, 4h, h) in gate order i, o, f, c, B (num_dir, 8h) =
[Wb, Rb], P (num_dir, 3h) in order i, o, f, and time-major X (seq, batch, in).

`input_forget=1` (the spec says only "couple the input and forget gates"): onnxruntime's CPU
kernel (uni_directional_lstm.cc, GateComputations) sets f = 1 - i, where i already includes
its peephole P_i * C_{t-1}; the forget rows of W, R, Wb, Rb and P_f are ignored. That is
exactly Greff's CIFG, which the tests below show by filling those rows with noise.
(onnx.reference's evaluator ignores `input_forget` altogether, so it cannot check CIFG.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gated.export.layouts import lstm_to_onnx
from gated.layers import LSTM, Bidirectional

onnx = pytest.importorskip("onnx", reason="onnx is not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
from onnx import TensorProto, helper  # noqa: E402

B, T, D, U = 3, 6, 4, 5
TOL = 1e-5


def onnx_weights(weights: list[np.ndarray], blocks: tuple[str, ...], gates: tuple[str, ...],
                 peephole: bool):
    """gated (Keras layout, present blocks of i, f, c, o) -> ONNX W, R, B, P (i, o, f, c), by
    `gated.export.layouts.lstm_to_onnx` (a gate the cell lacks: zero weights, bias 50)."""
    return lstm_to_onnx(weights[0], weights[1], weights[2], blocks, gates,
                        weights[3] if peephole else None)


def fill_forget_with_noise(w, r, b, p, rng):
    """Put noise into every forget-gate slot (rows 2h:3h of W/R/Wb/Rb, P_f)."""
    u = r.shape[1]
    w, r, b, p = w.copy(), r.copy(), b.copy(), p.copy()
    w[2 * u:3 * u] = rng.standard_normal(w[2 * u:3 * u].shape)
    r[2 * u:3 * u] = rng.standard_normal(r[2 * u:3 * u].shape)
    b[2 * u:3 * u] = rng.standard_normal(u)
    b[6 * u:7 * u] = rng.standard_normal(u)
    p[2 * u:3 * u] = rng.standard_normal(u)
    return w, r, b, p


def run_onnx(w, r, b, p, x, h0, c0, *, input_forget: bool = False, direction: str = "forward",
             activations: list[str] | None = None, alphas: list[float] | None = None,
             betas: list[float] | None = None, seq_lens: np.ndarray | None = None):
    """One ONNX LSTM node; W/R/B/P/h0/c0 carry the num_directions axis. x is batch-first."""
    num_dir, four_h, in_size = w.shape
    hidden = four_h // 4
    f32 = TensorProto.FLOAT
    names = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
    feeds = {"X": np.ascontiguousarray(x.transpose(1, 0, 2)), "W": w, "R": r, "B": b,
             "initial_h": h0, "initial_c": c0, "P": p}
    feeds = {k: np.asarray(v, dtype=np.float32) for k, v in feeds.items()}
    inputs = [helper.make_tensor_value_info(k, f32, list(v.shape)) for k, v in feeds.items()]
    if seq_lens is None:
        names[4] = ""
    else:
        feeds["sequence_lens"] = np.asarray(seq_lens, dtype=np.int32)
        inputs.append(helper.make_tensor_value_info("sequence_lens", TensorProto.INT32,
                                                    [x.shape[0]]))
    attrs = {"hidden_size": hidden, "direction": direction,
             "input_forget": int(input_forget)}
    if activations is not None:
        attrs["activations"] = activations
    if alphas is not None:
        attrs["activation_alpha"] = alphas
    if betas is not None:
        attrs["activation_beta"] = betas
    node = helper.make_node("LSTM", names, ["Y", "Y_h", "Y_c"], **attrs)
    steps, batch = x.shape[1], x.shape[0]
    outputs = [helper.make_tensor_value_info("Y", f32, [steps, num_dir, batch, hidden])] + [
        helper.make_tensor_value_info(n, f32, [num_dir, batch, hidden]) for n in ("Y_h", "Y_c")]
    graph = helper.make_graph([node], "lstm", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)],
                              ir_version=8)  # opset 14 needs IR >= 7; older runtimes stop at 13
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # tiny graphs; the test machines have 2 shared cores
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    y, y_h, y_c = session.run(None, feeds)
    # Y (seq, num_dir, batch, hidden) -> (batch, seq, num_dir, hidden)
    return y.transpose(2, 0, 1, 3), y_h, y_c


def _gated(variant: str, rng, **kwargs):
    layer = LSTM(U, variant=variant, return_sequences=True, return_state=True, **kwargs)
    layer(np.zeros((1, 1, D), dtype=np.float32))
    weights = [rng.uniform(-0.8, 0.8, w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    return layer, weights


def _gated_and_onnx_weights(variant: str, rng, **kwargs):
    """`_gated`, and its weights in ONNX's layout: `layer, (w, r, b, p)`."""
    layer, weights = _gated(variant, rng, **kwargs)
    cell = layer.cell
    return layer, onnx_weights(weights, cell.blocks, cell.gates, cell.peephole)


def _data(rng):
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    h0 = (0.5 * rng.standard_normal((B, U))).astype(np.float32)
    c0 = rng.standard_normal((B, U)).astype(np.float32)
    return x, h0, c0


def _run_gated(layer, x, h0, c0, mask=None):
    with torch.no_grad():
        out, h, c = layer(torch.from_numpy(x), initial_state=[torch.from_numpy(h0),
                                                             torch.from_numpy(c0)], mask=mask)
    return out.numpy(), h.numpy(), c.numpy()


def _assert_equal(gated_out, onnx_out):
    (out, h, c), (y, y_h, y_c) = gated_out, onnx_out
    np.testing.assert_allclose(out, y[:, :, 0], rtol=TOL, atol=TOL)
    np.testing.assert_allclose(h, y_h[0], rtol=TOL, atol=TOL)
    np.testing.assert_allclose(c, y_c[0], rtol=TOL, atol=TOL)


@pytest.mark.parametrize("variant", ["peephole", "greff", "keras"])
def test_peephole_lstm_equals_onnx(variant):
    rng = np.random.default_rng(0)
    layer, (w, r, b, p) = _gated_and_onnx_weights(variant, rng)
    cell = layer.cell
    x, h0, c0 = _data(rng)
    got = _run_gated(layer, x, h0, c0)
    _assert_equal(got, run_onnx(w[None], r[None], b[None], p[None], x, h0[None], c0[None]))
    if cell.peephole:  # the peepholes matter: dropping them changes the result
        y, _, _ = run_onnx(w[None], r[None], b[None], 0 * p[None], x, h0[None], c0[None])
        assert np.abs(y[:, :, 0] - got[0]).max() > 1e-3


def test_peephole_rows_map_i_f_o_to_onnx_i_o_f():
    # One nonzero peephole at a time: gated row k must land in ONNX slot (i, o, f).index.
    rng = np.random.default_rng(1)
    layer, weights = _gated("peephole", rng)
    x, h0, c0 = _data(rng)
    for row, gate in enumerate("ifo"):
        only = np.zeros_like(weights[3])
        only[row] = 2.0
        layer.set_weights(weights[:3] + [only])
        w, r, b, p = onnx_weights(weights[:3] + [only], ("i", "f", "c", "o"), ("i", "f", "o"),
                                  True)
        assert np.count_nonzero(p[U * "iof".index(gate):U * ("iof".index(gate) + 1)]) == U
        _assert_equal(_run_gated(layer, x, h0, c0),
                      run_onnx(w[None], r[None], b[None], p[None], x, h0[None], c0[None]))


@pytest.mark.parametrize("variant", ["cifg"])
@pytest.mark.parametrize("peephole", [True, False], ids=["peephole", "no_peephole"])
def test_cifg_equals_onnx_input_forget(variant, peephole):
    rng = np.random.default_rng(2)
    layer, (w, r, b, p) = _gated_and_onnx_weights(variant, rng, peephole=peephole)
    cell = layer.cell
    assert cell.blocks == ("i", "c", "o")
    w, r, b, p = fill_forget_with_noise(w, r, b, p, rng)
    x, h0, c0 = _data(rng)
    got = _run_gated(layer, x, h0, c0)
    onnx_args = (w[None], r[None], b[None], p[None], x, h0[None], c0[None])
    _assert_equal(got, run_onnx(*onnx_args, input_forget=True))
    # without input_forget the noise in the forget slots is used: a different cell
    y, _, _ = run_onnx(*onnx_args, input_forget=False)
    assert np.abs(y[:, :, 0] - got[0]).max() > 1e-2


def test_onnx_input_forget_is_one_minus_input_gate_with_its_peephole():
    """What onnxruntime's input_forget=1 computes, written out in NumPy: f = 1 - i."""
    rng = np.random.default_rng(3)
    u = U
    w = rng.uniform(-0.8, 0.8, (4 * u, D))
    r = rng.uniform(-0.8, 0.8, (4 * u, u))
    b = rng.uniform(-0.8, 0.8, 8 * u)
    p = rng.uniform(-0.8, 0.8, 3 * u)
    x, h, c = _data(rng)
    y, y_h, y_c = run_onnx(w[None], r[None], b[None], p[None], x, h[None], c[None],
                           input_forget=True)
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    x, h, c = x.astype(np.float64), h.astype(np.float64), c.astype(np.float64)
    for t in range(T):
        z = x[:, t] @ w.T + h @ r.T + b[:4 * u] + b[4 * u:]
        zi, zo, _, zc = np.split(z, 4, axis=-1)  # the forget block is not used
        i = sig(zi + p[:u] * c)
        c = (1.0 - i) * c + i * np.tanh(zc)
        o = sig(zo + p[u:2 * u] * c)
        h = o * np.tanh(c)
        np.testing.assert_allclose(y[:, t, 0], h, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(y_c[0], c, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("variant", ["nig", "nfg", "nog", "1997", "niaf", "noaf"])
def test_greff_variants_equal_onnx_with_saturated_gates_and_activations(variant):
    """Absent gates are a saturated sigmoid in ONNX (bias 50: exactly 1.0 in float32); the
    1997 squashings are ScaledTanh (2 tanh(x/2), tanh(x/2)); identity is Affine(1, 0)."""
    rng = np.random.default_rng(4)
    layer, (w, r, b, p) = _gated_and_onnx_weights(variant, rng)
    cell = layer.cell
    spelled = {"tanh": ("Tanh", None, None), "linear": ("Affine", 1.0, 0.0),
               "tanh2": ("ScaledTanh", 2.0, 0.5), "half_tanh": ("ScaledTanh", 1.0, 0.5)}
    acts, alphas, betas = ["Sigmoid"], [], []
    for name in (cell.input_activation_name, cell.output_activation_name):
        op, alpha, beta = spelled[name]
        acts.append(op)
        if alpha is not None:
            alphas.append(alpha)
            betas.append(beta)
    x, h0, c0 = _data(rng)
    want = run_onnx(w[None], r[None], b[None], p[None], x, h0[None], c0[None],
                    activations=acts, alphas=alphas or None, betas=betas or None)
    _assert_equal(_run_gated(layer, x, h0, c0), want)


def test_bidirectional_peephole_equals_onnx_bidirectional():
    rng = np.random.default_rng(5)
    layer = Bidirectional(LSTM(U, variant="peephole", return_sequences=True, return_state=True))
    layer(np.zeros((1, 1, D), dtype=np.float32))
    weights = [rng.uniform(-0.8, 0.8, w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    blocks, gates = ("i", "f", "c", "o"), ("i", "f", "o")
    fw = onnx_weights(weights[:4], blocks, gates, True)
    bw = onnx_weights(weights[4:], blocks, gates, True)
    w, r, b, p = (np.stack([a, c]) for a, c in zip(fw, bw, strict=True))
    x, h0, c0 = _data(rng)
    h0b, c0b = (0.5 * rng.standard_normal((B, U))).astype(np.float32), np.zeros((B, U),
                                                                                np.float32)
    y, y_h, y_c = run_onnx(w, r, b, p, x, np.stack([h0, h0b]), np.stack([c0, c0b]),
                           direction="bidirectional")
    with torch.no_grad():
        out, h_f, c_f, h_b, c_b = layer(torch.from_numpy(x), initial_state=[
            torch.from_numpy(s) for s in (h0, c0, h0b, c0b)])
    np.testing.assert_allclose(out.numpy(), y.reshape(B, T, 2 * U), rtol=TOL, atol=TOL)
    for got, want in ((h_f, y_h[0]), (c_f, y_c[0]), (h_b, y_h[1]), (c_b, y_c[1])):
        np.testing.assert_allclose(got.numpy(), want, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("variant", ["peephole", "cifg"])
def test_right_padded_batch_equals_onnx_sequence_lens(variant):
    rng = np.random.default_rng(6)
    layer, (w, r, b, p) = _gated_and_onnx_weights(variant, rng)
    cell = layer.cell
    x, h0, c0 = _data(rng)
    lengths = np.array([T, 2, 4])
    mask = torch.arange(T)[None, :] < torch.from_numpy(lengths)[:, None]
    x = x * mask.numpy()[..., None]
    out, h, c = _run_gated(layer, x, h0, c0, mask=mask)
    y, y_h, y_c = run_onnx(w[None], r[None], b[None], p[None], x, h0[None], c0[None],
                           input_forget=cell.coupled_gates, seq_lens=lengths)
    np.testing.assert_allclose(h, y_h[0], rtol=TOL, atol=TOL)  # state at the last valid step
    np.testing.assert_allclose(c, y_c[0], rtol=TOL, atol=TOL)
    for k, n in enumerate(lengths):
        np.testing.assert_allclose(out[k, :n], y[k, :n, 0], rtol=TOL, atol=TOL)
        np.testing.assert_array_equal(y[k, n:, 0], 0.0)  # ONNX zeroes the padding
