"""Plots of training histories, forecasts, gate activations, frames and attention weights
(needs `gated[plot]`)."""

from gated.viz.attention import plot_attention
from gated.viz.frames import plot_frames
from gated.viz.plots import plot_forecast, plot_gates, plot_history

__all__ = ["plot_attention", "plot_frames", "plot_forecast", "plot_gates", "plot_history"]
