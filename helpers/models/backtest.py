"""Rolling-origin backtest: at each past month start, a model trained only on what was known then.

For each origin the registered recipe (candidate and calibration method) is
fitted on person-months whose window closed before the calibration cut,
calibrated on those closed before the origin, and scores the customers paying
at the origin; expected churners and MRR lost at 90 days and 12 months are
compared with what happened (NaN while a window is still open). Snapshots are
built once for every origin. The recipe itself was chosen at training time on
the latest evaluation dates, the one look-ahead left (said in the report).
``python -m helpers backtest`` writes the table to ``metrics/backtest.csv``
and ``metrics/backtest.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import checks, config, files, registry, warehouse
from helpers.dates import add_months, month_start
from helpers.models.evaluation import horizon_metrics
from helpers.models.person_period import MAX_MONTHS, churned_within, horizon_days
from helpers.models.selection import (
    MIN_TRAIN_MONTHS,
    calibration_rows,
    fit_curve,
    training_rows,
)
from helpers.models.time_to_churn import survival_at_days
from helpers.models.training import load_snapshots, split_for

TWELVE_MONTHS = horizon_days(12)


def origins(data_end: dt.date, horizon: int, count: int, latest: dt.date | None = None) -> list[dt.date]:
    """The last ``count`` month starts whose ``horizon``-day window closed by the data end (and ``latest``)."""
    checks.int_in_range(count, "count (backtest dates)")
    known = data_end + dt.timedelta(days=1)
    if latest is not None:
        known = min(known, latest)
    newest = month_start(known - dt.timedelta(days=horizon))
    return [add_months(newest, -offset) for offset in range(count - 1, -1, -1)]


def rolling_backtest(con: Any, settings: dict[str, Any], candidate: str, calibration: str, count: int = 12,
                     latest: dt.date | None = None) -> pd.DataFrame:
    """Out-of-sample predictions against outcomes at the last ``count`` monthly origins.

    Args:
        con: a warehouse connection.
        settings: the ``churn_model`` parameters.
        candidate, calibration: the recipe to refit at each origin (the registered model's).
        count: how many origins.
        latest: no origin's 90-day window may end after this day (a report's as-of date).

    Returns:
        One row per origin: ``as_of``, ``trained_through``, ``customers`` and, for ``90d`` and
        ``12m``: ``expected_churners_*``, ``realized_churners_*``, ``expected_mrr_lost_*``,
        ``realized_mrr_lost_*``, ``roc_auc_*`` (realized NaN while the window is open).

    Raises:
        ValueError: an origin leaves too little history before it to train.
    """
    metadata = warehouse.read_metadata(con)
    split = split_for(metadata["data_start"], metadata["data_end"], settings)
    dates = origins(metadata["data_end"], 90, count, latest)
    calibration_months = (split.test_start.year - split.calibration_start.year) * 12 + (
        split.test_start.month - split.calibration_start.month)
    earliest = add_months(split.first_as_of, MIN_TRAIN_MONTHS + calibration_months)
    if dates[0] < earliest:
        raise ValueError(
            f"backtest origin {dates[0]} leaves too little history to train before it: the first origin can be "
            f"{earliest}; ask for fewer dates (at most {len([d for d in dates if d >= earliest])} here)"
        )
    snapshots = load_snapshots(con, split.first_as_of, dates[-1])
    follow_up_end = metadata["data_end"] + dt.timedelta(days=1)
    if latest is not None:
        follow_up_end = min(follow_up_end, latest)  # outcomes after a report's as-of date are not known to it
    rows = []
    for origin in dates:
        cut = add_months(origin, -calibration_months)
        train = training_rows(snapshots, cut, settings)
        curve, _ = fit_curve(candidate, train, calibration_rows(snapshots, cut, origin), settings, calibration)
        scored = snapshots[snapshots["as_of"] == origin].reset_index(drop=True)
        row: dict[str, Any] = {"as_of": origin, "trained_through": origin - dt.timedelta(days=1),
                               "customers": len(scored)}
        survival = curve.survival(scored, MAX_MONTHS)  # one prediction pass serves both horizons
        for label, days in (("90d", 90), ("12m", TWELVE_MONTHS)):
            probability = 1.0 - survival_at_days(survival, days)
            known = origin + dt.timedelta(days=days) <= follow_up_end
            metrics = horizon_metrics(churned_within(scored, days), probability, scored["mrr_current"])
            row[f"expected_churners_{label}"] = metrics["expected_churners"]
            row[f"expected_mrr_lost_{label}"] = metrics["expected_mrr_lost"]
            for key in ("realized_churners", "realized_mrr_lost", "roc_auc"):
                row[f"{key}_{label}"] = metrics[key] if known else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def write_backtest(params: dict[str, Any], count: int = 12, warehouse_path: str | os.PathLike | None = None,
                   models_dir: str | os.PathLike | None = None,
                   metrics_dir: str | os.PathLike | None = None) -> tuple[pd.DataFrame, tuple[Path, Path]]:
    """Run the rolling backtest with the registered recipe; write ``backtest.csv`` and ``backtest.json``.

    Returns:
        The table and the two paths written.
    """
    metadata = registry.get_model_metadata("churn_model", Path(models_dir) if models_dir else None)
    if "candidate" not in metadata:
        raise ValueError("the registered churn_model records no candidate (trained before the time-to-churn "
                         "model); retrain it with `python -m helpers train`")
    with warehouse.get_connection(path=warehouse_path) as con:
        table = rolling_backtest(con, params["churn_model"], metadata["candidate"], metadata["calibration"], count)
    folder = Path(metrics_dir) if metrics_dir else config.PROJECT_ROOT / "metrics"
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = folder / "backtest.csv", folder / "backtest.json"
    files.write_atomically(csv_path, table.to_csv(index=False))
    record = {"candidate": metadata["candidate"], "calibration": metadata["calibration"],
              "model_version": metadata.get("version"), "rows": json.loads(table.to_json(orient="records", date_format="iso"))}
    files.write_atomically(json_path, json.dumps(record, indent=2) + "\n")
    return table, (csv_path, json_path)
