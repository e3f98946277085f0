"""The moving-digit clip generator (direction labels against the digit's centre of mass on the
torus) and the CNN+LSTM direction recipe (slow: far above chance and above one frame)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gated.data.moving_mnist import moving_digit_clips

DATA = Path(__file__).parents[1].parent / "shared" / "data"


def _circular_centre(frame: np.ndarray) -> np.ndarray:
    """(row, column) centre of mass of a frame on a torus, as angles (circular means)."""
    n = frame.shape[0]
    phase = np.exp(2j * np.pi * np.arange(n) / n)
    return np.angle(np.array([frame.sum(axis=1) @ phase, frame.sum(axis=0) @ phase]))


@pytest.mark.parametrize("directions", [8, 4])
def test_direction_label_is_the_displacement_of_the_centre_of_mass(directions):
    rng = np.random.default_rng(0)
    digits = (rng.random((5, 28, 28)) > 0.7) * rng.random((5, 28, 28))  # lopsided blobs
    frames, size, speed = 10, 32, 1
    clips, label, index = moving_digit_clips(digits, 40, frames, size, directions, speed,
                                             rng=rng)
    assert clips.shape == (40, frames, size, size) and clips.dtype == np.float32
    assert set(label.tolist()) == set(range(directions))  # 40 clips draw every direction
    # the digit is never cut: each frame holds all of its ink (it wraps around the borders)
    np.testing.assert_allclose(clips.sum(axis=(2, 3)),
                               np.repeat(digits[index].sum(axis=(1, 2))[:, None], frames, 1),
                               rtol=1e-5)
    angle = np.radians(label * 360 / directions)  # counter-clockwise from east; rows go down
    expected = np.stack([-np.round(np.sin(angle)), np.round(np.cos(angle))], 1)
    expected *= (frames - 1) * speed
    turn = _circular_centre  # shift of the circular mean, in pixels, wrapped to (-n/2, n/2]
    moved = np.array([np.angle(np.exp(1j * (turn(c[-1]) - turn(c[0])))) * size / (2 * np.pi)
                      for c in clips])
    np.testing.assert_allclose(moved, expected, atol=1e-3)


def test_bad_arguments_are_named():
    digits = np.ones((1, 28, 28), np.float32)
    with pytest.raises(ValueError, match="`directions` must be 4 or 8, received 6"):
        moving_digit_clips(digits, 2, directions=6)
    with pytest.raises(ValueError, match="`speed` must be a positive integer, received 1.5"):
        moving_digit_clips(digits, 2, speed=1.5)
    with pytest.raises(ValueError, match="do not fit a frame of size=20"):
        moving_digit_clips(digits, 2, size=20)


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "mnist").is_dir(), reason="the MNIST files are not available")
def test_quick_recipe_cnn_lstm_sees_the_motion_one_frame_cannot(tmp_path):
    from gated.recipes import run_recipe

    numbers = run_recipe("video-cnn-lstm", ["--quick", "--quiet", "--data", str(DATA),
                                            "--output", str(tmp_path)])
    lstm = numbers["results"]["cnn_lstm"]["test_accuracy"]
    last = numbers["results"]["last_frame"]["test_accuracy"]
    assert numbers["chance"] == pytest.approx(1 / 8)
    assert lstm > 0.6  # reached 0.9+ (chance 1/8)
    assert last < 0.25  # one frame cannot tell the direction
    assert lstm > last + 0.4
