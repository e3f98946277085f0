"""Core layers against torch.nn.functional and hand-computed values."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gated.layers import (
    Activation,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    LayerNormalization,
    Masking,
    RepeatVector,
    Reshape,
    TimeDistributed,
)
from gated.models import Model


def test_dense_equals_linear_on_every_rank():
    d = Dense(3, activation="tanh")
    x = torch.randn(2, 4, 5)
    y = d(x)
    torch.testing.assert_close(y, torch.tanh(F.linear(x, d.kernel.T, d.bias)))
    assert d.kernel.shape == (5, 3) and d.count_params() == 18
    assert d(torch.randn(7, 5)).shape == (7, 3)


def test_dropout_train_vs_inference():
    layer = Dropout(0.5)
    x = torch.ones(1000, 10)
    assert torch.equal(layer(x), x)
    y = layer(x, training=True)
    assert set(y.unique().tolist()) == {0.0, 2.0}
    assert 0.4 < (y == 0).float().mean() < 0.6
    shared = Dropout(0.5, noise_shape=(None, 1, 4))(torch.ones(3, 6, 4), training=True)
    assert torch.equal(shared, shared[:, :1].expand_as(shared))  # same mask at every step
    with pytest.raises(ValueError, match=r"`rate` of Dropout.*rate=1.0"):
        Dropout(1.0)


def test_embedding_lookup_mask_and_errors():
    emb = Embedding(5, 2, mask_zero=True)
    ids = torch.tensor([[0, 3, 4]])
    y = emb(ids)
    torch.testing.assert_close(y[0, 1], emb.embeddings[3])
    assert torch.equal(y._keras_mask, torch.tensor([[False, True, True]]))
    with pytest.raises(ValueError, match=r"ids in \[0, 5\].*expected ids in \[0, 4\]"):
        emb(torch.tensor([[5, 0]]))
    assert emb.count_params() == 10


def test_layer_normalization_equals_torch():
    ln = LayerNormalization()
    x = torch.randn(3, 4, 6)
    torch.testing.assert_close(ln(x), F.layer_norm(x, (6,), eps=1e-3))


def test_shape_layers():
    assert Flatten()(torch.randn(2, 3, 4)).shape == (2, 12)
    assert RepeatVector(5)(torch.randn(2, 3)).shape == (2, 5, 3)
    assert Reshape((3, -1))(torch.randn(2, 12)).shape == (2, 3, 4)
    td = TimeDistributed(Dense(2))
    x = torch.randn(4, 7, 3)
    torch.testing.assert_close(td(x), td.layer(x.reshape(28, 3)).reshape(4, 7, 2))
    torch.testing.assert_close(Activation("relu")(torch.tensor([-1.0, 2.0])),
                               torch.tensor([0.0, 2.0]))


def test_masking_zeroes_and_masks_padded_steps():
    x = torch.tensor([[[1.0, 2.0], [0.0, 0.0], [3.0, 0.0]]])
    y = Masking(0.0)(x)
    assert torch.equal(y._keras_mask, torch.tensor([[True, False, True]]))


def test_functional_concatenate():
    a, b = Input(shape=(3,)), Input(shape=(2,))
    out = Dense(1)(Concatenate()([a, b]))
    model = Model([a, b], out)
    y = model.predict([np.ones((4, 3)), np.ones((4, 2))])
    assert y.shape == (4, 1)
