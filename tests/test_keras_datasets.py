"""`gated.datasets.*.load_data` against Keras 3's own loaders on the same cached files.

Small synthetic files in Keras' formats are written to a temporary Keras cache folder; both
libraries read them there (their file-hash checks are switched off, the files are not the
real ones) and must return equal arrays for several argument combinations. Skipped without
Keras.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras (Keras 3) is not installed")

import gated  # noqa: E402
from gated.utils import file_utils  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.skip("these tests need Keras on its torch backend", allow_module_level=True)


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """An empty Keras cache folder seen by both libraries, hash checks off."""
    from keras.src.utils import file_utils as keras_file_utils

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras_file_utils.config, "keras_home", lambda: str(tmp_path))
    monkeypatch.setattr(keras_file_utils, "validate_file", lambda *a, **k: True)
    monkeypatch.setattr(file_utils, "validate_file", lambda *a, **k: True)
    (tmp_path / "datasets").mkdir()
    return tmp_path / "datasets"


def _ragged(rng, n, low=1, high=40):
    seqs = np.empty(n, dtype=object)
    seqs[:] = [list(rng.integers(low, high, size=rng.integers(1, 12)).tolist())
               for _ in range(n)]
    return seqs


def _same(a, b):
    (ka, kb) = a, b
    for part_a, part_b in zip(ka, kb, strict=True):
        for x, y in zip(part_a, part_b, strict=True):
            assert type(x) is type(y)
            assert x.dtype == y.dtype and x.shape == y.shape
            assert [list(v) if isinstance(v, list) else v for v in x.tolist()] == \
                [list(v) if isinstance(v, list) else v for v in y.tolist()]


WORD_ARGS = [
    {},
    {"num_words": 12},
    {"num_words": 15, "skip_top": 5},
    {"maxlen": 8},
    {"seed": 7, "start_char": None},
    {"oov_char": None, "num_words": 10, "skip_top": 3},
    {"index_from": 0, "start_char": None},
    {"start_char": 9, "oov_char": 4, "index_from": 5, "num_words": 20},
]


@pytest.mark.parametrize("kwargs", WORD_ARGS, ids=lambda k: repr(k))
def test_imdb_load_data_equals_keras(cache, kwargs):
    rng = np.random.default_rng(0)
    np.savez(cache / "imdb.npz", x_train=_ragged(rng, 30), y_train=rng.integers(0, 2, 30),
             x_test=_ragged(rng, 20), y_test=rng.integers(0, 2, 20))
    _same(gated.datasets.imdb.load_data(**kwargs), keras.datasets.imdb.load_data(**kwargs))


@pytest.mark.parametrize("kwargs", WORD_ARGS + [{"test_split": 0.5}, {"test_split": 0.0}],
                         ids=lambda k: repr(k))
def test_reuters_load_data_equals_keras(cache, kwargs):
    rng = np.random.default_rng(1)
    np.savez(cache / "reuters.npz", x=_ragged(rng, 40), y=rng.integers(0, 46, 40))
    _same(gated.datasets.reuters.load_data(**kwargs),
          keras.datasets.reuters.load_data(**kwargs))


def test_word_index_and_label_names_equal_keras(cache):
    (cache / "imdb_word_index.json").write_text('{"the": 1, "and": 2}')
    (cache / "reuters_word_index.json").write_text('{"said": 1}')
    assert gated.datasets.imdb.get_word_index() == keras.datasets.imdb.get_word_index()
    assert gated.datasets.reuters.get_word_index() == keras.datasets.reuters.get_word_index()
    assert gated.datasets.reuters.get_label_names() == keras.datasets.reuters.get_label_names()


def test_imdb_maxlen_that_keeps_nothing_raises(cache):
    rng = np.random.default_rng(0)
    np.savez(cache / "imdb.npz", x_train=_ragged(rng, 5), y_train=rng.integers(0, 2, 5),
             x_test=_ragged(rng, 5), y_test=rng.integers(0, 2, 5))
    with pytest.raises(ValueError, match="maxlen"):
        gated.datasets.imdb.load_data(maxlen=1)
    with pytest.raises(ValueError, match="num_words"):
        gated.datasets.imdb.load_data(num_words=-3)


def test_mnist_and_housing_equal_keras(cache):
    rng = np.random.default_rng(2)
    np.savez(cache / "mnist.npz", x_train=rng.integers(0, 255, (6, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 6, dtype=np.uint8),
             x_test=rng.integers(0, 255, (4, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, 4, dtype=np.uint8))
    _same(gated.datasets.mnist.load_data(), keras.datasets.mnist.load_data())
    np.savez(cache / "boston_housing.npz", x=rng.normal(size=(50, 13)), y=rng.normal(size=50))
    np.savez(cache / "california_housing.npz", x=rng.normal(size=(700, 8)),
             y=rng.normal(size=700))
    for kwargs in ({}, {"test_split": 0.3, "seed": 5}, {"test_split": 0.0}):
        _same(gated.datasets.boston_housing.load_data(**kwargs),
              keras.datasets.boston_housing.load_data(**kwargs))
    for kwargs in ({}, {"version": "small"}, {"version": "small", "test_split": 0.5}):
        _same(gated.datasets.california_housing.load_data(**kwargs),
              keras.datasets.california_housing.load_data(**kwargs))
    with pytest.raises(ValueError, match="test_split"):
        gated.datasets.boston_housing.load_data(test_split=1.0)
    with pytest.raises(ValueError, match="version"):
        gated.datasets.california_housing.load_data(version="medium")


def test_fashion_mnist_equals_keras(cache):
    rng = np.random.default_rng(3)
    folder = cache / "fashion-mnist"
    folder.mkdir()
    for prefix, n in (("train", 5), ("t10k", 3)):
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        imgs = rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(b"\0" * 8 + labels.tobytes())
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(b"\0" * 16 + imgs.tobytes())
    _same(gated.datasets.fashion_mnist.load_data(), keras.datasets.fashion_mnist.load_data())


def _tar(path, folder, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in members.items():
            blob = pickle.dumps(obj)
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def _batch(rng, n, **labels):
    return {b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8),
            **{k.encode(): v for k, v in labels.items()}}


def _cifar10_archive(cache, rng, n):
    members = {f"data_batch_{i}": _batch(rng, n, labels=rng.integers(0, 10, n).tolist())
               for i in range(1, 6)}
    members["test_batch"] = _batch(rng, 3, labels=rng.integers(0, 10, 3).tolist())
    _tar(cache / "cifar-10-batches-py-target_archive", "cifar-10-batches-py", members)
    return members


def test_cifar10_layout_by_hand(cache):
    members = _cifar10_archive(cache, np.random.default_rng(4), 4)
    (x_train, y_train), (x_test, y_test) = gated.datasets.cifar10.load_data()
    images = np.concatenate([members[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    np.testing.assert_array_equal(x_train, images.reshape(20, 3, 32, 32).transpose(0, 2, 3, 1))
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert y_train.ravel().tolist() == sum((members[f"data_batch_{i}"][b"labels"]
                                            for i in range(1, 6)), [])
    assert x_test.shape == (3, 32, 32, 3) and y_test.shape == (3, 1)
    assert (cache / "cifar-10-batches-py-target" / "cifar-10-batches-py").is_dir()


@pytest.mark.slow
def test_cifar10_equals_keras_full_size(cache):
    _cifar10_archive(cache, np.random.default_rng(4), 10000)  # Keras' fixed batch size
    _same(gated.datasets.cifar10.load_data(), keras.datasets.cifar10.load_data())


def test_cifar100_equals_keras(cache):
    rng = np.random.default_rng(5)
    members = {part: _batch(rng, n, fine_labels=rng.integers(0, 100, n).tolist(),
                            coarse_labels=rng.integers(0, 20, n).tolist())
               for part, n in (("train", 6), ("test", 2))}
    _tar(cache / "cifar-100-python-target_archive", "cifar-100-python", members)
    for mode in ("fine", "coarse"):
        _same(gated.datasets.cifar100.load_data(mode), keras.datasets.cifar100.load_data(mode))
    with pytest.raises(ValueError, match="label_mode"):
        gated.datasets.cifar100.load_data("medium")


def test_missing_file_names_the_path_and_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        gated.datasets.imdb.load_data()
    message = str(err.value)
    assert str(tmp_path / "datasets" / "imdb.npz") in message
    assert "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz" in message
