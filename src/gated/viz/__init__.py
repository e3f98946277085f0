"""Plots of training histories, forecasts (points, quantiles, errors per horizon), gate
activations, frames and attention weights (needs `gated[plot]`)."""

from gated.viz.attention import plot_attention
from gated.viz.forecasting import plot_horizon_errors, plot_quantile_forecast
from gated.viz.frames import plot_frames
from gated.viz.plots import plot_forecast, plot_gates, plot_history

__all__ = ["plot_attention", "plot_forecast", "plot_frames", "plot_gates", "plot_history",
           "plot_horizon_errors", "plot_quantile_forecast"]
