"""Notebook parameters turned into paths, dates and training settings; empty means the suite's default.

Paths come from ``helpers.config`` when a parameter is empty, so a notebook
runs the same from JupyterLab, papermill or nbval, whatever the working
directory.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from helpers import checks, config
from helpers.dates import DateLike, add_months, month_start, to_date


def resolve_warehouse_path(value: str | os.PathLike | None = "") -> Path:
    """The warehouse file a notebook reads: the parameter, else ``$WAREHOUSE_PATH`` or ``data/warehouse.duckdb``.

    Args:
        value: the notebook's ``warehouse_path`` parameter (empty or None for the default).

    Returns:
        An absolute path (relative values are taken from the working directory).
    """
    if value is None or not str(value).strip():
        return config.warehouse_path()
    return Path(str(value).strip()).expanduser().resolve()


def resolve_models_dir(value: str | os.PathLike | None = "") -> Path:
    """The models folder: the parameter, else ``$MODELS_DIR`` or ``models/``."""
    if value is None or not str(value).strip():
        return config.models_dir()
    return Path(str(value).strip()).expanduser().resolve()


def resolve_metrics_dir(value: str | os.PathLike | None = "") -> Path:
    """The metrics folder ``dvc metrics show`` reads: the parameter, else ``$METRICS_DIR`` or ``metrics/``."""
    return config.metrics_dir(str(value).strip() if value is not None else None)


def last_complete_month(as_of: DateLike) -> dt.date:
    """First day of the last month that ends before ``as_of``: where a report's monthly analysis stops.

    As of 2026-01-01 that is December 2025; as of 2025-12-15 it is November 2025.
    """
    return add_months(month_start(to_date(as_of, "as_of")), -1)


def last_snapshot(as_of: DateLike) -> dt.date:
    """The last monthly snapshot a report as of ``as_of`` shows: the state at the end of the last complete month.

    Monthly figures are snapshots on the first day of a month (``docs/metrics.md``), so the state at
    the end of the last complete month is the snapshot on the first day after it: as of 2025-07-01
    that is 2025-07-01 (the end of June, whose churn it shows); as of 2025-12-15 it is 2025-12-01.
    """
    return month_start(to_date(as_of, "as_of"))


def month_window(as_of: DateLike, months: int) -> tuple[dt.date, dt.date]:
    """The last ``months`` monthly snapshots of a report as of ``as_of``, as (first, last); last = ``last_snapshot``."""
    checks.int_in_range(months, "months")
    last = last_snapshot(as_of)
    return add_months(last, -(months - 1)), last


def load_training_params(
    params_path: str | os.PathLike | None = "", overrides: str | Mapping[str, Any] | None = "", horizon_days: int = 0
) -> dict[str, Any]:
    """``params.yaml`` with a notebook's overrides merged in.

    Args:
        params_path: the parameters file (empty: ``params.yaml`` at the project root).
        overrides: nested values to replace, as a mapping or YAML/JSON text, e.g.
            ``"{churn_model: {params: {max_iter: 60}}}"``; keys must exist in the file.
        horizon_days: when > 0, replaces ``churn_model.horizon_days``.

    Returns:
        The merged parameters (the file's content is not changed).

    Raises:
        ValueError: the overrides are not a mapping, or name a key the file does not have.
    """

    params = config.load_params(params_path or None)
    if isinstance(overrides, str):
        overrides = yaml.safe_load(overrides) if overrides.strip() else {}
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise ValueError(f"overrides must be a mapping such as {{churn_model: {{params: {{max_iter: 60}}}}}}, got {overrides!r}")
    merged = _merge(params, overrides, "")
    if horizon_days:
        checks.int_in_range(horizon_days, "horizon_days (0 keeps params.yaml's)")
        merged["churn_model"]["horizon_days"] = horizon_days
    return merged


def _merge(base: dict[str, Any], overrides: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        where = f"{prefix}{key}"
        if key not in merged:
            known = ", ".join(f"{prefix}{name}" for name in merged)
            raise ValueError(f"unknown parameter {where!r} in the overrides; known here: {known}")
        if isinstance(value, Mapping) and isinstance(merged[key], dict):
            merged[key] = _merge(merged[key], value, f"{where}.")
        else:
            merged[key] = value
    return merged
