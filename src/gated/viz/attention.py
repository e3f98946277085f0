"""Attention-weight heatmaps: which source tokens each generated token looked at."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gated.viz.plots import _new_figure, _save_atomically


def plot_attention(weights: Any, source_tokens: Sequence[str], target_tokens: Sequence[str],
                   path: str | os.PathLike, title: str | None = None,
                   cmap: str = "viridis") -> Path:
    """Draws the attention weights of one translation as a heatmap (targets by sources).

    Args:
        weights: `(target steps, source steps)` weights, e.g. one row of the attention returned
            by `Seq2Seq.generate(..., return_attention=True)`; it is cut to the token lists.
        source_tokens: Labels of the source positions (x axis).
        target_tokens: Labels of the generated positions (y axis).
        path: PNG file to write (atomically).
        title: Optional figure title.
        cmap: matplotlib colormap name.

    Returns:
        The `Path` of the written PNG.

    Example:

    ```python
    ids, att = model.generate(src[:1], return_attention=True)
    plot_attention(att[0], ["ein", "hund", "."], ["a", "dog", "."], "attention.png")
    ```
    """
    array = np.asarray(weights, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"`weights` must have shape (target steps, source steps), received "
                         f"shape {array.shape}.")
    rows, cols = len(target_tokens), len(source_tokens)
    if rows == 0 or cols == 0 or rows > array.shape[0] or cols > array.shape[1]:
        raise ValueError(f"`weights` of shape {array.shape} cannot label {rows} target and "
                         f"{cols} source tokens (each needs 1 <= count <= its axis).")
    array = array[:rows, :cols]
    figure = _new_figure(max(4.0, 0.45 * cols + 2.0), max(3.0, 0.4 * rows + 1.5))
    axis = figure.subplots()
    image = axis.imshow(array, cmap=cmap, vmin=0.0, vmax=max(1e-12, float(array.max())),
                        aspect="auto")
    axis.set_xticks(range(cols))
    axis.set_xticklabels([str(t) for t in source_tokens], rotation=60, ha="right")
    axis.set_yticks(range(rows))
    axis.set_yticklabels([str(t) for t in target_tokens])
    axis.set_xlabel("source")
    axis.set_ylabel("generated")
    figure.colorbar(image, ax=axis)
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return _save_atomically(figure, path)


__all__ = ["plot_attention"]
