"""Keras' `keras.preprocessing`: `sequence.pad_sequences` and `timeseries_dataset_from_array`.

Keras 3.15 has, besides these, `image` helpers and `image_dataset_from_directory` /
`text_dataset_from_directory` (which return `tf.data` datasets); gated does not provide
them (see docs/keras_compat.md).

Example:
>>> from gated.preprocessing.sequence import pad_sequences
>>> pad_sequences([[1, 2, 3], [4]], maxlen=2).tolist()
[[2, 3], [0, 4]]
"""

from gated.data.timeseries import timeseries_dataset_from_array
from gated.preprocessing import sequence

__all__ = ["sequence", "timeseries_dataset_from_array"]
