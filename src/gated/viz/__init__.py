"""Plots of training histories, forecasts and gate activations (needs `gated[plot]`)."""

from gated.viz.forecasting import plot_horizon_errors, plot_quantile_forecast
from gated.viz.plots import plot_forecast, plot_gates, plot_history

__all__ = ["plot_forecast", "plot_gates", "plot_history", "plot_horizon_errors",
           "plot_quantile_forecast"]
