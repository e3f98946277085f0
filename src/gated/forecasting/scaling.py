"""Scaling with scikit-learn's `StandardScaler`, and its state as JSON (no pickle).

The forecaster z-scores every used column with the statistics of the training table, so that
one network sees targets and covariates of any unit on the same footing; forecasts are mapped
back with the target column's mean and scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.preprocessing import StandardScaler

__all__ = ["fit_scaler", "scaler_from_state", "scaler_state"]


def fit_scaler(values: np.ndarray) -> StandardScaler:
    """A `StandardScaler` fitted on `(timesteps, columns)`; a constant column keeps scale 1."""
    return StandardScaler().fit(np.asarray(values, dtype=np.float64))


def scaler_state(scaler: StandardScaler) -> dict[str, Any]:
    """The fitted state of `scaler` as JSON-able lists."""
    return {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(),
            "var": scaler.var_.tolist(), "n_samples_seen": int(np.max(scaler.n_samples_seen_))}


def scaler_from_state(state: dict[str, Any]) -> StandardScaler:
    """A `StandardScaler` restored from `scaler_state` output (transforms identically)."""
    scaler = StandardScaler()
    scaler.mean_ = np.asarray(state["mean"], dtype=np.float64)
    scaler.scale_ = np.asarray(state["scale"], dtype=np.float64)
    scaler.var_ = np.asarray(state["var"], dtype=np.float64)
    scaler.n_samples_seen_ = int(state["n_samples_seen"])
    scaler.n_features_in_ = len(scaler.mean_)
    return scaler
