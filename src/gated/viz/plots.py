"""PNG plots: training history, forecasts against the actual series, gate heatmaps.

matplotlib is an optional dependency (`pip install "gated[plot]"`), imported only when a
plot is drawn. Figures are rendered with the Agg canvas directly (no pyplot, so no global
backend switch and no window), and written atomically: to a temporary file in the target
folder, then `os.replace`d onto the target, so a failed plot never leaves a partial PNG.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_history", "plot_forecast", "plot_gates"]

_INSTALL_HINT = 'Plotting needs matplotlib; install it with: pip install "gated[plot]"'


def _new_figure(width: float, height: float) -> Any:
    """Returns a matplotlib `Figure` attached to an Agg canvas."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save_atomically(figure: Any, path: str | os.PathLike) -> Path:
    """Writes `figure` as PNG to `path` through a temporary file in the same folder."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    # A unique name opened with "xb" (not mkstemp, whose files are 0600) so that the PNG gets
    # the ordinary permissions of the user's umask.
    temporary = target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    try:
        with open(temporary, "xb") as handle:
            figure.savefig(handle, format="png")
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    return target


def _history_dict(history: Any) -> dict[str, list[float]]:
    raw = getattr(history, "history", history)
    if not isinstance(raw, Mapping):
        raise TypeError(
            "`history` must be a History (with a `.history` dict) or a dict of lists; received "
            f"{type(history).__name__}."
        )
    curves = {
        str(k): [float(v) for v in np.ravel(np.asarray(vals, dtype=float))]
        for k, vals in raw.items()
    }
    curves = {k: v for k, v in curves.items() if v}
    if not curves:
        raise ValueError("`history` has no recorded values to plot; received an empty history.")
    return curves


def plot_history(history: Any, path: str | os.PathLike, title: str | None = None) -> Path:
    """Plots training curves: one panel per quantity, training and `val_` curves together.

    Args:
        history: the `History` returned by `fit` (or its `.history` dict: name -> per-epoch
            values, e.g. `{"loss": [...], "val_loss": [...], "mae": [...]}`).
        path: PNG file to write.
        title: optional figure title.

    Returns:
        The `Path` of the written PNG.

    Example:

    ```python
    history = model.fit(x, y, validation_split=0.1, epochs=20)
    plot_history(history, "history.png")
    ```
    """
    curves = _history_dict(history)
    names = [k for k in curves if not k.startswith("val_")]
    names += [k[4:] for k in curves if k.startswith("val_") and k[4:] not in curves]
    names.sort(key=lambda k: (k != "loss", k))
    figure = _new_figure(6.0, 3.2 * len(names))
    axes = figure.subplots(len(names), 1, squeeze=False)[:, 0]
    for axis, name in zip(axes, names, strict=True):
        for key, label, style in ((name, "train", "-"), (f"val_{name}", "validation", "--")):
            if key in curves:
                values = curves[key]
                axis.plot(range(1, len(values) + 1), values, style, label=label)
        axis.set_ylabel(name)
        axis.grid(True, alpha=0.3)
        axis.legend()
        if name == "loss" and min(curves.get("loss", [0.0]) + curves.get("val_loss", [])) > 0:
            axis.set_yscale("log")
    axes[-1].set_xlabel("epoch")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _save_atomically(figure, path)


def plot_forecast(
    index: Any,
    actual: Any,
    predictions: Mapping[str, Any],
    path: str | os.PathLike,
    title: str = "Forecast",
    split_index: int | None = None,
    xlabel: str = "time",
    ylabel: str = "value",
) -> Path:
    """Plots the actual series and each method's forecast, with the train/test boundary.

    Args:
        index: x values of the series (years, dates, step numbers), shape `(timesteps,)`.
        actual: the true series, shape `(timesteps,)` (or `(timesteps, 1)`).
        predictions: method name -> forecasts. A forecast shorter than `actual` is aligned
            with the *end* of the series (the usual test period); NaN values are not drawn.
        path: PNG file to write.
        title: figure title.
        split_index: position in `index` where the test part starts; a vertical line is drawn
            there. `None` draws no line.
        xlabel: label of the x axis.
        ylabel: label of the y axis.

    Returns:
        The `Path` of the written PNG.

    Example:

    ```python
    plot_forecast(years, values, {"LSTM": pred, "naive": naive}, "forecast.png",
                  split_index=len(years) - 40)
    ```
    """
    x = np.asarray(index)
    y = np.asarray(actual, dtype=float)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if x.ndim != 1 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            "`index` and `actual` must be 1-D of the same length; received shapes "
            f"{x.shape} and {np.asarray(actual).shape}."
        )
    if not isinstance(predictions, Mapping):
        raise TypeError(
            f"`predictions` must be a dict name -> array; received {type(predictions).__name__}."
        )
    series: dict[str, np.ndarray] = {}
    for name, values in predictions.items():
        forecast = np.asarray(values, dtype=float).reshape(-1)
        if forecast.size == 0 or forecast.size > len(y):
            raise ValueError(
                f"`predictions[{name!r}]` must have between 1 and {len(y)} values (the length "
                f"of `actual`); received {forecast.size}."
            )
        series[str(name)] = forecast
    if split_index is not None and not 0 <= int(split_index) < len(x):
        raise ValueError(f"`split_index` must be in [0, {len(x) - 1}]; received {split_index}.")

    figure = _new_figure(10.0, 4.5)
    axis = figure.subplots()
    axis.plot(x, y, color="black", linewidth=1.6, label="actual")
    for name, forecast in series.items():
        axis.plot(x[len(x) - len(forecast) :], forecast, linewidth=1.2, label=name)
    if split_index is not None:
        axis.axvline(
            x[int(split_index)], color="gray", linestyle=":", linewidth=1.2, label="train | test"
        )
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.grid(True, alpha=0.3)
    axis.legend(loc="upper left")
    figure.tight_layout()
    return _save_atomically(figure, path)


def plot_gates(
    activations: Mapping[str, Any],
    path: str | os.PathLike,
    title: str | None = None,
    cmap: str = "viridis",
) -> Path:
    """Draws one heatmap per gate or state: units on the y axis, time on the x axis.

    Args:
        activations: name (e.g. `"input gate"`, `"forget gate"`, `"cell state"`) -> array of
            shape `(timesteps, units)`.
        path: PNG file to write.
        title: optional figure title.
        cmap: matplotlib colormap name.

    Returns:
        The `Path` of the written PNG.

    Example:

    ```python
    plot_gates({"forget gate": f_t, "cell state": c_t}, "gates.png")   # each (T, units)
    ```
    """
    if not isinstance(activations, Mapping) or not activations:
        raise ValueError(
            "`activations` must be a non-empty dict name -> (timesteps, units) array; "
            f"received {activations!r:.80}."
        )
    panels: dict[str, np.ndarray] = {}
    for name, values in activations.items():
        array = np.asarray(values, dtype=float)
        if array.ndim != 2 or 0 in array.shape:
            raise ValueError(
                f"`activations[{name!r}]` must have shape (timesteps, units) with both > 0; "
                f"received shape {array.shape}."
            )
        panels[str(name)] = array
    figure = _new_figure(10.0, 2.6 * len(panels))
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    for axis, (name, array) in zip(axes, panels.items(), strict=True):
        image = axis.imshow(
            array.T, aspect="auto", origin="lower", cmap=cmap, interpolation="nearest"
        )
        axis.set_title(name)
        axis.set_ylabel("unit")
        figure.colorbar(image, ax=axis)
    axes[-1].set_xlabel("time step")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _save_atomically(figure, path)
