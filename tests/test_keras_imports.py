"""Keras 3's import forms resolve on gated: `import gated as keras; keras.x.y` and
`from gated.x.y import z`, for the namespaces a Keras program touches outside layers/models.

Each name is also checked to be the object it claims to be (a callable doing its job on a
small input), so an alias to the wrong thing fails.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import gated as keras

FROM_IMPORTS = [
    ("gated.utils", "pad_sequences"), ("gated.utils", "to_categorical"),
    ("gated.utils", "normalize"), ("gated.utils", "get_file"),
    ("gated.utils", "timeseries_dataset_from_array"), ("gated.utils", "set_random_seed"),
    ("gated.utils", "Progbar"), ("gated.utils", "PyDataset"), ("gated.utils", "Sequence"),
    ("gated.utils", "register_keras_serializable"), ("gated.utils", "custom_object_scope"),
    ("gated.utils", "CustomObjectScope"), ("gated.utils", "get_custom_objects"),
    ("gated.utils", "get_registered_name"), ("gated.utils", "get_registered_object"),
    ("gated.utils", "serialize_keras_object"), ("gated.utils", "deserialize_keras_object"),
    ("gated.utils", "pack_x_y_sample_weight"), ("gated.utils", "unpack_x_y_sample_weight"),
    ("gated.utils", "clear_session"), ("gated.utils", "standardize_dtype"),
    ("gated.utils", "is_keras_tensor"),
    ("gated.preprocessing.sequence", "pad_sequences"),
    ("gated.preprocessing", "timeseries_dataset_from_array"),
    ("gated.preprocessing", "sequence"),
    ("gated.datasets.imdb", "load_data"), ("gated.datasets.imdb", "get_word_index"),
    ("gated.datasets.reuters", "load_data"), ("gated.datasets.reuters", "get_label_names"),
    ("gated.datasets.mnist", "load_data"), ("gated.datasets.fashion_mnist", "load_data"),
    ("gated.datasets.cifar10", "load_data"), ("gated.datasets.cifar100", "load_data"),
    ("gated.datasets.boston_housing", "load_data"),
    ("gated.datasets.california_housing", "load_data"),
    ("gated.saving", "register_keras_serializable"), ("gated.saving", "load_model"),
    ("gated.saving", "save_model"), ("gated.saving", "load_weights"),
    ("gated.saving", "save_weights"), ("gated.saving", "custom_object_scope"),
    ("gated.saving", "get_registered_name"), ("gated.saving", "get_registered_object"),
    ("gated.saving", "serialize_keras_object"), ("gated.saving", "deserialize_keras_object"),
    ("gated.constraints", "MaxNorm"), ("gated.constraints", "NonNeg"),
    ("gated.optimizers.schedules", "ExponentialDecay"), ("gated.tree", "flatten"),
    ("gated.random", "SeedGenerator"),
]


@pytest.mark.parametrize("module,name", FROM_IMPORTS, ids=lambda v: str(v))
def test_from_import_forms_resolve(module, name):
    obj = getattr(importlib.import_module(module), name)
    assert obj is not None
    # the attribute path through `import gated as keras` reaches the same object
    node = keras
    for part in module.split(".")[1:]:
        node = getattr(node, part)
    assert getattr(node, name) is obj


def test_attribute_forms_do_their_job():
    assert keras.utils.to_categorical([1, 0]).tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert keras.preprocessing.sequence.pad_sequences([[1], [2, 3]]).tolist() == \
        [[0, 1], [2, 3]]
    assert keras.utils.pad_sequences is keras.preprocessing.sequence.pad_sequences
    assert keras.utils.timeseries_dataset_from_array is \
        keras.preprocessing.timeseries_dataset_from_array
    ds = keras.utils.timeseries_dataset_from_array(np.arange(10.0), None, sequence_length=3,
                                                   batch_size=4)
    assert len(ds) == 2
    assert callable(keras.datasets.imdb.load_data)
    assert "Constraint" in dir(keras) and keras.Constraint is keras.constraints.Constraint
