"""Keras-style `gated.metrics`: re-exports `gated.training.metrics`.

Example:
>>> from gated.metrics import Mean
"""

from gated.training.metrics import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    Mean,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanMetricWrapper,
    MeanSquaredError,
    Metric,
    RootMeanSquaredError,
    SparseCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    deserialize,
    get,
    serialize,
    sparse_categorical_accuracy,
)

__all__ = [
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "RootMeanSquaredError",
    "MeanAbsolutePercentageError",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "Accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "accuracy",
    "get",
    "serialize",
    "deserialize",
]
