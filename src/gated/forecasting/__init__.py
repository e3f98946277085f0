"""Forecasting: series and tables in, point and quantile forecasts, backtests and plots out.

`Forecaster` is the entry point (see `forecaster.py`); `metrics` scores backtests against the
naive baselines; `ForecastNetwork` is the gated `Model` underneath.
"""

from gated.forecasting.forecaster import Forecaster, load_forecaster
from gated.forecasting.losses import PinballLoss, pinball
from gated.forecasting.network import ForecastNetwork, monotone_quantiles

__all__ = ["ForecastNetwork", "Forecaster", "PinballLoss", "load_forecaster",
           "monotone_quantiles", "pinball"]
