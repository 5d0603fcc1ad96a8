"""Drift of a scored population against the training data: population stability index per feature.

PSI = sum over bins of (actual share - expected share) * ln(actual / expected).
Numeric features use the training quantile bins; categorical ones their
vocabulary values. A PSI above 0.2 is the usual "significant shift" flag.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from helpers.analytics.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

PSI_FLAG = 0.2
SMOOTHING = 1e-4  # keeps empty bins from making the logarithm infinite


def feature_profile(frame: pd.DataFrame, bins: int = 10) -> dict[str, dict[str, Any]]:
    """Bin edges and shares of every feature in the training frame.

    Returns:
        feature -> {"kind": "numeric", "edges": [...], "shares": [...]} or
        {"kind": "categorical", "values": [...], "shares": [...]}.
    """
    profile: dict[str, dict[str, Any]] = {}
    for name, values in CATEGORICAL_FEATURES.items():
        shares = frame[name].value_counts(normalize=True).reindex(values, fill_value=0.0)
        profile[name] = {"kind": "categorical", "values": list(values), "shares": shares.tolist()}
    for name in NUMERIC_FEATURES:
        column = frame[name].to_numpy(dtype=float)
        edges = np.unique(np.quantile(column, np.linspace(0, 1, bins + 1)[1:-1]))
        profile[name] = {"kind": "numeric", "edges": edges.tolist(), "shares": _numeric_shares(column, edges).tolist()}
    return profile


def _numeric_shares(column: np.ndarray, edges: np.ndarray) -> np.ndarray:
    index = np.searchsorted(edges, column, side="right")
    return np.bincount(index, minlength=len(edges) + 1) / max(len(column), 1)


def population_stability(profile: dict[str, dict[str, Any]], frame: pd.DataFrame) -> pd.DataFrame:
    """PSI of each feature of ``frame`` against the training ``profile``, worst first.

    Returns:
        ``feature``, ``psi``, ``flagged`` (psi > 0.2).
    """
    rows = []
    for name, spec in profile.items():
        expected = np.asarray(spec["shares"], dtype=float)
        if spec["kind"] == "categorical":
            actual = frame[name].value_counts(normalize=True).reindex(spec["values"], fill_value=0.0).to_numpy()
        else:
            actual = _numeric_shares(frame[name].to_numpy(dtype=float), np.asarray(spec["edges"]))
        expected, actual = expected + SMOOTHING, actual + SMOOTHING
        psi = float(np.sum((actual - expected) * np.log(actual / expected)))
        rows.append({"feature": name, "psi": psi, "flagged": psi > PSI_FLAG})
    return pd.DataFrame(rows).sort_values("psi", ascending=False).reset_index(drop=True)
