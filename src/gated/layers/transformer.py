"""`TransformerEncoder`: one Transformer encoder block (Vaswani et al. 2017), keras-hub style.

For an input `x (batch, T, d)`, `H = num_heads` heads of size `d // H`, with `LN1`, `LN2` layer
normalisations, `MHA` the self-attention of `gated.layers.MultiHeadAttention` and the MLP
`FF(z) = activation(z W1 + b1) W2 + b2` (`W1 (d, intermediate_dim)`):

    pre-LN  (normalize_first=True, the default):  y = x + Drop(MHA(LN1(x)))
                                                  z = y + Drop(FF(LN2(y)))
    post-LN (normalize_first=False, the original): y = LN1(x + Drop(MHA(x)))
                                                  z = LN2(y + Drop(FF(y)))

The arguments, sub-layer names and `get_weights()` order follow keras-hub's
`keras_hub.layers.TransformerEncoder` (attention's query/key/value/output kernels and biases,
LN1 gamma/beta, LN2 gamma/beta, W1, b1, W2, b2); one difference: keras-hub defaults to post-LN
(`normalize_first=False`), gated to pre-LN, which trains deep stacks without warm-up (Xiong et
al. 2020). Post-LN equals `torch.nn.TransformerEncoderLayer` (same weights, no dropout).
"""

from __future__ import annotations

from typing import Any

import torch

from gated import activations, initializers
from gated._checks import check_positive_int, check_rate
from gated.layer import Layer
from gated.layers.attention import _check_mask
from gated.layers.core import Dense, Dropout, LayerNormalization
from gated.layers.multi_head_attention import MultiHeadAttention


class TransformerEncoder(Layer):
    """A Transformer encoder block: self-attention and an MLP, each with a residual.

    Args:
        intermediate_dim: Hidden size of the MLP.
        num_heads: Number of attention heads; each has size `d // num_heads` where `d` is the
            input's last axis (which must be at least `num_heads`).
        dropout: Rate shared by the attention weights and the two residual branches.
        activation: The MLP's activation, a Keras name or a callable (default `"relu"`).
        layer_norm_epsilon: Epsilon of both layer normalisations (default 1e-5, keras-hub's).
        kernel_initializer, bias_initializer: Of the attention and MLP projections.
        normalize_first: `True` (default) normalises the inputs of the attention and the MLP
            (pre-LN, GPT-2); `False` normalises after each residual sum (post-LN, BERT and the
            original Transformer; keras-hub's default).
        use_causal_mask: Position `i` attends only to positions `j <= i` (a language model).
            A call argument of the same name overrides it.

    Call arguments:
        inputs: `(batch, T, d)`.
        padding_mask: Boolean `(batch, T)`, False at padding; default the mask the inputs
            carry (`Embedding(mask_zero=True)`, `Masking`). Padded positions are never attended
            to; their own outputs are unspecified and the mask is passed on.
        attention_mask: Boolean `(batch, T, T)`, True where query `i` may attend to key `j`.
        use_causal_mask: Overrides the constructor's setting for this call.
        training: Whether dropout is active.

    Returns:
        `(batch, T, d)`.

    Example:
    >>> import torch
    >>> block = TransformerEncoder(intermediate_dim=32, num_heads=2)
    >>> block(torch.zeros(3, 7, 16)).shape
    torch.Size([3, 7, 16])
    """

    input_ndim = 3
    supports_masking = True

    def __init__(self, intermediate_dim: int, num_heads: int, dropout: float = 0.0,
                 activation: Any = "relu", layer_norm_epsilon: float = 1e-5,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 normalize_first: bool = True, use_causal_mask: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = "TransformerEncoder"
        self.intermediate_dim = check_positive_int(intermediate_dim, "intermediate_dim", owner)
        self.num_heads = check_positive_int(num_heads, "num_heads", owner)
        self.dropout = check_rate(dropout, "dropout", owner)
        self.activation_name = activation
        self.activation = activations.get(activation)
        if isinstance(layer_norm_epsilon, bool) or not isinstance(
                layer_norm_epsilon, (int, float)) or layer_norm_epsilon < 0:
            raise ValueError(f"{owner}: `layer_norm_epsilon` must be a number >= 0, received "
                             f"{layer_norm_epsilon!r}.")
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.normalize_first = bool(normalize_first)
        self.use_causal_mask = bool(use_causal_mask)

    def _expected_layout(self) -> str:
        return " (batch, timesteps, features)"

    def build(self, input_shape: tuple) -> None:
        hidden = input_shape[-1]
        if hidden is None or int(hidden) < self.num_heads:
            raise ValueError(
                f"TransformerEncoder: the input's last axis ({hidden}) must be known and at "
                f"least num_heads={self.num_heads}; received input shape {input_shape}.")
        hidden = int(hidden)
        shape = (None, None, hidden)
        inner = (None, None, self.intermediate_dim)
        common = {"kernel_initializer": self.kernel_initializer,
                  "bias_initializer": self.bias_initializer, "dtype": self.dtype}
        self.self_attention_layer = MultiHeadAttention(
            self.num_heads, hidden // self.num_heads, dropout=self.dropout,
            name="self_attention_layer", **common)
        self.self_attention_layer.build(shape, shape)
        self.self_attention_layer_norm = LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="self_attention_layer_norm", dtype=self.dtype)
        self.self_attention_layer_norm.build(shape)
        self.self_attention_dropout = Dropout(self.dropout, name="self_attention_dropout")
        self.feedforward_layer_norm = LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="feedforward_layer_norm", dtype=self.dtype)
        self.feedforward_layer_norm.build(shape)
        self.feedforward_intermediate_dense = Dense(
            self.intermediate_dim, activation=self.activation_name,
            name="feedforward_intermediate_dense", **common)
        self.feedforward_intermediate_dense.build(shape)
        self.feedforward_output_dense = Dense(hidden, name="feedforward_output_dense", **common)
        self.feedforward_output_dense.build(inner)
        self.feedforward_dropout = Dropout(self.dropout, name="feedforward_dropout")
        self.input_features = hidden

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask

    def forward(self, inputs: torch.Tensor, padding_mask: Any = None, attention_mask: Any = None,
                use_causal_mask: bool | None = None, training: bool = False,
                mask: Any = None) -> torch.Tensor:
        name = "mask" if padding_mask is None else "padding_mask"
        padding = _check_mask(mask if padding_mask is None else padding_mask, name,
                              tuple(inputs.shape[:2]), "TransformerEncoder")
        causal = self.use_causal_mask if use_causal_mask is None else bool(use_causal_mask)
        x = _plain(inputs)
        residual = x
        if self.normalize_first:
            x = self.self_attention_layer_norm(x)
        x = self.self_attention_layer(x, x, query_mask=padding, value_mask=padding,
                                      attention_mask=attention_mask, use_causal_mask=causal,
                                      training=training)
        x = self.self_attention_dropout(x, training=training) + residual
        if not self.normalize_first:
            x = self.self_attention_layer_norm(x)
        residual = x
        if self.normalize_first:
            x = self.feedforward_layer_norm(x)
        x = self.feedforward_output_dense(self.feedforward_intermediate_dense(x))
        x = self.feedforward_dropout(x, training=training) + residual
        if not self.normalize_first:
            x = self.feedforward_layer_norm(x)
        return x

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            intermediate_dim=self.intermediate_dim, num_heads=self.num_heads,
            dropout=self.dropout, activation=activations.serialize(self.activation_name),
            layer_norm_epsilon=self.layer_norm_epsilon,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            normalize_first=self.normalize_first, use_causal_mask=self.use_causal_mask)
        return config


def _plain(x: torch.Tensor) -> torch.Tensor:
    """`x` without the mask it carries, so that sub-layers see only the masks passed to them."""
    if getattr(x, "_keras_mask", None) is None:
        return x
    return x.view_as(x)


__all__ = ["TransformerEncoder"]
