"""Optimizers checked against torch.optim where the rules coincide, hand-computed Keras
update rules and known gradients (Keras itself: test_optimizers_keras.py)."""

import json
import math

import pytest
import torch

from gated import optimizers
from gated.optimizers import schedules


def _param(values):
    return torch.nn.Parameter(torch.tensor(values, dtype=torch.float64))


def _quadratic_grad(p):
    """A loss with a non-trivial gradient: sum(sin(p) * p ** 2)."""
    p.grad = None
    (torch.sin(p) * p**2).sum().backward()


def _run(optimizer_step, p, steps):
    for _ in range(steps):
        _quadratic_grad(p)
        optimizer_step()


# ------------------------------------------------------------------------- update rules
# Keras and torch.optim place `epsilon` differently (Keras: sqrt(v + eps) for RMSprop/Adagrad,
# eps added to the uncorrected sqrt(v) for Adam); with epsilon=0 the rules coincide, so
# torch.optim is an independent check of everything else. Adadelta and Nadam (with torch's
# momentum_decay=1, Keras' 0.96**t schedule) coincide with epsilon too.
@pytest.mark.parametrize("ours, theirs", [
    (lambda: optimizers.Adam(epsilon=0.0),
     lambda ps: torch.optim.Adam(ps, lr=1e-3, eps=0.0)),
    (lambda: optimizers.Adam(learning_rate=0.05, beta_1=0.8, amsgrad=True, epsilon=0.0),
     lambda ps: torch.optim.Adam(ps, lr=0.05, betas=(0.8, 0.999), eps=0.0, amsgrad=True)),
    (lambda: optimizers.AdamW(epsilon=0.0),
     lambda ps: torch.optim.AdamW(ps, lr=1e-3, eps=0.0, weight_decay=0.004)),
    (lambda: optimizers.RMSprop(centered=True, momentum=0.5, epsilon=0.0),
     lambda ps: torch.optim.RMSprop(ps, lr=1e-3, alpha=0.9, eps=0.0, centered=True,
                                    momentum=0.5)),
    (lambda: optimizers.Adagrad(epsilon=0.0), lambda ps: torch.optim.Adagrad(
        ps, lr=1e-3, initial_accumulator_value=0.1, eps=0.0)),
    (lambda: optimizers.Adadelta(), lambda ps: torch.optim.Adadelta(ps, lr=1e-3, rho=0.95,
                                                                   eps=1e-7)),
    (lambda: optimizers.Adamax(epsilon=0.0), lambda ps: torch.optim.Adamax(ps, lr=1e-3,
                                                                          eps=0.0)),
    (lambda: optimizers.Nadam(), lambda ps: torch.optim.NAdam(ps, lr=1e-3, eps=1e-7,
                                                              momentum_decay=1.0)),
    (lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9),
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
])
def test_steps_equal_torch_optim_where_the_rules_coincide(ours, theirs):
    a, b = _param([0.5, -1.0, 2.0]), _param([0.5, -1.0, 2.0])
    opt = ours()
    opt.build([a])
    ref = theirs([b])
    _run(opt.step, a, 4)
    _run(ref.step, b, 4)
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    assert opt.iterations == 4


def test_epsilon_placement_by_hand():
    """Two steps with epsilon=0.1 (large, so its place shows), values computed by hand."""
    g1, g2, eps, lr = 0.5, -0.25, 0.1, 0.1
    # RMSprop(rho=0.9): v1 = 0.1 g1^2, w -= lr g / sqrt(v + eps)
    p = _param([1.0])
    opt = optimizers.RMSprop(learning_rate=lr, rho=0.9, epsilon=eps)
    opt.build([p])
    v, w = 0.0, 1.0
    for g in (g1, g2):
        p.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        v = 0.9 * v + 0.1 * g * g
        w -= lr * g / math.sqrt(v + eps)
    assert p.item() == pytest.approx(w, abs=1e-14)
    assert p.item() == pytest.approx(0.928251945192, abs=1e-11)
    # Adam(0.9, 0.999): w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
    p = _param([1.0])
    opt = optimizers.Adam(learning_rate=lr, epsilon=eps)
    opt.build([p])
    m = v = 0.0
    w = 1.0
    for t, g in enumerate((g1, g2), start=1):
        p.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        w -= lr * math.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (math.sqrt(v) + eps)
    assert p.item() == pytest.approx(w, abs=1e-14)
    assert p.item() == pytest.approx(0.982347709936, abs=1e-11)


def test_sgd_momentum_matches_keras_rule():
    lr, momentum = 0.1, 0.9
    for nesterov in (False, True):
        p = _param([1.0, -2.0])
        opt = optimizers.SGD(learning_rate=lr, momentum=momentum, nesterov=nesterov)
        opt.build([p])
        w, v = p.detach().clone(), torch.zeros(2, dtype=torch.float64)
        for _ in range(5):
            _quadratic_grad(p)
            g = p.grad.detach().clone()
            opt.step()
            # Keras: v = momentum * v - lr * g; w += v  (nesterov: w += momentum * v - lr * g)
            v = momentum * v - lr * g
            w = w + (momentum * v - lr * g if nesterov else v)
            torch.testing.assert_close(p.detach(), w)


def test_keras_defaults_in_configs():
    assert optimizers.get("adam").get_config() == {
        "name": "adam", "learning_rate": 0.001, "weight_decay": None, "clipnorm": None,
        "global_clipnorm": None, "clipvalue": None, "beta_1": 0.9, "beta_2": 0.999,
        "epsilon": 1e-7, "amsgrad": False}
    assert optimizers.get("sgd").learning_rate == 0.01
    assert optimizers.get("adamw").weight_decay == 0.004
    assert optimizers.get("adadelta").get_config()["rho"] == 0.95
    assert optimizers.get("adagrad").get_config()["initial_accumulator_value"] == 0.1
    rms = optimizers.get("RMSprop")
    rms.build([_param([1.0])])
    assert (rms.rho, rms.epsilon, rms.momentum, rms.centered) == (0.9, 1e-7, 0.0, False)
    assert isinstance(rms.torch_optimizer, torch.optim.Optimizer)
    assert rms.torch_optimizer.param_groups[0]["lr"] == 0.001


# ---------------------------------------------------------------------- clipping and decay
def _sgd_delta(grads, **kwargs):
    params = [_param([0.0] * len(g)) for g in grads]
    opt = optimizers.SGD(learning_rate=1.0, **kwargs)
    opt.build(params)
    for p, g in zip(params, grads, strict=True):
        p.grad = torch.tensor(g, dtype=torch.float64)
    opt.step()
    return [(-p.detach()).tolist() for p in params]  # the gradient that was applied


def test_clipvalue_clamps_each_element():
    assert _sgd_delta([[3.0, -0.5, 0.2]], clipvalue=1.0) == [[1.0, -0.5, 0.2]]


def test_clipnorm_clips_each_tensor_separately():
    applied = _sgd_delta([[3.0, 4.0], [0.3, 0.4]], clipnorm=1.0)
    torch.testing.assert_close(torch.tensor(applied[0]), torch.tensor([0.6, 0.8]))
    torch.testing.assert_close(torch.tensor(applied[1]), torch.tensor([0.3, 0.4]))


def test_global_clipnorm_scales_all_tensors_together():
    applied = _sgd_delta([[3.0, 0.0], [0.0, 4.0]], global_clipnorm=1.0)
    torch.testing.assert_close(torch.tensor(applied), torch.tensor([[0.6, 0.0], [0.0, 0.8]]))
    assert _sgd_delta([[0.3], [0.4]], global_clipnorm=1.0) == [[0.3], [0.4]]


def test_clipnorm_and_global_clipnorm_are_exclusive():
    with pytest.raises(ValueError, match="clipnorm"):
        optimizers.Adam(clipnorm=1.0, global_clipnorm=1.0)


def test_decoupled_weight_decay_and_exclusion_by_name():
    w, b = _param([2.0]), _param([2.0])
    opt = optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.build([("dense.kernel", w), ("dense.bias", b)])
    w.grad, b.grad = torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    opt.step()
    assert w.item() == pytest.approx(2.0 * (1 - 0.1 * 0.5))
    assert b.item() == 2.0


# -------------------------------------------------------------------- learning rate
def test_learning_rate_property_updates_param_groups():
    opt = optimizers.Adam(learning_rate=0.01)
    assert opt.learning_rate == 0.01
    opt.build([_param([1.0])])
    opt.learning_rate = 0.002
    assert opt.learning_rate == 0.002
    assert opt.torch_optimizer.param_groups[0]["lr"] == 0.002
    assert opt.get_config()["learning_rate"] == 0.002


def test_invalid_learning_rates_and_arguments():
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="learning_rate"):
            optimizers.Adam(learning_rate=bad)
    with pytest.raises(TypeError, match="learning_rate"):
        optimizers.SGD(learning_rate="fast")
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.Adam(lr=0.1)
    with pytest.raises(ValueError, match="did you mean 'clipnorm'"):
        optimizers.Adam(clip_norm=1.0)
    with pytest.raises(NotImplementedError):
        optimizers.Adam(loss_scale_factor=128.0)


def test_schedule_values_by_hand():
    assert schedules.ExponentialDecay(0.1, 10, 0.5)(20) == pytest.approx(0.025)
    assert schedules.ExponentialDecay(0.1, 10, 0.5)(5) == pytest.approx(0.1 * 0.5**0.5)
    assert schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)(19) == pytest.approx(0.05)
    assert schedules.InverseTimeDecay(1.0, 1, 0.5)(2) == pytest.approx(0.5)
    piecewise = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [piecewise(s) for s in (0, 10, 11, 20, 21)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    cosine = schedules.CosineDecay(1.0, 10, alpha=0.1)
    assert cosine(0) == 1.0 and cosine(5) == pytest.approx(0.55) and cosine(50) == 0.1
    warm = schedules.CosineDecay(0.0, 10, warmup_target=1.0, warmup_steps=4)
    assert warm(2) == pytest.approx(0.5) and warm(4) == 1.0


def test_optimizer_follows_schedule_evaluated_at_iterations():
    from gated.optimizers.schedules import ExponentialDecay

    schedule = ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    p = _param([0.0])
    opt = optimizers.SGD(learning_rate=schedule)
    opt.build([p])
    for _ in range(4):
        p.grad = torch.ones(1, dtype=torch.float64)
        opt.step()
    assert p.item() == pytest.approx(-sum(schedule(k) for k in range(4)))
    assert opt.learning_rate == pytest.approx(schedule(4))
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.1
    lam = optimizers.SGD(learning_rate=lambda it: 1.0 / (it + 1))
    lam.build([_param([0.0])])
    lam.step()
    assert lam.learning_rate == 0.5


# ------------------------------------------------------------------------ registry
def test_get_names_and_instances():
    for name, cls in [("adam", optimizers.Adam), ("ADAM", optimizers.Adam),
                      ("sgd", optimizers.SGD), ("rmsprop", optimizers.RMSprop),
                      ("adamw", optimizers.AdamW), ("Adagrad", optimizers.Adagrad),
                      ("adadelta", optimizers.Adadelta), ("adamax", optimizers.Adamax),
                      ("nadam", optimizers.Nadam)]:
        assert type(optimizers.get(name)) is cls
    opt = optimizers.SGD()
    assert optimizers.get(opt) is opt
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adm'\. Did you mean 'adam'\?"):
        optimizers.get("adm")
    with pytest.raises(TypeError, match=r"`optimizer`.*int"):
        optimizers.get(1)


def test_wrapping_a_torch_optimizer():
    model = torch.nn.Linear(2, 1)
    wrapped = optimizers.get(torch.optim.SGD(model.parameters(), lr=0.5))
    assert isinstance(wrapped, optimizers.TorchOptimizer)
    wrapped.build(list(model.parameters()))  # no-op check
    with pytest.raises(ValueError, match="none of the model"):
        wrapped.build(list(torch.nn.Linear(2, 1).parameters()))
    before = model.weight.detach().clone()
    model(torch.ones(1, 2)).sum().backward()
    wrapped.step()
    torch.testing.assert_close(model.weight.detach(), before - 0.5 * torch.ones(1, 2))
    wrapped.learning_rate = 0.1
    assert wrapped.torch_optimizer.param_groups[0]["lr"] == 0.1 and wrapped.iterations == 1


def test_build_apply_and_zero_grad():
    p = _param([1.0])
    opt = optimizers.SGD(learning_rate=0.5)
    with pytest.raises(RuntimeError, match="build"):
        opt.step()
    p.grad = torch.ones(1, dtype=torch.float64)
    opt.apply([p])
    assert p.item() == 0.5
    opt.zero_grad()
    assert p.grad is None
    opt.build([p])  # same parameters: no-op
    with pytest.raises(ValueError, match="already built"):
        opt.build([_param([1.0])])
    q = _param([1.0])
    keras_style = optimizers.SGD(learning_rate=0.5)
    keras_style.apply_gradients([(torch.ones(1, dtype=torch.float64), q)])
    assert q.item() == 0.5


def test_config_round_trip_with_schedule():
    opt = optimizers.SGD(learning_rate=schedules.ExponentialDecay(0.1, 10, 0.9), momentum=0.9,
                         clipnorm=1.0)
    config = json.loads(json.dumps(optimizers.serialize(opt)))
    again = optimizers.deserialize(config)
    assert type(again) is optimizers.SGD
    assert again.get_config() == opt.get_config()
    assert again.learning_rate == pytest.approx(0.1)


# ----------------------------------------------------------------------------- state
@pytest.mark.parametrize("make", [
    lambda: optimizers.Adam(learning_rate=0.01),
    lambda: optimizers.SGD(learning_rate=schedules.ExponentialDecay(0.05, 2, 0.7), momentum=0.9),
    lambda: optimizers.RMSprop(centered=True, momentum=0.3),
    lambda: optimizers.Adagrad(learning_rate=0.1),
])
def test_state_tensors_round_trip_resumes_exactly(make, tmp_path):
    from safetensors.torch import load_file, save_file

    a = _param([0.5, -1.0, 2.0])
    opt = make()
    opt.build([a])
    _run(opt.step, a, 3)
    tensors, metadata = opt.state_tensors()
    save_file(tensors, str(tmp_path / "opt.safetensors"))
    metadata = json.loads(json.dumps(metadata))

    b = torch.nn.Parameter(a.detach().clone())
    fresh = make()
    fresh.load_state_tensors(load_file(str(tmp_path / "opt.safetensors")), metadata, [b])
    assert fresh.iterations == 3
    _run(opt.step, a, 3)
    _run(fresh.step, b, 3)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_state_keeps_a_changed_learning_rate_and_loads_lazily():
    a = _param([1.0, 2.0])
    opt = optimizers.Adam(learning_rate=0.1)
    opt.build([a])
    _run(opt.step, a, 2)
    opt.learning_rate = 0.03  # e.g. set by ReduceLROnPlateau
    tensors, metadata = opt.state_tensors()
    assert set(tensors) == {"param_0.momentum", "param_0.velocity"}  # Keras' slot names

    b = torch.nn.Parameter(a.detach().clone())
    fresh = optimizers.Adam(learning_rate=0.1)
    fresh.load_state_tensors(tensors, metadata)  # not built yet: waits for build
    fresh.build([b])
    assert fresh.learning_rate == 0.03 and fresh.iterations == 2
    _run(opt.step, a, 2)
    _run(fresh.step, b, 2)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_state_dict_round_trip_and_mismatches():
    a = _param([1.0])
    opt = optimizers.SGD(learning_rate=0.1, momentum=0.5)
    opt.build([a])
    _run(opt.step, a, 2)
    b = torch.nn.Parameter(a.detach().clone())
    fresh = optimizers.SGD(learning_rate=0.1, momentum=0.5)
    fresh.build([b])
    fresh.load_state_dict(opt.state_dict())
    _run(opt.step, a, 2)
    _run(fresh.step, b, 2)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert fresh.iterations == 4

    tensors, metadata = opt.state_tensors()
    other = optimizers.Adam()
    with pytest.raises(ValueError, match="saved from SGD"):
        other.load_state_tensors(tensors, metadata, [_param([1.0])])
    two = optimizers.SGD(momentum=0.5)
    with pytest.raises(ValueError, match="1 parameters"):
        two.load_state_tensors(tensors, metadata, [_param([1.0]), _param([2.0])])


def test_state_tensor_dtypes_follow_the_parameters():
    a = torch.nn.Parameter(torch.ones(3))
    opt = optimizers.Adam()
    opt.build([a])
    _run(opt.step, a, 1)
    tensors, metadata = opt.state_tensors()
    b = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    fresh = optimizers.Adam()
    fresh.load_state_tensors(tensors, metadata, [b])
    assert fresh.torch_optimizer.state[b]["momentum"].dtype == torch.float64
    assert fresh.iterations == 1
