"""Attention, AdditiveAttention and MultiHeadAttention against Keras 3 (torch backend).

Weights are copied from the Keras layer; outputs, attention weights, parameter counts and
mask behaviour must agree within 1e-5 (float32). Skipped when keras is not installed.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras (Keras 3) is not installed")

from gated.layers import AdditiveAttention, Attention, MultiHeadAttention  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.skip("these tests need keras on the torch backend", allow_module_level=True)

B, TQ, TV, D = 3, 4, 6, 5
TOL = 1e-5


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else keras.ops.convert_to_numpy(t)


def _data(seed=0, dim_v=D):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((B, TQ, D)).astype(np.float32)
    v = rng.standard_normal((B, TV, dim_v)).astype(np.float32)
    k = rng.standard_normal((B, TV, D)).astype(np.float32)
    q_mask = np.ones((B, TQ), bool)
    q_mask[1, 3:] = False
    v_mask = np.ones((B, TV), bool)
    v_mask[0, 4:] = False
    v_mask[2, :2] = False
    return q, v, k, q_mask, v_mask


def _copy(ours, theirs):
    ours.set_weights([np.asarray(_np(w)) for w in theirs.weights])
    assert ours.count_params() == theirs.count_params()
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        assert a.shape == b.shape


LUONG = {
    "dot": dict(),
    "dot_scaled": dict(use_scale=True),
    "concat": dict(score_mode="concat"),
    "concat_scaled": dict(score_mode="concat", use_scale=True),
}


@pytest.mark.parametrize("with_key", [False, True])
@pytest.mark.parametrize("kind", list(LUONG) + ["additive", "additive_unscaled"])
def test_luong_and_bahdanau_equal_keras(kind, with_key):
    q, v, k, q_mask, v_mask = _data()
    if kind.startswith("additive"):
        kw = dict(use_scale=kind == "additive")
        theirs, ours = keras.layers.AdditiveAttention(**kw), AdditiveAttention(**kw)
    else:
        theirs, ours = keras.layers.Attention(**LUONG[kind]), Attention(**LUONG[kind])
    inputs = [q, v, k] if with_key else [q, v]
    theirs(inputs)
    ours([torch.as_tensor(a) for a in inputs])
    with torch.no_grad():  # random weights in place of the initial ones
        for w in theirs.weights:
            w.assign(np.random.default_rng(1).uniform(0.5, 1.5, w.shape).astype(np.float32))
    _copy(ours, theirs)
    for masks in (None, [q_mask, v_mask], [None, v_mask], [q_mask, None]):
        for causal in (False, True):
            kw = dict(return_attention_scores=True, use_causal_mask=causal)
            ko, kw_ = theirs(inputs, mask=masks, **kw)
            tm = None if masks is None else [None if m is None else torch.as_tensor(m)
                                             for m in masks]
            go, gw = ours([torch.as_tensor(a) for a in inputs], mask=tm, **kw)
            np.testing.assert_allclose(_np(go), _np(ko), atol=TOL, rtol=TOL)
            np.testing.assert_allclose(_np(gw), _np(kw_), atol=TOL, rtol=TOL)


def test_attention_masks_behave_as_keras():
    q, v, _, q_mask, v_mask = _data()
    layer = Attention()
    out, w = layer([torch.as_tensor(q), torch.as_tensor(v)],
                   mask=[torch.as_tensor(q_mask), torch.as_tensor(v_mask)],
                   return_attention_scores=True)
    assert torch.all(w[torch.as_tensor(~v_mask).unsqueeze(1).expand_as(w)] < 1e-6)
    assert torch.all(out[1, 3:] == 0)  # a masked query row is zero
    assert out._keras_mask is not None and torch.equal(out._keras_mask, torch.as_tensor(q_mask))
    _, w = layer([torch.as_tensor(q), torch.as_tensor(q)], use_causal_mask=True,
                 return_attention_scores=True)
    assert torch.all(torch.triu(w, diagonal=1) == 0)


def test_attention_bad_input_names_the_argument():
    q, v, _, _, _ = _data()
    layer = Attention()
    with pytest.raises(ValueError, match="score_mode"):
        Attention(score_mode="general")
    with pytest.raises(ValueError, match="`value` has batch size 2"):
        layer([torch.as_tensor(q), torch.as_tensor(v[:2])])
    with pytest.raises(ValueError, match="value_mask"):
        layer([torch.as_tensor(q), torch.as_tensor(v)], mask=[None, torch.ones(B, TV + 1)])
    with pytest.raises(ValueError, match=r"list \[query, value\]"):
        layer(torch.as_tensor(q))


def test_attention_dropout_only_while_training():
    q, v, _, _, _ = _data()
    layer = Attention(dropout=0.5, seed=3)
    args = [torch.as_tensor(q), torch.as_tensor(v)]
    a = layer(args)
    assert torch.allclose(a, layer(args))
    assert not torch.allclose(a, layer(args, training=True))


MHA_CASES = {
    "default": dict(num_heads=2, key_dim=3),
    "value_dim_out": dict(num_heads=3, key_dim=2, value_dim=4, output_shape=7),
    "no_bias": dict(num_heads=2, key_dim=3, use_bias=False),
}


@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multi_head_attention_equals_keras(case):
    q, v, k, q_mask, v_mask = _data(2, dim_v=4)
    theirs = keras.layers.MultiHeadAttention(**MHA_CASES[case])
    ours = MultiHeadAttention(**MHA_CASES[case])
    theirs(q, v, k)
    ours(torch.as_tensor(q), torch.as_tensor(v), torch.as_tensor(k))
    rng = np.random.default_rng(5)
    for w in theirs.weights:  # biases are zero at init: fill everything
        w.assign(rng.standard_normal(w.shape).astype(np.float32) * 0.5)
    _copy(ours, theirs)
    shapes = [w.shape for w in ours.get_weights()]
    h, kd = MHA_CASES[case]["num_heads"], MHA_CASES[case]["key_dim"]
    assert shapes[0] == (D, h, kd)  # query kernel (dim, num_heads, key_dim)
    tq, tv, tk = (torch.as_tensor(a) for a in (q, v, k))
    am = np.random.default_rng(7).random((B, TQ, TV)) > 0.3
    am[..., 0] = True
    for kw in (dict(), dict(use_causal_mask=True), dict(attention_mask=am),
               dict(query_mask=q_mask, value_mask=v_mask),
               dict(value_mask=v_mask, use_causal_mask=True)):
        for scores in (False, True):
            keras_kw, our_kw = dict(kw), {n: torch.as_tensor(m) if isinstance(m, np.ndarray)
                                          else m for n, m in kw.items()}
            if scores:
                keras_kw["return_attention_scores"] = our_kw["return_attention_scores"] = True
            kq = q
            if "query_mask" in keras_kw:  # Keras reads the query's mask from the tensor only
                kq = torch.as_tensor(q).clone()
                kq._keras_mask = torch.as_tensor(keras_kw.pop("query_mask"))
            ko = theirs(kq, v, k, **keras_kw)
            go = ours(tq, tv, tk, **our_kw)
            if scores:
                np.testing.assert_allclose(_np(go[1]), _np(ko[1]), atol=TOL, rtol=TOL)
                go, ko = go[0], ko[0]
            rows = np.ones((B, TQ), bool) if "query_mask" not in kw else q_mask
            # rows whose queries are masked out: Keras' two paths themselves disagree there
            np.testing.assert_allclose(_np(go)[rows], _np(ko)[rows], atol=TOL, rtol=TOL)


def test_multi_head_attention_bad_input_names_the_argument():
    mha = MultiHeadAttention(num_heads=2, key_dim=3)
    q = torch.randn(B, TQ, D)
    with pytest.raises(ValueError, match="`value` has batch size"):
        mha(q, torch.randn(B + 1, TV, D))
    with pytest.raises(ValueError, match="attention_mask"):
        mha(q, torch.randn(B, TV, D), attention_mask=torch.ones(B, TQ, TV + 1, dtype=bool))
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(num_heads=0, key_dim=3)
