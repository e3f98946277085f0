"""LSTM-Transformer hybrids in one `Sequential`: build, Keras-style summary, masks, training.

Independent truths: parameter counts computed by hand from the layers' formulas, the layers'
behaviour when composed (masks flow through, outputs match running the layers one by one), and a
loss that falls below what any model ignoring the recall cue can reach (associative recall).
"""

import math

import numpy as np
import torch

from gated.layers import LSTM, Dense, Embedding, TransformerEncoder
from gated.models import Sequential
from gated.optimizers import Adam

V, E, U, I, H, T = 17, 8, 16, 24, 2, 7


def lstm_params(inputs, units):
    return 4 * units * (inputs + units + 1)


def encoder_params(d, intermediate):
    attention = 4 * d * d + 4 * d  # query, key, value, output kernels (heads * key_dim = d)
    norms = 2 * 2 * d
    mlp = d * intermediate + intermediate + intermediate * d + d
    return attention + norms + mlp


def test_lstm_below_attention_above_summary_counts(capsys):
    model = Sequential([Embedding(V, E, input_shape=(T,)), LSTM(U, return_sequences=True),
                        TransformerEncoder(I, H), Dense(V)])
    expected = [V * E, lstm_params(E, U), encoder_params(U, I), U * V + V]
    assert [layer.count_params() for layer in model.layers] == expected
    assert model.count_params() == sum(expected)
    model.summary()
    out = capsys.readouterr().out
    assert "(None, 7, 16)" in out and "(None, 7, 17)" in out
    for count in expected:
        assert f" {count:,} " in out
    assert f"Total params: {sum(expected):,}" in out


def test_interleaved_stack_counts_and_matches_layer_by_layer():
    torch.manual_seed(0)
    layers = [Embedding(V, E, mask_zero=True), LSTM(U, return_sequences=True),
              TransformerEncoder(I, H), LSTM(U, return_sequences=True),
              TransformerEncoder(I, 4, normalize_first=False), Dense(V)]
    model = Sequential(layers)
    ids = torch.tensor([[1, 2, 3, 4, 5, 0, 0], [6, 7, 8, 9, 10, 11, 12]])
    out = model(ids)
    assert out.shape == (2, T, V)
    assert model.count_params() == (V * E + lstm_params(E, U) + 2 * encoder_params(U, I)
                                    + lstm_params(U, U) + U * V + V)
    x = ids
    for layer in layers:
        x = layer(x)
    torch.testing.assert_close(out, x)
    # the padding mask of the Embedding reaches every layer: the padded sentence's outputs
    # equal those of the same sentence without padding
    alone = model.layers[0](ids[:1, :5])
    for layer in layers[1:]:
        alone = layer(alone)
    torch.testing.assert_close(out[:1, :5], alone, rtol=0, atol=1e-5)


def recall_data(n, rng):
    """Three (key, value) pairs then a query key; the answer is the query's value.

    Keys are ids 1..8, values 9..16. A model that does not read the values shown in the
    sequence can do no better than a uniform guess among the 8 values: cross-entropy ln 8;
    one that copies the three shown values but ignores the query reaches ln 3.
    """
    x = np.zeros((n, T), dtype=np.int64)
    y = np.zeros(n, dtype=np.int64)
    for i in range(n):
        keys = rng.choice(8, 3, replace=False) + 1
        values = rng.integers(9, 17, 3)
        x[i, 0:6:2], x[i, 1:6:2] = keys, values
        pick = rng.integers(3)
        x[i, 6], y[i] = keys[pick], values[pick]
    return x, y


def test_hybrid_trains_on_associative_recall():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x, y = recall_data(2048, rng)
    model = Sequential([Embedding(V, 32, input_shape=(T,)), LSTM(32, return_sequences=True),
                        TransformerEncoder(64, 4), LSTM(32), Dense(V, activation="softmax")])
    model.compile(optimizer=Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    held_out = recall_data(512, rng)
    before = model.evaluate(*held_out, verbose=0)[0]
    history = model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    after = model.evaluate(*held_out, verbose=0)[0]
    assert before > 2.5  # about ln 17 at the start
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert after < math.log(8) - 0.3, after  # it copies values from the sequence
