"""`gated.engine.scan`'s choice of backend, forced backends, the fallback warning, `explain`."""

from __future__ import annotations

import types
import warnings

import pytest
import torch

from gated import engine as engines
from gated.cells import GRUCell, LSTMCell, SimpleRNNCell
from gated.cells.lstm.torch import LSTMTorch
from gated.engine import dispatch, reference
from gated.layers import GRU, LSTM, RNN

B, T, F, U = 3, 7, 4, 5


@pytest.fixture
def no_compiled(monkeypatch):
    """As if numba were not installed."""
    monkeypatch.setattr(dispatch, "_compiled",
                        {"module": None, "reason": "not available (No module named 'numba')"})


@pytest.fixture
def fake_compiled(monkeypatch):
    """A compiled backend that supports everything and records its calls."""
    calls = []

    def supports(cell, x, mask=None, reverse=False, recurrent_mask=None, training=False):
        return True, "fake compiled kernels"

    def scan(cell, x, states, mask=None, reverse=False, recurrent_mask=None, training=False):
        calls.append(type(cell).__name__)
        return reference.scan(cell, x, states, mask, reverse, recurrent_mask, training)

    module = types.SimpleNamespace(supports=supports, scan=scan)
    monkeypatch.setattr(dispatch, "_compiled", {"module": module, "reason": ""})
    return calls


@pytest.fixture
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(dispatch, "_warned", set())


def built(cell, dtype=torch.float32):
    cell._maybe_build((None, F))
    return cell.to(dtype)


def test_engine_names_are_checked():
    for name in ("auto", "platform", "compiled", "fused", "reference"):
        assert engines.check_engine(name) == name
        LSTM(4, engine=name)
    with pytest.raises(ValueError, match="Unknown engine='fusd'.*Did you mean 'fused'"):
        LSTM(4, engine="fusd")


def test_auto_picks_platform_for_standard_cells(no_compiled):
    x = torch.zeros(B, 20, F)
    for cell in (LSTMCell(U), LSTMCell(U, proj_size=2), GRUCell(U), SimpleRNNCell(U)):
        assert engines.select(built(cell), x) == "platform"
    right = torch.tensor([[1] * 20, [1] * 3 + [0] * 17, [1] * 20], dtype=torch.bool)
    assert engines.select(built(LSTMCell(U)), x, right) == "platform"


def test_auto_avoids_per_call_overheads_on_short_sequences(no_compiled):
    """oneDNN's per-call setup outweighs a few steps; one step has nothing to fuse."""
    lstm = built(LSTMCell(U))
    assert engines.select(lstm, torch.zeros(B, LSTMTorch.min_steps - 1, F)) == "fused"
    assert engines.select(lstm, torch.zeros(B, LSTMTorch.min_steps, F)) == "platform"
    assert engines.select(built(GRUCell(U)), torch.zeros(B, 3, F)) == "platform"  # not oneDNN
    assert engines.select(lstm.double(), torch.zeros(B, 3, F, dtype=torch.float64)) == "platform"
    assert engines.select(built(LSTMCell(U, variant="cifg")), torch.zeros(B, 1, F)) == \
        "reference"


def test_auto_picks_a_fast_engine_for_variants(no_compiled):
    x = torch.zeros(B, T, F)
    holes = torch.tensor([[1, 0, 1, 1, 1, 1, 1]] * 3, dtype=torch.bool)
    assert engines.select(built(LSTMCell(U, variant="peephole")), x) == "fused"
    assert engines.select(built(LSTMCell(U)), x, holes) == "fused"
    assert engines.select(built(GRUCell(U, reset_after=False)), x) == "fused"
    rm = torch.ones(B, U)
    assert engines.select(built(LSTMCell(U)), x, recurrent_mask=rm, training=True) == "fused"


def test_auto_prefers_compiled_on_cpu_at_small_sizes(fake_compiled):
    x = torch.zeros(B, T, F)
    assert engines.select(built(LSTMCell(U, variant="peephole")), x) == "compiled"
    long = torch.zeros(B, 20, F)
    assert engines.select(built(LSTMCell(U)), long) == "platform"  # platform still first
    layer = LSTM(U, variant="cifg")
    layer(torch.randn(B, T, F))
    assert fake_compiled == ["LSTMCell"]


def test_auto_uses_fused_where_the_gemm_dominates(fake_compiled):
    big = built(LSTMCell(512, variant="peephole"))
    assert engines.select(big, torch.zeros(256, T, F)) == "fused"


def test_compiled_absence_is_tolerated(no_compiled):
    layer = LSTM(U, peephole=True)
    x = torch.randn(B, T, F)
    layer(x)
    text = engines.explain(layer, x)
    assert "compiled:  no   not available (No module named 'numba')" in text
    with pytest.raises(ValueError, match="engine='compiled'.*numba"):
        LSTM(U, engine="compiled")(x)


def test_forced_backend_that_cannot_run_raises_with_the_reason():
    x = torch.randn(B, T, F)
    with pytest.raises(ValueError, match="engine='platform'.*peephole"):
        LSTM(U, peephole=True, engine="platform")(x)
    with pytest.raises(ValueError, match="engine='fused'.*gelu"):
        LSTM(U, activation="gelu", engine="fused")(x)
    holes = torch.tensor([[1, 0, 1, 1, 1, 1, 1]] * 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="engine='platform'.*right-padded"):
        GRU(U, engine="platform")(x, mask=holes)


def test_reference_fallback_warns_once_per_cell_type_and_reason(no_compiled, fresh_warnings):
    x = torch.randn(B, T, F)
    layer = LSTM(U, activation="gelu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer(x)
        layer(x)
        LSTM(U, activation="gelu")(x)
    messages = [str(w.message) for w in caught if "reference engine" in str(w.message)]
    assert len(messages) == 1
    assert "LSTMCell" in messages[0] and "gelu" in messages[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LSTM(U, activation="elu")(x)  # another reason: warned again, once
        LSTM(U, activation="elu")(x)
        LSTM(U, activation="elu", engine="reference")(x)  # forced: no warning
    assert len([w for w in caught if "reference engine" in str(w.message)]) == 1


def test_no_warning_on_fast_paths(no_compiled, fresh_warnings):
    x = torch.randn(B, T, F)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LSTM(U)(x)
        LSTM(U, activation="gelu")(x[:, :1])  # one step: the reference step is no slow path
        LSTM(U, variant="cifg", recurrent_dropout=0.3)(x, training=True)
        GRU(U, reset_after=False, go_backwards=True)(x)


@pytest.mark.parametrize("engine", ["auto", "fused", "platform"])
def test_layer_engine_argument_gives_the_reference_numbers(engine, no_compiled):
    torch.manual_seed(0)
    kwargs = {} if engine == "platform" else {"variant": "peephole"}
    layer = LSTM(U, return_sequences=True, return_state=True, go_backwards=True,
                 dtype="float64", **kwargs)
    x = torch.randn(B, T, F, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1] * 7, [1] * 5 + [0] * 2, [1] * 2 + [0] * 5], dtype=torch.bool)
    layer.engine = engine
    got = layer(x, mask=mask)
    got_grad = torch.autograd.grad(sum(t.sum() for t in got), [x, *layer.parameters()])
    layer.engine = "reference"
    want = layer(x, mask=mask)
    want_grad = torch.autograd.grad(sum(t.sum() for t in want), [x, *layer.parameters()])
    for a, b in zip([*got, *got_grad], [*want, *want_grad], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_stacked_cells_run_cell_by_cell_with_the_reference_numbers(no_compiled):
    torch.manual_seed(0)
    layer = RNN([LSTMCell(4), LSTMCell(3, variant="cifg", recurrent_dropout=0.3),
                 GRUCell(2, dropout=0.2)], return_sequences=True, return_state=True)
    x = torch.randn(B, T, F)
    layer(x)
    layer.double()
    x = x.double()
    mask = torch.tensor([[1, 0, 1, 1, 1, 1, 0], [1] * 7, [0] * 3 + [1] * 4], dtype=torch.bool)
    text = engines.explain(layer, x, mask)
    assert "3 cells one after the other" in text and text.count("<- auto") == 3
    for training in (False, True):
        results = []
        for engine in ("auto", "reference"):
            layer.engine = engine
            torch.manual_seed(1)  # the same dropout masks
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                results.append(layer(x, mask=mask, training=training))
        for a, b in zip(*results, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_explain_names_every_candidate_and_the_pick(no_compiled):
    x = torch.randn(B, T, F)
    text = engines.explain(LSTM(U, variant="cifg"), x)
    lines = text.splitlines()
    assert lines[0].startswith("engine='auto' picks 'fused' for LSTMCell")
    assert [line.split(":")[0].strip() for line in lines[1:]] == list(engines.BACKENDS)
    assert "gate blocks ico" in lines[1] and lines[3].endswith("<- auto")
    text = engines.explain(LSTM(U), torch.randn(B, 20, F).numpy())
    assert "picks 'platform'" in text
    holes = [[1, 0, 1, 1, 1, 1, 1]] * 3
    assert "right-padded" in engines.explain(LSTM(U), x, mask=holes)
    text = engines.explain(LSTM(U, activation="gelu", engine="fused"), x)
    assert "forces engine='fused'" in text and "picks 'reference'" in text
    with pytest.raises(ValueError, match=r"\(batch, timesteps, features\)"):
        engines.explain(LSTM(U), torch.zeros(3, 4))


@pytest.mark.parametrize("factory", [
    lambda: LSTMCell(U), lambda: LSTMCell(U, proj_size=2), lambda: LSTMCell(U, variant="fgr"),
    lambda: GRUCell(U), lambda: GRUCell(U, use_bias=False), lambda: SimpleRNNCell(U),
    lambda: SimpleRNNCell(U, activation="relu"),
])
def test_streaming_step_equals_cell_step(factory, no_compiled, monkeypatch):
    monkeypatch.setattr(dispatch, "_step_paths", dispatch.weakref.WeakKeyDictionary())
    cell = built(factory(), torch.float64)
    states = tuple(torch.randn(2, n, dtype=torch.float64) for n in cell.state_size)
    for _ in range(3):  # carried state, cached path
        x = torch.randn(2, F, dtype=torch.float64)
        with torch.no_grad():
            y, new = engines.step(cell, x, states)
            y_ref, new_ref = cell.step(x, states)
        torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-12)
        for a, b in zip(new, new_ref, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
        states = new
    # with autograd the step is cell.step itself: gradients flow
    x = torch.randn(2, F, dtype=torch.float64, requires_grad=True)
    y, _ = engines.step(cell, x, states)
    y.sum().backward()
    assert x.grad is not None


# --------------------------------------------------------------------------- Keras' use_cudnn
def test_use_cudnn_argument_is_checked_like_keras():
    for value in ("auto", True, False):
        assert LSTM(U, use_cudnn=value).use_cudnn == value
        assert GRU(U, use_cudnn=value).get_config()["use_cudnn"] == value
    with pytest.raises(ValueError, match=r"use_cudnn.*'auto', True, False.*received "
                                         r"use_cudnn='yes'"):
        LSTM(U, use_cudnn="yes")
    with pytest.raises(ValueError, match="received use_cudnn=1"):
        GRU(U, use_cudnn=1)
    with pytest.raises(TypeError, match="Unrecognized keyword arguments passed to SimpleRNN"):
        from gated.layers import SimpleRNN

        SimpleRNN(U, use_cudnn=False)  # as in Keras: SimpleRNN has no cuDNN path
    with pytest.raises(ValueError, match="use_cudnn=True contradicts engine='fused'"):
        LSTM(U, use_cudnn=True, engine="fused")
    with pytest.raises(ValueError, match="use_cudnn=False contradicts engine='platform'"):
        LSTM(U, use_cudnn=False, engine="platform")


def test_use_cudnn_true_needs_cuda_inputs():
    x = torch.randn(B, T, F)
    with pytest.raises(ValueError, match=r"Layer 'lstm.*': use_cudnn=True was specified, but "
                                         r"cuDNN needs inputs on a CUDA device; received "
                                         r"inputs on 'cpu'"):
        LSTM(U, use_cudnn=True)(x)


def test_use_cudnn_false_keeps_the_numbers_on_cpu():
    """On CPU the platform engine is not cuDNN: use_cudnn=False changes nothing."""
    x = torch.randn(B, 20, F)
    a, b = LSTM(U, use_cudnn="auto"), LSTM(U, use_cudnn=False)
    a(x)
    b(x)
    b.set_weights(a.get_weights())
    torch.testing.assert_close(b(x), a(x), rtol=0, atol=0)


def test_use_cudnn_false_excludes_platform_for_cuda_inputs(monkeypatch):
    """The layer asks the dispatcher to avoid 'platform' for CUDA inputs only (a stand-in
    tensor stands for a CUDA batch on this CPU-only machine)."""
    layer = LSTM(U, use_cudnn=False)
    cuda_like = types.SimpleNamespace(device=torch.device("cuda"))
    assert layer._engine_for(cuda_like, None, None, False) == ("auto", ("platform",))
    assert layer._engine_for(torch.zeros(B, T, F), None, None, False) == ("auto", ())
    assert LSTM(U)._engine_for(cuda_like, None, None, False) == ("auto", ())


def test_scan_exclude_keeps_auto_off_a_backend(no_compiled, monkeypatch):
    from gated.engine import platform

    def refuse(*args, **kwargs):
        raise AssertionError("platform ran although excluded")

    monkeypatch.setattr(platform, "scan", refuse)
    cell = built(LSTMCell(U))
    x = torch.randn(B, 20, F)
    states = cell.get_initial_state(B, x.dtype)
    ys, final = engines.scan(cell, x, states, exclude=("platform",))
    ref, ref_final = reference.scan(cell, x, states)
    torch.testing.assert_close(ys, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="forced and excluded"):
        engines.scan(cell, x, states, engine="platform", exclude=("platform",))
    ok, reason = engines.supported("platform", built(LSTMCell(U, peephole=True)), x)
    assert not ok and "peephole" in reason


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_use_cudnn_on_cuda():
    x = torch.randn(B, 20, F, device="cuda")
    layer = LSTM(U, use_cudnn=True).cuda()
    ref = LSTM(U, engine="reference").cuda()
    layer(x)
    ref(x)
    ref.set_weights(layer.get_weights())
    torch.testing.assert_close(layer(x), ref(x), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="cuDNN does not support this layer configuration"):
        LSTM(U, peephole=True, use_cudnn=True).cuda()(x)
