"""The xLSTM blocks against their equations written out step by step in NumPy (explicit
convolution windows, per-head normalisation, the cells of `xlstm_numpy.py`), causality, and
the stack's configuration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xlstm_numpy as ref
from scipy.special import erf

from gated.layers import mLSTM, mLSTMBlock, sLSTM, sLSTMBlock, xLSTMBlockStack

B, T, DIM = 2, 7, 8


def _perturbed(layer, steps=T):
    torch.manual_seed(0)
    layer._maybe_build((None, steps, DIM))
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return layer


def _np(p):
    return p.detach().numpy()


def layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def head_norm(x, heads, gamma, eps):
    parts = x.reshape(*x.shape[:-1], heads, -1)
    mean = parts.mean(-1, keepdims=True)
    var = ((parts - mean) ** 2).mean(-1, keepdims=True)
    return ((parts - mean) / np.sqrt(var + eps)).reshape(x.shape) * gamma


def causal_conv(x, kernel, bias):
    """y[t, c] = b[c] + Σ_j kernel[c, j] x[t - (width - 1) + j, c], zeros before the start."""
    width = kernel.shape[1]
    y = np.zeros_like(x) + bias
    for t in range(x.shape[1]):
        for j in range(width):
            s = t - (width - 1) + j
            if s >= 0:
                y[:, t] += kernel[:, j] * x[:, s]
    return y


def silu(x):
    return x * ref.sigmoid(x)


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def test_slstm_block_equals_its_equations():
    block = _perturbed(sLSTMBlock(num_heads=2, dtype="float64"))
    x = torch.randn(B, T, DIM, dtype=torch.float64)
    xs, eps = x.numpy(), block.epsilon
    xn = layer_norm(xs, _np(block.norm.gamma), _np(block.norm.beta), eps)
    conv = silu(causal_conv(xn, _np(block.conv_kernel), _np(block.conv_bias)))
    cell = block.cell_layer.cell
    zeros = np.zeros((B, DIM))
    h = ref.slstm(np.concatenate([conv, xn], -1), zeros, zeros, zeros, zeros,
                  _np(cell.kernel), _np(cell.recurrent_kernel), _np(cell.bias))[0]
    y = xs + head_norm(h, 2, _np(block.group_norm_gamma), eps)
    yn = layer_norm(y, _np(block.ffn_norm.gamma), _np(block.ffn_norm.beta), eps)
    up = yn @ _np(block.up_kernel)
    gate, lin = np.split(up, 2, axis=-1)
    want = y + (gelu(gate) * lin) @ _np(block.down_kernel)
    np.testing.assert_allclose(block(x).detach().numpy(), want, rtol=0, atol=1e-10)


def test_mlstm_block_equals_its_equations():
    block = _perturbed(mLSTMBlock(num_heads=2, chunk_size=3, qkv_block_size=4,
                                  dtype="float64"))
    x = torch.randn(B, T, DIM, dtype=torch.float64)
    xs, eps, inner, heads = x.numpy(), block.epsilon, 2 * DIM, 2
    xn = layer_norm(xs, _np(block.norm.gamma), _np(block.norm.beta), eps)
    cell_in, z = np.split(xn @ _np(block.up_kernel), 2, axis=-1)
    conv = silu(causal_conv(cell_in, _np(block.conv_kernel), _np(block.conv_bias)))

    def blockwise(a, w):  # a block-diagonal matrix, written out in full
        full = np.zeros((inner, inner))
        size = w.shape[1]
        for k in range(w.shape[0]):
            full[k * size:(k + 1) * size, k * size:(k + 1) * size] = w[k]
        return a @ full

    q = blockwise(conv, _np(block.query_kernel))
    k = blockwise(conv, _np(block.key_kernel))
    v = blockwise(cell_in, _np(block.value_kernel))
    gates = np.concatenate([q, k, v], -1) @ _np(block.gate_kernel) + _np(block.gate_bias)
    # feed q, k, v, ĩ, f̃ through the NumPy mLSTM as an identity projection, output gate 1
    # (o = σ(+40) = 1 - 4e-18)
    proj = np.concatenate([q, k, v, gates, np.full((B, T, inner), 40.0)], -1)
    d = inner // heads
    h = ref.mlstm(proj, np.zeros((B, heads, d, d)), np.zeros((B, heads, d)),
                  np.zeros((B, heads)), np.eye(proj.shape[-1]), np.zeros(proj.shape[-1]),
                  heads)[0]
    h = head_norm(h, heads, _np(block.group_norm_gamma), eps) + _np(block.skip) * conv
    want = xs + (h * silu(z)) @ _np(block.down_kernel)
    np.testing.assert_allclose(block(x).detach().numpy(), want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("slstm_at", [[], [1], "all"])
def test_the_stack_is_causal_and_every_weight_learns(slstm_at):
    stack = _perturbed(xLSTMBlockStack(num_blocks=3, slstm_at=slstm_at, num_heads=2,
                                       chunk_size=4, dtype="float64"))
    x = torch.randn(B, T, DIM, dtype=torch.float64)
    later = x.clone()
    later[:, 4:] += torch.randn(B, T - 4, DIM, dtype=torch.float64)
    y, y_later = stack(x), stack(later)
    torch.testing.assert_close(y[:, :4], y_later[:, :4], rtol=0, atol=1e-12)
    assert (y[:, 4:] - y_later[:, 4:]).abs().min() > 0
    y.pow(2).sum().backward()
    for name, p in stack.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_the_stack_places_slstm_blocks_where_configured_and_round_trips():
    stack = xLSTMBlockStack(num_blocks=4, slstm_at=[0, 2], num_heads=2)
    kinds = [type(b).__name__ for b in stack.blocks]
    assert kinds == ["sLSTMBlock", "mLSTMBlock", "sLSTMBlock", "mLSTMBlock"]
    stack(torch.randn(1, 3, DIM))
    again = xLSTMBlockStack.from_config(stack.get_config())
    again(torch.randn(1, 3, DIM))
    assert again.count_params() == stack.count_params()
    assert [type(b).__name__ for b in again.blocks] == kinds


def test_bad_stack_arguments_are_named():
    with pytest.raises(ValueError, match="slstm_at"):
        xLSTMBlockStack(num_blocks=2, slstm_at=[2])
    with pytest.raises(ValueError, match="num_blocks"):
        xLSTMBlockStack(num_blocks=0)
    with pytest.raises(ValueError, match="num_heads"):
        mLSTMBlock(num_heads=3)(torch.randn(1, 2, DIM))


@pytest.mark.parametrize("layer", [sLSTM(4, num_heads=2, forget_gate="exponential"),
                                   mLSTM(4, num_heads=2, chunk_size=3, form="parallel")],
                         ids=["sLSTM", "mLSTM"])
def test_the_layers_round_trip_through_their_config(layer):
    x = torch.randn(2, 5, 3)
    y = layer(x)
    again = type(layer).from_config(layer.get_config())
    again(x)
    again.set_weights(layer.get_weights())
    torch.testing.assert_close(again(x), y)
    assert again.get_config() == {**layer.get_config(), "name": again.name}


def test_a_model_with_xlstm_layers_saves_and_loads_exactly(tmp_path):
    from gated.layers import Dense, Embedding
    from gated.models import Sequential, load_model

    torch.manual_seed(0)
    model = Sequential([Embedding(10, DIM),
                        xLSTMBlockStack(num_blocks=2, slstm_at=[1], num_heads=2),
                        sLSTM(DIM, num_heads=2, return_sequences=True),
                        mLSTM(DIM, num_heads=2), Dense(1)])
    x = np.random.default_rng(0).integers(0, 10, (3, 6))
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "model.keras")
    np.testing.assert_array_equal(load_model(tmp_path / "model.keras").predict(x, verbose=0),
                                  want)
