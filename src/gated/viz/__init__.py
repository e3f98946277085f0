"""Plots of training histories, forecasts and gate activations (needs `gated[plot]`)."""

from gated.viz.frames import plot_frames
from gated.viz.plots import plot_forecast, plot_gates, plot_history

__all__ = ["plot_frames", "plot_forecast", "plot_gates", "plot_history"]
