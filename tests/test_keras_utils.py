"""`gated.utils` / `gated.preprocessing` against Keras 3's `keras.utils` on the same inputs.

Skipped without Keras (torch backend).
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import tarfile
import zipfile

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras (Keras 3) is not installed")

import gated  # noqa: E402
from gated import utils  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.skip("these tests need Keras on its torch backend", allow_module_level=True)


# ----------------------------------------------------------------------------- pad_sequences
SEQS = [[1, 2, 3, 4, 5], [6], [], [7, 8, 9]]
PAD_ARGS = [
    {}, {"maxlen": 3}, {"maxlen": 3, "padding": "post"}, {"maxlen": 3, "truncating": "post"},
    {"maxlen": 7, "padding": "post", "truncating": "post", "value": -1},
    {"dtype": "float32", "value": 0.5}, {"dtype": "int64", "maxlen": 1},
]


@pytest.mark.parametrize("kwargs", PAD_ARGS, ids=repr)
def test_pad_sequences_equals_keras(kwargs):
    ours = utils.pad_sequences(SEQS, **kwargs)
    theirs = keras.utils.pad_sequences(SEQS, **kwargs)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_pad_sequences_strings_floats_and_vectors_equal_keras():
    words = [["a", "bb"], ["c"], ["d", "e", "f"]]
    for kwargs in ({"dtype": object, "value": "<pad>"}, {"dtype": "<U5", "value": "x",
                                                         "maxlen": 2, "padding": "post"}):
        np.testing.assert_array_equal(utils.pad_sequences(words, **kwargs),
                                      keras.utils.pad_sequences(words, **kwargs))
    floats = [[1.5, 2.7], [3.25]]
    np.testing.assert_array_equal(utils.pad_sequences(floats, dtype="float32"),
                                  keras.utils.pad_sequences(floats, dtype="float32"))
    np.testing.assert_array_equal(utils.pad_sequences(floats),  # int32: truncated toward 0
                                  keras.utils.pad_sequences(floats))
    vectors = [np.ones((2, 3)), np.arange(3.0).reshape(1, 3)]
    np.testing.assert_array_equal(utils.pad_sequences(vectors, dtype="float32"),
                                  keras.utils.pad_sequences(vectors, dtype="float32"))


@pytest.mark.parametrize("kwargs,argument", [
    ({"padding": "middle"}, "padding"), ({"truncating": "both"}, "truncating"),
    ({"maxlen": -1}, "maxlen"), ({"maxlen": 2.5}, "maxlen"), ({"value": "x"}, "dtype"),
])
def test_pad_sequences_bad_arguments_are_named(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        utils.pad_sequences([[1, 2]], **kwargs)


# ----------------------------------------------------------------------------- to_categorical
@pytest.mark.parametrize("labels,num_classes", [
    ([0, 2, 1], None), ([0, 2, 1], 5), (np.array([[1], [3]]), None),
    (np.array([[1, 0], [2, 1]]), 4), (np.array([3.0, 1.0]), None), (np.array([], int), 3),
])
def test_to_categorical_equals_keras(labels, num_classes):
    ours = utils.to_categorical(labels, num_classes)
    theirs = keras.utils.to_categorical(labels, num_classes)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_to_categorical_of_a_tensor_equals_keras():
    labels = torch.tensor([[1], [0], [2]])
    ours, theirs = utils.to_categorical(labels, 3), keras.utils.to_categorical(labels, 3)
    assert isinstance(ours, torch.Tensor) and ours.dtype == theirs.dtype
    assert torch.equal(ours, theirs.cpu())


def test_to_categorical_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match="label 5"):
        utils.to_categorical([0, 5], num_classes=3)
    with pytest.raises(ValueError, match="label -1"):  # Keras wraps it to the last class
        utils.to_categorical([-1, 1], num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        utils.to_categorical([0], num_classes=0)


@pytest.mark.parametrize("axis,order", [(-1, 2), (0, 1), (1, 2), (0, 3)])
def test_normalize_equals_keras(axis, order):
    x = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [1.0, -2.0, 2.0]])
    ours = utils.normalize(x, axis=axis, order=order)
    norm = np.sum(np.abs(x) ** order, axis=axis, keepdims=True) ** (1.0 / order)
    np.testing.assert_allclose(ours, x / np.where(norm == 0, 1.0, norm))
    if axis != 0:  # Keras' NumPy path expands the norm at axis -1 when axis=0 (a Keras bug)
        np.testing.assert_allclose(ours, keras.utils.normalize(x, axis=axis, order=order))
    theirs = keras.utils.normalize(torch.tensor(x[[0, 2]], dtype=torch.float32), axis, order)
    np.testing.assert_allclose(utils.normalize(torch.tensor(x[[0, 2]], dtype=torch.float32),
                                               axis, order).numpy(), theirs.cpu().numpy(),
                               rtol=1e-6)


# ----------------------------------------------------------------------------- get_file
ORIGIN = "https://example.org/files/data.bin"


@pytest.fixture()
def home(tmp_path, monkeypatch):
    from keras.src.utils import file_utils as keras_file_utils

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras_file_utils.config, "keras_home", lambda: str(tmp_path))
    (tmp_path / "datasets").mkdir()
    return tmp_path


def test_get_file_returns_keras_path_and_checks_hashes(home):
    blob = b"some bytes"
    (home / "datasets" / "data.bin").write_bytes(blob)
    sha, md5 = hashlib.sha256(blob).hexdigest(), hashlib.md5(blob).hexdigest()
    for kwargs in ({}, {"file_hash": sha}, {"file_hash": md5}, {"md5_hash": md5},
                   {"file_hash": sha, "hash_algorithm": "sha256"}):
        ours = utils.get_file("data.bin", ORIGIN, **kwargs)
        assert ours == keras.utils.get_file("data.bin", ORIGIN, **kwargs)
    assert utils.get_file(origin=ORIGIN) == str(home / "datasets" / "data.bin")
    with pytest.raises(ValueError, match="hash") as err:
        utils.get_file("data.bin", ORIGIN, file_hash="0" * 64)
    assert sha in str(err.value)
    (home / "models").mkdir()
    (home / "models" / "w.h5").write_bytes(blob)
    assert utils.get_file("w.h5", "https://x.org/w.h5", cache_subdir="models") == \
        str(home / "models" / "w.h5")
    other = home / "elsewhere"
    (other / "datasets").mkdir(parents=True)
    (other / "datasets" / "data.bin").write_bytes(blob)
    assert utils.get_file("data.bin", ORIGIN, cache_dir=other) == \
        str(other / "datasets" / "data.bin")


def test_get_file_missing_says_where_and_from_where(home):
    with pytest.raises(FileNotFoundError) as err:
        utils.get_file("absent.npz", origin="https://example.org/absent.npz")
    assert str(home / "datasets" / "absent.npz") in str(err.value)
    assert "https://example.org/absent.npz" in str(err.value)
    with pytest.raises(ValueError, match="origin"):
        utils.get_file("x.npz")
    with pytest.raises(ValueError, match="fname"):
        utils.get_file(os.path.join("a", "b.npz"), origin=ORIGIN)
    with pytest.raises(ValueError, match="hash_algorithm"):
        utils.get_file("x.npz", origin=ORIGIN, hash_algorithm="sha1")


def _write_tar(path):
    with tarfile.open(path, "w:gz") as tar:
        data = b"hello"
        info = tarfile.TarInfo("folder/a.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def _write_zip(path):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("folder/a.txt", "hello")


@pytest.mark.parametrize("fname,writer,stored", [
    ("flowers", _write_tar, "flowers_archive"),        # no dot: the extraction folder's name
    ("flowers.tar.gz", _write_tar, "flowers.tar.gz"),  # a dot: "<stem>_extracted"
    ("pack.zip", _write_zip, "pack.zip"),
    (None, _write_zip, "pack2.zip_archive"),           # name from the origin
])
def test_get_file_extracts_like_keras(home, fname, writer, stored):
    writer(home / "datasets" / stored)
    origin = "https://example.org/pack2.zip"
    ours = utils.get_file(fname, origin, extract=True)
    theirs = keras.utils.get_file(fname, origin, extract=True)
    assert ours == theirs
    assert (home / "datasets" / ours / "folder" / "a.txt").read_text() == "hello"
    os.remove(home / "datasets" / stored)  # the extracted folder alone is enough
    assert utils.get_file(fname, origin, extract=True) == ours


def test_get_file_tar_extraction_refuses_paths_outside(home):
    with tarfile.open(home / "datasets" / "evil_archive", "w") as tar:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(tarfile.TarError):
        utils.get_file("evil", ORIGIN, extract=True)
    assert not (home / "outside.txt").exists()


# ----------------------------------------------------------------------------- seeds
def test_set_random_seed_repeats_python_numpy_and_torch():
    def draws():
        return random.random(), np.random.rand(), torch.rand(()).item(), \
            gated.random.normal((2,)).tolist()

    utils.set_random_seed(123)
    first = draws()
    utils.set_random_seed(123)
    assert draws() == first
    keras.utils.set_random_seed(123)  # Keras seeds the same three generators the same way
    assert draws()[:3] == first[:3]
    with pytest.raises(ValueError, match="seed"):
        utils.set_random_seed(1.5)


# ----------------------------------------------------------------------------- Progbar
def test_progbar_averages_like_keras():
    updates = [(1, [("loss", 4.0), ("acc", 0.5)]), (3, [("loss", 1.0), ("acc", 0.7)]),
               (4, [("loss", 2.0), ("acc", 0.9)])]
    ours = utils.Progbar(10, verbose=0, stateful_metrics=["acc"])
    theirs = keras.utils.Progbar(10, verbose=0, stateful_metrics=["acc"])
    for current, values in updates:
        ours.update(current, values)
        theirs.update(current, values)
    ours.add(2, [("loss", 3.0)])
    theirs.add(2, [("loss", 3.0)])
    expected = {k: s / n for k, (s, n) in theirs._values.items()}
    assert ours.current_values() == pytest.approx(expected)
    ours.update(10, [("loss", 9.0)])  # the final update shows the last value
    theirs.update(10, [("loss", 9.0)])
    assert ours.current_values()["loss"] == theirs._values["loss"][0] == 9.0


# ----------------------------------------------------------------------------- PyDataset
class Batches(utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.seen, self.epochs_ended = [], 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        self.seen.append(index)
        s = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_fit_evaluate_predict_take_a_pydataset():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype("float32")
    y = rng.normal(size=(20, 1)).astype("float32")
    model = gated.Sequential([gated.Input((3,)), gated.layers.Dense(1)])
    model.compile("sgd", "mse")
    data = Batches(x, y, 6)
    random.seed(0)
    history = model.fit(data, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3 and data.epochs_ended == 3
    assert sorted(data.seen) == sorted(list(range(4)) * 3)
    assert data.seen != list(range(4)) * 3  # fit(shuffle=True) shuffles the batch order
    data.seen.clear()
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    assert data.seen == [0, 1, 2, 3]
    loss = model.evaluate(data, verbose=0)
    assert loss == pytest.approx(model.evaluate(x, y, batch_size=6, verbose=0), rel=1e-5)
    assert model.predict(Batches(x, y, 6), verbose=0).shape == (20, 1)
    assert utils.Sequence is utils.PyDataset
    with pytest.raises(ValueError, match="workers"):
        Batches(x, y, 6, workers=0)


def test_pack_and_unpack_x_y_sample_weight_equal_keras():
    for args in ((1,), ([1, 2],), ((1, 2),), (1, 2), (1, 2, 3)):
        assert utils.pack_x_y_sample_weight(*args) == keras.utils.pack_x_y_sample_weight(*args)
    for data in (1, (1,), (1, 2), [1, 2], (1, 2, 3)):
        assert utils.unpack_x_y_sample_weight(data) == \
            keras.utils.unpack_x_y_sample_weight(data)
    with pytest.raises(ValueError, match="length 4"):
        utils.unpack_x_y_sample_weight((1, 2, 3, 4))


def test_disabling_interactive_logging_prints_lines_instead_of_a_bar(capsys):
    x = np.zeros((8, 3), "float32")
    model = gated.Sequential([gated.Input((3,)), gated.layers.Dense(1)])
    model.compile("sgd", "mse")
    utils.disable_interactive_logging()
    try:
        assert not utils.is_interactive_logging_enabled()
        model.fit(x, x[:, :1], epochs=2, verbose=1)
    finally:
        utils.enable_interactive_logging()
    out = capsys.readouterr().out
    assert out.count("Epoch ") == 2 and "━" not in out and "█" not in out


@pytest.mark.parametrize("kwargs", [
    {"left_size": 0.7}, {"right_size": 3}, {"left_size": 4}, {"left_size": 0.25},
], ids=repr)
def test_split_dataset_equals_keras_when_shuffled_with_a_seed(kwargs):
    x = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    ours = utils.split_dataset((x, y), shuffle=True, seed=3, **kwargs)
    theirs = keras.utils.split_dataset((x, y), shuffle=True, seed=3, **kwargs)
    for a, b in zip(ours, theirs, strict=True):
        assert [int(a[i][1]) for i in range(len(a))] == [int(b[i][1]) for i in range(len(b))]
        assert all(torch.equal(a[i][0], b[i][0]) for i in range(len(a)))


def test_split_dataset_keeps_order_without_shuffle_and_names_bad_sizes():
    left, right = utils.split_dataset(np.arange(10), left_size=0.8)
    assert [int(left[i][0]) for i in range(len(left))] == list(range(8))
    assert [int(right[i][0]) for i in range(len(right))] == [8, 9]
    ds = torch.utils.data.TensorDataset(torch.arange(6.0))
    a, b = utils.split_dataset(ds, left_size=2, right_size=3)
    assert (len(a), len(b)) == (2, 3) and float(b[0][0]) == 2.0
    batches = list(torch.utils.data.DataLoader(a, batch_size=2))  # fit takes a DataLoader
    assert len(batches) == 1
    with pytest.raises(ValueError, match="left_size"):
        utils.split_dataset(np.arange(10), left_size=1.5)
    with pytest.raises(ValueError, match="left_size"):
        utils.split_dataset(np.arange(10))
    with pytest.raises(ValueError, match="preferred_backend"):
        utils.split_dataset(np.arange(10), left_size=2, preferred_backend="tensorflow")
