"""Neural-network ops of `gated.ops` (Keras' `keras.ops.nn`), on `torch.nn.functional`."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gated import backend as _backend
from gated.ops._util import dims, float_t, t, torch_dtype, unary

__all__ = [
    "binary_crossentropy", "categorical_crossentropy", "celu", "dot_product_attention", "elu",
    "gelu", "glu", "hard_sigmoid", "hard_silu", "hard_swish", "leaky_relu", "log_sigmoid",
    "log_softmax", "moments", "multi_hot", "normalize", "one_hot", "relu", "relu6", "selu",
    "sigmoid", "silu", "softmax", "softplus", "softsign", "sparse_categorical_crossentropy",
    "swish",
]

relu = unary(F.relu, "relu", "Rectified linear unit, `max(x, 0)`.", floating=True)
relu6 = unary(F.relu6, "relu6", "`min(max(x, 0), 6)`.", floating=True)
sigmoid = unary(torch.sigmoid, "sigmoid", "Logistic sigmoid, `1 / (1 + exp(-x))`.",
                floating=True)
softplus = unary(F.softplus, "softplus", "`log(1 + exp(x))`.", floating=True)
softsign = unary(F.softsign, "softsign", "`x / (1 + |x|)`.", floating=True)
silu = unary(F.silu, "silu", "`x * sigmoid(x)` (also called swish).", floating=True)
swish = unary(F.silu, "swish", "`x * sigmoid(x)` (alias of `silu`).", floating=True)
log_sigmoid = unary(F.logsigmoid, "log_sigmoid", "`log(sigmoid(x))`, computed stably.",
                    floating=True)
hard_sigmoid = unary(F.hardsigmoid, "hard_sigmoid", "`relu6(x + 3) / 6`.", floating=True)
hard_silu = unary(F.hardswish, "hard_silu", "`x * relu6(x + 3) / 6`.", floating=True)
hard_swish = unary(F.hardswish, "hard_swish", "`x * relu6(x + 3) / 6` (alias of `hard_silu`).",
                   floating=True)
selu = unary(F.selu, "selu", "Scaled exponential linear unit.", floating=True)


def leaky_relu(x: Any, negative_slope: float = 0.2) -> torch.Tensor:
    """`x` where positive, `negative_slope * x` elsewhere (Keras' default slope 0.2)."""
    return F.leaky_relu(float_t(x), negative_slope)


def elu(x: Any, alpha: float = 1.0) -> torch.Tensor:
    """Exponential linear unit: `x` if positive, `alpha * (exp(x) - 1)` elsewhere."""
    return F.elu(float_t(x), alpha)


def celu(x: Any, alpha: float = 1.0) -> torch.Tensor:
    """Continuously differentiable ELU: `max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))`."""
    return F.celu(float_t(x), alpha)


def gelu(x: Any, approximate: bool = True) -> torch.Tensor:
    """Gaussian error linear unit; `approximate=True` (Keras' default) uses the tanh formula.

    Args:
        x: input tensor.
        approximate: tanh approximation (True) or the exact erf form (False).
    """
    return F.gelu(float_t(x), approximate="tanh" if approximate else "none")


def glu(x: Any, axis: int = -1) -> torch.Tensor:
    """Gated linear unit: halves `a, b` of `x` along `axis` give `a * sigmoid(b)`."""
    return F.glu(float_t(x), dim=axis)


def softmax(x: Any, axis: int | tuple = -1) -> torch.Tensor:
    """`exp(x) / sum(exp(x))` along `axis` (an int or a tuple of axes).

    Example:
    >>> softmax([0.0, 0.0])
    tensor([0.5000, 0.5000])
    """
    x = float_t(x)
    if isinstance(axis, int):
        return torch.softmax(x, dim=axis)
    return torch.exp(log_softmax(x, axis))


def log_softmax(x: Any, axis: int | tuple = -1) -> torch.Tensor:
    """`log(softmax(x))` along `axis`, computed stably."""
    x = float_t(x)
    if isinstance(axis, int):
        return torch.log_softmax(x, dim=axis)
    return x - torch.logsumexp(x, dim=dims(axis, x.ndim), keepdim=True)


def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = None,
            sparse: bool = False) -> torch.Tensor:
    """One-hot encoding of integer labels; labels outside `[0, num_classes)` give zeros.

    Args:
        x: integer labels.
        num_classes: number of classes (length of the new axis).
        axis: where the new axis goes.
        dtype: output dtype (default `floatx()`).
        sparse: accepted for Keras compatibility; the result is dense.
    """
    del sparse
    labels = t(x).long()
    valid = (labels >= 0) & (labels < num_classes)
    out = F.one_hot(torch.where(valid, labels, 0), num_classes) * valid.unsqueeze(-1)
    out = out.to(torch_dtype(dtype) or torch.get_default_dtype())
    return out if axis == -1 else out.movedim(-1, axis)


def multi_hot(inputs: Any, num_classes: int, axis: int = -1, dtype: Any = None,
              sparse: bool = False) -> torch.Tensor:
    """Multi-hot encoding: for each row of labels, 1 at every label present."""
    encoded = one_hot(inputs, num_classes, axis=-1, dtype=dtype, sparse=sparse)
    out = encoded.amax(dim=-2) if encoded.ndim > 1 else encoded
    return out if axis == -1 else out.movedim(-1, axis)


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> torch.Tensor:
    """Elementwise binary cross-entropy (no reduction); probabilities are clipped to
    `[epsilon, 1 - epsilon]`, as Keras does."""
    output = float_t(output)
    target = t(target).to(output.dtype)
    if from_logits:
        return F.binary_cross_entropy_with_logits(output, target, reduction="none")
    eps = _backend.epsilon()
    return F.binary_cross_entropy(torch.clamp(output, eps, 1 - eps), target, reduction="none")


def categorical_crossentropy(target: Any, output: Any, from_logits: bool = False,
                             axis: int = -1) -> torch.Tensor:
    """Cross-entropy between one-hot `target` and predictions along `axis` (one value per
    sample). Probabilities are renormalized to sum to 1 and clipped to `[epsilon, 1-epsilon]`."""
    output = float_t(output)
    target = t(target).to(output.dtype)
    if target.shape != output.shape:
        raise ValueError(f"Arguments `target` and `output` must have the same shape; received "
                         f"{tuple(target.shape)} and {tuple(output.shape)}.")
    if from_logits:
        log_prob = torch.log_softmax(output, dim=axis)
    else:
        eps = _backend.epsilon()
        output = output / output.sum(dim=axis, keepdim=True)
        log_prob = torch.log(torch.clamp(output, eps, 1 - eps))
    return -(target * log_prob).sum(dim=axis)


def sparse_categorical_crossentropy(target: Any, output: Any, from_logits: bool = False,
                                    axis: int = -1) -> torch.Tensor:
    """`categorical_crossentropy` with integer class labels as `target`."""
    output = float_t(output)
    labels = t(target).long()
    if labels.ndim == output.ndim and labels.shape[-1] == 1:
        labels = labels.squeeze(-1)
    encoded = one_hot(labels, output.shape[axis], axis=axis, dtype=output.dtype)
    return categorical_crossentropy(encoded, output, from_logits=from_logits, axis=axis)


def moments(x: Any, axes: Any, keepdims: bool = False,
            synchronized: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and population variance of `x` over `axes`."""
    del synchronized
    x = float_t(x)
    d = dims(axes, x.ndim)
    return (torch.mean(x, dim=d, keepdim=keepdims),
            torch.var(x, dim=d, keepdim=keepdims, correction=0))


def normalize(x: Any, axis: int = -1, order: int = 2, epsilon: float | None = None
              ) -> torch.Tensor:
    """`x` divided by its `order`-norm along `axis` (at least `epsilon`)."""
    eps = _backend.epsilon() if epsilon is None else epsilon
    return F.normalize(float_t(x), p=order, dim=axis, eps=eps)


def dot_product_attention(query: Any, key: Any, value: Any, bias: Any = None, mask: Any = None,
                          scale: float | None = None, is_causal: bool = False) -> torch.Tensor:
    """Scaled dot-product attention on Keras' layout `(batch, time, heads, head_dim)`.

    Args:
        query: `(B, T, N, H)`.
        key: `(B, S, N, H)`.
        value: `(B, S, N, H)`.
        bias: added to the logits, broadcastable to `(B, N, T, S)`.
        mask: boolean, broadcastable to `(B, N, T, S)`; False positions are not attended.
        scale: logit scale (default `1 / sqrt(H)`).
        is_causal: apply a causal mask.

    Returns:
        `(B, T, N, H)`.
    """
    q, k, v = (float_t(a).transpose(1, 2) for a in (query, key, value))
    attn_mask = None
    if mask is not None:
        attn_mask = t(mask).bool()
    if bias is not None:
        bias_t = float_t(bias).to(q.dtype)
        attn_mask = bias_t if attn_mask is None else bias_t.masked_fill(~attn_mask, -torch.inf)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal,
                                         scale=scale)
    return out.transpose(1, 2)
