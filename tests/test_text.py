"""Tests of gated.data.text against hand-written Keras semantics."""

from __future__ import annotations

import numpy as np
import pytest

from gated.data.text import CharVocabulary, TextVectorization, pad_sequences

SEQUENCES = [[1], [2, 3], [4, 5, 6]]

# ----------------------------------------------------------------------------- pad_sequences
# Expected outputs are the examples of Keras' documentation of `pad_sequences`.


def test_pad_sequences_default_is_pre_padding():
    out = pad_sequences(SEQUENCES)
    assert out.dtype == np.int32
    assert out.tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]


def test_pad_sequences_value():
    assert pad_sequences(SEQUENCES, value=-1).tolist() == [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]]


def test_pad_sequences_post_padding():
    assert pad_sequences(SEQUENCES, padding="post").tolist() == [[1, 0, 0], [2, 3, 0], [4, 5, 6]]


def test_pad_sequences_default_truncating_is_pre():
    assert pad_sequences(SEQUENCES, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]


def test_pad_sequences_truncating_post():
    out = pad_sequences([[1, 2], [3], [4, 5, 6]], maxlen=2, truncating="post")
    assert out.tolist() == [[1, 2], [0, 3], [4, 5]]


def test_pad_sequences_post_padding_and_post_truncating():
    out = pad_sequences(SEQUENCES, maxlen=2, padding="post", truncating="post")
    assert out.tolist() == [[1, 0], [2, 3], [4, 5]]


def test_pad_sequences_longer_maxlen_empty_and_float():
    out = pad_sequences([[], [1.5, 2.5]], maxlen=4, dtype="float32", value=9.0)
    assert out.dtype == np.float32
    assert out.tolist() == [[9, 9, 9, 9], [9, 9, 1.5, 2.5]]
    # int32 output truncates floats toward zero, as NumPy's cast.
    assert pad_sequences([[1.7, -1.7]]).tolist() == [[1, -1]]


def test_pad_sequences_vector_elements():
    sequences = [np.ones((1, 3)), np.full((2, 3), 2.0)]
    out = pad_sequences(sequences, dtype="float32")
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[0], [[0, 0, 0], [1, 1, 1]])
    with pytest.raises(ValueError, match="Shape of entry 1"):
        pad_sequences([np.ones((1, 3)), np.ones((2, 4))], dtype="float32")


def test_pad_sequences_maxlen_zero_and_empty_list():
    assert pad_sequences(SEQUENCES, maxlen=0).shape == (3, 0)
    assert pad_sequences([]).shape == (0, 0)


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match="padding"):
        pad_sequences(SEQUENCES, padding="middle")
    with pytest.raises(ValueError, match="truncating"):
        pad_sequences(SEQUENCES, truncating="middle")
    with pytest.raises(ValueError, match="dtype"):
        pad_sequences([["a"]], value="x")
    with pytest.raises(ValueError, match="iterables"):
        pad_sequences([1, 2])
    with pytest.raises(ValueError, match="maxlen"):
        pad_sequences(SEQUENCES, maxlen=-1)
    assert pad_sequences([["a", "bc"]], maxlen=3, dtype=object, value="").tolist() == [
        ["", "a", "bc"]
    ]


# ----------------------------------------------------------------------------- TextVectorization


def test_text_vectorization_vocabulary_order_and_reserved_indices():
    vectorizer = TextVectorization().adapt(["The cat sat.", "the dog, the END!"])
    # counts: the 3; cat, sat, dog, end 1 each -> ties in reverse token order (as Keras).
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "the", "sat", "end", "dog", "cat"]
    assert vectorizer.vocabulary_size() == 7
    out = vectorizer(["the bird sat", "cat"])
    assert out.dtype == np.int64
    assert out.tolist() == [[2, 1, 3], [6, 0, 0]]  # OOV -> 1, padding 0 at the end
    assert vectorizer("dog").tolist() == [5]


def test_text_vectorization_output_sequence_length_and_max_tokens():
    vectorizer = TextVectorization(max_tokens=4, output_sequence_length=3)
    vectorizer.adapt(["a a a b b c", "d"])
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "a", "b"]
    assert vectorizer(["c a b a b", "b"]).tolist() == [[1, 2, 3], [3, 0, 0]]


def test_text_vectorization_set_vocabulary_and_config_round_trip():
    vectorizer = TextVectorization(standardize="lower", vocabulary=["x", "y"])
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "x", "y"]
    assert vectorizer.encode("Y x, z") == [3, 1, 1]  # "x," keeps its comma with "lower"
    clone = TextVectorization.from_config(vectorizer.get_config())
    assert clone.get_vocabulary() == vectorizer.get_vocabulary()
    assert clone.decode([3, 2, 0]) == "y x"
    with pytest.raises(ValueError, match="repeated"):
        TextVectorization(vocabulary=["x", "x"])
    with pytest.raises(ValueError, match="split"):
        TextVectorization(split="sentence")
    with pytest.raises(ValueError, match="max_tokens"):
        TextVectorization(max_tokens=2)
    with pytest.raises(ValueError, match="Token index"):
        clone.decode([99])


def test_char_vocabulary_round_trip():
    text = "To be, or not to be:\nthat is the question."
    vocab = CharVocabulary().adapt(text)
    vocabulary = vocab.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"]
    assert set(vocabulary[2:]) == set(text)
    assert vocabulary[2] == " "  # the most frequent character
    ids = vocab.encode(text)
    assert len(ids) == len(text) and min(ids) >= 2
    assert vocab.decode(ids) == text
    assert vocab.encode("Z") == [1]  # unseen character -> OOV
    assert "split" not in vocab.get_config()
    assert CharVocabulary.from_config(vocab.get_config()).encode("to") == vocab.encode("to")
