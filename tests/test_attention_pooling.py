"""AttentionPooling (AT-LSTM, Wang et al. 2016) against the paper's formula in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gated.layers import LSTM, AttentionPooling, Dense, Embedding
from gated.models import Sequential


def _numpy_at_lstm(h, aspect, mask, w):
    """M = tanh([H W_h ; v_a W_v]); α = softmax(w·M); r = H α; h* = tanh(r W_p + h_N W_x)."""
    out, alphas = [], []
    for b in range(h.shape[0]):
        steps = np.flatnonzero(mask[b])
        hb = h[b, steps]
        m = hb @ w["hidden_kernel"]
        if aspect is not None:
            va = aspect[b] @ w["aspect_kernel"]
            m = np.concatenate([m, np.repeat(va[None], len(steps), 0)], 1)
        e = np.tanh(m) @ w["score_vector"]
        a = np.exp(e - e.max())
        a /= a.sum()
        r = a @ hb
        out.append(np.tanh(r @ w["pooled_kernel"] + hb[-1] @ w["last_kernel"]))
        full = np.zeros(h.shape[1])
        full[steps] = a
        alphas.append(full)
    return np.stack(out), np.stack(alphas)


@pytest.mark.parametrize("with_aspect", [False, True])
def test_attention_pooling_equals_the_paper_formula(with_aspect):
    rng = np.random.default_rng(0)
    h = rng.standard_normal((3, 6, 4))
    aspect = rng.standard_normal((3, 2)) if with_aspect else None
    mask = np.ones((3, 6), bool)
    mask[0, 4:] = False
    mask[2, 1:3] = False  # a gap: h_N is still the last True step
    layer = AttentionPooling(dtype="float64")
    inputs = [torch.as_tensor(h), torch.as_tensor(aspect)] if with_aspect else torch.as_tensor(h)
    out, alpha = layer(inputs, mask=torch.as_tensor(mask), return_attention_scores=True)
    weights = {name: p.detach().numpy() for name, p in layer.named_parameters()}
    want, want_alpha = _numpy_at_lstm(h, aspect, mask, weights)
    np.testing.assert_allclose(out.detach().numpy(), want, atol=1e-12)
    np.testing.assert_allclose(alpha.detach().numpy(), want_alpha, atol=1e-12)


def test_attention_pooling_classifies_in_a_sequential_model():
    model = Sequential([Embedding(20, 8, mask_zero=True), LSTM(6, return_sequences=True),
                        AttentionPooling(), Dense(3, activation="softmax")])
    x = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]])
    probs = model.predict(x, verbose=0)
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="mask"):
        AttentionPooling()(torch.randn(2, 5, 4), mask=torch.ones(2, 4, dtype=torch.bool))
