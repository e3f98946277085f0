"""Every LSTM variant against an independent NumPy implementation of its paper's equations.

The NumPy cell below is written from the papers, not from `gated.cells.lstm`:

    Hochreiter & Schmidhuber 1997   c_t = c_{t-1} + i_t g(z_c), y_t = o_t h(c_t),
                                    g = 4 sigmoid - 2, h = 2 sigmoid - 1 (as printed there)
    Gers, Schmidhuber & Cummins 2000  forget gate: c_t = f_t c_{t-1} + i_t g(z_c)
    Gers & Schmidhuber 2000         peepholes: i, f see c_{t-1}; o sees c_t (diagonal weights)
    Greff et al. 2017               NIG, NFG, NOG, NIAF, NOAF, NP, CIFG (f = 1 - i), FGR
                                    (every gate also sees i, f, o of step t-1)
    Sak et al. 2014                 LSTMP: y_t = (o_t h(c_t)) P, the recurrent state is y_t
    Ba et al. 2016                  z = LN(x W) g_x + LN(h U) g_h + b, y = o h(LN(c) g_c + b_c)
    Krueger et al. 2017             zoneout; at inference the expectation d prev + (1 - d) new

The weights are unpacked with the layout contract of issue 3 (`kernel (D, n*u)` with blocks
i, f, c, o of the gates present, ...), so a layout mistake shows up as a numeric mismatch.

Gradients: the NumPy forward is differentiated by the complex-step method
(df/dx = Im f(x + i*eps) / eps with eps = 1e-30): no subtractive cancellation, so the
derivative is exact to rounding and can be compared with torch autograd at 1e-10. Every
scalar of every input, initial state and weight is perturbed at once along a leading axis.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
import torch
from complex_step import complex_step_grad

from gated.cells import VARIANTS, LSTMCell
from gated.engine import reference
from gated.layers import LSTM

TOL = 1e-10
B, T, D, U, P = 2, 4, 3, 3, 2  # batch, steps, input features, units, proj_size


# ----------------------------------------------------------------------------- NumPy reference
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def relu(x):
    return np.where(x.real > 0, x, 0.0 * x)  # complex-step safe


ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "linear": lambda x: x,
    "relu": relu,
    "tanh2": lambda x: 4.0 * sigmoid(x) - 2.0,  # 1997's g, range [-2, 2]
    "half_tanh": lambda x: 2.0 * sigmoid(x) - 1.0,  # 1997's h, range [-1, 1]
}


@dataclass(frozen=True)
class Spec:
    """What the paper says the cell computes (independent of gated's flags)."""

    input_gate: bool = True
    forget_gate: bool = True
    output_gate: bool = True
    peephole: bool = False
    coupled: bool = False
    fgr: bool = False
    g: str = "tanh"
    h: str = "tanh"
    sigma: str = "sigmoid"
    proj: int = 0
    layer_norm: bool = False
    eps: float = 1e-3
    zoneout_c: float = 0.0
    zoneout_h: float = 0.0
    use_bias: bool = True

    @property
    def blocks(self) -> tuple[str, ...]:
        present = {"i": self.input_gate, "f": self.forget_gate and not self.coupled,
                   "c": True, "o": self.output_gate}
        return tuple(b for b in "ifco" if present[b])

    @property
    def gates(self) -> tuple[str, ...]:
        """Gates with own weights, in the order i, f, o."""
        return tuple(b for b in self.blocks if b != "c")

    def weight_shapes(self, input_dim: int, units: int) -> list[tuple[str, tuple]]:
        """The layout contract: names and shapes in `get_weights()` order."""
        n, k, hs = len(self.blocks) * units, len(self.gates), self.proj or units
        out = [("kernel", (input_dim, n)), ("recurrent_kernel", (hs, n))]
        if self.use_bias:
            out.append(("bias", (n,)))
        if self.peephole and k:
            out.append(("peephole_kernel", (k, units)))
        if self.fgr:
            out.append(("gate_recurrent_kernel", (k * units, k * units)))
        if self.proj:
            out.append(("projection_kernel", (units, self.proj)))
        if self.layer_norm:
            out += [("input_norm_gamma", (n,)), ("recurrent_norm_gamma", (n,)),
                    ("cell_norm_gamma", (units,)), ("cell_norm_beta", (units,))]
        return out

    def state_sizes(self, units: int) -> list[int]:
        sizes = [self.proj or units, units]
        if self.fgr:
            sizes.append(len(self.gates) * units)
        return sizes

    def count_params(self, input_dim: int, units: int) -> int:
        n, k, hs = len(self.blocks), len(self.gates), self.proj or units
        total = input_dim * n * units + hs * n * units + (n * units if self.use_bias else 0)
        total += k * units if self.peephole else 0
        total += (k * units) ** 2 if self.fgr else 0
        total += units * self.proj
        total += 2 * n * units + 2 * units if self.layer_norm else 0
        return total


def layer_norm(v, eps):
    mu = v.mean(-1, keepdims=True)
    d = v - mu
    return d / np.sqrt((d * d).mean(-1, keepdims=True) + eps)


def numpy_lstm(spec: Spec, w: dict, x, states):
    """Run the paper's cell over `x (..., batch, time, features)`; leading axes broadcast."""
    u = w["kernel"].shape[-1] // len(spec.blocks)
    sig, g_act, h_act = (ACTIVATIONS[spec.sigma], ACTIVATIONS[spec.g], ACTIVATIONS[spec.h])

    def vec(name):  # a weight vector broadcast over the batch axis
        return w[name][..., None, :]

    def block(z, k):
        return z[..., k * u:(k + 1) * u]

    peep = ({g: w["peephole_kernel"][..., r, :][..., None, :] for r, g in enumerate(spec.gates)}
            if spec.peephole else {})
    h, c = states[0], states[1]
    a = states[2] if spec.fgr else None
    ys = []
    for t in range(x.shape[-2]):
        zx = x[..., t, :] @ w["kernel"]
        zh = h @ w["recurrent_kernel"]
        if spec.layer_norm:
            zx = layer_norm(zx, spec.eps) * vec("input_norm_gamma")
            zh = layer_norm(zh, spec.eps) * vec("recurrent_norm_gamma")
        z_all = zx + zh + (vec("bias") if spec.use_bias else 0.0)
        z = {name: block(z_all, k) for k, name in enumerate(spec.blocks)}
        if spec.fgr:
            za = a @ w["gate_recurrent_kernel"]
            for k, name in enumerate(spec.gates):
                z[name] = z[name] + block(za, k)
        i = sig(z["i"] + (peep["i"] * c if "i" in peep else 0.0)) if spec.input_gate else 1.0
        if spec.coupled:
            f = 1.0 - i
        elif spec.forget_gate:
            f = sig(z["f"] + (peep["f"] * c if "f" in peep else 0.0))
        else:
            f = 1.0
        c_new = f * c + i * g_act(z["c"])
        o = sig(z["o"] + (peep["o"] * c_new if "o" in peep else 0.0)) if spec.output_gate \
            else 1.0
        c_out = layer_norm(c_new, spec.eps) * vec("cell_norm_gamma") + vec("cell_norm_beta") \
            if spec.layer_norm else c_new
        y = o * h_act(c_out)
        if spec.proj:
            y = y @ w["projection_kernel"]
        c = spec.zoneout_c * c + (1.0 - spec.zoneout_c) * c_new
        h = spec.zoneout_h * h + (1.0 - spec.zoneout_h) * y
        if spec.fgr:
            acts = {"i": i, "f": f, "o": o}
            a = np.concatenate([acts[g] for g in spec.gates], axis=-1)
        ys.append(h)
    final = [h, c] + ([a] if spec.fgr else [])
    return np.stack(ys, axis=-2), final


# ----------------------------------------------------------------------------- the cases
# What each preset means, from the papers (not read from gated.cells.lstm.VARIANTS).
GREFF = Spec(peephole=True)
PRESETS: dict[str, Spec] = {
    "keras": Spec(),
    "np": Spec(),
    "greff": GREFF,
    "vanilla": GREFF,
    "peephole": GREFF,
    "nig": replace(GREFF, input_gate=False),
    "nfg": replace(GREFF, forget_gate=False),
    "nog": replace(GREFF, output_gate=False),
    "niaf": replace(GREFF, g="linear"),
    "noaf": replace(GREFF, h="linear"),
    "cifg": replace(GREFF, coupled=True),
    "fgr": replace(GREFF, fgr=True),
    "1997": Spec(forget_gate=False, g="tanh2", h="half_tanh"),
}

CASES: list[tuple[str, dict, Spec]] = [(name, {"variant": name}, s) for name, s in PRESETS.items()]
CASES += [
    ("no_input_gate", {"input_gate": False}, Spec(input_gate=False)),
    ("no_forget_gate", {"forget_gate": False}, Spec(forget_gate=False)),
    ("no_output_gate", {"output_gate": False}, Spec(output_gate=False)),
    ("peephole_i_only", {"peephole": True, "forget_gate": False, "output_gate": False},
     Spec(peephole=True, forget_gate=False, output_gate=False)),
    ("peephole_f_only", {"peephole": True, "input_gate": False, "output_gate": False},
     Spec(peephole=True, input_gate=False, output_gate=False)),
    ("peephole_o_only", {"peephole": True, "input_gate": False, "forget_gate": False},
     Spec(peephole=True, input_gate=False, forget_gate=False)),
    ("coupled_no_peephole", {"coupled_gates": True}, Spec(coupled=True)),
    ("cifg_nog", {"variant": "cifg", "output_gate": False},
     replace(GREFF, coupled=True, output_gate=False)),
    ("fgr_no_peephole", {"full_gate_recurrence": True}, Spec(fgr=True)),
    ("fgr_cifg", {"variant": "fgr", "coupled_gates": True}, replace(GREFF, fgr=True, coupled=True)),
    ("fgr_nog", {"variant": "fgr", "output_gate": False},
     replace(GREFF, fgr=True, output_gate=False)),
    ("relu", {"activation": "relu"}, Spec(g="relu", h="relu")),
    ("relu_peephole", {"variant": "peephole", "activation": "relu"},
     replace(GREFF, g="relu", h="relu")),
    ("separate_activations", {"input_activation": "linear", "output_activation": "sigmoid"},
     Spec(g="linear", h="sigmoid")),
    ("relu_in_tanh_out", {"activation": "relu", "output_activation": "tanh"},
     Spec(g="relu", h="tanh")),
    ("1997_with_forget_gate", {"variant": "1997", "forget_gate": True},
     Spec(g="tanh2", h="half_tanh")),
    ("proj", {"proj_size": P}, Spec(proj=P)),
    ("proj_peephole", {"variant": "peephole", "proj_size": P}, replace(GREFF, proj=P)),
    ("proj_fgr_cifg", {"variant": "fgr", "coupled_gates": True, "proj_size": P},
     replace(GREFF, fgr=True, coupled=True, proj=P)),
    ("layer_norm", {"layer_norm": True}, Spec(layer_norm=True)),
    ("layer_norm_greff_proj", {"variant": "greff", "layer_norm": True, "proj_size": P},
     replace(GREFF, layer_norm=True, proj=P)),
    ("layer_norm_cifg_eps", {"variant": "cifg", "layer_norm": True, "layer_norm_epsilon": 1e-5},
     replace(GREFF, coupled=True, layer_norm=True, eps=1e-5)),
    ("zoneout", {"zoneout_cell": 0.3, "zoneout_hidden": 0.2}, Spec(zoneout_c=0.3, zoneout_h=0.2)),
    ("zoneout_peephole_proj",
     {"variant": "peephole", "zoneout_cell": 0.25, "zoneout_hidden": 0.5, "proj_size": P},
     replace(GREFF, zoneout_c=0.25, zoneout_h=0.5, proj=P)),
    ("no_bias_greff", {"variant": "greff", "use_bias": False}, replace(GREFF, use_bias=False)),
    ("everything",
     {"variant": "fgr", "layer_norm": True, "proj_size": P, "zoneout_cell": 0.2,
      "zoneout_hidden": 0.1, "input_activation": "relu"},
     replace(GREFF, fgr=True, layer_norm=True, proj=P, zoneout_c=0.2, zoneout_h=0.1, g="relu")),
]
IDS = [c[0] for c in CASES]


def test_every_preset_has_a_paper_spec():
    assert set(PRESETS) == set(VARIANTS)


def test_block_and_peephole_orders_of_the_issue():
    # Issue 3: CIFG, "1997" and NFG keep blocks i, c, o; NIG f, c, o; NOG i, f, c; peephole
    # rows i, f, o for the gates that exist and own weights.
    blocks = {"cifg": "ico", "1997": "ico", "nfg": "ico", "nig": "fco", "nog": "ifc"}
    rows = {"cifg": "io", "nfg": "io", "nig": "fo", "nog": "if"}
    for name, spec in PRESETS.items():
        assert "".join(spec.blocks) == blocks.get(name, "ifco"), name
        if spec.peephole:
            assert "".join(spec.gates) == rows.get(name, "ifo"), name
    assert not PRESETS["1997"].peephole and not PRESETS["keras"].peephole


def _random_weights(spec: Spec, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for name, shape in spec.weight_shapes(D, U):
        if name.endswith("gamma"):
            out.append(1.0 + 0.2 * rng.standard_normal(shape))
        else:
            out.append(0.6 * rng.standard_normal(shape))
    return out


def _data(spec: Spec, seed: int):
    rng = np.random.default_rng(seed + 1000)
    x = rng.standard_normal((B, T, D))
    states = [0.5 * rng.standard_normal((B, n)) for n in spec.state_sizes(U)]
    if spec.fgr:  # gate activations live in (0, 1)
        states[2] = rng.uniform(0.1, 0.9, (B, len(spec.gates) * U))
    # cotangents: the scalar loss is sum(gy * ys) + sum(gs_k * states_k)
    gy = rng.standard_normal((B, T, spec.proj or U))
    gs = [rng.standard_normal((B, n)) for n in spec.state_sizes(U)]
    return x, states, gy, gs


def _built(**kwargs) -> LSTM:
    layer = LSTM(U, dtype="float64", **kwargs)
    layer(np.zeros((B, T, D)))
    return layer


def _layer(kwargs: dict, spec: Spec, seed: int) -> tuple[LSTM, list[np.ndarray]]:
    layer = LSTM(U, return_sequences=True, return_state=True, dtype="float64", **kwargs)
    layer(np.zeros((B, T, D)))  # build
    weights = _random_weights(spec, seed)
    layer.set_weights(weights)
    return layer, weights


def _named(spec: Spec, weights: list[np.ndarray]) -> dict:
    return {name: w for (name, _), w in zip(spec.weight_shapes(D, U), weights, strict=True)}


@pytest.mark.parametrize(("case", "kwargs", "spec"), CASES, ids=IDS)
def test_weight_layout_follows_the_contract(case, kwargs, spec):
    layer = _built(**kwargs)
    expected = spec.weight_shapes(D, U)
    assert [w.shape for w in layer.get_weights()] == [s for _, s in expected]
    assert [n.removeprefix("cell.") for n, _ in layer.named_parameters()] == \
        [n for n, _ in expected]
    assert layer.count_params() == spec.count_params(D, U)
    assert tuple(layer.cell.state_size) == tuple(spec.state_sizes(U))


@pytest.mark.parametrize(("case", "kwargs", "spec"), CASES, ids=IDS)
def test_layer_forward_equals_numpy(case, kwargs, spec):
    seed = IDS.index(case)
    layer, weights = _layer(kwargs, spec, seed)
    x, states, _, _ = _data(spec, seed)
    out, *final = layer(torch.from_numpy(x), initial_state=[torch.from_numpy(s) for s in states])
    ys, want = numpy_lstm(spec, _named(spec, weights), x, states)
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.detach().numpy(), ys, rtol=0, atol=TOL)
    assert len(final) == len(want)
    for got, exp in zip(final, want, strict=True):
        np.testing.assert_allclose(got.detach().numpy(), exp, rtol=0, atol=TOL)
    # from zero states too (the layer's own initial state)
    out0, *_ = layer(torch.from_numpy(x))
    ys0, _ = numpy_lstm(spec, _named(spec, weights), x, [np.zeros_like(s) for s in states])
    np.testing.assert_allclose(out0.detach().numpy(), ys0, rtol=0, atol=TOL)


@pytest.mark.parametrize(("case", "kwargs", "spec"), CASES, ids=IDS)
def test_cell_and_reference_scan_equal_numpy(case, kwargs, spec):
    seed = IDS.index(case)
    cell = LSTMCell(U, dtype="float64", **kwargs)
    x, states, _, _ = _data(spec, seed)
    xt = torch.from_numpy(x)
    st = tuple(torch.from_numpy(s) for s in states)
    cell(xt[:, 0], st)  # builds
    weights = _random_weights(spec, seed)
    cell.set_weights(weights)
    w = _named(spec, weights)
    with torch.no_grad():
        ys, final = reference.scan(cell, xt, st)
    want_ys, want_final = numpy_lstm(spec, w, x, states)
    np.testing.assert_allclose(ys.numpy(), want_ys, rtol=0, atol=TOL)
    for got, exp in zip(final, want_final, strict=True):
        np.testing.assert_allclose(got.numpy(), exp, rtol=0, atol=TOL)
    # one Keras-style cell call = one step
    y1, s1 = cell(xt[:, 0], st)
    want_y1, want_s1 = numpy_lstm(spec, w, x[:, :1], states)
    np.testing.assert_allclose(y1.detach().numpy(), want_y1[:, 0], rtol=0, atol=TOL)
    for got, exp in zip(s1, want_s1, strict=True):
        np.testing.assert_allclose(got.detach().numpy(), exp, rtol=0, atol=TOL)
    # reversed scan = forward scan of the flipped sequence
    with torch.no_grad():
        ys_rev, final_rev = reference.scan(cell, xt, st, reverse=True)
    want_rev, want_final_rev = numpy_lstm(spec, w, x[:, ::-1], states)
    np.testing.assert_allclose(ys_rev.numpy(), want_rev[:, ::-1], rtol=0, atol=TOL)
    for got, exp in zip(final_rev, want_final_rev, strict=True):
        np.testing.assert_allclose(got.numpy(), exp, rtol=0, atol=TOL)


@pytest.mark.parametrize(("case", "kwargs", "spec"), CASES, ids=IDS)
def test_gradients_equal_complex_step_of_numpy(case, kwargs, spec):
    seed = IDS.index(case)
    layer, weights = _layer(kwargs, spec, seed)
    x, states, gy, gs = _data(spec, seed)
    names = [n for n, _ in spec.weight_shapes(D, U)]
    n_states = len(states)

    def loss(x_, *rest):
        st, ws = list(rest[:n_states]), rest[n_states:]
        ys, final = numpy_lstm(spec, dict(zip(names, ws, strict=True)), x_, st)
        total = (gy * ys).sum(axis=(-3, -2, -1))
        for g, s in zip(gs, final, strict=True):
            total = total + (g * s).sum(axis=(-2, -1))
        return total

    want = complex_step_grad(loss, [x, *states, *weights])

    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    out, *final = layer(xt, initial_state=st)
    total = (torch.from_numpy(gy) * out).sum()
    for g, s in zip(gs, final, strict=True):
        total = total + (torch.from_numpy(g) * s).sum()
    total.backward()
    got = [xt.grad, *(s.grad for s in st), *(p.grad for p in layer.parameters())]
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g is not None, f"no gradient for input {k}"
        np.testing.assert_allclose(g.numpy(), w, rtol=TOL, atol=TOL, err_msg=f"input {k}")


# ----------------------------------------------------------------------------- initial values
def _bias(**kwargs) -> np.ndarray:
    return _built(**kwargs).get_weights()[2]


def test_unit_forget_bias_sets_the_forget_block_only():
    bias = _bias()
    np.testing.assert_array_equal(bias[U:2 * U], 1.0)  # blocks i, f, c, o
    np.testing.assert_array_equal(np.delete(bias, np.s_[U:2 * U]), 0.0)


def test_forget_bias_value_and_bias_initializer():
    np.testing.assert_array_equal(_bias(forget_bias=2.5)[U:2 * U], 2.5)
    bias = _bias(forget_bias=3.0, bias_initializer="ones")
    np.testing.assert_array_equal(bias[U:2 * U], 3.0)
    np.testing.assert_array_equal(np.delete(bias, np.s_[U:2 * U]), 1.0)
    np.testing.assert_array_equal(_bias(unit_forget_bias=False), 0.0)
    np.testing.assert_array_equal(_bias(unit_forget_bias=False, forget_bias=5.0), 0.0)


def test_forget_bias_follows_the_forget_block_of_each_variant():
    bias = _bias(variant="nig")  # blocks f, c, o
    np.testing.assert_array_equal(bias[:U], 1.0)
    np.testing.assert_array_equal(bias[U:], 0.0)
    bias = _bias(variant="nog", forget_bias=2.0)  # blocks i, f, c
    np.testing.assert_array_equal(bias, np.r_[np.zeros(U), np.full(U, 2.0), np.zeros(U)])
    for variant in ("cifg", "nfg", "1997"):  # no forget block: nothing to set
        np.testing.assert_array_equal(_bias(variant=variant), 0.0)


def test_initial_gate_values_with_zero_input():
    # With the initial weights and zero input/state, the forget gate starts at sigmoid(1).
    layer = LSTM(U, variant="greff", return_state=True, dtype="float64")
    layer(np.zeros((1, 1, D)))
    w = {n.removeprefix("cell."): p.detach().numpy() for n, p in layer.named_parameters()}
    _, h, c = layer(np.zeros((1, 1, D)), initial_state=[np.zeros((1, U)), np.ones((1, U))])
    f = sigmoid(1.0 + w["peephole_kernel"][1])
    i = sigmoid(w["peephole_kernel"][0])
    np.testing.assert_allclose(c.detach().numpy()[0], f + i * np.tanh(0.0), rtol=0, atol=TOL)


def test_summary_reports_the_contract_param_count():
    from gated.models import Sequential

    for name, spec in PRESETS.items():
        model = Sequential([LSTM(U, variant=name, input_shape=(T, D))])
        lines: list[str] = []
        model.summary(print_fn=lines.append)
        assert f"Total params: {spec.count_params(D, U):,} " in lines[0], name


def test_unknown_variant_names_the_known_ones():
    with pytest.raises(ValueError, match="Did you mean 'cifg'"):
        LSTM(U, variant="cifq")
    with pytest.raises(ValueError, match="needs the input gate"):
        LSTM(U, coupled_gates=True, input_gate=False)


def test_zoneout_while_training_keeps_each_unit_old_or_new():
    # Krueger et al. 2017: in training each unit of c (h) is either its previous value or the
    # new one (a per-unit Bernoulli choice), never a mixture.
    spec = Spec(zoneout_c=0.5, zoneout_h=0.5)
    cell = LSTMCell(U, zoneout_cell=0.5, zoneout_hidden=0.5, dtype="float64")
    x, states, _, _ = _data(spec, 0)
    x = np.repeat(x, 50, axis=0)  # many units for the Bernoulli draws
    states = [np.repeat(s, 50, axis=0) for s in states]
    xt, st = torch.from_numpy(x[:, 0]), tuple(torch.from_numpy(s) for s in states)
    cell(xt, st)
    weights = _random_weights(spec, 0)
    cell.set_weights(weights)
    torch.manual_seed(0)
    with torch.no_grad():
        y, (h, c) = cell(xt, st, training=True)
    _, (h_new, c_new) = numpy_lstm(replace(spec, zoneout_c=0.0, zoneout_h=0.0),
                                   _named(spec, weights), x[:, :1], states)
    for got, old, new in ((c.numpy(), states[1], c_new), (h.numpy(), states[0], h_new)):
        is_old, is_new = np.isclose(got, old, rtol=0, atol=TOL), np.isclose(got, new, rtol=0,
                                                                             atol=TOL)
        assert np.all(is_old | is_new)
        assert 0.3 < is_old.mean() < 0.7  # about half kept, for rate 0.5
    np.testing.assert_array_equal(y.numpy(), h.numpy())
