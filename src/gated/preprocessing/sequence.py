"""Keras' `keras.preprocessing.sequence`: `pad_sequences` (the same function as
`gated.utils.pad_sequences`).

Example:
>>> pad_sequences([[1], [2, 3]], padding="post").tolist()
[[1, 0], [2, 3]]
"""

from gated.data.text import pad_sequences

__all__ = ["pad_sequences"]
