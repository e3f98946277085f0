"""Attention layers with Keras 3's names, arguments, weights and numbers.

`Attention` (Luong et al. 2015, dot-product) and `AdditiveAttention` (Bahdanau et al. 2015)
take `[query, value]` or `[query, value, key]`:

    scores[b, i, j] = score(query[b, i], key[b, j])                       (batch, Tq, Tv)
    weights = softmax_j(scores, with masked keys pushed to scores - 1e9)
    output[b, i] = sum_j weights[b, i, j] * value[b, j]                    (batch, Tq, dim)

with `score` one of
- `Attention(score_mode="dot")`:    `s * <q, k>` (s the scalar `scale` when `use_scale`, else 1);
- `Attention(score_mode="concat")`: `w * sum_d tanh(s * (q_d + k_d))` (w: `concat_score_weight`);
- `AdditiveAttention`:              `sum_d scale_d * tanh(q_d + k_d)` (`scale (dim,)`).

Masks as Keras: `mask=[query_mask, value_mask]` (booleans `(batch, Tq)` and `(batch, Tv)`);
a masked value never contributes, a masked query row gives a zero output, and the output keeps
the query's mask. `use_causal_mask=True` lets query `i` see only keys `j <= i`.
`MultiHeadAttention` lives in `gated.layers.multi_head_attention` and is exported here too.
"""

from __future__ import annotations

from typing import Any

import torch

from gated._checks import check_rate
from gated.layer import Layer

#: What Keras subtracts from the score of a masked key (float16: its largest finite value).
LARGE = 1.0e9


def _large(dtype: torch.dtype) -> float:
    return 65504.0 if dtype == torch.float16 else LARGE


def _check_mask(mask: Any, name: str, expected: tuple[int, int], owner: str) -> Any:
    if mask is None:
        return None
    mask = torch.as_tensor(mask)
    if tuple(mask.shape) != expected:
        raise ValueError(f"{owner}: `{name}` must have shape (batch, time) = {expected}, "
                         f"received shape {tuple(mask.shape)}.")
    return mask.to(torch.bool)


def split_masks(inputs: list, mask: Any) -> tuple[Any, Any]:
    """`(query_mask, value_mask)` from Keras' `mask=[query_mask, value_mask]`, a single tensor
    (the query's mask) or the `_keras_mask` carried by the inputs."""
    if isinstance(mask, (list, tuple)):
        q_mask = mask[0] if len(mask) > 0 else None
        v_mask = mask[1] if len(mask) > 1 else None
    else:
        q_mask, v_mask = mask, None
    if q_mask is None:
        q_mask = getattr(inputs[0], "_keras_mask", None)
    if v_mask is None:
        v_mask = getattr(inputs[1], "_keras_mask", None)
    return q_mask, v_mask


def add_scalar_weight(layer: Layer, name: str, value: float = 1.0) -> torch.nn.Parameter:
    """A trainable scalar (shape `()`) initialised to `value` (Keras' `add_weight(shape=())`)."""
    param = torch.nn.Parameter(torch.tensor(value, dtype=layer.dtype),
                               requires_grad=layer.trainable)
    layer.register_parameter(name, param)
    return param


def causal_mask(tq: int, tv: int, device: Any = None) -> torch.Tensor:
    """`(1, Tq, Tv)` booleans, True where key `j <= i` (Keras' row >= column rule)."""
    return torch.ones(tq, tv, dtype=torch.bool, device=device).tril().unsqueeze(0)


class Attention(Layer):
    """Dot-product (Luong-style) attention, as `keras.layers.Attention`.

    Args:
        use_scale: Whether to learn a scalar `scale` (initialised to 1) on the scores.
        score_mode: `"dot"` (`<q, k>`) or `"concat"` (`sum tanh(q + k)` times a learned scalar
            `concat_score_weight`).
        dropout: Fraction of the attention weights dropped while training.
        seed: Seed of the dropout draws.

    Call arguments:
        inputs: `[query (batch, Tq, dim), value (batch, Tv, dim)]` or `[query, value, key]`.
        mask: `[query_mask (batch, Tq), value_mask (batch, Tv)]`, either may be None.
        return_attention_scores: Also return the weights `(batch, Tq, Tv)` (after masking and
            softmax).
        use_causal_mask: Query `i` attends only to keys `j <= i`.

    Returns:
        `(batch, Tq, dim)`, and the weights when `return_attention_scores=True`.

    Example:
    >>> import torch
    >>> layer = Attention()
    >>> layer([torch.ones(2, 3, 4), torch.ones(2, 5, 4)]).shape
    torch.Size([2, 3, 4])
    """

    supports_masking = True
    SCORE_MODES = ("dot", "concat")

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if score_mode not in self.SCORE_MODES:
            raise ValueError(f"{type(self).__name__}: unknown `score_mode`={score_mode!r}; "
                             f"expected one of {list(self.SCORE_MODES)}.")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = check_rate(dropout, "dropout", type(self).__name__)
        self.seed = seed
        self._generator = None if seed is None else torch.Generator().manual_seed(int(seed))

    # ------------------------------------------------------------------ building
    def _shape_of(self, inputs: Any) -> tuple:
        return tuple(self._validate(inputs)[0].shape)

    def build(self, input_shape: tuple) -> None:
        if self.use_scale:
            add_scalar_weight(self, "scale")
        if self.score_mode == "concat":
            add_scalar_weight(self, "concat_score_weight")

    def compute_output_shape(self, input_shape: Any) -> tuple:
        if isinstance(input_shape, list):
            return (*input_shape[0][:-1], input_shape[1][-1])
        return tuple(input_shape)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            return getattr(inputs[0], "_keras_mask", None) if isinstance(
                inputs, (list, tuple)) else None
        return split_masks(list(inputs), mask)[0]

    # ------------------------------------------------------------------ checks
    def _validate(self, inputs: Any) -> list:
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(f"{name} must be called on a list [query, value] or [query, value, "
                             f"key], received {type(inputs).__name__}"
                             + (f" of length {len(inputs)}" if isinstance(inputs, (list, tuple))
                                else "") + ".")
        names = ("query", "value", "key")
        for arg, t in zip(names, inputs, strict=False):
            if len(t.shape) != 3:
                raise ValueError(f"{name}: `{arg}` must have rank 3 (batch, time, dim), "
                                 f"received shape {tuple(t.shape)}.")
        batch = inputs[0].shape[0]
        for arg, t in zip(names[1:], inputs[1:], strict=False):
            if t.shape[0] != batch:
                raise ValueError(f"{name}: `{arg}` has batch size {t.shape[0]} but `query` has "
                                 f"{batch}; they must be equal.")
        if len(inputs) == 3 and inputs[2].shape[1] != inputs[1].shape[1]:
            raise ValueError(f"{name}: `key` must have the time length of `value` "
                             f"({inputs[1].shape[1]}), received {inputs[2].shape[1]}.")
        key = inputs[-1] if len(inputs) == 3 else inputs[1]
        if key.shape[-1] != inputs[0].shape[-1]:
            raise ValueError(f"{name}: `query` and `key` must have the same last axis, received "
                             f"{inputs[0].shape[-1]} and {key.shape[-1]}.")
        return list(inputs)

    # ------------------------------------------------------------------ the math
    def scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """The raw scores `(batch, Tq, Tv)`."""
        scale = getattr(self, "scale", None) if self.use_scale else None
        if self.score_mode == "dot":
            out = query @ key.transpose(-2, -1)
            return out * scale if scale is not None else out
        pair = query.unsqueeze(-2) + key.unsqueeze(-3)
        if scale is not None:
            pair = scale * pair
        return self.concat_score_weight * torch.tanh(pair).sum(-1)

    def forward(self, inputs: list, mask: Any = None, training: bool = False,
                return_attention_scores: bool = False, use_causal_mask: bool = False) -> Any:
        inputs = self._validate(inputs)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) == 3 else value
        owner = type(self).__name__
        q_mask, v_mask = split_masks(inputs, mask)
        q_mask = _check_mask(q_mask, "query_mask", tuple(query.shape[:2]), owner)
        v_mask = _check_mask(v_mask, "value_mask", tuple(value.shape[:2]), owner)
        scores = self.scores(query, key)
        keep = None if v_mask is None else v_mask.unsqueeze(-2).to(scores.device)
        if use_causal_mask:
            tri = causal_mask(scores.shape[-2], scores.shape[-1], scores.device)
            keep = tri if keep is None else keep & tri
        if keep is not None:
            scores = torch.where(keep, scores, scores - _large(scores.dtype))
        weights = torch.softmax(scores, dim=-1)
        used = weights
        if training and self.dropout > 0:
            probs = torch.full(weights.shape, 1.0 - self.dropout, dtype=weights.dtype)
            drop = torch.bernoulli(probs, generator=self._generator).to(weights.device)
            used = weights * drop / (1.0 - self.dropout)
        output = used @ value
        if q_mask is not None:
            output = torch.where(q_mask.unsqueeze(-1).to(output.device), output, 0.0)
        if return_attention_scores:
            return output, weights
        return output

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(use_scale=self.use_scale, score_mode=self.score_mode,
                      dropout=self.dropout, seed=self.seed)
        return config


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention, as `keras.layers.AdditiveAttention`.

    `scores[b, i, j] = sum_d scale_d * tanh(query[b, i, d] + key[b, j, d])`; the rest (softmax,
    masks, dropout, outputs) as `Attention`. Project query and key to a common size first (a
    `Dense` each) for the classic `v^T tanh(W_q q + W_k k)`.

    Args:
        use_scale: Whether to learn `scale (dim,)` (Keras default True, glorot-uniform init).
        dropout: Fraction of the attention weights dropped while training.
        seed: Seed of the dropout draws.

    Example:
    >>> import torch
    >>> AdditiveAttention()([torch.ones(2, 3, 4), torch.ones(2, 5, 4)]).shape
    torch.Size([2, 3, 4])
    """

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(use_scale=use_scale, score_mode="dot", dropout=dropout, seed=seed,
                         **kwargs)

    def build(self, input_shape: tuple) -> None:
        if self.use_scale:
            self.add_weight("scale", (int(input_shape[-1]),), "glorot_uniform")

    def scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        act = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))
        if self.use_scale:
            act = act * self.scale
        return act.sum(-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("score_mode")
        return config


__all__ = ["AdditiveAttention", "Attention", "causal_mask", "split_masks"]
