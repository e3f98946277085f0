"""gated.data.uea: the sktime/UEA `.ts` format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gated.data.uea import load_basicmotions, load_uea_ts

DATA = Path(__file__).parents[1].parent / "shared" / "data"

TS = """# a comment
@problemName Tiny
@dimensions 2
@equalLength true
@classLabel true up down
@data
1,2,3:4,5,6:down
0.5,0,1:1,1,1:up
"""


def test_reads_cases_as_batch_time_channels(tmp_path):
    path = tmp_path / "tiny.ts"
    path.write_text(TS)
    x, y, classes = load_uea_ts(path)
    assert classes == ["up", "down"] and y.tolist() == [1, 0]
    assert x.shape == (2, 3, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], [[1, 4], [2, 5], [3, 6]])


def test_bad_files_name_the_problem(tmp_path):
    ragged = tmp_path / "ragged.ts"
    ragged.write_text(TS.replace("1,2,3:4,5,6", "1,2:4,5,6"))
    with pytest.raises(ValueError, match="ragged.ts:7: channels of different lengths"):
        load_uea_ts(ragged)
    unknown = tmp_path / "unknown.ts"
    unknown.write_text(TS.replace(":up", ":sideways"))
    with pytest.raises(ValueError, match="sideways"):
        load_uea_ts(unknown)
    with pytest.raises(ValueError, match="no @data"):
        (tmp_path / "empty.ts").write_text("@dimensions 1\n")
        load_uea_ts(tmp_path / "empty.ts")


def test_real_basicmotions():
    if not (DATA / "basicmotions").is_dir():
        pytest.skip(f"BasicMotions not found under {DATA} (see shared/data/README.md)")
    (x, y), (x_test, y_test), classes = load_basicmotions(DATA / "basicmotions")
    assert x.shape == x_test.shape == (40, 100, 6)
    assert classes == ["Standing", "Running", "Walking", "Badminton"]
    assert np.bincount(y).tolist() == np.bincount(y_test).tolist() == [10, 10, 10, 10]
