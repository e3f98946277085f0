"""One conformance test for every family, backend and option: nothing runs silently wrong.

For each family in `gated.cells.FAMILIES`, each option of its table (`cls.OPTIONS`: turned to
its non-default example) and each activation role (turned to a few activations), and each fast
backend: a backend that claims the configuration must equal the reference engine (outputs,
final states and the gradients of the inputs, the initial states and every weight, float64);
one that does not must refuse it naming the option (or the activation). A new option added to
a family's table is therefore refused everywhere but the reference engine until a formula
lists it, and a formula that lists it without computing it fails here.
"""

from __future__ import annotations

import dataclasses
import inspect
import math

import pytest
import torch

from gated import activations
from gated.cells import FAMILIES
from gated.cells.base import _shape
from gated.engine import dispatch, reference

B, T, F, U = 3, 6, 4, 5
FAST = [name for name in dispatch.BACKENDS if name != "reference"]
# A squashing every backend has, one only fused has (relu6), one none has (gelu).
ROLE_VALUES = ("hard_sigmoid", "relu6", "gelu")


def _cases():
    for cls in FAMILIES:
        for option, (_, example) in cls.OPTIONS.items():
            yield pytest.param(cls, {option: example}, option, id=f"{cls.__name__}-{option}")
        for role in cls.ACTIVATION_ROLES:
            for name in ROLE_VALUES:
                yield pytest.param(cls, {role: name}, repr(name),
                                   id=f"{cls.__name__}-{role}-{name}")


# Families whose step input is not a vector `(F,)`: (leading constructor arguments, the shape
# of one step's input). The convolutional cells: rank 2, U filters, a 3x2 kernel ('valid'),
# so the input and recurrent convolutions both pad unevenly somewhere.
EXAMPLES = {
    "conv_lstm": ((2, U, (3, 2)), (2, 5, 4)),
    "conv_gru": ((2, U, (3, 2)), (2, 5, 4)),
}


def _example(cls):
    """`(constructor args, step input shape)` of a family's conformance case."""
    return EXAMPLES.get(cls.family, ((U,), (F,)))


def _cell(cls, kwargs):
    torch.manual_seed(0)
    args, step_shape = _example(cls)
    cell = cls(*args, dtype="float64", **kwargs)
    cell._maybe_build((None, *step_shape))
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return cell


def _run(run, cell, mask, reverse, rmask):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, *_example(type(cell))[1], generator=gen, dtype=torch.float64,
                    requires_grad=True)
    states = tuple((0.5 * torch.randn(B, *_shape(n), generator=gen, dtype=torch.float64))
                   .requires_grad_() for n in cell.state_size)
    ys, final = run(cell, x, states, mask, reverse, rmask)
    weights = torch.randn(ys.shape, generator=gen, dtype=torch.float64)
    loss = (ys * weights).sum() + sum((f * (k + 1)).sum() for k, f in enumerate(final))
    params = list(cell.parameters())
    grads = torch.autograd.grad(loss, [x, *states, *params], allow_unused=True)
    return [ys, *final], grads


# (mask, reverse, recurrent mask): a plain run, and one with holes, backwards, with dropout.
MASK = torch.tensor([[1, 1, 0, 1, 1, 1], [0, 1, 1, 1, 0, 1], [1, 1, 1, 1, 1, 1]],
                    dtype=torch.bool)
RUNS = {"plain": (None, False, False), "holes-reverse-dropout": (MASK, True, True)}


@pytest.mark.parametrize("cls,kwargs,named", _cases())
@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("run_name", list(RUNS))
def test_backend_equals_reference_or_refuses_by_name(cls, kwargs, named, backend, run_name):
    if backend == "compiled" and dispatch.compiled_backend()[0] is None:
        pytest.skip("the compiled backend is not available")
    if backend == "compiled" and not dispatch.compiled_backend()[0].is_available():
        pytest.skip("numba is not installed")
    check(cls, kwargs, named, backend, run_name)


def check(cls, kwargs, named, backend, run_name):
    """Equal to the reference engine where `backend` claims the cell, else refused by name."""
    cell = _cell(cls, kwargs)
    mask, reverse, with_rmask = RUNS[run_name]
    rmask = None
    if with_rmask:  # 0, 2, 2, 0, 2, 2, ... over the recurrent state (of any shape)
        shape = _shape(cell.state_size[0])
        pattern = torch.tensor([0.0, 2.0, 2.0], dtype=torch.float64)
        rmask = pattern[torch.arange(B * math.prod(shape)) % 3].view(B, *shape)
    probe = torch.zeros(B, T, *_example(cls)[1], dtype=torch.float64)
    ok, reason = dispatch.supported(backend, cell, probe, mask, reverse, rmask, False)
    if not ok:
        if run_name == "plain":  # nothing but the option (or a missing backend) is refused
            if backend not in {f.backend for f in cls.FORMULAS}:
                assert f"no {backend} formulas" in reason, (backend, reason)
            else:
                assert named.strip("'") in reason, (backend, reason)
        return
    outs, grads = _run(dispatch.backend(backend).scan, cell, mask, reverse, rmask)
    ref_outs, ref_grads = _run(reference.scan, cell, mask, reverse, rmask)
    for got, want in zip(outs, ref_outs, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-9)
    for k, (got, want) in enumerate(zip(grads, ref_grads, strict=True)):
        if want is None:
            assert got is None or not got.any(), k
            continue
        assert got is not None, f"{backend} gives no gradient for input {k}"
        torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("cls", FAMILIES)
def test_formulas_list_only_options_of_the_table(cls):
    """A feature a formula lists must exist in the table (a typo would list nothing)."""
    for formulas in cls.FORMULAS:
        assert formulas.features <= set(cls.OPTIONS), (formulas.backend,
                                                       formulas.features - set(cls.OPTIONS))
        for role, names in formulas.activations.items():
            assert role in cls.ACTIVATION_ROLES
            assert all(name in activations.ACTIVATIONS for name in names)


@pytest.mark.parametrize("cls", FAMILIES)
def test_every_constructor_argument_is_an_option_a_role_or_not_of_the_step(cls):
    """An argument added to a cell's constructor but not to its options table would reach the
    step unseen by the engines: every argument must be declared one way or the other."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None and klass.__module__.startswith("gated.cells"):
            names |= {p for p in inspect.signature(init).parameters
                      if p not in ("self", "kwargs")}
    undeclared = names - set(cls.OPTIONS) - set(cls.ACTIVATION_ROLES) - cls.NOT_STEP_OPTIONS
    assert not undeclared, f"{cls.__name__}: {sorted(undeclared)} are in no table"


def test_a_formula_that_claims_an_option_it_does_not_compute_is_caught(monkeypatch):
    """The failure mode the contract exists for, planted: torch's LSTM formulas claim
    peepholes, which torch's kernel does not compute. The check must then fail."""
    from gated.cells import LSTMCell

    check(LSTMCell, {"peephole": True}, "peephole", "platform", "plain")  # honest: refused
    cheat = tuple(dataclasses.replace(f, features=f.features | {"peephole"})
                  if f.backend == "platform" else f for f in LSTMCell.FORMULAS)
    monkeypatch.setattr(LSTMCell, "FORMULAS", cheat)
    with pytest.raises(AssertionError):
        check(LSTMCell, {"peephole": True}, "peephole", "platform", "plain")
