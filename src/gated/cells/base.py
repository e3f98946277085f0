"""What every recurrent cell shares: the cell protocol, and the dense cell all families build on.

A cell computes one step `(x_t, state_{t-1}) -> (y_t, state_t)`. It exposes the step as

    xw_t = cell.input_projection(x_t)           # depends on x only: batchable over all t
    y_t, state_t = cell.recurrent_step(xw_t, state_{t-1})

so that an engine can project the inputs of every step with one GEMM and keep only the
recurrence in its loop. `cell.step(x_t, state)` runs both halves, as the Keras `cell.call`.

`RNNCell` is the protocol: `state_size`, `output_size`, `recurrent_step` (and optionally
`input_projection`, the identity by default, `dropout_masks`, `step_spec`). A user cell needs
only that, or any object with `state_size` and a Keras-style `call(x, states)` (adapted by
`RNN`). `DenseRNNCell` adds what the built-in families share: `units`, the kernel / recurrent
kernel / bias layout, initializers, regularizers, variational dropout, and the `step_spec` that
hands a fast engine the cell's features and formulas (`gated.engine.spec`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gated import activations, initializers, regularizers
from gated._checks import check_positive_int, check_rate
from gated.engine.spec import Config, Formulas, StepSpec, features_of
from gated.layer import Layer

State = tuple[torch.Tensor, ...]


def project(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """`x @ kernel + bias` over any leading axes, as one GEMM with the bias fused in."""
    if bias is None:
        return x @ kernel
    flat = torch.addmm(bias, x.reshape(-1, x.shape[-1]), kernel)
    return flat.view(*x.shape[:-1], kernel.shape[-1])


#: The step methods whose math the fast formulas of a family reproduce: a subclass that
#: overrides one (or a class whose method was replaced) gets no step spec, and only the
#: reference engine runs it.
STEP_METHODS = ("input_projection", "recurrent_step", "step", "build")


def _shape(size: Any) -> tuple[int, ...]:
    """A state or output size as a shape: `4` -> `(4,)`, `[2, 3]` -> `(2, 3)`."""
    if isinstance(size, (int, np.integer)):
        return (int(size),)
    return tuple(int(d) for d in size)


def is_standard(cell: Any, formulas: Formulas) -> bool:
    """Whether `formulas` implement this cell: every feature listed, every activation accepted
    (`cell.is_standard` of a family is this test against its torch formulas)."""
    if not cell.features <= formulas.features:
        return False
    for role, attr in cell.ACTIVATION_ROLES.items():
        accepted = formulas.activations.get(role)
        if accepted is not None and activations.name_of(getattr(cell, attr)) not in accepted:
            return False
    return True


class RNNCell(Layer):
    """The cell protocol: the math of one time step, run over a sequence by `RNN`.

    Subclasses define `state_size` (one entry per state tensor: an int, or a shape for a state
    with more axes), `output_size` and `recurrent_step(xw, states, recurrent_mask, training)`;
    optionally `input_projection(x)` (the part of a step that needs no state; the identity by
    default), `dropout_masks(...)`, `get_initial_state(...)` and `step_spec()`.
    """

    input_ndim = 2

    @property
    def state_size(self) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} must define `state_size`.")

    @property
    def output_size(self) -> Any:
        return self.state_size[0]

    @property
    def recurrent_size(self) -> int:
        """Size of the state that feeds back through the recurrent weights (h)."""
        return _shape(self.state_size[0])[-1]

    def get_initial_state(self, batch_size: int, dtype: torch.dtype | None = None,
                          device: Any = None) -> State:
        dtype = dtype or self.dtype
        return tuple(torch.zeros(batch_size, *_shape(n), dtype=dtype, device=device)
                     for n in self.state_size)

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def recurrent_step(self, xw: torch.Tensor, states: State,
                       recurrent_mask: torch.Tensor | None = None,
                       training: bool = False) -> tuple[torch.Tensor, State]:
        raise NotImplementedError(f"{type(self).__name__} must define `recurrent_step`.")

    def step(self, x: torch.Tensor, states: State, recurrent_mask: torch.Tensor | None = None,
             training: bool = False) -> tuple[torch.Tensor, State]:
        return self.recurrent_step(self.input_projection(x), states, recurrent_mask, training)

    def forward(self, inputs: torch.Tensor, states: Any = None, training: bool = False):
        """Keras `cell(inputs, states)`: one step on a batch `(batch, input_dim)`."""
        if states is None:
            states = self.get_initial_state(inputs.shape[0], inputs.dtype, inputs.device)
        if isinstance(states, torch.Tensor):
            states = (states,)
        return self.step(inputs, tuple(states), training=training)

    def dropout_masks(self, batch_size: int, input_dim: int, like: torch.Tensor,
                      training: bool) -> tuple[Any, Any]:
        """`(input mask, recurrent mask)` for one sequence; none by default."""
        return None, None

    def step_spec(self) -> StepSpec | None:
        """The step contract for the fast engines (None: only the reference engine runs it)."""
        return None


class DenseRNNCell(RNNCell):
    """The cell of the built-in families: dense kernels, initializers, variational dropout.

    A family subclass sets `family`, `OPTIONS` (`name -> (default, example non-default)`: every
    option of its step; the features of a cell are those not at their default),
    `ACTIVATION_ROLES` (attribute names holding each role's activation name) and `FORMULAS`
    (its fast forms, one per backend), and implements `spec_config()`.

    Args:
        units: Positive integer, dimensionality of the hidden state.
        dropout: Fraction of the inputs dropped (one mask per sequence, as Keras).
        recurrent_dropout: Fraction of the recurrent state dropped before the recurrent
            product (one mask per sequence: variational dropout, Gal & Ghahramani 2016).
        use_bias: Whether the step adds a bias.
        seed: Seed of the dropout masks (reproducible draws, as Keras' `seed`).
        kernel_initializer, recurrent_initializer, bias_initializer: Keras initializer names.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: `None`, `'l1'`, `'l2'`, ...
    """

    #: number of gate blocks in `kernel` (G in `kernel (input_dim, G*units)`)
    num_blocks = 1
    family = ""
    OPTIONS: dict[str, tuple[Any, Any]] = {}
    ACTIVATION_ROLES: dict[str, str] = {}
    FORMULAS: tuple[Formulas, ...] = ()
    #: Constructor arguments that do not change what a step computes (initial values,
    #: dropout drawn outside the step, names). Every other argument must be an option of the
    #: table or an activation role: a test holds every family to it.
    NOT_STEP_OPTIONS: frozenset[str] = frozenset({
        "units", "dropout", "recurrent_dropout", "kernel_initializer", "recurrent_initializer",
        "bias_initializer", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
        "seed"})

    def __init__(self, units: int, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units = check_positive_int(units, "units", owner)
        self.dropout = check_rate(dropout, "dropout", owner)
        self.recurrent_dropout = check_rate(recurrent_dropout, "recurrent_dropout", owner)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.seed = seed
        self._generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        self._regularized = {
            "kernel_regularizer": ["kernel"],
            "recurrent_regularizer": ["recurrent_kernel"],
            "bias_regularizer": ["bias"],
        }

    @property
    def state_size(self) -> tuple[int, ...]:
        return (self.units,)

    @property
    def output_size(self) -> int:
        return self.units

    # ----------------------------------------------------------------- the step
    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """`x @ kernel + bias` for any leading axes: the part of a step that needs no state."""
        return project(x, self.kernel, self.bias if self.use_bias else None)

    # ----------------------------------------------------------------- the contract
    def spec_config(self) -> dict:
        """Family-specific values the fast formulas read (block layout, epsilons, ...)."""
        return {}

    @property
    def features(self) -> frozenset[str]:
        """The options of the family's table that are not at their default."""
        return features_of(self, self.OPTIONS)

    def _formulas_apply(self) -> bool:
        base = next(k for k in type(self).__mro__ if "FORMULAS" in k.__dict__)
        klass = type(self)
        for name in STEP_METHODS:
            fn = getattr(klass, name)
            if fn is not getattr(base, name) or not getattr(fn, "__module__", "").startswith(
                    "gated."):
                return False
        return True

    def step_spec(self) -> StepSpec | None:
        """The step contract (`gated.engine.spec`); None for a subclass that overrides the
        step methods (its math is not the family's).

        Cached: dropped whenever an attribute of the cell is set (an option, an activation, a
        parameter replaced) and rebuilt when a step method of the class or its formulas are
        replaced; the spec holds the live parameters, whose values may change freely.
        """
        if not self.built or not self.FORMULAS:
            return None
        klass = type(self)
        key = (tuple(getattr(klass, name) for name in STEP_METHODS), klass.FORMULAS)
        cached = self.__dict__.get("_spec_cache")
        if cached is not None and cached[0] == key:
            return cached[1]
        spec = self._build_spec() if self._formulas_apply() else None
        self.__dict__["_spec_cache"] = (key, spec)
        return spec

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__.pop("_spec_cache", None)
        super().__setattr__(name, value)

    def __getstate__(self) -> dict:
        # The cached spec (a read-only config view, live parameters) is rebuilt on demand:
        # leave it out so that `copy.deepcopy(model)` and pickling work after a run.
        state = dict(super().__getstate__())
        state.pop("_spec_cache", None)
        return state

    def _build_spec(self) -> StepSpec:
        config = {name: getattr(self, name) for name in self.OPTIONS}
        config.update(units=self.units, **self.spec_config())
        weights = {name: p for name, p in self._parameters.items() if p is not None}
        return StepSpec(
            family=self.family, cell_type=type(self).__name__, features=self.features,
            activations={role: activations.name_of(getattr(self, attr))
                         for role, attr in self.ACTIVATION_ROLES.items()},
            state_sizes=tuple(self.state_size), output_size=self.output_size,
            recurrent_size=self.recurrent_size,
            step_macs=self.recurrent_kernel.shape[0] * self.recurrent_kernel.shape[1],
            weights=weights, config=Config(config),
            formulas={f.backend: f for f in self.FORMULAS},
        )

    # ----------------------------------------------------------------- dropout
    def dropout_masks(self, batch_size: int, input_dim: int, like: torch.Tensor,
                      training: bool) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """One input mask and one recurrent mask per sequence (Keras' variational dropout).

        Kept entries are scaled by `1 / (1 - rate)`, so no rescaling is needed at inference,
        where no mask is drawn at all.
        """
        if not training:
            return None, None

        def draw(rate: float, size: int) -> torch.Tensor | None:
            if rate <= 0.0:
                return None
            probs = torch.full((batch_size, size), 1.0 - rate, dtype=like.dtype)
            keep = torch.bernoulli(probs, generator=self._generator).to(like.device)
            return keep / (1.0 - rate)

        return draw(self.dropout, input_dim), draw(self.recurrent_dropout, self.recurrent_size)

    # ----------------------------------------------------------------- helpers
    def _add_standard_weights(self, input_dim: int, blocks: int, recurrent_rows: int,
                              bias_shape: tuple | None = None) -> None:
        """kernel (input_dim, blocks*units), recurrent_kernel (rows, blocks*units), bias."""
        n = blocks * self.units
        self.add_weight("kernel", (input_dim, n), self.kernel_initializer)
        self.add_weight("recurrent_kernel", (recurrent_rows, n), self.recurrent_initializer)
        if self.use_bias:
            self.add_weight("bias", bias_shape or (n,), self.bias_initializer)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            recurrent_initializer=initializers.serialize(self.recurrent_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            recurrent_regularizer=regularizers.serialize(self.recurrent_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            seed=self.seed,
        )
        return config
