"""Rolling-origin backtest: at each past month start, a model trained only on what was known then.

For each origin the registered recipe (candidate and calibration method) is
fitted on person-months whose window closed before the calibration cut,
calibrated on those closed before the origin, and scores the customers paying
at the origin; expected churners and MRR lost at 90 days and 12 months are
compared with what happened (NaN while a window is still open). Snapshots are
built once for every origin. The recipe itself was chosen at training time: the
candidate and calibration on the latest evaluation dates, the one look-ahead left
(said in the report), and for boosted trees the rounds the evaluation fit stopped at.
``python -m helpers backtest`` (a pipeline stage) writes the table to
``metrics/backtest.csv`` and ``metrics/backtest.json`` with a key of what it
depends on; the backtest report reads that table when its key matches the
report's own (``backtest_for``) and refits only otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import checks, config, files, registry, threads, warehouse
from helpers.dates import add_months, month_start
from helpers.models.evaluation import horizon_metrics
from helpers.models.hazard import with_boosting_rounds
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
BACKTEST_CSV, BACKTEST_JSON = "backtest.csv", "backtest.json"
_COLUMNS = ["as_of", "trained_through", "customers", *(
    f"{key}_{label}" for label in ("90d", "12m")
    for key in ("expected_churners", "expected_mrr_lost", "realized_churners", "realized_mrr_lost", "roc_auc"))]


def origins(data_end: dt.date, horizon: int, count: int, latest: dt.date | None = None) -> list[dt.date]:
    """The last ``count`` month starts whose ``horizon``-day window closed by the data end (and ``latest``)."""
    checks.int_in_range(count, "count (backtest dates)")
    known = data_end + dt.timedelta(days=1)
    if latest is not None:
        known = min(known, latest)
    newest = month_start(known - dt.timedelta(days=horizon))
    return [add_months(newest, -offset) for offset in range(count - 1, -1, -1)]


def rolling_backtest(con: Any, settings: dict[str, Any], candidate: str, calibration: str, count: int = 12,
                     latest: dt.date | None = None, rounds: int | None = None) -> pd.DataFrame:
    """Out-of-sample predictions against outcomes at the last ``count`` monthly origins.

    Args:
        con: a warehouse connection.
        settings: the ``churn_model`` parameters.
        candidate, calibration: the recipe to refit at each origin (the registered model's).
        count: how many origins.
        latest: no origin's 90-day window may end after this day (a report's as-of date).
        rounds: boosting rounds of the registered trees, refitted with as many at each origin
            (None: each refit stops on its own held-out customers, at twice the cost).

    Returns:
        One row per origin: ``as_of``, ``trained_through``, ``customers`` and, for ``90d`` and
        ``12m``: ``expected_churners_*``, ``realized_churners_*``, ``expected_mrr_lost_*``,
        ``realized_mrr_lost_*``, ``roc_auc_*`` (realized NaN while the window is open).

    Raises:
        ValueError: an origin leaves too little history before it to train.
    """
    settings = with_boosting_rounds(settings, rounds)
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

    def refit_and_score(origin: dt.date) -> dict[str, Any]:
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
        return row

    # The origins' refits are independent: side by side (threads.map_in_threads shares the cores).
    rows = threads.map_in_threads(refit_and_score, dates)
    return _typed(pd.DataFrame(rows, columns=_COLUMNS))


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """Dates as dates, ``customers`` as int, every figure as float (NaN while a window is open)."""
    for column in ("as_of", "trained_through"):
        table[column] = pd.to_datetime(table[column]).dt.date
    return table.astype({"customers": int, **{c: float for c in _COLUMNS[3:]}})


def backtest_key(metadata: dict[str, Any], churn_meta: dict[str, Any], settings: dict[str, Any], count: int,
                 latest: dt.date | None) -> dict[str, Any]:
    """What a backtest's table depends on: the warehouse content, the registered model, the settings and dates.

    A stored table is reused only when every entry is equal (``backtest_for``).
    """
    return {
        "warehouse_content_hash": metadata["content_hash"],
        "model_version": churn_meta.get("version"),
        "model_sha256": churn_meta.get("sha256"),
        "candidate": churn_meta["candidate"],
        "calibration": churn_meta["calibration"],
        "dates": int(count),
        "latest": latest.isoformat() if latest is not None else None,
        "settings": json.loads(json.dumps(settings, sort_keys=True, default=str)),
    }


def _registered_recipe(models_dir: str | os.PathLike | None) -> dict[str, Any]:
    metadata = registry.get_model_metadata("churn_model", Path(models_dir) if models_dir else None)
    if "candidate" not in metadata:
        raise ValueError("the registered churn_model records no candidate (trained before the time-to-churn "
                         "model); retrain it with `python -m helpers train`")
    return metadata


def write_backtest(params: dict[str, Any], count: int = 12, warehouse_path: str | os.PathLike | None = None,
                   models_dir: str | os.PathLike | None = None, metrics_dir: str | os.PathLike | None = None,
                   latest: dt.date | None = None) -> tuple[pd.DataFrame, tuple[Path, Path], bool]:
    """Run the rolling backtest with the registered recipe; write ``backtest.csv`` and ``backtest.json``.

    The JSON records the table with its ``backtest_key``, so that a report asking for the same
    backtest reads it instead of refitting (``backtest_for``). When the files already hold the
    table of the same key, nothing is refitted or written.

    Args:
        latest: as in ``rolling_backtest`` (the reports' as-of date; None: the data end).

    Returns:
        The table, the two paths, and whether they were already up to date.
    """
    churn_meta = _registered_recipe(models_dir)
    settings = params["churn_model"]
    folder = config.metrics_dir(metrics_dir)
    csv_path, json_path = folder / BACKTEST_CSV, folder / BACKTEST_JSON
    with warehouse.get_connection(path=warehouse_path) as con:
        key = backtest_key(warehouse.read_metadata(con), churn_meta, settings, count, latest)
        table, stored = backtest_for(con, settings, churn_meta, count, latest, folder)
    if stored and csv_path.is_file():  # the same key gives the same table: nothing refitted or written
        return table, (csv_path, json_path), True
    folder.mkdir(parents=True, exist_ok=True)
    files.write_atomically(csv_path, table.to_csv(index=False))
    record = {"candidate": key["candidate"], "calibration": key["calibration"], "model_version": key["model_version"],
              "key": key, "rows": json.loads(table.to_json(orient="records", date_format="iso"))}
    files.write_atomically(json_path, json.dumps(record, indent=2) + "\n")
    return table, (csv_path, json_path), False


def record_no_backtest(reason: str, metrics_dir: str | os.PathLike | None = None) -> Path:
    """When no backtest can run: ``backtest.json`` says why (no key, so no report reads it); an empty CSV."""
    folder = config.metrics_dir(metrics_dir)
    folder.mkdir(parents=True, exist_ok=True)
    files.write_atomically(folder / BACKTEST_CSV, ",".join(_COLUMNS) + "\n")
    path = folder / BACKTEST_JSON
    files.write_atomically(path, json.dumps({"backtest": False, "reason": reason}, indent=2) + "\n")
    return path


def stored_backtest(path: Path, key: dict[str, Any]) -> pd.DataFrame | None:
    """The table of a written ``backtest.json`` if its key equals ``key``; None when absent or different."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("key") != key:
        return None
    return _typed(pd.DataFrame.from_records(record["rows"], columns=_COLUMNS))


def backtest_for(con: Any, settings: dict[str, Any], churn_meta: dict[str, Any], count: int, latest: dt.date | None,
                 metrics_dir: Path) -> tuple[pd.DataFrame, bool]:
    """The backtest a report asks for: the pipeline's stored table when it matches, else computed now.

    Args:
        churn_meta: the registered churn_model's metadata (its recipe and fingerprint).
        metrics_dir: where ``python -m helpers backtest`` wrote ``backtest.json``.

    Returns:
        The table (as ``rolling_backtest``) and whether it was read from the stored file.
    """
    key = backtest_key(warehouse.read_metadata(con), churn_meta, settings, count, latest)
    stored = stored_backtest(Path(metrics_dir) / BACKTEST_JSON, key)
    if stored is not None:
        return stored, True
    return rolling_backtest(con, settings, churn_meta["candidate"], churn_meta["calibration"], count, latest,
                            churn_meta.get("boosting_rounds")), False
