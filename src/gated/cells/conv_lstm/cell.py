r"""The ConvLSTM cell (Shi et al. 2015): an LSTM whose products are convolutions.

One step on feature maps (`*` convolution, ⊙ elementwise, σ = `recurrent_activation`,
tanh = `activation`, [.] only with `peephole`):

    Z   = W * X_t + b + U * H_{t-1}                 gate blocks i, f, c, o (4 * filters channels)
    i_t = σ(Z_i [+ P_i ⊙ C_{t-1}])
    f_t = σ(Z_f [+ P_f ⊙ C_{t-1}])
    C_t = f_t ⊙ C_{t-1} + i_t ⊙ tanh(Z_c)
    o_t = σ(Z_o [+ P_o ⊙ C_t])
    H_t = o_t ⊙ tanh(C_t)

`W * X_t` has the layer's `strides`, `padding` and `dilation_rate`; `U * H_{t-1}` has stride 1
and `'same'` padding, so the state keeps the spatial shape of the input convolution's output.
Without peepholes this is Keras 3's `ConvLSTMCell` exactly (gate order i, f, c, o).

Peepholes (`peephole=True`, Shi et al. 2015, eq. 3): Hadamard products of the cell state with
learned weights. The paper writes them as full tensors `W_c ∘ C`; the parameter counts it
publishes for its Moving MNIST models (13,524,496 / 10,042,896 / 7,585,296) are met only with
ONE weight per channel and gate, so `peephole=True` (= `"channel"`) is that:
`peephole_kernel (3, filters)`, rows i, f, o, broadcast over the positions. `peephole=
"position"` gives every position its own weight, `peephole_kernel (3, *out_spatial, filters)`
(the literal reading of the equations; it fixes the spatial size).

Weight layout (Keras): `kernel kernel_size + (in_channels, 4 * filters)`, `recurrent_kernel
kernel_size + (filters, 4 * filters)`, `bias (4 * filters,)`, then `peephole_kernel`;
`get_weights()` returns them in that order.
"""

from __future__ import annotations

from typing import Any

import torch

from gated import activations
from gated.cells.base import State
from gated.cells.conv_lstm import fused
from gated.cells.conv_lstm.base import ConvCell

#: `name -> (default, a non-default example)`: every option of the step (see `gated.cells`).
OPTIONS: dict[str, tuple[Any, Any]] = {
    "peephole": (False, True),
    "use_bias": (True, False),
}

PEEPHOLES = (False, "channel", "position")


def peephole_view(kernel: torch.Tensor, mode: str, rank: int) -> torch.Tensor:
    """`peephole_kernel` as channels-first `(3, F, 1.., 1)` or `(3, F, *spatial)` rows."""
    if mode == "channel":
        return kernel.view(kernel.shape[0], kernel.shape[1], *([1] * rank))
    return kernel.permute(0, rank + 1, *range(1, rank + 1))


class ConvLSTMCell(ConvCell):
    """One ConvLSTM step (equations in the module docstring), channels-first feature maps.

    Args:
        rank: Number of spatial axes (1, 2, 3).
        filters: Channels of the state and output.
        kernel_size, strides, padding, dilation_rate: The input convolution (Keras).
        activation: For the cell input and the output squashing (default `'tanh'`).
        recurrent_activation: The gates' activation (default `'sigmoid'`).
        use_bias: Whether the input convolution adds a bias.
        unit_forget_bias: Initialise the forget gate's bias to 1 (Keras' default).
        peephole: False (Keras), True / `"channel"` (Shi et al. 2015: one weight per channel
            and gate), or `"position"` (one per channel, position and gate).
        **kwargs: `dropout`, `recurrent_dropout`, `seed`, initializers, regularizers, `name`,
            `dtype`.

    Example:
        >>> cell = ConvLSTMCell(2, filters=8, kernel_size=3, padding="same")
        >>> y, (h, c) = cell(torch.randn(4, 1, 16, 16))   # y: (4, 8, 16, 16)
    """

    family = "conv_lstm"
    OPTIONS = OPTIONS
    ACTIVATION_ROLES = {"recurrent_activation": "recurrent_activation_name",
                        "activation": "activation_name"}
    FORMULAS = (fused.FORMULAS,)
    NOT_STEP_OPTIONS = ConvCell.NOT_STEP_OPTIONS | {"unit_forget_bias"}
    num_blocks = 4

    def __init__(self, rank: int, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", dilation_rate: Any = 1, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 unit_forget_bias: bool = True, peephole: Any = False,
                 **kwargs: Any) -> None:
        super().__init__(rank, filters, kernel_size, strides, padding, dilation_rate,
                         use_bias=use_bias, **kwargs)
        self.activation_name = activation
        self.activation = activations.get(activation)
        self.recurrent_activation_name = recurrent_activation
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        mode = "channel" if peephole is True else peephole
        if mode not in PEEPHOLES or (mode is not False and not isinstance(mode, str)):
            raise ValueError(f"{type(self).__name__}: argument `peephole` must be False, True "
                             f"(= 'channel') or 'position', received peephole={peephole!r}.")
        self.peephole = mode

    def build(self, input_shape: tuple) -> None:
        """Weights for step inputs `(batch, in_channels, *spatial)`."""
        self._geometry(input_shape)
        self._add_conv_weights(4)
        if self.use_bias and self.unit_forget_bias:
            with torch.no_grad():
                self.bias[self.filters:2 * self.filters] = 1.0
        if self.peephole == "channel":
            self.add_weight("peephole_kernel", (3, self.filters), "glorot_uniform")
        elif self.peephole == "position":
            self.add_weight("peephole_kernel", (3, *self.out_spatial, self.filters),
                            "glorot_uniform")
        self.input_features = self.in_channels

    def recurrent_step(self, xw: torch.Tensor, states: State,
                       recurrent_mask: torch.Tensor | None = None,
                       training: bool = False) -> tuple[torch.Tensor, State]:
        """`(H_t, (H_t, C_t))` from the input convolution `xw = W * X_t + b` and `(H, C)`."""
        h_prev, c_prev = states[0], states[1]
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        z = xw + self.recurrent_conv(h_in, self.recurrent_kernel)
        z_i, z_f, z_c, z_o = z.split(self.filters, dim=1)
        sigma, act = self.recurrent_activation, self.activation
        if self.peephole:
            p_i, p_f, p_o = peephole_view(self.peephole_kernel, self.peephole, self.rank)
            z_i = z_i + p_i * c_prev
            z_f = z_f + p_f * c_prev
        i, f = sigma(z_i), sigma(z_f)
        c = f * c_prev + i * act(z_c)
        if self.peephole:
            z_o = z_o + p_o * c
        h = sigma(z_o) * act(c)
        return h, (h, c)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(activation=activations.serialize(self.activation_name),
                      recurrent_activation=activations.serialize(
                          self.recurrent_activation_name),
                      unit_forget_bias=self.unit_forget_bias, peephole=self.peephole)
        return config
