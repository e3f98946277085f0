"""gated.data.pen: the UNIPEN-style pen-stroke files and the sequences built from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gated.data.pen import (
    PenSample,
    load_pendigits,
    load_ujipenchars,
    load_unipen,
    resample,
    to_sequence,
)

DATA = Path(__file__).parents[1].parent / "shared" / "data"

TEXT = """.LEXICON "0" "1"
.SEGMENT DIGIT    0 ? "7"
.COMMENT 8 12  224
.PEN_DOWN
 0  0
 10  0
.PEN_UP
.DT 100
.PEN_DOWN
 10  20
.PEN_UP
.SEGMENT DIGIT    1-2 ? "1"
.PEN_DOWN
 5  5
 5  15
.PEN_UP
"""


def test_parses_segments_strokes_and_labels(tmp_path):
    path = tmp_path / "digits.tra"
    path.write_text(TEXT)
    first, second = load_unipen(path)
    assert first.label == "7" and second.label == "1"
    assert [s.tolist() for s in first.strokes] == [[[0, 0], [10, 0]], [[10, 20]]]
    assert [s.tolist() for s in second.strokes] == [[[5, 5], [5, 15]]]


def test_sequence_is_offsets_in_a_unit_box_with_pen_up_flags():
    sample = PenSample("7", [np.array([[0, 0], [10, 0]]), np.array([[10, 20]])])
    seq = to_sequence(sample)
    # box 10 x 20: centre (5, 10), scale 20; positions (-0.25,-0.5), (0.25,-0.5), (0.25, 0.5)
    np.testing.assert_allclose(seq, [[-0.25, -0.5, 0], [0.5, 0, 1], [0, 1, 1]])
    np.testing.assert_allclose(to_sequence(sample, flip_y=True)[:, 1], [0.5, 0, -1])


def test_resample_is_evenly_spaced_along_the_path():
    sample = PenSample("1", [np.array([[0, 0], [0, 30]])])
    points = resample(sample, 4).reshape(4, 2)
    np.testing.assert_allclose(points[:, 1], [-0.5, -1 / 6, 1 / 6, 0.5])
    np.testing.assert_allclose(points[:, 0], 0.0)


def test_malformed_point_names_file_and_line(tmp_path):
    path = tmp_path / "bad.tra"
    path.write_text('.SEGMENT DIGIT 0 ? "3"\n.PEN_DOWN\n 1 2 3\n.PEN_UP\n')
    with pytest.raises(ValueError, match=r"bad.tra:3"):
        load_unipen(path)
    with pytest.raises(FileNotFoundError, match="missing.tra"):
        load_unipen(tmp_path / "missing.tra")


def test_real_pendigits_and_uji_counts():
    if not (DATA / "pendigits").is_dir() or not (DATA / "ujipenchars").is_dir():
        pytest.skip(f"pen data sets not found under {DATA} (see shared/data/README.md)")
    train, test = load_pendigits(DATA / "pendigits")
    assert (len(train), len(test)) == (7494, 3498)
    assert sorted({s.label for s in train}) == [str(d) for d in range(10)]
    lengths = [sum(len(s) for s in sample.strokes) for sample in train + test]
    assert min(lengths) >= 1 and max(len(sample.strokes) for sample in train) <= 4
    uji = load_ujipenchars(DATA / "ujipenchars")
    assert len(uji) == 1364 and len({s.label for s in uji}) == 35
    assert len({s.writer for s in uji}) == 11
