"""`MultiHeadAttention` as `keras.layers.MultiHeadAttention`, on torch's fused attention.

For `num_heads = N`, query `(batch, T, dim)`, value `(batch, S, dim_v)`, key (default value):

    Q = query @ Wq + bq     (batch, T, N, key_dim)      Wq (dim, N, key_dim),   bq (N, key_dim)
    K = key   @ Wk + bk     (batch, S, N, key_dim)      Wk (dim_k, N, key_dim), bk (N, key_dim)
    V = value @ Wv + bv     (batch, S, N, value_dim)    Wv (dim_v, N, value_dim)
    A = softmax_S(Q K^T / sqrt(key_dim), masked)        (batch, N, T, S)
    O = sum_{n, e} (A V)[.., n, e] Wo[n, e, :] + bo     Wo (N, value_dim, out), bo (out,)

Weights and `get_weights()` order are Keras': query kernel, query bias, key kernel, key bias,
value kernel, value bias, output kernel, output bias. Masks as Keras: a boolean
`attention_mask (batch, T, S)` (True = attend), the query's and value's masks (`query_mask`,
`value_mask`, `key_mask`, or the `_keras_mask` the inputs carry) and `use_causal_mask`, all
combined with AND. Without dropout and without `return_attention_scores` the product runs in
`torch.nn.functional.scaled_dot_product_attention` (masked positions get -1e9 added, as Keras'
torch backend); otherwise it runs in explicit ops, masked weights set to zero (Keras' Softmax).
Attention runs over the time axis (Keras' default `attention_axes` for rank-3 inputs).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from gated import initializers, regularizers
from gated._checks import check_positive_int, check_rate
from gated.layer import Layer
from gated.layers.attention import LARGE, _check_mask, causal_mask


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al. 2017) with Keras' arguments and weight layout.

    Args:
        num_heads: Number of attention heads.
        key_dim: Size of each head for query and key.
        value_dim: Size of each head for value (default `key_dim`).
        dropout: Fraction of the attention weights dropped while training.
        use_bias: Whether the four projections add a bias.
        output_shape: Size of the output's last axis (default: the query's), an int or a
            one-entry tuple.
        attention_axes: `None` (the time axis) or `(1,)`; other axes are not supported.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: as Keras.
        seed: Seed of the dropout draws.

    Call arguments:
        query: `(batch, T, dim)`.
        value: `(batch, S, dim_v)`.
        key: `(batch, S, dim_k)`, default `value`.
        attention_mask: Boolean `(batch, T, S)`, True where a query may attend.
        return_attention_scores: Also return the weights `(batch, num_heads, T, S)`.
        use_causal_mask: Query `i` attends only to positions `j <= i`.
        query_mask, value_mask, key_mask: Booleans `(batch, T)` / `(batch, S)`.

    Returns:
        `(batch, T, out)` and, on request, the weights.

    Example:
    >>> import torch
    >>> mha = MultiHeadAttention(num_heads=2, key_dim=4)
    >>> mha(torch.ones(3, 5, 8), torch.ones(3, 6, 8)).shape
    torch.Size([3, 5, 8])
    """

    supports_masking = True

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None,
                 dropout: float = 0.0, use_bias: bool = True, output_shape: Any = None,
                 attention_axes: Any = None, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = "MultiHeadAttention"
        self.num_heads = check_positive_int(num_heads, "num_heads", owner)
        self.key_dim = check_positive_int(key_dim, "key_dim", owner)
        self.value_dim = (self.key_dim if value_dim is None
                          else check_positive_int(value_dim, "value_dim", owner))
        self.dropout = check_rate(dropout, "dropout", owner)
        self.use_bias = bool(use_bias)
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        if output_shape is not None and (len(tuple(output_shape)) != 1):
            raise ValueError(f"{owner}: `output_shape` must be an int or a one-entry tuple, "
                             f"received {output_shape!r}.")
        self.output_shape_arg = None if output_shape is None else tuple(output_shape)
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        if attention_axes is not None and tuple(attention_axes) not in ((1,), (-2,)):
            raise ValueError(f"{owner}: `attention_axes`={attention_axes!r} is not supported; "
                             "expected None or (1,) (attention over the time axis).")
        self.attention_axes = None if attention_axes is None else tuple(attention_axes)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.seed = seed
        self._generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        self._regularized = {
            "kernel_regularizer": ["query_kernel", "key_kernel", "value_kernel",
                                   "output_kernel"],
            "bias_regularizer": ["query_bias", "key_bias", "value_bias", "output_bias"]}

    def __call__(self, query: Any, value: Any, key: Any = None, **kwargs: Any) -> Any:
        query, value = self._to_tensor(query), self._to_tensor(value)
        key = self._to_tensor(key)
        if not self.built:
            self.build(tuple(query.shape), tuple(value.shape),
                       None if key is None else tuple(key.shape))
        return super().__call__(query, value=value, key=key, **kwargs)

    def build(self, query_shape: tuple, value_shape: tuple | None = None,
              key_shape: tuple | None = None) -> None:
        """Create the weights (Keras' `build(query_shape, value_shape, key_shape=None)`)."""
        dim = int(query_shape[-1])
        dim_v = dim if value_shape is None else int(value_shape[-1])
        dim_k = dim_v if key_shape is None else int(key_shape[-1])
        heads, kd, vd = self.num_heads, self.key_dim, self.value_dim
        out = self.output_shape_arg[0] if self.output_shape_arg else dim
        for name, rows, size in (("query", dim, kd), ("key", dim_k, kd), ("value", dim_v, vd)):
            self.add_weight(f"{name}_kernel", (rows, heads, size), self.kernel_initializer)
            if self.use_bias:
                self.add_weight(f"{name}_bias", (heads, size), self.bias_initializer)
        self.add_weight("output_kernel", (heads, vd, out), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("output_bias", (out,), self.bias_initializer)
        self.built = True
        self._build_input_shape = tuple(query_shape)

    build._marks_built = True  # builds itself from three shapes (the base wraps one)

    def compute_output_shape(self, query_shape: tuple, value_shape: Any = None,
                             key_shape: Any = None) -> tuple:
        if self.output_shape_arg:
            return (*query_shape[:-1], *self.output_shape_arg)
        return tuple(query_shape)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return getattr(inputs, "_keras_mask", None) if mask is None else mask

    def _project(self, x: torch.Tensor, name: str) -> torch.Tensor:
        y = torch.einsum("btd,dnh->bnth", x, getattr(self, f"{name}_kernel"))
        if self.use_bias:
            y = y + getattr(self, f"{name}_bias").unsqueeze(1)
        return y

    def forward(self, query: torch.Tensor, value: torch.Tensor, key: torch.Tensor | None = None,
                query_mask: Any = None, value_mask: Any = None, key_mask: Any = None,
                attention_mask: Any = None, return_attention_scores: bool = False,
                training: bool = False, use_causal_mask: bool = False,
                mask: Any = None) -> Any:
        owner = "MultiHeadAttention"
        key_given = key is not None
        key = value if key is None else key
        value = self._to_tensor(value)
        key = self._to_tensor(key)
        for arg, t in (("query", query), ("value", value), ("key", key)):
            if t.ndim != 3:
                raise ValueError(f"{owner}: `{arg}` must have rank 3 (batch, time, dim), "
                                 f"received shape {tuple(t.shape)}.")
        batch, tq, ts = query.shape[0], query.shape[1], value.shape[1]
        for arg, t in (("value", value), ("key", key)):
            if t.shape[0] != batch:
                raise ValueError(f"{owner}: `{arg}` has batch size {t.shape[0]} but `query` "
                                 f"has {batch}; they must be equal.")
        if key.shape[1] != ts:
            raise ValueError(f"{owner}: `key` must have the time length of `value` ({ts}), "
                             f"received {key.shape[1]}.")
        if query_mask is None:
            query_mask = mask if mask is not None else getattr(query, "_keras_mask", None)
        if value_mask is None:
            value_mask = getattr(value, "_keras_mask", None)
        if key_mask is None and key_given and key is not value:
            key_mask = getattr(key, "_keras_mask", None)
        keep = self._mask(query_mask, value_mask, key_mask, attention_mask, use_causal_mask,
                          batch, tq, ts, query.device)
        q, k, v = self._project(query, "query"), self._project(key, "key"), \
            self._project(value, "value")
        scale = 1.0 / math.sqrt(float(self.key_dim))
        dropping = training and self.dropout > 0
        weights = None
        if not dropping and not return_attention_scores:
            bias = None
            if keep is not None:
                zero = torch.zeros((), dtype=q.dtype, device=q.device)
                bias = torch.where(keep, zero, -LARGE).unsqueeze(1)
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale)
        else:
            scores = (q * scale) @ k.transpose(-2, -1)
            if keep is not None:
                keep4 = keep.unsqueeze(1)
                scores = torch.where(keep4, scores, -LARGE)
            weights = torch.softmax(scores, dim=-1)
            if keep is not None:
                weights = torch.where(keep4, weights, 0.0)
            used = weights
            if dropping:
                probs = torch.full(weights.shape, 1.0 - self.dropout, dtype=weights.dtype)
                drop = torch.bernoulli(probs, generator=self._generator).to(weights.device)
                used = weights * drop / (1.0 - self.dropout)
            att = used @ v
        out = torch.einsum("bnth,nho->bto", att, self.output_kernel)
        if self.use_bias:
            out = out + self.output_bias
        if return_attention_scores:
            return out, weights
        return out

    @staticmethod
    def _mask(query_mask: Any, value_mask: Any, key_mask: Any, attention_mask: Any,
              causal: bool, batch: int, tq: int, ts: int, device: Any) -> Any:
        owner = "MultiHeadAttention"
        keep = None
        q = _check_mask(query_mask, "query_mask", (batch, tq), owner)
        if q is not None:
            keep = q.to(device).unsqueeze(-1)
        for name, m in (("value_mask", value_mask), ("key_mask", key_mask)):
            m = _check_mask(m, name, (batch, ts), owner)
            if m is not None:
                m = m.to(device).unsqueeze(-2)
                keep = m if keep is None else keep & m
        if causal:
            tri = causal_mask(tq, ts, device)
            keep = tri if keep is None else keep & tri
        if attention_mask is not None:
            am = torch.as_tensor(attention_mask).to(device=device, dtype=torch.bool)
            if am.ndim == 2:
                am = am.unsqueeze(0)
            if am.ndim != 3 or am.shape[-2:] != (tq, ts) or am.shape[0] not in (1, batch):
                raise ValueError(f"{owner}: `attention_mask` must have shape (batch, T, S) = "
                                 f"{(batch, tq, ts)}, received {tuple(am.shape)}.")
            keep = am if keep is None else keep & am
        if keep is not None:
            keep = keep.expand(batch, tq, ts)
        return keep

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            num_heads=self.num_heads, key_dim=self.key_dim, value_dim=self.value_dim,
            dropout=self.dropout, use_bias=self.use_bias, output_shape=self.output_shape_arg,
            attention_axes=self.attention_axes,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer), seed=self.seed)
        return config


__all__ = ["MultiHeadAttention"]
