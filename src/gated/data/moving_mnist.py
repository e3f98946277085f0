"""MNIST from its IDX files, and Moving MNIST sequences generated from the real digits.

`load_idx` reads the IDX format of LeCun's MNIST files (gzipped or not); `load_mnist` reads a
split from a folder holding `train-images-idx3-ubyte.gz` etc. (never downloads).
`moving_mnist` makes the sequences of Srivastava et al. 2015 as Shi et al. 2015 used them:
`num_digits` digits (28x28) bounce inside a `size x size` frame, each with a random start,
a random direction and a speed of a few pixels per frame, reflected at the borders;
overlapping digits combine by their pixel-wise maximum. Values are in [0, 1].
`moving_digit_clips` makes clips for classifying the direction of motion: one digit moves in
a straight line in one of 4 or 8 known directions on a torus (it wraps around the borders),
so that every single frame is a uniformly shifted digit that tells nothing of the direction.

Example:
>>> images, labels = load_mnist("../shared/data/mnist", "test")
>>> clips = moving_mnist(images, 8, frames=20, rng=np.random.default_rng(0))
>>> clips.shape
(8, 20, 64, 64)
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

__all__ = ["DIRECTIONS", "load_idx", "load_mnist", "moving_digit_clips", "moving_mnist"]

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
              0x0E: ">f8"}
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """One IDX file (`.gz` or raw) as a NumPy array of its declared type and shape.

    Args:
        path: The file.

    Returns:
        The array (MNIST images: `(n, 28, 28)` uint8; labels: `(n,)` uint8).

    Raises:
        ValueError: naming the file when its header is not IDX or its size does not match.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{str(path)!r} is not an IDX file (header {data[:4]!r}).")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{str(path)!r}: the header declares shape {shape} of {dtype} "
                         f"({expected} bytes), the file has {len(data)} bytes.")
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)


def load_mnist(folder: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """A split of MNIST from a folder of its IDX files.

    Args:
        folder: Holds `train-images-idx3-ubyte[.gz]`, `t10k-...` (LeCun's names).
        split: `"train"` (60,000 digits) or `"test"` (10,000).

    Returns:
        `(images (n, 28, 28) uint8, labels (n,) uint8)`.
    """
    if split not in _FILES:
        raise ValueError(f"Unknown split={split!r}; expected one of {list(_FILES)}.")
    folder = Path(folder)
    arrays = []
    for stem in _FILES[split]:
        candidates = [folder / f"{stem}.gz", folder / stem]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            raise FileNotFoundError(f"MNIST {split} file {stem}[.gz] not found in "
                                    f"{str(folder)!r}.")
        arrays.append(load_idx(found))
    images, labels = arrays
    if len(images) != len(labels):
        raise ValueError(f"{str(folder)!r}: {len(images)} images but {len(labels)} labels.")
    return images, labels


def moving_mnist(digits: np.ndarray, num_sequences: int, frames: int = 20, size: int = 64,
                 num_digits: int = 2, speed: tuple[float, float] = (2.0, 5.0),
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Sequences of bouncing digits (Moving MNIST).

    Args:
        digits: `(n, h, w)` images (uint8 0-255 or floats in [0, 1]); each sequence draws
            `num_digits` of them at random.
        num_sequences: How many sequences.
        frames: Frames per sequence (Shi et al.: 10 in, 10 to predict).
        size: Side of the square frame (64).
        num_digits: Digits per sequence (2).
        speed: Range of pixels per frame each digit moves, drawn uniformly.
        rng: A NumPy generator (reproducible sequences).

    Returns:
        `(num_sequences, frames, size, size)` float32 in [0, 1].
    """
    rng = rng or np.random.default_rng()
    digits = np.asarray(digits)
    if digits.ndim != 3:
        raise ValueError(f"`digits` must be (n, height, width) images, received shape "
                         f"{digits.shape}.")
    scale = 255.0 if digits.dtype == np.uint8 else 1.0
    h, w = digits.shape[1:]
    if h > size or w > size:
        raise ValueError(f"digits of {h}x{w} do not fit a frame of size={size}.")
    out = np.zeros((num_sequences, frames, size, size), np.float32)
    limit = np.array([size - h, size - w], float)
    for s in range(num_sequences):
        for _ in range(num_digits):
            image = digits[rng.integers(len(digits))].astype(np.float32) / scale
            pos = rng.uniform(0, 1, 2) * limit
            angle = rng.uniform(0, 2 * np.pi)
            velocity = rng.uniform(*speed) * np.array([np.sin(angle), np.cos(angle)])
            for t in range(frames):
                r, c = int(round(pos[0])), int(round(pos[1]))
                window = out[s, t, r:r + h, c:c + w]
                np.maximum(window, image, out=window)
                pos = pos + velocity
                for axis in range(2):  # reflect at the borders
                    if pos[axis] < 0:
                        pos[axis], velocity[axis] = -pos[axis], -velocity[axis]
                    elif pos[axis] > limit[axis]:
                        pos[axis] = 2 * limit[axis] - pos[axis]
                        velocity[axis] = -velocity[axis]
    return out


#: The 8 directions of `moving_digit_clips` as (row, column) steps, counter-clockwise from
#: east (rows grow downwards, so north is (-1, 0)); 4 directions take every other one.
DIRECTIONS = ((0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1))


def moving_digit_clips(digits: np.ndarray, num_clips: int, frames: int = 10, size: int = 32,
                       directions: int = 8, speed: int = 1,
                       rng: np.random.Generator | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clips of one digit moving in a straight line, labelled by its direction of motion.

    The digit is centred on a `size x size` canvas, shifted by a uniformly random offset, and
    moves `speed` pixels a frame along each axis of its direction (`DIRECTIONS`; diagonals
    move `speed` rows and `speed` columns), wrapping around the borders (a torus). Every frame
    on its own is then a digit at a uniformly random place whatever the direction: only the
    motion between frames tells the direction (a classifier of one frame is at chance).

    Args:
        digits: `(n, h, w)` images (uint8 0-255 or floats in [0, 1]), `h, w <= size`.
        num_clips: How many clips.
        frames: Frames per clip.
        size: Side of the square frame.
        directions: 8 (the compass points) or 4 (east, north, west, south).
        speed: Pixels per frame along each moving axis (a positive integer: exact shifts).
        rng: A NumPy generator (reproducible clips).

    Returns:
        `(clips (num_clips, frames, size, size) float32 in [0, 1], direction labels
        (num_clips,) int64 in [0, directions), digit indices (num_clips,) int64 into
        `digits`)`; the digit's class is `labels[indices]`.

    Example:
    >>> clips, direction, index = moving_digit_clips(np.ones((1, 28, 28)), 4, frames=5)
    >>> clips.shape, direction.shape
    ((4, 5, 32, 32), (4,))
    """
    rng = rng or np.random.default_rng()
    digits = np.asarray(digits)
    if digits.ndim != 3:
        raise ValueError(f"`digits` must be (n, height, width) images, received shape "
                         f"{digits.shape}.")
    if directions not in (4, 8):
        raise ValueError(f"`directions` must be 4 or 8, received {directions!r}.")
    if not isinstance(speed, (int, np.integer)) or speed < 1:
        raise ValueError(f"`speed` must be a positive integer, received {speed!r}.")
    h, w = digits.shape[1:]
    if h > size or w > size:
        raise ValueError(f"digits of {h}x{w} do not fit a frame of size={size}.")
    scale = 255.0 if digits.dtype == np.uint8 else 1.0
    index = rng.integers(len(digits), size=num_clips)
    canvas = np.zeros((num_clips, size, size), np.float32)
    top, left = (size - h) // 2, (size - w) // 2
    canvas[:, top:top + h, left:left + w] = digits[index].astype(np.float32) / scale
    label = rng.integers(directions, size=num_clips)
    step = np.array(DIRECTIONS[::8 // directions])[label] * speed  # (num_clips, 2)
    offset = rng.integers(size, size=(num_clips, 2))
    grid = np.arange(size)
    clips = np.empty((num_clips, frames, size, size), np.float32)
    for t in range(frames):
        shift = offset + t * step
        rows = (grid[None, :] - shift[:, :1]) % size  # out[r] = canvas[r - shift]
        cols = (grid[None, :] - shift[:, 1:]) % size
        clips[:, t] = canvas[np.arange(num_clips)[:, None, None], rows[:, :, None],
                             cols[:, None, :]]
    return clips, label.astype(np.int64), index.astype(np.int64)
