r"""The ConvGRU cell: a GRU whose products are convolutions (Ballas et al. 2016), laid out as
Keras' GRU so that its weights read like a `GRU`'s with convolution kernels.

One step (`*` convolution, σ = `recurrent_activation`, tanh = `activation`):

    reset_after=True (Keras' GRU default; one recurrent convolution per step):
        X = W * X_t + b_in                   blocks z, r, h (3 * filters channels)
        R = U * H_{t-1} + b_rec
        z_t = σ(X_z + R_z)      r_t = σ(X_r + R_r)
        Ĥ_t = tanh(X_h + r_t ⊙ R_h)
    reset_after=False (Ballas et al. 2016, Cho et al. 2014):
        z_t = σ(X_z + U_z * H_{t-1})      r_t = σ(X_r + U_r * H_{t-1})
        Ĥ_t = tanh(X_h + U_h * (r_t ⊙ H_{t-1}))
    H_t = z_t ⊙ H_{t-1} + (1 - z_t) ⊙ Ĥ_t

`W * X_t` has the layer's strides, padding and dilation; the recurrent convolutions have
stride 1 and `'same'` padding. Weights: `kernel k+(C, 3F)`, `recurrent_kernel k+(F, 3F)`,
`bias (2, 3F)` with `reset_after` (row 0 input, row 1 recurrent, as Keras' GRU) else `(3F,)`.
"""

from __future__ import annotations

from typing import Any

import torch

from gated import activations
from gated.cells.base import State
from gated.cells.conv_lstm import gru_fused
from gated.cells.conv_lstm.base import ConvCell
from gated.cells.conv_lstm.conv import torch_weight

OPTIONS: dict[str, tuple[Any, Any]] = {
    "reset_after": (True, False),
    "use_bias": (True, False),
}


class ConvGRUCell(ConvCell):
    """One ConvGRU step (equations in the module docstring), channels-first feature maps.

    Args:
        rank: Number of spatial axes (1, 2, 3).
        filters: Channels of the state and output.
        kernel_size, strides, padding, dilation_rate: The input convolution (Keras).
        activation: The candidate's activation (default `'tanh'`).
        recurrent_activation: The gates' activation (default `'sigmoid'`).
        use_bias: Whether the step adds biases.
        reset_after: Apply the reset gate after the recurrent convolution (default True, as
            Keras' GRU) or before it (False, Ballas et al. 2016).
        **kwargs: `dropout`, `recurrent_dropout`, `seed`, initializers, regularizers, `name`,
            `dtype`.

    Example:
        >>> cell = ConvGRUCell(2, filters=8, kernel_size=3, padding="same")
        >>> y, (h,) = cell(torch.randn(4, 1, 16, 16))
    """

    family = "conv_gru"
    OPTIONS = OPTIONS
    ACTIVATION_ROLES = {"recurrent_activation": "recurrent_activation_name",
                        "activation": "activation_name"}
    FORMULAS = (gru_fused.FORMULAS,)
    num_blocks = 3

    def __init__(self, rank: int, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", dilation_rate: Any = 1, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(rank, filters, kernel_size, strides, padding, dilation_rate,
                         use_bias=use_bias, **kwargs)
        self.activation_name = activation
        self.activation = activations.get(activation)
        self.recurrent_activation_name = recurrent_activation
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    @property
    def state_size(self) -> tuple:
        return ((self.filters, *(self.out_spatial or ())),)

    def build(self, input_shape: tuple) -> None:
        """Weights for step inputs `(batch, in_channels, *spatial)`."""
        self._geometry(input_shape)
        n = 3 * self.filters
        self._add_conv_weights(3, (2, n) if self.reset_after else (n,))
        self.input_features = self.in_channels

    def input_bias(self) -> torch.Tensor | None:
        if not self.use_bias:
            return None
        return self.bias[0] if self.reset_after else self.bias

    def recurrent_step(self, xw: torch.Tensor, states: State,
                       recurrent_mask: torch.Tensor | None = None,
                       training: bool = False) -> tuple[torch.Tensor, State]:
        """`(H_t, (H_t,))` from the input convolution `xw = W * X_t + b_in` and `(H,)`."""
        h_prev = states[0]
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        f = self.filters
        x_z, x_r, x_h = xw.split(f, dim=1)
        sigma, act = self.recurrent_activation, self.activation
        u = torch_weight(self.recurrent_kernel)  # (3F, F, *k)
        conv = self._recurrent_conv
        if self.reset_after:
            b = self.bias[1] if self.use_bias else None
            r_z, r_r, r_h = conv(h_in, u, b).split(f, dim=1)
            z, r = sigma(x_z + r_z), sigma(x_r + r_r)
            candidate = act(x_h + r * r_h)
        else:
            r_z, r_r = conv(h_in, u[:2 * f]).split(f, dim=1)
            z, r = sigma(x_z + r_z), sigma(x_r + r_r)
            candidate = act(x_h + conv(r * h_in, u[2 * f:]))
        h = z * h_prev + (1.0 - z) * candidate
        return h, (h,)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(activation=activations.serialize(self.activation_name),
                      recurrent_activation=activations.serialize(
                          self.recurrent_activation_name),
                      reset_after=self.reset_after)
        return config
