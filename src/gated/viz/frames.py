"""A PNG strip of video frames: true frames above, predicted frames below (Moving MNIST).

Uses the atomic PNG writer of `gated.viz.plots` (matplotlib, the `gated[plot]` extra).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gated.viz.plots import _new_figure, _save_atomically

__all__ = ["plot_frames"]


def plot_frames(rows: Sequence[np.ndarray], path: str | os.PathLike,
                labels: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Writes a grid of grey frames as PNG: one row per sequence of frames.

    Args:
        rows: Each a `(frames, height, width)` array in [0, 1] (e.g. the true frames, then
            each model's prediction); all rows have the same number of frames.
        path: The PNG to write (atomically).
        labels: One label per row, written at its left.
        title: The figure's title.

    Returns:
        The path written.

    Example:
        >>> plot_frames([true[0], predicted[0]], "strip.png", ["true", "ConvLSTM"])
    """
    rows = [np.asarray(r, dtype=np.float32) for r in rows]
    if not rows or any(r.ndim != 3 for r in rows):
        raise ValueError("`rows` must hold (frames, height, width) arrays, received shapes "
                         f"{[r.shape for r in rows]}.")
    frames = rows[0].shape[0]
    if any(r.shape[0] != frames for r in rows):
        raise ValueError(f"every row must have {frames} frames, received "
                         f"{[r.shape[0] for r in rows]}.")
    if labels is not None and len(labels) != len(rows):
        raise ValueError(f"{len(rows)} rows but {len(labels)} labels.")
    figure = _new_figure(1.1 * frames + 1.0, 1.2 * len(rows) + (0.4 if title else 0.0))
    for r, row in enumerate(rows):
        for t in range(frames):
            axes = figure.add_subplot(len(rows), frames, r * frames + t + 1)
            axes.imshow(np.clip(row[t], 0.0, 1.0), cmap="gray", vmin=0.0, vmax=1.0)
            axes.set_xticks([])
            axes.set_yticks([])
            if t == 0 and labels is not None:
                axes.set_ylabel(labels[r], fontsize=8)
            if r == 0:
                axes.set_title(f"t+{t + 1}", fontsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    return _save_atomically(figure, path)
