r"""Attention pooling over recurrent outputs for classification (AT-LSTM / ATAE-LSTM).

Wang, Huang, Zhu & Zhao (2016), "Attention-based LSTM for Aspect-level Sentiment
Classification": with the LSTM outputs `H (batch, N, d)` and, optionally, an aspect embedding
`v_a (batch, d_a)` repeated over the N steps,

    M_t = tanh([h_t W_h ; v_a W_v])            (batch, N, d + d_a)   ([h_t W_h] without aspect)
    α   = softmax_t(M_t · w)                   masked steps get weight 0
    r   = Σ_t α_t h_t                          (batch, d)
    h*  = tanh(r W_p + h_N W_x)                h_N: the last unmasked output

and the layer returns `h*` (or `r` with `use_last=False`), ready for a `Dense` softmax. For
ATAE-LSTM, also concatenate the aspect to every input word before the LSTM (a `Concatenate`).
"""

from __future__ import annotations

from typing import Any

import torch

from gated import initializers
from gated.layer import Layer


class AttentionPooling(Layer):
    """Attention-weighted sum of a sequence, with an optional aspect (AT-LSTM).

    Args:
        use_last: Combine with the last output, `h* = tanh(r W_p + h_N W_x)` (the paper);
            False returns the weighted sum `r`.
        kernel_initializer: Initializer of every weight.

    Call arguments:
        inputs: `H (batch, N, d)`, or `[H, aspect (batch, d_a)]`.
        mask: Boolean `(batch, N)` (from `Embedding(mask_zero=True)` through the LSTM).
        return_attention_scores: Also return `α (batch, N)`.

    Weights: `hidden_kernel (d, d)`, `aspect_kernel (d_a, d_a)` (with an aspect),
    `score_vector (d [+ d_a],)`, and with `use_last` `pooled_kernel (d, d)`, `last_kernel (d, d)`.

    Example:
    >>> import torch
    >>> AttentionPooling()(torch.randn(2, 5, 8)).shape
    torch.Size([2, 8])
    """

    supports_masking = True

    def __init__(self, use_last: bool = True, kernel_initializer: Any = "glorot_uniform",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.use_last = bool(use_last)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.aspect_dim = 0

    def _shape_of(self, inputs: Any) -> tuple:
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise ValueError("AttentionPooling takes H or [H, aspect], received a list of "
                                 f"{len(inputs)} tensors.")
            self.aspect_dim = int(inputs[1].shape[-1])
            return tuple(inputs[0].shape)
        return tuple(inputs.shape)

    def build(self, input_shape: tuple) -> None:
        d, init = int(input_shape[-1]), self.kernel_initializer
        self.add_weight("hidden_kernel", (d, d), init)
        if self.aspect_dim:
            self.add_weight("aspect_kernel", (self.aspect_dim, self.aspect_dim), init)
        self.add_weight("score_vector", (d + self.aspect_dim,), init)
        if self.use_last:
            self.add_weight("pooled_kernel", (d, d), init)
            self.add_weight("last_kernel", (d, d), init)
        self.input_features = d

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], input_shape[-1])

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None

    def forward(self, inputs: Any, mask: Any = None,
                return_attention_scores: bool = False) -> Any:
        aspect = None
        if isinstance(inputs, (list, tuple)):
            inputs, aspect = inputs
        h = inputs
        if h.ndim != 3:
            raise ValueError("AttentionPooling: `inputs` must be (batch, time, features), "
                             f"received shape {tuple(h.shape)}.")
        if (aspect is None) != (self.aspect_dim == 0):
            raise ValueError("AttentionPooling was built " + ("with" if self.aspect_dim else
                             "without") + " an aspect input; call it the same way.")
        parts = [h @ self.hidden_kernel]
        if aspect is not None:
            if aspect.shape != (h.shape[0], self.aspect_dim):
                raise ValueError(f"AttentionPooling: `aspect` must have shape (batch, "
                                 f"{self.aspect_dim}) = {(h.shape[0], self.aspect_dim)}, "
                                 f"received {tuple(aspect.shape)}.")
            va = (aspect @ self.aspect_kernel).unsqueeze(1).expand(-1, h.shape[1], -1)
            parts.append(va)
        scores = torch.tanh(torch.cat(parts, dim=-1)) @ self.score_vector
        if mask is not None:
            mask = torch.as_tensor(mask, device=h.device).bool()
            if tuple(mask.shape) != tuple(h.shape[:2]):
                raise ValueError(f"AttentionPooling: `mask` must have shape (batch, time) = "
                                 f"{tuple(h.shape[:2])}, received {tuple(mask.shape)}.")
            scores = scores.masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(scores, dim=-1)
        r = (alpha.unsqueeze(1) @ h).squeeze(1)
        out = r
        if self.use_last:
            if mask is None:
                last = h[:, -1]
            else:
                steps = torch.arange(h.shape[1], device=h.device)
                index = torch.where(mask, steps, -1).max(1).values.clamp(min=0)
                last = h[torch.arange(h.shape[0], device=h.device), index]
            out = torch.tanh(r @ self.pooled_kernel + last @ self.last_kernel)
        if return_attention_scores:
            return out, alpha
        return out

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(use_last=self.use_last,
                      kernel_initializer=initializers.serialize(self.kernel_initializer))
        return config


__all__ = ["AttentionPooling"]
