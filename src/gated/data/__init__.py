"""Data utilities: time-series windows and scalers, text vectorization, data set loaders.

NumPy in, NumPy out; nothing here needs torch. Loaders take a path and never download.
"""

from gated.data.datasets import (
    ETTData,
    FSDDRecording,
    load_ett,
    load_fsdd,
    load_jsb_chorales,
    load_sunspots,
    load_tiny_shakespeare,
    read_wav,
    split_fsdd,
)
from gated.data.moving_mnist import load_idx, load_mnist, moving_mnist
from gated.data.text import CharVocabulary, TextVectorization, pad_sequences
from gated.data.timeseries import (
    MinMaxScaler,
    StandardScaler,
    mae,
    make_windows,
    naive_forecast,
    rmse,
    seasonal_naive_forecast,
    timeseries_dataset_from_array,
    train_test_split_series,
)

__all__ = [
    "CharVocabulary",
    "ETTData",
    "FSDDRecording",
    "MinMaxScaler",
    "StandardScaler",
    "TextVectorization",
    "load_ett",
    "load_fsdd",
    "load_jsb_chorales",
    "load_sunspots",
    "load_tiny_shakespeare",
    "mae",
    "make_windows",
    "naive_forecast",
    "pad_sequences",
    "read_wav",
    "rmse",
    "seasonal_naive_forecast",
    "split_fsdd",
    "timeseries_dataset_from_array",
    "train_test_split_series",
    "load_idx", "load_mnist", "moving_mnist",
]
