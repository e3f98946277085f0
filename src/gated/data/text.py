"""Text preprocessing: Keras' `pad_sequences` and a NumPy `TextVectorization` (int mode).

Index 0 is reserved for padding (the empty string `""`), index 1 for out-of-vocabulary
tokens (`"[UNK]"`), as Keras' `TextVectorization(output_mode="int")`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["pad_sequences", "TextVectorization", "CharVocabulary", "PAD_TOKEN", "OOV_TOKEN"]

PAD_TOKEN = ""
OOV_TOKEN = "[UNK]"
# Keras' DEFAULT_STRIP_REGEX for standardize="lower_and_strip_punctuation".
_STRIP_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')


def pad_sequences(
    sequences: Sequence[Any],
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Pads sequences to the same length, exactly as `keras.utils.pad_sequences`.

    Sequences shorter than `maxlen` (default: the longest one) are filled with `value`,
    before them (`padding="pre"`, the default) or after (`"post"`); longer ones lose values
    at the beginning (`truncating="pre"`, the default) or at the end (`"post"`). Elements of a
    sequence may themselves be arrays (their shape is taken from the first non-empty sequence).

    Args:
        sequences: list of sequences (lists or arrays); empty sequences are allowed.
        maxlen: length of the output; `None` pads to the longest sequence.
        dtype: dtype of the output (default `"int32"`; float values are truncated toward 0).
        padding: `"pre"` or `"post"`.
        truncating: `"pre"` or `"post"`.
        value: padding value.

    Returns:
        NumPy array of shape `(len(sequences), maxlen) + element_shape`.

    Example:

    >>> pad_sequences([[1], [2, 3], [4, 5, 6]]).tolist()
    [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2, padding="post").tolist()
    [[1, 0], [2, 3], [5, 6]]
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"`sequences` must be a list of sequences; received {sequences!r}.")
    if padding not in ("pre", "post"):
        raise ValueError(f"`padding` must be 'pre' or 'post'; received {padding!r}.")
    if truncating not in ("pre", "post"):
        raise ValueError(f"`truncating` must be 'pre' or 'post'; received {truncating!r}.")
    if maxlen is not None and (
        isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0
    ):
        raise ValueError(f"`maxlen` must be None or a non-negative int; received {maxlen!r}.")

    lengths: list[int] = []
    sample_shape: tuple[int, ...] = ()
    found_first = False
    for position, sequence in enumerate(sequences):
        try:
            lengths.append(len(sequence))
        except TypeError as error:
            raise ValueError(
                f"`sequences` must be a list of iterables; entry {position} is not: {sequence!r}."
            ) from error
        if not found_first and len(sequence):
            sample_shape = np.asarray(sequence).shape[1:]
            found_first = True

    if maxlen is None:
        maxlen = max(lengths) if lengths else 0
    maxlen = int(maxlen)

    is_string_dtype = np.issubdtype(np.dtype(dtype), np.str_)
    if isinstance(value, str) and np.dtype(dtype) != np.dtype(object) and not is_string_dtype:
        raise ValueError(
            f"`dtype` {dtype} is not compatible with `value`'s type {type(value)}; use "
            "dtype=object for variable length strings."
        )

    out = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        return out
    for position, sequence in enumerate(sequences):
        if not len(sequence):
            continue
        kept = sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"Shape of entry {position} of `sequences` is {kept.shape[1:]} (after the time "
                f"axis), different from the expected {sample_shape}."
            )
        if padding == "post":
            out[position, : len(kept)] = kept
        else:
            out[position, -len(kept) :] = kept
    return out


class TextVectorization:
    """Maps text to integer token indices, a NumPy subset of Keras' `TextVectorization`.

    Only `output_mode="int"` is provided. The vocabulary is built by `adapt`: tokens sorted by
    decreasing frequency, ties broken by token in reverse sort order (as Keras), after the two
    reserved entries `""` (index 0, padding) and `"[UNK]"` (index 1, out of vocabulary).

    Args:
        max_tokens: maximum vocabulary size *including* the two reserved entries; `None` for
            no limit.
        standardize: `None`, `"lower"`, `"strip_punctuation"`, `"lower_and_strip_punctuation"`
            (default, as Keras) or a callable `str -> str`.
        split: `"whitespace"` (default), `"character"`, `None` (the whole string is one token)
            or a callable `str -> list[str]`.
        output_sequence_length: if set, `__call__` pads (after) or truncates (the end) every
            output to this length; otherwise outputs are padded to the longest text.
        vocabulary: optional list of tokens to use instead of `adapt` (without the reserved
            entries, or starting with them).

    Example:

    >>> vectorizer = TextVectorization().adapt(["the cat", "the dog"])
    >>> vectorizer.get_vocabulary()
    ['', '[UNK]', 'the', 'dog', 'cat']
    >>> vectorizer(["the bird", "cat"]).tolist()
    [[2, 1], [4, 0]]
    """

    def __init__(
        self,
        max_tokens: int | None = None,
        standardize: str | Callable[[str], str] | None = "lower_and_strip_punctuation",
        split: str | Callable[[str], list[str]] | None = "whitespace",
        output_sequence_length: int | None = None,
        vocabulary: Iterable[str] | None = None,
    ) -> None:
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 3):
            raise ValueError(
                "`max_tokens` must be None or an int >= 3 (it counts the padding and OOV "
                f"entries); received {max_tokens!r}."
            )
        valid_standardize = (None, "lower", "strip_punctuation", "lower_and_strip_punctuation")
        if not callable(standardize) and standardize not in valid_standardize:
            raise ValueError(
                f"`standardize` must be one of {valid_standardize} or a callable; received "
                f"{standardize!r}."
            )
        if not callable(split) and split not in (None, "whitespace", "character"):
            raise ValueError(
                "`split` must be None, 'whitespace', 'character' or a callable; received "
                f"{split!r}."
            )
        if output_sequence_length is not None and (
            not isinstance(output_sequence_length, int) or output_sequence_length < 1
        ):
            raise ValueError(
                "`output_sequence_length` must be None or a positive int; received "
                f"{output_sequence_length!r}."
            )
        self.max_tokens = max_tokens
        self.standardize = standardize
        self.split = split
        self.output_sequence_length = output_sequence_length
        self._vocabulary: list[str] = [PAD_TOKEN, OOV_TOKEN]
        self._index: dict[str, int] = {}
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # ---------------------------------------------------------------- tokenization
    def _standardize(self, text: str) -> str:
        if callable(self.standardize):
            return self.standardize(text)
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = text.lower()
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = _STRIP_PUNCTUATION.sub("", text)
        return text

    def tokenize(self, text: str) -> list[str]:
        """Standardizes and splits one text into tokens."""
        if not isinstance(text, str):
            raise TypeError(f"Texts must be str; received {type(text).__name__}: {text!r}.")
        text = self._standardize(text)
        if callable(self.split):
            return list(self.split(text))
        if self.split == "whitespace":
            return text.split()
        if self.split == "character":
            return list(text)
        return [text]

    @staticmethod
    def _texts(data: str | Iterable[str]) -> list[str]:
        if isinstance(data, str):
            return [data]
        if isinstance(data, np.ndarray):
            return [str(t) for t in data.ravel()]
        return list(data)

    # ---------------------------------------------------------------- vocabulary
    def adapt(self, data: str | Iterable[str]) -> TextVectorization:
        """Builds the vocabulary from a text or an iterable of texts.

        Returns:
            The vectorizer itself (Keras' `adapt` returns None; chaining is an extension).
        """
        counts: Counter[str] = Counter()
        for text in self._texts(data):
            counts.update(self.tokenize(text))
        counts.pop(PAD_TOKEN, None)
        counts.pop(OOV_TOKEN, None)
        ordered = sorted(counts.items(), key=lambda item: (item[1], item[0]), reverse=True)
        tokens = [token for token, _ in ordered]
        if self.max_tokens is not None:
            tokens = tokens[: self.max_tokens - 2]
        self._set(tokens)
        return self

    def set_vocabulary(self, vocabulary: Iterable[str]) -> None:
        """Sets the vocabulary; reserved entries at its start are accepted and not repeated."""
        tokens = list(vocabulary)
        if tokens[:2] == [PAD_TOKEN, OOV_TOKEN]:
            tokens = tokens[2:]
        if len(set(tokens)) != len(tokens):
            raise ValueError("`vocabulary` must not contain repeated tokens.")
        if PAD_TOKEN in tokens or OOV_TOKEN in tokens:
            raise ValueError(
                f"`vocabulary` may hold {PAD_TOKEN!r} and {OOV_TOKEN!r} only as its first two "
                "entries."
            )
        if self.max_tokens is not None and len(tokens) + 2 > self.max_tokens:
            raise ValueError(
                f"`vocabulary` has {len(tokens) + 2} entries with the reserved ones, more than "
                f"`max_tokens`={self.max_tokens}."
            )
        self._set(tokens)

    def _set(self, tokens: list[str]) -> None:
        self._vocabulary = [PAD_TOKEN, OOV_TOKEN, *tokens]
        self._index = {token: i for i, token in enumerate(self._vocabulary)}

    def get_vocabulary(self) -> list[str]:
        """Returns the vocabulary, index `i` -> token; starts with `""` and `"[UNK]"`."""
        return list(self._vocabulary)

    def vocabulary_size(self) -> int:
        """Number of entries including the padding and OOV entries."""
        return len(self._vocabulary)

    # ---------------------------------------------------------------- encoding
    def encode(self, text: str) -> list[int]:
        """Token indices of one text (unknown tokens -> 1), without padding."""
        return [self._index.get(token, 1) for token in self.tokenize(text)]

    def decode(self, indices: Iterable[int], skip_padding: bool = True) -> str:
        """Maps indices back to text, joined with "" for `split="character"`, else " "."""
        separator = "" if self.split == "character" else " "
        size = len(self._vocabulary)
        tokens = []
        for index in np.asarray(list(indices)).ravel().tolist():
            index = int(index)
            if index == 0 and skip_padding:
                continue
            if not 0 <= index < size:
                raise ValueError(f"Token index must be in [0, {size - 1}]; received {index}.")
            tokens.append(self._vocabulary[index])
        return separator.join(tokens)

    def __call__(self, data: str | Iterable[str]) -> np.ndarray:
        """Encodes texts to an int64 array `(len(texts), length)`, padded with 0 at the end.

        A single string gives a 1-D array (as Keras for a scalar string input).
        """
        single = isinstance(data, str)
        encoded = [self.encode(text) for text in self._texts(data)]
        length = self.output_sequence_length
        out = pad_sequences(
            encoded, maxlen=length, dtype="int64", padding="post", truncating="post", value=0
        )
        return out[0] if single else out

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments (callables are not serializable)."""
        return {
            "max_tokens": self.max_tokens,
            "standardize": self.standardize,
            "split": self.split,
            "output_sequence_length": self.output_sequence_length,
            "vocabulary": self._vocabulary[2:] if len(self._vocabulary) > 2 else None,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TextVectorization:
        """Recreates a vectorizer (and its vocabulary) from `get_config()` output."""
        return cls(**config)


class CharVocabulary(TextVectorization):
    """Character-level vocabulary: `TextVectorization(standardize=None, split="character")`.

    Example:

    >>> vocab = CharVocabulary().adapt("hello")
    >>> vocab.encode("hole"), vocab.decode(vocab.encode("hole"))
    ([4, 3, 2, 5], 'hole')
    """

    def __init__(
        self,
        max_tokens: int | None = None,
        standardize: str | Callable[[str], str] | None = None,
        output_sequence_length: int | None = None,
        vocabulary: Iterable[str] | None = None,
    ) -> None:
        super().__init__(
            max_tokens=max_tokens,
            standardize=standardize,
            split="character",
            output_sequence_length=output_sequence_length,
            vocabulary=vocabulary,
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("split")
        return config
