"""`sLSTM` and `mLSTM`: Keras-style recurrent layers over the xLSTM cells (Beck et al. 2024).

Both are `RNN` layers with every Keras sequence argument (`return_sequences`, `return_state`,
`go_backwards`, `stateful`, `initial_state`, masks). The `mLSTM` layer runs, by default, the
chunkwise form of `gated.cells.mlstm.forms` over unmasked sequences (the same numbers as the
step-by-step recurrence, with `time / chunk_size` sequential steps instead of `time`); masked
sequences and `form="recurrent"` run the recurrence on the engines. The blocks and the stack
of the paper are in `gated.layers.xlstm_blocks`.
"""

from __future__ import annotations

from typing import Any

import torch

from gated.cells import mLSTMCell, sLSTMCell
from gated.cells.mlstm import forms
from gated.layers.recurrent import _CellLayer, layer_arguments

FORMS = ("chunkwise", "parallel", "recurrent")


class sLSTM(_CellLayer):  # noqa: N801 (the paper's and NX-AI's name)
    """sLSTM layer: scalar memory, exponential gating, block-diagonal recurrence (xLSTM).

    Args:
        units: Positive integer, dimensionality of the output space.
        num_heads: Heads of the block-diagonal recurrent kernel (divides `units`).
        forget_gate: `"sigmoid"` or `"exponential"`.
        forget_bias: Initial forget-gate bias.
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer, dropout,
        recurrent_dropout, seed, return_sequences, return_state, go_backwards, stateful,
        unroll, zero_output_for_mask: as Keras' `LSTM`.
        engine: `"auto"` or a backend of `gated.engine` to force.
        **kwargs: `name`, `dtype`, `trainable`, `input_shape`, `batch_size`, ...

    States: `[h, c, n, m]`, each `(batch, units)` (see `gated.cells.slstm`).

    Example:
        >>> layer = sLSTM(32, num_heads=4, return_sequences=True)
        >>> layer(torch.randn(2, 10, 8)).shape
        torch.Size([2, 10, 32])
    """

    cell_class = sLSTMCell

    def __init__(self, units: int, num_heads: int = 1, forget_gate: str = "sigmoid",
                 forget_bias: float = 3.0, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, engine: str = "auto",
                 **kwargs: Any) -> None:
        super().__init__(units, **layer_arguments(locals()), **kwargs)


class mLSTM(_CellLayer):  # noqa: N801 (the paper's and NX-AI's name)
    """mLSTM layer: a matrix memory per head with the covariance update (xLSTM).

    Args:
        units: Positive integer, dimensionality of the output space (heads x head size).
        num_heads: Number of heads (divides `units`).
        forget_gate: `"sigmoid"` or `"exponential"`.
        epsilon: Added to the normalizer's denominator (1e-6, as NX-AI).
        form: How an unmasked sequence runs: `"chunkwise"` (default), `"parallel"` (one
            `time x time` product per head) or `"recurrent"` (the step on the engines).
            All three give the same numbers.
        chunk_size: Steps per chunk of the chunkwise form (need not divide the length).
        use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        dropout, seed, return_sequences, return_state, go_backwards, stateful, unroll,
        zero_output_for_mask: as Keras' `LSTM` (there is no recurrent kernel).
        engine: `"auto"` or a backend of `gated.engine` for the recurrent form.
        **kwargs: `name`, `dtype`, `trainable`, `input_shape`, `batch_size`, ...

    States: `[h (units), C (heads, d, d), n (heads, d), m (heads,)]`, d = units / heads.

    Example:
        >>> layer = mLSTM(32, num_heads=4, return_sequences=True, chunk_size=16)
        >>> layer(torch.randn(2, 50, 8)).shape
        torch.Size([2, 50, 32])
    """

    cell_class = mLSTMCell

    def __init__(self, units: int, num_heads: int = 1, forget_gate: str = "sigmoid",
                 epsilon: float = 1e-6, form: str = "chunkwise", chunk_size: int = 64,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, engine: str = "auto",
                 **kwargs: Any) -> None:
        if form not in FORMS:
            raise ValueError(f"mLSTM: `form` must be one of {FORMS}, received form={form!r}.")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"mLSTM: `chunk_size` must be a positive integer, received "
                             f"chunk_size={chunk_size!r}.")
        arguments = layer_arguments(locals())
        del arguments["form"], arguments["chunk_size"]
        super().__init__(units, **arguments, **kwargs)
        self.form = form
        self.chunk_size = chunk_size

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor | None = None,
                training: bool = False, initial_state: Any = None) -> Any:
        full = mask is None or bool(torch.as_tensor(mask).all())
        if self.form == "recurrent" or not full:
            return super().forward(inputs, mask=mask, training=training,
                                   initial_state=initial_state)
        cell = self.cell
        states = self._initial_state(inputs, initial_state)
        x = inputs
        in_mask, _ = cell.dropout_masks(x.shape[0], x.shape[-1], x, training)
        if in_mask is not None:
            x = x * in_mask.unsqueeze(1)
        if self.go_backwards:
            x = x.flip(1)  # outputs then come in processing order, as Keras returns them
        q, k, v, i_raw, log_f, o_raw = cell.split(cell.input_projection(x))
        heads_first = [t.transpose(1, 2) for t in (q, k, v, i_raw, log_f)]
        state = tuple(states[1:])
        if self.form == "parallel":
            h_tilde, state = forms.parallel(*heads_first, state, cell.epsilon)
        else:
            h_tilde, state = forms.chunkwise(*heads_first, state, cell.epsilon,
                                             self.chunk_size)
        batch, steps = x.shape[0], x.shape[1]
        ys = torch.sigmoid(o_raw) * h_tilde.transpose(1, 2).reshape(batch, steps, -1)
        final = (ys[:, -1], *state)
        if self.stateful:
            self.states = tuple(s.detach() for s in final)
        output = ys if self.return_sequences else ys[:, -1]
        return [output, *final] if self.return_state else output

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(form=self.form, chunk_size=self.chunk_size)
        return config


__all__ = ["mLSTM", "sLSTM"]
