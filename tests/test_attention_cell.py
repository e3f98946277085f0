"""The attention decoder cell: fused engine == reference engine (outputs, final states and every
gradient, float64), the reference step against finite differences, hand-computed attention, and
bad input named by argument."""

from __future__ import annotations

import pytest
import torch

from gated.cells import AttentionCell, GRUCell, LSTMCell, SimpleRNNCell
from gated.engine import dispatch
from gated.layers import RNN

B, T, F, S, M, U = 3, 5, 4, 6, 7, 5
D = torch.float64


def _cell(inner, seed=0, memory_dim=M, **kw):
    torch.manual_seed(seed)
    cell = AttentionCell(inner, dtype="float64", **kw)
    memory = torch.randn(B, S, memory_dim, dtype=D, requires_grad=True)
    memory_mask = torch.ones(B, S, dtype=torch.bool)
    memory_mask[0, 4:] = False
    memory_mask[2, :2] = False
    cell.bind_memory(memory, memory_mask)
    cell._maybe_build((None, F))
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return cell, memory


def _run(cell, memory, engine, mask=None, reverse=False):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, F, dtype=D, generator=gen, requires_grad=True)
    states = tuple((0.5 * torch.randn(B, n, dtype=D, generator=gen)).requires_grad_()
                   for n in cell.state_size)
    ys, final = dispatch.scan(cell, x, states, mask=mask, reverse=reverse, engine=engine)
    weights = torch.randn(ys.shape, dtype=D, generator=gen)
    loss = (ys * weights).sum() + sum(((k + 1) * f).sum() for k, f in enumerate(final))
    grads = torch.autograd.grad(loss, [x, memory, *states, *cell.parameters()],
                                allow_unused=True)
    return [ys, *final], grads


INNER = {"lstm": lambda: LSTMCell(U, dtype="float64"),
         "lstm_peephole_zoneout": lambda: LSTMCell(U, peephole=True, zoneout_cell=0.2,
                                                   dtype="float64"),
         "gru": lambda: GRUCell(U, dtype="float64"),
         "gru_reset_before": lambda: GRUCell(U, reset_after=False, dtype="float64"),
         "simple": lambda: SimpleRNNCell(U, dtype="float64")}
CONFIGS = {"general_feed": dict(score="general"),
           "dot": dict(score="dot"),
           "concat_no_feed": dict(score="concat", input_feeding=False),
           "bahdanau_weights_bias": dict(score="bahdanau", return_attention=True, use_bias=True,
                                         attention_units=3, score_units=4)}


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("inner", list(INNER))
def test_fused_equals_reference_outputs_and_all_gradients(inner, config):
    kw = CONFIGS[config]
    cell, memory = _cell(INNER[inner](), memory_dim=U if kw["score"] == "dot" else M, **kw)
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[1, 3:] = False
    mask[2, 0] = False
    for reverse in (False, True):
        ref_out, ref_grads = _run(cell, memory, "reference", mask, reverse)
        out, grads = _run(cell, memory, "fused", mask, reverse)
        for a, b in zip(out, ref_out, strict=True):
            assert torch.allclose(a, b, atol=1e-9, rtol=0)
        for k, (a, b) in enumerate(zip(grads, ref_grads, strict=True)):
            assert (a is None) == (b is None), k
            if a is not None:
                assert torch.allclose(a, b, atol=1e-9, rtol=0), k
    assert ref_grads[1].abs().sum() > 0  # the memory (the encoder) gets a gradient


def test_auto_picks_fused_and_refuses_a_non_affine_wrapped_cell_by_name():
    cell, _ = _cell(LSTMCell(U, dtype="float64"))
    x = torch.randn(B, T, F, dtype=D)
    assert dispatch.select(cell, x) == "fused"
    ln, _ = _cell(LSTMCell(U, layer_norm=True, dtype="float64"))
    ok, why = dispatch.supported("fused", ln, x)
    assert not ok and "cell.layer_norm" in why
    plain, memory = _cell(LSTMCell(U, layer_norm=True, dtype="float64"), input_feeding=False)
    ref, _ = _run(plain, memory, "reference")
    out, _ = _run(plain, memory, "fused")
    assert torch.allclose(out[0], ref[0], atol=1e-9)


@pytest.mark.parametrize("score", ["general", "bahdanau"])
def test_reference_step_passes_gradcheck(score):
    torch.manual_seed(0)
    inner = LSTMCell(3, dtype="float64")
    cell = AttentionCell(inner, score=score, return_attention=True, dtype="float64")
    memory = torch.randn(2, 4, 3, dtype=D, requires_grad=True)
    cell.bind_memory(memory, torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool))
    cell._maybe_build((None, 2))
    x = torch.randn(2, 3, 2, dtype=D, requires_grad=True)

    assert torch.autograd.gradcheck(lambda x, m: dispatch.scan(
        cell.bind_memory(m, cell.memory_mask), x, cell.get_initial_state(2, D),
        engine="reference")[0], (x, memory))
    assert torch.autograd.gradcheck(lambda x, m: dispatch.scan(
        cell.bind_memory(m, cell.memory_mask), x, cell.get_initial_state(2, D),
        engine="fused")[0], (x, memory))


def test_attention_step_against_hand_formulas():
    """One Luong-general step computed with NumPy-style explicit sums."""
    torch.manual_seed(3)
    inner = SimpleRNNCell(2, dtype="float64")
    cell = AttentionCell(inner, score="general", input_feeding=False, dtype="float64")
    memory = torch.randn(1, 3, 2, dtype=D)
    cell.bind_memory(memory, torch.tensor([[True, True, False]]))
    cell._maybe_build((None, 2))
    x = torch.randn(1, 2, dtype=D)
    y, _ = cell.step(x, cell.get_initial_state(1, D))
    h = torch.tanh(x @ inner.kernel + inner.bias)[0]  # zero initial state
    e = [float((h @ (memory[0, j] @ cell.score_kernel)).detach()) for j in range(2)]
    a = torch.softmax(torch.tensor(e, dtype=D), 0)
    context = a[0] * memory[0, 0] + a[1] * memory[0, 1]
    expected = torch.tanh(torch.cat([context, h]) @ cell.attention_kernel)
    assert torch.allclose(y[0], expected, atol=1e-12)


def test_rnn_layer_runs_the_cell_and_returns_weights():
    cell = AttentionCell(GRUCell(U), return_attention=True)
    memory = torch.randn(B, S, M)
    mask = torch.ones(B, S, dtype=torch.bool)
    mask[:, -2:] = False
    cell.bind_memory(memory, mask)
    ys = RNN(cell, return_sequences=True)(torch.randn(B, T, F))
    assert ys.shape == (B, T, U + S)
    alpha = ys[..., U:]
    assert torch.allclose(alpha.sum(-1), torch.ones(B, T), atol=1e-6)
    assert torch.all(alpha[..., -2:] == 0)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="score"):
        AttentionCell(LSTMCell(U), score="luong")
    cell = AttentionCell(LSTMCell(U))
    with pytest.raises(ValueError, match="memory_mask"):
        cell.bind_memory(torch.randn(B, S, M), torch.ones(B, S + 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="bind_memory"):
        RNN(AttentionCell(LSTMCell(U)))(torch.randn(B, T, F))
    cell.bind_memory(torch.randn(B + 1, S, M))
    with pytest.raises(ValueError, match="`memory` has batch size 4 but the inputs have 3"):
        RNN(cell)(torch.randn(B, T, F))
    with pytest.raises(ValueError, match="score='dot'"):
        AttentionCell(LSTMCell(U), score="dot").bind_memory(torch.randn(B, S, M))


def test_config_round_trip():
    cell = AttentionCell(GRUCell(U, reset_after=False), score="concat", attention_units=3,
                         input_feeding=False, use_bias=True)
    again = AttentionCell.from_config(cell.get_config())
    assert isinstance(again.wrapped, GRUCell) and not again.wrapped.reset_after
    assert again.get_config() | {"name": None} == cell.get_config() | {"name": None}


@pytest.mark.parametrize("attention", [False, True])
def test_fused_training_frees_its_graph_without_the_cyclic_gc(attention, monkeypatch):
    """A stepper that kept an output of the autograd Function made a reference cycle, freed
    only by Python's cyclic GC: training grew by megabytes per step."""
    import gc
    import weakref

    from gated.engine import fused as fused_engine

    cell, memory = _cell(LSTMCell(U, dtype="float64"))
    target = cell if attention else cell.wrapped
    alive = []
    original = fused_engine.FusedScan.forward

    def forward(ctx, plan, xw, *tensors):
        out = original(ctx, plan, xw, *tensors)
        alive.append(weakref.ref(ctx.stepper))
        return out

    monkeypatch.setattr(fused_engine.FusedScan, "forward", staticmethod(forward))
    x = torch.randn(B, T, F + (cell.attention_units if not attention else 0), dtype=D,
                    requires_grad=True)
    gc.disable()
    try:
        ys, final = dispatch.scan(target, x, target.get_initial_state(B, D), engine="fused")
        (ys.sum() + sum(f.sum() for f in final)).backward()
        del ys, final
        assert alive and alive[0]() is None
    finally:
        gc.enable()
