"""`TransformerEncoder` and `TransformerDecoder` blocks (Vaswani et al. 2017), keras-hub style.

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

`TransformerDecoder` adds, between the two, cross-attention to an encoder's output `e`
(`y' = y + Drop(MHA(LN(y), e))` pre-LN, `y' = LN(y + Drop(MHA(y, e)))` post-LN) when it is
called with one, and is causal by default; it equals `torch.nn.TransformerDecoderLayer`.
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
        hidden = _hidden_size(self, input_shape)
        _add_attention(self, "self_attention_layer", hidden)
        _add_feedforward(self, hidden)
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
        x = _attend(self, "self_attention_layer", _plain(inputs), None, padding, padding,
                    attention_mask, causal, training)
        return _feedforward(self, x, training)

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


class TransformerDecoder(TransformerEncoder):
    """A Transformer decoder block: causal self-attention, cross-attention, an MLP.

    Called on `decoder_sequence` alone it is a decoder-only (GPT) block; called with an
    `encoder_sequence` as well it attends to it (the original encoder-decoder). As in keras-hub,
    the first call decides: the cross-attention weights exist only if it had an encoder sequence.

    Args:
        intermediate_dim, num_heads, dropout, activation, layer_norm_epsilon,
        kernel_initializer, bias_initializer, normalize_first: as `TransformerEncoder`.
        use_causal_mask: Default True here (keras-hub's call default).

    Call arguments:
        decoder_sequence: `(batch, T, d)`.
        encoder_sequence: `(batch, S, d_e)` or None.
        decoder_padding_mask, encoder_padding_mask: Booleans `(batch, T)` / `(batch, S)`,
            default the masks the sequences carry.
        decoder_attention_mask, encoder_attention_mask: Booleans `(batch, T, T)` /
            `(batch, T, S)`, True where attention is allowed.
        use_causal_mask: Overrides the constructor's setting for this call.
        training: Whether dropout is active.

    Returns:
        `(batch, T, d)`.

    Example:
    >>> import torch
    >>> block = TransformerDecoder(intermediate_dim=32, num_heads=2)
    >>> block(torch.zeros(3, 7, 16), torch.zeros(3, 5, 12)).shape
    torch.Size([3, 7, 16])
    """

    def __init__(self, intermediate_dim: int, num_heads: int, dropout: float = 0.0,
                 activation: Any = "relu", layer_norm_epsilon: float = 1e-5,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 normalize_first: bool = True, use_causal_mask: bool = True,
                 encoder_sequence_shape: Any = None, **kwargs: Any) -> None:
        super().__init__(intermediate_dim, num_heads, dropout, activation, layer_norm_epsilon,
                         kernel_initializer, bias_initializer, normalize_first,
                         use_causal_mask, **kwargs)
        self.encoder_sequence_shape = (None if encoder_sequence_shape is None
                                       else tuple(encoder_sequence_shape))

    def __call__(self, decoder_sequence: Any, encoder_sequence: Any = None,
                 **kwargs: Any) -> Any:
        decoder_sequence = self._to_tensor(decoder_sequence)
        encoder_sequence = self._to_tensor(encoder_sequence)
        if not self.built and encoder_sequence is not None:
            self.encoder_sequence_shape = (None, None, int(encoder_sequence.shape[-1]))
        if self.built and (encoder_sequence is not None) != hasattr(self,
                                                                     "cross_attention_layer"):
            raise ValueError(
                f"TransformerDecoder '{self.name}' was built "
                f"{'with' if hasattr(self, 'cross_attention_layer') else 'without'} "
                "cross-attention: call it with the same inputs as the first time "
                f"(received encoder_sequence={'None' if encoder_sequence is None else 'a tensor'}"
                ").")
        if encoder_sequence is not None:
            kwargs["encoder_sequence"] = encoder_sequence
        return super().__call__(decoder_sequence, **kwargs)

    def build(self, input_shape: tuple) -> None:
        hidden = _hidden_size(self, input_shape)
        _add_attention(self, "self_attention_layer", hidden)
        if self.encoder_sequence_shape is not None:
            _add_attention(self, "cross_attention_layer", hidden,
                           int(self.encoder_sequence_shape[-1]))
        _add_feedforward(self, hidden, norm_before_dense=False)
        self.input_features = hidden

    def forward(self, inputs: torch.Tensor, encoder_sequence: Any = None,
                decoder_padding_mask: Any = None, decoder_attention_mask: Any = None,
                encoder_padding_mask: Any = None, encoder_attention_mask: Any = None,
                use_causal_mask: bool | None = None, training: bool = False,
                mask: Any = None) -> torch.Tensor:
        owner = "TransformerDecoder"
        name = "mask" if decoder_padding_mask is None else "decoder_padding_mask"
        padding = _check_mask(mask if decoder_padding_mask is None else decoder_padding_mask,
                              name, tuple(inputs.shape[:2]), owner)
        causal = self.use_causal_mask if use_causal_mask is None else bool(use_causal_mask)
        x = _attend(self, "self_attention_layer", _plain(inputs), None, padding, padding,
                    decoder_attention_mask, causal, training)
        if encoder_sequence is not None:
            if encoder_padding_mask is None:
                encoder_padding_mask = getattr(encoder_sequence, "_keras_mask", None)
            memory_mask = _check_mask(encoder_padding_mask, "encoder_padding_mask",
                                      tuple(encoder_sequence.shape[:2]), owner)
            x = _attend(self, "cross_attention_layer", x, _plain(encoder_sequence), padding,
                        memory_mask, encoder_attention_mask, False, training)
        return _feedforward(self, x, training)

    def get_config(self) -> dict:
        config = super().get_config()
        if self.encoder_sequence_shape is not None:
            config["encoder_sequence_shape"] = list(self.encoder_sequence_shape)
        return config


def _hidden_size(layer: Any, shape: tuple) -> int:
    hidden = shape[-1]
    if hidden is None or int(hidden) < layer.num_heads:
        raise ValueError(
            f"{type(layer).__name__}: the input's last axis ({hidden}) must be known and at "
            f"least num_heads={layer.num_heads}; received input shape {tuple(shape)}.")
    return int(hidden)


def _add_attention(layer: Any, name: str, hidden: int, value_size: int | None = None) -> None:
    """Adds `name` (a MultiHeadAttention with heads of `hidden // num_heads`) and its norm."""
    shape = (None, None, hidden)
    attention = MultiHeadAttention(
        layer.num_heads, hidden // layer.num_heads, dropout=layer.dropout, name=name,
        kernel_initializer=layer.kernel_initializer, bias_initializer=layer.bias_initializer,
        dtype=layer.dtype)
    attention.build(shape, shape if value_size is None else (None, None, value_size))
    setattr(layer, name, attention)
    norm = LayerNormalization(epsilon=layer.layer_norm_epsilon, name=f"{name}_norm",
                              dtype=layer.dtype)
    norm.build(shape)
    setattr(layer, f"{name}_norm", norm)
    setattr(layer, name.replace("_layer", "") + "_dropout",
            Dropout(layer.dropout, name=name.replace("_layer", "") + "_dropout"))


def _add_feedforward(layer: Any, hidden: int, norm_before_dense: bool = True) -> None:
    """Adds the MLP's norm and two Dense layers (the norm before or after, keras-hub's order)."""
    common = {"kernel_initializer": layer.kernel_initializer,
              "bias_initializer": layer.bias_initializer, "dtype": layer.dtype}
    norm = LayerNormalization(epsilon=layer.layer_norm_epsilon, name="feedforward_layer_norm",
                              dtype=layer.dtype)
    norm.build((None, None, hidden))
    if norm_before_dense:  # the encoder's weight order; the decoder's has it last
        layer.feedforward_layer_norm = norm
    layer.feedforward_intermediate_dense = Dense(
        layer.intermediate_dim, activation=layer.activation_name,
        name="feedforward_intermediate_dense", **common)
    layer.feedforward_intermediate_dense.build((None, None, hidden))
    layer.feedforward_output_dense = Dense(hidden, name="feedforward_output_dense", **common)
    layer.feedforward_output_dense.build((None, None, layer.intermediate_dim))
    if not norm_before_dense:
        layer.feedforward_layer_norm = norm
    layer.feedforward_dropout = Dropout(layer.dropout, name="feedforward_dropout")


def _attend(layer: Any, name: str, x: torch.Tensor, memory: Any, query_mask: Any,
            value_mask: Any, attention_mask: Any, causal: bool, training: bool) -> torch.Tensor:
    """One residual attention sub-block, pre- or post-LN; `memory=None` is self-attention."""
    norm = getattr(layer, f"{name}_norm")
    residual = x
    if layer.normalize_first:
        x = norm(x)
    value = x if memory is None else memory
    x = getattr(layer, name)(x, value, query_mask=query_mask, value_mask=value_mask,
                             attention_mask=attention_mask, use_causal_mask=causal,
                             training=training)
    x = getattr(layer, name.replace("_layer", "") + "_dropout")(x, training=training) + residual
    return x if layer.normalize_first else norm(x)


def _feedforward(layer: Any, x: torch.Tensor, training: bool) -> torch.Tensor:
    residual = x
    if layer.normalize_first:
        x = layer.feedforward_layer_norm(x)
    x = layer.feedforward_output_dense(layer.feedforward_intermediate_dense(x))
    x = layer.feedforward_dropout(x, training=training) + residual
    return x if layer.normalize_first else layer.feedforward_layer_norm(x)


def _plain(x: torch.Tensor) -> torch.Tensor:
    """`x` without the mask it carries, so that sub-layers see only the masks passed to them."""
    if getattr(x, "_keras_mask", None) is None:
        return x
    return x.view_as(x)


__all__ = ["TransformerDecoder", "TransformerEncoder"]
