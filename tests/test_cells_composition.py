"""Composition: stacked cells, `Bidirectional` over every cell, and user-defined cells.

The truths are runs built by hand from the same pieces: two layers one after the other, a
forward layer plus a layer run on the time-reversed input, a Python loop over a user cell's
step, and each sequence of a padded batch run alone.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gated.cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from gated.layers import GRU, LSTM, RNN, Bidirectional, SimpleRNN

B, T, D, U = 3, 6, 4, 5
TOL = 1e-12
F64 = {"dtype": "float64"}


def _x(seed: int = 0, batch: int = B, steps: int = T) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, steps, D, generator=g, dtype=torch.float64)


def _randomize(module: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g, dtype=torch.float64))


def _close(got, want, tol: float = TOL) -> None:
    torch.testing.assert_close(got, want, rtol=tol, atol=tol)


def _pad(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad sequences into a batch and its mask."""
    x = torch.zeros(len(seqs), max(len(s) for s in seqs), D, dtype=torch.float64)
    mask = torch.zeros(x.shape[:2], dtype=torch.bool)
    for k, s in enumerate(seqs):
        x[k, :len(s)] = s
        mask[k, :len(s)] = True
    return x, mask


# ----------------------------------------------------------------------------- stacked cells
CELL_PAIRS = {
    "lstm_lstm": (lambda: LSTMCell(U, **F64), lambda: LSTMCell(U, **F64),
                  lambda **kw: LSTM(U, **F64, **kw), lambda **kw: LSTM(U, **F64, **kw)),
    "greff_cifg_proj": (
        lambda: LSTMCell(U, variant="greff", **F64),
        lambda: LSTMCell(U, variant="cifg", proj_size=3, **F64),
        lambda **kw: LSTM(U, variant="greff", **F64, **kw),
        lambda **kw: LSTM(U, variant="cifg", proj_size=3, **F64, **kw)),
    "gru_simple": (lambda: GRUCell(U, **F64), lambda: SimpleRNNCell(U + 1, **F64),
                   lambda **kw: GRU(U, **F64, **kw), lambda **kw: SimpleRNN(U + 1, **F64, **kw)),
    "fgr_gru_before": (
        lambda: LSTMCell(U, variant="fgr", **F64), lambda: GRUCell(U, reset_after=False, **F64),
        lambda **kw: LSTM(U, variant="fgr", **F64, **kw),
        lambda **kw: GRU(U, reset_after=False, **F64, **kw)),
}


@pytest.mark.parametrize("how", ["list", "stacked_cells"])
@pytest.mark.parametrize("name", list(CELL_PAIRS))
def test_stacked_cells_equal_two_layers(name, how):
    cell_a, cell_b, layer_a, layer_b = CELL_PAIRS[name]
    cells = [cell_a(), cell_b()]
    stack = RNN(cells if how == "list" else StackedRNNCells(cells), return_sequences=True,
                return_state=True, **F64)
    assert isinstance(stack.cell, StackedRNNCells)
    first = layer_a(return_sequences=True, return_state=True)
    second = layer_b(return_sequences=True, return_state=True)
    x = _x(1)
    stack(x)
    first(x)
    _randomize(stack, 1)
    weights = stack.get_weights()
    n_first = len(first.get_weights())
    first.set_weights(weights[:n_first])
    second(first(x)[0])
    second.set_weights(weights[n_first:])
    assert stack.count_params() == first.count_params() + second.count_params()

    # with initial states, and with a padded batch
    g = torch.Generator().manual_seed(2)
    states = [0.3 * torch.randn(B, n, generator=g, dtype=torch.float64)
              for n in stack.cell.state_size]
    n_a = len(cells[0].state_size)
    for mask in (None, torch.arange(T)[None, :] < torch.tensor([[T], [2], [4]])):
        out, *final = stack(x, initial_state=states, mask=mask)
        y1, *s1 = first(x, initial_state=states[:n_a], mask=mask)
        y2, *s2 = second(y1, initial_state=states[n_a:], mask=mask)
        _close(out, y2)
        assert len(final) == len(s1) + len(s2)
        for got, want in zip(final, s1 + s2, strict=True):
            _close(got, want)


def test_stacked_cells_state_layout_and_single_step():
    cells = [LSTMCell(U, **F64), GRUCell(U + 1, **F64), LSTMCell(2, proj_size=1, **F64)]
    stack = StackedRNNCells(cells, **F64)
    assert stack.state_size == (U, U, U + 1, 1, 2)
    assert stack.output_size == 1
    x = _x(3)[:, 0]
    y, states = stack(x)  # Keras-style cell call builds every cell
    h = x
    want_states = []
    for cell in cells:
        h, s = cell(h)
        want_states.extend(s)
    _close(y, h)
    for got, want in zip(states, want_states, strict=True):
        _close(got, want)


# ----------------------------------------------------------------------------- Bidirectional
BI_LAYERS = {
    "lstm": lambda **kw: LSTM(U, **F64, **kw),
    "greff": lambda **kw: LSTM(U, variant="greff", **F64, **kw),
    "cifg_proj": lambda **kw: LSTM(U, variant="cifg", proj_size=3, **F64, **kw),
    "nfg_layer_norm": lambda **kw: LSTM(U, variant="nfg", layer_norm=True, **F64, **kw),
    "fgr": lambda **kw: LSTM(U, variant="fgr", **F64, **kw),
    "1997": lambda **kw: LSTM(U, variant="1997", **F64, **kw),
    "gru": lambda **kw: GRU(U, **F64, **kw),
    "gru_reset_before": lambda **kw: GRU(U, reset_after=False, **F64, **kw),
    "simple_rnn": lambda **kw: SimpleRNN(U, **F64, **kw),
}
MERGES = {
    "concat": lambda a, b: torch.cat([a, b], dim=-1),
    "sum": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "ave": lambda a, b: (a + b) / 2,
    None: lambda a, b: [a, b],
}


def _by_hand(make, weights_fw, weights_bw, x, **kwargs):
    """The forward layer on x and a second layer on the time-reversed x, re-reversed."""
    fw, bw = make(**kwargs), make(**kwargs)
    fw(x)
    bw(x)
    fw.set_weights(weights_fw)
    bw.set_weights(weights_bw)
    out_f, *s_f = fw(x)
    out_b, *s_b = bw(x.flip(1))
    if kwargs.get("return_sequences"):
        out_b = out_b.flip(1)
    return out_f, out_b, s_f, s_b


@pytest.mark.parametrize("merge_mode", list(MERGES), ids=str)
@pytest.mark.parametrize("name", list(BI_LAYERS))
def test_bidirectional_equals_forward_plus_reversed_run(name, merge_mode):
    make = BI_LAYERS[name]
    layer = Bidirectional(make(return_sequences=True, return_state=True), merge_mode=merge_mode)
    x = _x(4)
    layer(x)
    _randomize(layer, 4)
    weights = layer.get_weights()
    half = len(weights) // 2
    out_f, out_b, s_f, s_b = _by_hand(make, weights[:half], weights[half:], x,
                                      return_sequences=True, return_state=True)
    got = layer(x)
    want = MERGES[merge_mode](out_f, out_b)
    want = (want if isinstance(want, list) else [want]) + s_f + s_b
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        _close(g, w)
    # last output only
    layer_last = Bidirectional(make(), merge_mode=merge_mode)
    layer_last(x)
    layer_last.set_weights(weights)
    got_last = layer_last(x)
    want_last = MERGES[merge_mode](out_f[:, -1], out_b[:, 0])
    for g, w in zip(got_last if merge_mode is None else [got_last],
                    want_last if merge_mode is None else [want_last], strict=True):
        _close(g, w)


@pytest.mark.parametrize("name", ["greff", "gru", "simple_rnn"])
def test_bidirectional_padded_batch_equals_each_sequence_alone(name):
    make = BI_LAYERS[name]
    layer = Bidirectional(make(return_sequences=True, return_state=True))
    seqs = [_x(5 + k, batch=1, steps=n)[0] for k, n in enumerate([T, 2, 4])]
    x, mask = _pad(seqs)
    layer(x)
    _randomize(layer, 5)
    out, *states = layer(x, mask=mask)
    for k, s in enumerate(seqs):
        alone, *alone_states = layer(s[None])
        _close(out[k, :len(s)], alone[0])
        for got, want in zip(states, alone_states, strict=True):
            _close(got[k], want[0])


# ----------------------------------------------------------------------------- user cells
class MinimalGatedCell(torch.nn.Module):
    """A user cell: a plain module with `state_size` and `step(x, states)` (Heck & Salem's
    minimal gated unit: one forget gate f; h = f h + (1 - f) tanh(x W + (f h) U))."""

    def __init__(self, features: int, units: int, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)

        def param(*shape):
            return torch.nn.Parameter(0.5 * torch.randn(*shape, generator=g,
                                                        dtype=torch.float64))

        self.state_size = (units,)
        self.w_f, self.u_f, self.b_f = param(features, units), param(units, units), param(units)
        self.w, self.u = param(features, units), param(units, units)

    def step(self, x, states):
        h = states[0]
        f = torch.sigmoid(x @ self.w_f + h @ self.u_f + self.b_f)
        h = f * h + (1.0 - f) * torch.tanh(x @ self.w + (f * h) @ self.u)
        return h, (h,)


class KerasStyleCell(torch.nn.Module):
    """A user cell in Keras' spelling: int `state_size`, `call(x, states)` returning a tensor
    state, and two states would be a list; here an accumulator with a leak."""

    state_size = U

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(D, U, dtype=torch.float64)

    def call(self, x, states):
        h = 0.9 * states[0] + torch.tanh(self.proj(x))
        return h, h


def _loop(cell, x, h=None):
    h = torch.zeros(x.shape[0], U, dtype=x.dtype) if h is None else h
    fn = getattr(cell, "step", None) or cell.call
    ys = []
    for t in range(x.shape[1]):
        y, s = fn(x[:, t], (h,))
        h = s[0] if isinstance(s, (tuple, list)) else s
        ys.append(y)
    return torch.stack(ys, dim=1), h


@pytest.mark.parametrize("make", [lambda: MinimalGatedCell(D, U), KerasStyleCell],
                         ids=["step", "keras_call"])
def test_user_cell_runs_as_its_own_loop(make):
    cell = make()
    layer = RNN(cell, return_sequences=True, return_state=True)
    x = _x(6)
    out, h = layer(x)
    want, want_h = _loop(cell, x)
    _close(out, want)
    _close(h, want_h)
    # its parameters are the layer's: trainable through the layer
    assert layer.count_params() == sum(p.numel() for p in cell.parameters())
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in cell.parameters())


def test_user_cell_with_mask_equals_each_sequence_alone():
    cell = MinimalGatedCell(D, U)
    layer = RNN(cell, return_sequences=True, return_state=True)
    seqs = [_x(7 + k, batch=1, steps=n)[0] for k, n in enumerate([T, 1, 3])]
    x, mask = _pad(seqs)
    out, h = layer(x, mask=mask)
    for k, s in enumerate(seqs):
        want, want_h = _loop(cell, s[None])
        _close(out[k, :len(s)], want[0])
        _close(out[k, len(s):], want[0, -1].expand(T - len(s), -1))  # Keras: repeat last
        _close(h[k], want_h[0])


def test_user_cell_go_backwards():
    cell = MinimalGatedCell(D, U)
    layer = RNN(cell, return_sequences=True, return_state=True, go_backwards=True)
    x = _x(8)
    out, h = layer(x)
    want, want_h = _loop(cell, x.flip(1))  # Keras: the output is in processing order
    _close(out, want)
    _close(h, want_h)


def test_user_cell_stateful_halves_equal_one_call():
    cell = MinimalGatedCell(D, U)
    layer = RNN(cell, return_sequences=True, stateful=True)
    x = _x(9)
    first, second = layer(x[:, :T // 2]), layer(x[:, T // 2:])
    want, _ = _loop(cell, x)
    _close(torch.cat([first, second], dim=1), want)
    layer.reset_states()
    _close(layer(x[:, :T // 2]), want[:, :T // 2])


def test_user_cell_inside_bidirectional():
    fw_cell, bw_cell = MinimalGatedCell(D, U, seed=1), MinimalGatedCell(D, U, seed=2)
    layer = Bidirectional(RNN(fw_cell, return_sequences=True),
                          backward_layer=RNN(bw_cell, return_sequences=True, go_backwards=True))
    x = _x(10)
    want_f, _ = _loop(fw_cell, x)
    want_b, _ = _loop(bw_cell, x.flip(1))
    _close(layer(x), torch.cat([want_f, want_b.flip(1)], dim=-1))


def test_user_cell_inside_bidirectional_without_backward_layer():
    # Bidirectional copies the forward layer through its config; a user cell has none, so the
    # copy must come from the cell itself (a deep copy, with its own weights).
    cell = MinimalGatedCell(D, U, seed=3)
    layer = Bidirectional(RNN(cell, return_sequences=True), merge_mode=None)
    x = _x(11)
    out_f, out_b = layer(x)
    _close(out_f, _loop(cell, x)[0])
    bw_cell = layer.backward_layer.cell
    bw_cell = getattr(bw_cell, "inner", bw_cell)
    _close(out_b, _loop(bw_cell, x.flip(1))[0].flip(1))


def test_user_cell_stacked_with_a_builtin_cell():
    user = MinimalGatedCell(D, U, seed=4)
    lstm = LSTMCell(U, **F64)
    layer = RNN([user, lstm], return_sequences=True)
    x = _x(12)
    out = layer(x)
    hidden, _ = _loop(user, x)
    second = RNN(lstm, return_sequences=True)
    _close(out, second(hidden))


def test_numpy_and_list_inputs_are_accepted():
    layer = RNN(MinimalGatedCell(D, U), return_sequences=True, **F64)
    x = _x(13)
    _close(layer(x.numpy()), layer(x))
    _close(layer(x.tolist()), layer(x))
    assert isinstance(np.asarray(layer(x).detach()), np.ndarray)
