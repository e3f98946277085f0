"""Plots of training histories, forecasts and gate activations (needs `gated[plot]`)."""

from gated.viz.attention import plot_attention
from gated.viz.plots import plot_forecast, plot_gates, plot_history

__all__ = ["plot_attention", "plot_forecast", "plot_gates", "plot_history"]
