"""Keras-style `gated.utils`: the helpers of `keras.utils` a training script reaches for.

Example:
>>> from gated.utils import pad_sequences, to_categorical
>>> pad_sequences([[1, 2], [3]]).tolist()
[[1, 2], [0, 3]]
"""

from gated.backend import clear_session, is_keras_tensor, standardize_dtype
from gated.config import (
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)
from gated.data.text import pad_sequences
from gated.data.timeseries import timeseries_dataset_from_array
from gated.saving import (
    CustomObjectScope,
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)
from gated.utils.dataset import (
    PyDataset,
    Sequence,
    pack_x_y_sample_weight,
    split_dataset,
    unpack_x_y_sample_weight,
)
from gated.utils.file_utils import get_file
from gated.utils.numerical import normalize, to_categorical
from gated.utils.progbar import Progbar
from gated.utils.progress import ProgressBar, format_logs
from gated.utils.seeding import set_random_seed

__all__ = [
    "CustomObjectScope", "Progbar", "ProgressBar", "PyDataset", "Sequence", "clear_session",
    "custom_object_scope", "deserialize_keras_object", "disable_interactive_logging",
    "enable_interactive_logging", "format_logs", "get_custom_objects",
    "get_file", "get_registered_name", "get_registered_object", "is_interactive_logging_enabled",
    "is_keras_tensor",
    "normalize", "pack_x_y_sample_weight", "pad_sequences", "register_keras_serializable",
    "serialize_keras_object", "set_random_seed", "split_dataset", "standardize_dtype",
    "timeseries_dataset_from_array", "to_categorical", "unpack_x_y_sample_weight",
]
