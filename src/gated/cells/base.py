"""What every recurrent cell shares: one time step, split in two halves.

A cell computes one step `(x_t, state_{t-1}) -> (y_t, state_t)`. It exposes the step as

    xw_t = cell.input_projection(x_t)           # depends on x only: batchable over all t
    y_t, state_t = cell.recurrent_step(xw_t, state_{t-1})

so that an engine can project the inputs of every step with one GEMM and keep only the
recurrence in its loop. `cell.step(x_t, state)` runs both halves, as the Keras `cell.call`.

A user-defined cell needs only `state_size`, `output_size` and a `step(x, states)` method
(or a Keras-style `call(x, states)`); `input_projection` then defaults to the identity.
"""

from __future__ import annotations

from typing import Any

import torch

from gated import initializers, regularizers
from gated.layer import Layer, check_positive_int, check_rate

State = tuple[torch.Tensor, ...]


def project(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """`x @ kernel + bias` over any leading axes, as one GEMM with the bias fused in."""
    if bias is None:
        return x @ kernel
    flat = torch.addmm(bias, x.reshape(-1, x.shape[-1]), kernel)
    return flat.view(*x.shape[:-1], kernel.shape[-1])


class RNNCell(Layer):
    """Base class of the cells: the math of one time step.

    Args:
        units: Positive integer, dimensionality of the hidden state.
        dropout: Fraction of the inputs dropped (one mask per sequence, as Keras).
        recurrent_dropout: Fraction of the recurrent state dropped before the recurrent
            product (one mask per sequence: variational dropout, Gal & Ghahramani 2016).
        seed: Seed of the dropout masks (reproducible draws, as Keras' `seed`).
        kernel_initializer, recurrent_initializer, bias_initializer: Keras initializer names.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: `None`, `'l1'`, `'l2'`, ...
    """

    input_ndim = 2
    #: number of gate blocks in `kernel` (G in `kernel (input_dim, G*units)`)
    num_blocks = 1

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

    # ----------------------------------------------------------------- state layout
    @property
    def state_size(self) -> tuple[int, ...]:
        return (self.units,)

    @property
    def output_size(self) -> int:
        return self.units

    @property
    def recurrent_size(self) -> int:
        """Size of the state that feeds back through `recurrent_kernel` (h)."""
        return self.state_size[0]

    def get_initial_state(self, batch_size: int, dtype: torch.dtype | None = None,
                          device: Any = None) -> State:
        dtype = dtype or self.dtype
        return tuple(torch.zeros(batch_size, n, dtype=dtype, device=device)
                     for n in self.state_size)

    # ----------------------------------------------------------------- the step
    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """`x @ kernel + bias` for any leading axes: the part of a step that needs no state."""
        return project(x, self.kernel, self.bias if self.use_bias else None)

    def recurrent_step(self, xw: torch.Tensor, states: State,
                       recurrent_mask: torch.Tensor | None = None,
                       training: bool = False) -> tuple[torch.Tensor, State]:
        raise NotImplementedError

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
