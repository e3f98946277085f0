"""Tests of gated.data.datasets on the built-in series and on the real shared data files."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from gated.data.datasets import (
    load_ett,
    load_fsdd,
    load_jsb_chorales,
    load_sunspots,
    load_tiny_shakespeare,
    read_wav,
    split_fsdd,
)

DATA = Path(__file__).parents[1].parent / "shared" / "data"


def _require(relative: str) -> Path:
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"shared data set not found at {path} (see shared/data/README.md)")
    return path


# ----------------------------------------------------------------------------- sunspots


def test_load_sunspots_known_values():
    years, values = load_sunspots()
    assert years.dtype == np.int64 and values.dtype == np.float32
    assert len(years) == len(values) == 309
    np.testing.assert_array_equal(years, np.arange(1700, 2009))
    by_year = dict(zip(years.tolist(), values.tolist(), strict=True))
    assert by_year[1700] == 5.0
    assert by_year[1749] == pytest.approx(80.9)
    assert by_year[1957] == pytest.approx(190.2)  # the maximum of the series
    assert by_year[2008] == pytest.approx(2.9)
    assert values.max() == pytest.approx(190.2)
    assert values.min() == 0.0
    assert float(values.astype(np.float64).mean()) == pytest.approx(49.7521, abs=1e-3)


# ----------------------------------------------------------------------------- ETT


def test_load_ett_h1_rows_and_split():
    folder = _require("ett/ETTh1.csv").parent
    ett = load_ett(folder)  # a folder: ETTh1.csv is the default name
    assert ett.values.shape == (17420, 1) and ett.values.dtype == np.float32
    assert ett.columns == ("OT",) and ett.target_index == 0
    assert ett.values[0, 0] == pytest.approx(30.531, abs=1e-3)
    assert str(ett.dates[0]) == "2016-07-01T00:00:00"
    assert ett.splits == {
        "train": slice(0, 8640),
        "val": slice(8640, 11520),
        "test": slice(11520, 14400),
    }
    assert len(ett.train) == 8640 and len(ett.val) == 2880 and len(ett.test) == 2880


def test_load_ett_multivariate_from_file():
    file = _require("ett/ETTh2.csv")
    ett = load_ett(file, features="M")
    assert ett.values.shape == (17420, 7)
    assert ett.columns == ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
    assert ett.target == "OT" and ett.target_index == 6
    single = load_ett(file, target="HUFL")
    np.testing.assert_array_equal(single.values[:, 0], ett.values[:, 0])


def test_load_ett_errors(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_ett(missing)
    with pytest.raises(FileNotFoundError, match="ETTh1.csv"):
        load_ett(tmp_path)  # folder without the file
    file = _require("ett/ETTh1.csv")
    with pytest.raises(ValueError, match="target"):
        load_ett(file, target="XX")
    with pytest.raises(ValueError, match="features"):
        load_ett(file, features="Q")


# ----------------------------------------------------------------------------- JSB chorales


def test_load_jsb_chorales_quarter():
    folder = _require("jsb_chorales/jsb-chorales-quarter.json").parent
    rolls = load_jsb_chorales(folder)
    assert {k: len(v) for k, v in rolls.items()} == {"train": 229, "valid": 76, "test": 77}
    first = rolls["train"][0]
    assert first.dtype == np.float32 and first.shape[1] == 88
    # The first time step of the first training chorale sounds MIDI 60, 72, 79, 88.
    assert np.flatnonzero(first[0]).tolist() == [60 - 21, 72 - 21, 79 - 21, 88 - 21]
    for roll in rolls["test"]:
        assert set(np.unique(roll).tolist()) <= {0.0, 1.0}
        assert roll.sum(axis=1).max() <= 4  # four voices at most


def test_load_jsb_chorales_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_jsb_chorales(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="resolution"):
        load_jsb_chorales(tmp_path, resolution="8th")
    bad = tmp_path / "jsb-chorales-quarter.json"
    bad.write_text('{"train": [[[20]]], "valid": [], "test": []}')
    with pytest.raises(ValueError, match="20"):
        load_jsb_chorales(tmp_path)


# ----------------------------------------------------------------------------- Tiny Shakespeare


def test_load_tiny_shakespeare():
    file = _require("tinyshakespeare/input.txt")
    text = load_tiny_shakespeare(file.parent)
    assert len(text) == 1115394
    assert text.startswith("First Citizen:")
    assert load_tiny_shakespeare(file) == text


def test_load_tiny_shakespeare_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path.name)):
        load_tiny_shakespeare(tmp_path / "gone" / "input.txt")


# ----------------------------------------------------------------------------- FSDD / WAV


def _write_wav(path: Path, samples: list[int], rate: int = 8000, width: int = 2) -> None:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(width)
        handle.setframerate(rate)
        dtype = "<i2" if width == 2 else np.uint8
        handle.writeframes(np.asarray(samples).astype(dtype).tobytes())


def test_read_wav_known_samples(tmp_path):
    file = tmp_path / "tone.wav"
    _write_wav(file, [0, 16384, -32768, 32767], rate=16000)
    waveform, rate = read_wav(file)
    assert rate == 16000 and waveform.dtype == np.float32
    np.testing.assert_allclose(waveform, [0.0, 0.5, -1.0, 32767 / 32768])


def test_read_wav_rejects_8_bit(tmp_path):
    file = tmp_path / "eight.wav"
    _write_wav(file, [0, 128, 255], width=1)
    with pytest.raises(ValueError, match="16-bit"):
        read_wav(file)


def test_load_fsdd_synthetic_folder(tmp_path):
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for name in ("3_alice_0.wav", "3_alice_7.wav", "1_bob_2.wav"):
        _write_wav(recordings / name, [1, 2, 3])
    (recordings / "notes.wav").write_bytes(b"")  # not an FSDD name: ignored
    data = load_fsdd(tmp_path)
    assert [(r.digit, r.speaker, r.index) for r in data] == [
        (3, "alice", 0),
        (3, "alice", 7),
        (1, "bob", 2),
    ]
    train, test = split_fsdd(data)
    assert [r.index for r in train] == [7] and sorted(r.index for r in test) == [0, 2]


def test_load_fsdd_real():
    folder = _require("fsdd/recordings")
    data = load_fsdd(folder.parent)
    assert len(data) == 3000
    assert {r.speaker for r in data} == {
        "george",
        "jackson",
        "lucas",
        "nicolas",
        "theo",
        "yweweler",
    }
    assert {r.digit for r in data} == set(range(10))
    assert {r.sample_rate for r in data} == {8000}
    waveform, rate, digit, speaker, index = data[0]
    assert waveform.dtype == np.float32 and waveform.ndim == 1
    assert (digit, speaker, index) == (0, "george", 0)
    assert all(np.abs(r.waveform).max() <= 1.0 for r in data[:50])
    train, test = split_fsdd(data)
    assert len(train) == 2700 and len(test) == 300
    assert {r.index for r in test} == {0, 1, 2, 3, 4}


def test_load_fsdd_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        load_fsdd(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="No FSDD recordings"):
        load_fsdd(tmp_path)
