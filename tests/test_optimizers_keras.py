"""gated's optimizers against Keras 3's own (torch backend), step by step.

The same initial parameters and the same pre-generated gradient sequence go through a gated
optimizer and the Keras optimizer of the same name, built with the same keyword arguments
(non-default ones, `epsilon=0.1` so that its placement shows, and weight decay); after every
step the parameters must agree to 1e-6.
"""

import os

os.environ["KERAS_BACKEND"] = "torch"

import pytest  # noqa: E402
import torch  # noqa: E402

from gated import optimizers  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":
    pytest.skip("Keras runs another backend in this process", allow_module_level=True)

STEPS = 20
SHAPES = [(3, 4), (5,)]
COMMON = {"epsilon": 0.1, "weight_decay": 0.02}


def _data(dtype):
    gen = torch.Generator().manual_seed(1234)
    init = [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in SHAPES]
    grads = [[torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in SHAPES]
             for _ in range(STEPS)]
    return init, grads


def _max_difference(class_name, kwargs, dtype=torch.float64, make_lr=None, steps=STEPS):
    """Runs both optimizers; returns the largest parameter difference seen over all steps."""
    init, grads = _data(dtype)
    ours = [torch.nn.Parameter(x.clone()) for x in init]
    theirs = [keras.Variable(x.clone(), dtype=str(dtype).replace("torch.", "")) for x in init]
    opt = getattr(optimizers, class_name)(**kwargs, **({"learning_rate": make_lr(optimizers)}
                                                       if make_lr else {}))
    ref = getattr(keras.optimizers, class_name)(
        **kwargs, **({"learning_rate": make_lr(keras.optimizers)} if make_lr else {}))
    opt.build(ours)
    worst = 0.0
    for step in range(steps):
        for p, g in zip(ours, grads[step], strict=True):
            p.grad = g.clone()
        opt.step()
        ref.apply_gradients(zip([g.clone() for g in grads[step]], theirs, strict=True))
        for p, v in zip(ours, theirs, strict=True):
            worst = max(worst, float((p.detach() - v.value.detach()).abs().max()))
    assert opt.iterations == int(ref.iterations)
    return worst


CASES = {
    "SGD momentum": ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0.02}),
    "SGD nesterov": ("SGD", {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True,
                             "weight_decay": 0.02}),
    "Adam": ("Adam", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95, **COMMON}),
    "Adam amsgrad": ("Adam", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95,
                              "amsgrad": True, **COMMON}),
    "AdamW": ("AdamW", {"learning_rate": 0.05, "beta_1": 0.85, "beta_2": 0.9, "epsilon": 0.1,
                        "weight_decay": 0.1}),
    "RMSprop": ("RMSprop", {"learning_rate": 0.02, "rho": 0.8, **COMMON}),
    "RMSprop momentum": ("RMSprop", {"learning_rate": 0.02, "rho": 0.8, "momentum": 0.7,
                                     **COMMON}),
    "RMSprop centered": ("RMSprop", {"learning_rate": 0.02, "rho": 0.8, "momentum": 0.5,
                                     "centered": True, **COMMON}),
    # Keras keeps the learning rate as a float32 variable and forms the weight-decay factor
    # `1 - weight_decay * lr` in float32; with lr=0.1 that rounding alone moves the float64
    # parameters by ~1e-6 over 20 steps; a rate exact in float32 keeps it far below 1e-6.
    "Adagrad": ("Adagrad", {"learning_rate": 0.125, "initial_accumulator_value": 0.3,
                            **COMMON}),
    "Adadelta": ("Adadelta", {"learning_rate": 0.5, "rho": 0.9, **COMMON}),
    "Adamax": ("Adamax", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95, **COMMON}),
    "Nadam": ("Nadam", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95, **COMMON}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_optimizer_equals_keras_over_20_steps(case):
    class_name, kwargs = CASES[case]
    assert _max_difference(class_name, kwargs) < 1e-6


@pytest.mark.parametrize("case", ["Adam", "RMSprop centered", "Nadam", "Adadelta"])
def test_float32_equals_keras(case):
    class_name, kwargs = CASES[case]
    assert _max_difference(class_name, kwargs, dtype=torch.float32) < 1e-6


def test_learning_rate_schedules_equal_keras():
    def exponential(module):
        return module.schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5)

    def cosine(module):
        return module.schedules.CosineDecay(0.0, decay_steps=10, alpha=0.1,
                                            warmup_target=0.1, warmup_steps=5)

    for make_lr in (exponential, cosine):
        assert _max_difference("Adam", {"beta_1": 0.8, **COMMON}, make_lr=make_lr) < 1e-6
        assert _max_difference("SGD", {"momentum": 0.9}, make_lr=make_lr) < 1e-6


@pytest.mark.parametrize("clip", [{"clipnorm": 0.5}, {"global_clipnorm": 0.7},
                                  {"clipvalue": 0.3}])
def test_gradient_clipping_equals_keras(clip):
    assert _max_difference("Adam", {"learning_rate": 0.05, **COMMON, **clip}) < 1e-6
    assert _max_difference("SGD", {"learning_rate": 0.05, "momentum": 0.9, **clip}) < 1e-6


def test_gradient_accumulation_and_ema_equal_keras():
    assert _max_difference("Adam", {"learning_rate": 0.05, "gradient_accumulation_steps": 3,
                                    **COMMON}, steps=12) < 1e-6
    assert _max_difference("RMSprop", {"learning_rate": 0.02, "use_ema": True,
                                       "ema_momentum": 0.9, "ema_overwrite_frequency": 4,
                                       **COMMON}) < 1e-6


def test_same_defaults_as_keras():
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam"):
        ours = getattr(optimizers, name)().get_config()
        theirs = getattr(keras.optimizers, name)().get_config()
        for key, value in ours.items():
            if key != "name":
                assert theirs[key] == pytest.approx(value), (name, key)
