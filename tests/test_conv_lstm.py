"""ConvLSTM1D/2D/3D and ConvGRU: Keras 3 parity, the fused engine against the reference one,
finite differences, the published parameter counts of Shi et al. 2015, and bad input.

Truths: Keras 3 itself (torch backend, weights copied), the reference engine (the autograd loop
over the cell's step), `torch.autograd.gradcheck`, and the paper's Table 1 numbers.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from gated.cells.conv_lstm import ConvGRUCell, ConvLSTMCell
from gated.engine import dispatch, fused, reference
from gated.layers import ConvGRU2D, ConvLSTM1D, ConvLSTM2D, ConvLSTM3D

TOL = 1e-5
SHAPES = {1: (2, 4, 7, 3), 2: (2, 4, 7, 6, 3), 3: (2, 3, 5, 4, 6, 2)}
GATED = {1: ConvLSTM1D, 2: ConvLSTM2D, 3: ConvLSTM3D}


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    module = pytest.importorskip("keras", reason="keras (Keras 3) is not installed")
    if module.backend.backend() != "torch":
        pytest.skip(f"keras runs the {module.backend.backend()!r} backend; these need torch")
    return module


def _numpy(t):
    return np.asarray(t.detach().cpu()) if hasattr(t, "detach") else np.asarray(t)


def _as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


# ----------------------------------------------------------------------------- Keras parity
CONFIGS = {
    "same": dict(padding="same"),
    "valid-strides": dict(padding="valid", strides=2),
    "same-strides-even-kernel": dict(padding="same", strides=2, kernel_size=2),
    "sequences-backwards": dict(return_sequences=True, go_backwards=True),
    "state-channels-first": dict(return_state=True, data_format="channels_first"),
    "dilation-relu-no-bias": dict(dilation_rate=2, activation="relu", use_bias=False,
                                  recurrent_activation="hard_sigmoid", padding="same"),
}


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_equals_keras_with_copied_weights(keras, rank, config):
    kw = dict(CONFIGS[config])
    kernel = kw.pop("kernel_size", 3)
    x = np.random.default_rng(rank).standard_normal(SHAPES[rank]).astype("float32")
    if kw.get("data_format") == "channels_first":
        x = np.moveaxis(x, -1, 2).copy()
    klayer = getattr(keras.layers, f"ConvLSTM{rank}D")(4, kernel, **kw)
    want = _as_list(klayer(x))
    layer = GATED[rank](4, kernel, **kw)
    layer(x)
    assert [w.shape for w in layer.get_weights()] == [tuple(w.shape) for w in
                                                      klayer.get_weights()]
    assert layer.count_params() == klayer.count_params()
    layer.set_weights([_numpy(w) for w in klayer.get_weights()])
    got = _as_list(layer(x))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert tuple(g.shape) == tuple(w.shape)
        np.testing.assert_allclose(_numpy(g), _numpy(w), atol=TOL, rtol=TOL)


def test_parameter_count_formula_and_weight_order():
    """4F * prod(k) * (C + F) + 4F, in Keras' order kernel, recurrent_kernel, bias."""
    layer = ConvLSTM2D(6, (3, 2))
    layer(np.zeros((1, 2, 8, 8, 5), "float32"))
    assert layer.count_params() == 4 * 6 * 3 * 2 * (5 + 6) + 4 * 6
    assert [w.shape for w in layer.get_weights()] == [(3, 2, 5, 24), (3, 2, 6, 24), (24,)]
    bias = layer.get_weights()[2]  # unit_forget_bias: the f block starts at one
    np.testing.assert_array_equal(bias, np.r_[np.zeros(6), np.ones(6), np.zeros(12)])


def test_mask_carries_state_as_keras(keras):
    x = np.random.default_rng(5).standard_normal((2, 5, 6, 6, 2)).astype("float32")
    mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], bool)
    klayer = keras.layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True)
    want = klayer(x, mask=mask)
    layer = ConvLSTM2D(3, 3, padding="same", return_sequences=True)
    layer(x)
    layer.set_weights([_numpy(w) for w in klayer.get_weights()])
    np.testing.assert_allclose(_numpy(layer(x, mask=mask)), _numpy(want), atol=TOL)


def test_stateful_continues_the_sequence():
    x = torch.randn(2, 6, 5, 5, 1)
    whole = ConvLSTM2D(3, 3, padding="same", return_sequences=True)
    part = ConvLSTM2D(3, 3, padding="same", return_sequences=True, stateful=True)
    whole(x)
    part(x[:, :3])
    part.set_weights(whole.get_weights())
    part.reset_states()
    y = torch.cat([part(x[:, :3]), part(x[:, 3:])], dim=1)
    torch.testing.assert_close(y, whole(x))


def test_config_round_trip():
    layer = ConvLSTM2D(3, (3, 2), strides=2, padding="same", peephole="position",
                       return_sequences=True)
    clone = ConvLSTM2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


# ----------------------------------------------------------------------------- engines
CELLS = {
    "lstm": lambda: ConvLSTMCell(2, 3, (3, 2), padding="same"),
    "lstm-peephole-channel": lambda: ConvLSTMCell(2, 3, 3, peephole=True),
    "lstm-peephole-position": lambda: ConvLSTMCell(2, 3, 2, strides=2, padding="same",
                                                   peephole="position"),
    "lstm-1d-no-bias": lambda: ConvLSTMCell(1, 3, 2, padding="same", use_bias=False),
    "gru": lambda: ConvGRUCell(2, 3, (3, 2), padding="same"),
    "gru-reset-before": lambda: ConvGRUCell(2, 3, 3, reset_after=False),
    "gru-3d": lambda: ConvGRUCell(3, 2, 2, padding="same"),
}
STEP = {1: (2, 7), 2: (2, 6, 5), 3: (2, 4, 3, 3)}


def _cell(name):
    torch.manual_seed(0)
    cell = CELLS[name]()
    cell._maybe_build((None, *STEP[cell.rank]))
    cell = cell.to(torch.float64)
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return cell


def _run(engine, cell, mask, reverse, rmask):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 5, *STEP[cell.rank], generator=gen, dtype=torch.float64,
                    requires_grad=True)
    states = tuple(torch.randn(3, *s, generator=gen, dtype=torch.float64).requires_grad_()
                   for s in cell.state_size)
    ys, final = engine.scan(cell, x, states, mask, reverse, rmask)
    loss = (ys * torch.randn(ys.shape, generator=gen, dtype=ys.dtype)).sum()
    loss = loss + sum((f * (k + 2)).sum() for k, f in enumerate(final))
    return [ys, *final, *torch.autograd.grad(loss, [x, *states, *cell.parameters()])]


@pytest.mark.parametrize("variant", ["plain", "mask-reverse-dropout"])
@pytest.mark.parametrize("name", list(CELLS))
def test_fused_equals_reference_outputs_and_all_gradients(name, variant):
    cell = _cell(name)
    mask = rmask = None
    reverse = variant != "plain"
    if reverse:
        mask = torch.tensor([[1, 0, 1, 1, 1], [1, 1, 1, 1, 0], [0, 1, 1, 0, 1]], dtype=torch.bool)
        gen = torch.Generator().manual_seed(2)
        keep = torch.bernoulli(torch.full((3, *cell.state_size[0]), 0.7), generator=gen)
        rmask = (keep / 0.7).to(torch.float64)
    got = _run(fused, cell, mask, reverse, rmask)
    want = _run(reference, cell, mask, reverse, rmask)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g - w).abs().max().item() < 1e-9


@pytest.mark.parametrize("name", ["lstm-peephole-channel", "gru-reset-before"])
def test_gradcheck(name):
    torch.manual_seed(0)
    cell = CELLS[name]()
    cell._maybe_build((None, 1, 4, 4))
    cell = cell.to(torch.float64)
    x = torch.randn(1, 3, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    for engine in (reference, fused):
        weights = [p.detach().clone().requires_grad_() for p in cell.parameters()]
        assert torch.autograd.gradcheck(_through_params(cell, engine), (x, *weights),
                                        eps=1e-6, atol=1e-6)


def _through_params(cell, engine):
    """`(x, *weights) -> ys`, with the cell's parameters replaced by the given tensors."""
    names = [n for n, _ in cell.named_parameters()]

    def fn(x, *weights):
        saved = {n: cell._parameters[n] for n in names}
        try:
            for n, w in zip(names, weights, strict=True):
                cell._parameters[n] = w
            states = cell.get_initial_state(x.shape[0], torch.float64)
            return engine.scan(cell, x, states)[0]
        finally:
            for n in names:
                cell._parameters[n] = saved[n]
    return fn


def test_auto_runs_the_fused_engine():
    layer = ConvLSTM2D(4, 3, padding="same")
    x = torch.zeros(2, 5, 8, 8, 1)
    layer(x)
    assert dispatch.select(layer.cell, x.permute(0, 1, 4, 2, 3)) == "fused"
    gru = ConvGRU2D(4, 3, padding="same")
    gru(x)
    assert dispatch.select(gru.cell, x.permute(0, 1, 4, 2, 3)) == "fused"


def test_layer_fused_training_equals_reference_layer():
    x = torch.randn(2, 4, 6, 6, 2, dtype=torch.float64)
    layers = [ConvLSTM2D(3, 3, padding="same", peephole=True, return_sequences=True,
                         dtype="float64", engine=e) for e in ("fused", "reference")]
    layers[0](x)
    layers[1](x)
    layers[1].set_weights(layers[0].get_weights())
    grads = []
    for layer in layers:
        y = layer(x, training=True)
        grads.append(torch.autograd.grad((y * y).sum(), list(layer.parameters())))
    for a, b in zip(*grads, strict=True):
        assert (a - b).abs().max().item() < 1e-9


# ----------------------------------------------------------------------------- Shi et al.
def _shi_params(layers, kernel=5, patch_channels=16, side=16):
    """Encoder + forecaster of Shi et al. 2015 (Moving MNIST, 4x4 patches -> 16x16x16):
    the encoder's first layer reads the patches, the forecaster's first layer has no input,
    each deeper layer reads the one below; every state of the forecaster feeds a 1x1
    convolution to the 16 patch channels."""
    total = 0
    for network in ("encoder", "forecaster"):
        below = patch_channels if network == "encoder" else 0
        for filters in layers:
            cell = ConvLSTMCell(2, filters, kernel, padding="same", peephole=True)
            cell.build((None, below, side, side))
            total += cell.count_params()
            below = filters
    return total + sum(layers) * patch_channels + patch_channels  # the 1x1 output conv


def test_shi_et_al_moving_mnist_parameter_counts():
    """Table 1 of Shi et al. 2015: 13,524,496 / 10,042,896 / 7,585,296 parameters for the
    1-, 2- and 3-layer ConvLSTM networks: one peephole weight per channel and gate."""
    assert _shi_params([256]) == 13_524_496
    assert _shi_params([128, 128]) == 10_042_896
    assert _shi_params([128, 64, 64]) == 7_585_296


# ----------------------------------------------------------------------------- bad input
def test_wrong_rank_names_the_expected_rank():
    with pytest.raises(ValueError, match=r"expected ndim=5.*received ndim=4"):
        ConvLSTM2D(2, 3)(np.zeros((2, 4, 8, 1), "float32"))


def test_channels_mismatch_after_build():
    layer = ConvLSTM2D(2, 3)
    layer(np.zeros((1, 2, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match=r"3 channels on axis -1.*\(1, 2, 8, 8, 4\)"):
        layer(np.zeros((1, 2, 8, 8, 4), "float32"))


def test_bad_padding_and_data_format():
    with pytest.raises(ValueError, match=r"`padding`.*'valid', 'same'.*'causal'"):
        ConvLSTM2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match=r"`data_format`.*received data_format='nhwc'"):
        ConvLSTM2D(2, 3, data_format="nhwc")


def test_kernel_larger_than_input_with_valid_padding():
    with pytest.raises(ValueError, match=r"kernel_size=\(5, 5\).*larger.*\(4, 4\)"):
        ConvLSTM2D(2, 5)(np.zeros((1, 2, 4, 4, 1), "float32"))
    assert ConvLSTM2D(2, 5, padding="same")(np.zeros((1, 2, 4, 4, 1), "float32")).shape == (
        1, 4, 4, 2)


def test_bad_mask_shape_and_bad_arguments():
    layer = ConvLSTM2D(2, 3, padding="same")
    x = np.zeros((2, 3, 5, 5, 1), "float32")
    with pytest.raises(ValueError, match=r"`mask` must have shape \(batch, timesteps\)"):
        layer(x, mask=np.ones((2, 3, 5), bool))
    with pytest.raises(ValueError, match=r"`strides > 1` is not compatible"):
        ConvLSTM2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"`kernel_size`.*received kernel_size=\(3, 3, 3\)"):
        ConvLSTM2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match=r"`peephole`.*received peephole='diagonal'"):
        ConvLSTM2D(2, 3, peephole="diagonal")
    with pytest.raises(ValueError, match=r"constraints are not implemented.*kernel_constraint"):
        ConvLSTM2D(2, 3, kernel_constraint="non_neg")
    with pytest.raises(TypeError, match=r"Unrecognized keyword.*units"):
        ConvLSTM2D(2, 3, units=4)


@pytest.mark.parametrize("reset_after", [True, False])
def test_convgru_with_1x1_kernels_on_one_position_is_keras_gru(keras, reset_after):
    """No Keras ConvGRU exists: with 1x1 kernels on a 1x1 map it must be Keras' GRU (same
    gate order z, r, h and bias layout), which fixes the layout and both reset forms."""
    x = np.random.default_rng(7).standard_normal((3, 6, 4)).astype("float32")
    kgru = keras.layers.GRU(5, reset_after=reset_after, return_sequences=True)
    want = _numpy(kgru(x))
    layer = ConvGRU2D(5, 1, reset_after=reset_after, return_sequences=True)
    x_maps = x.reshape(3, 6, 1, 1, 4)
    layer(x_maps)
    kernel, recurrent, bias = (_numpy(w) for w in kgru.get_weights())
    layer.set_weights([kernel.reshape(1, 1, 4, 15), recurrent.reshape(1, 1, 5, 15), bias])
    np.testing.assert_allclose(_numpy(layer(x_maps)).reshape(3, 6, 5), want, atol=TOL)
