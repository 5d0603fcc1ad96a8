"""Paths of the suite, anchored on the package location, and the pipeline parameters (params.yaml).

Notebooks, papermill and nbval start kernels in different working
directories; anchoring every path on this file makes that irrelevant.
Environment variables override the defaults (read at call time, so tests and
schedulers can point one process at another warehouse).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
SQL_DIR = PACKAGE_DIR / "sql"
DATA_DIR = PROJECT_ROOT / "data"
RAW_DATA_DIR = DATA_DIR / "raw"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
PARAMS_FILE = PROJECT_ROOT / "params.yaml"
# The variables that move the warehouse, models, reports and metrics away from the pipeline's declared paths.
PATH_VARIABLES = ("WAREHOUSE_PATH", "MODELS_DIR", "REPORTS_DIR", "METRICS_DIR")


def _from_env(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser().resolve() if value else default


def warehouse_path() -> Path:
    """The warehouse file: ``$WAREHOUSE_PATH`` or ``data/warehouse.duckdb``."""
    return _from_env("WAREHOUSE_PATH", DATA_DIR / "warehouse.duckdb")


def models_dir() -> Path:
    """Folder of model pickles and metadata: ``$MODELS_DIR`` or ``models/``."""
    return _from_env("MODELS_DIR", PROJECT_ROOT / "models")


def metrics_dir(value: str | os.PathLike | None = None) -> Path:
    """Folder of the metrics files and the backtest table: ``value``, else ``$METRICS_DIR`` or ``metrics/``."""
    if value is not None and str(value).strip():
        return Path(value).expanduser().resolve()
    return _from_env("METRICS_DIR", PROJECT_ROOT / "metrics")


def reports_dir() -> Path:
    """Folder of generated reports: ``$REPORTS_DIR`` or ``reports/``."""
    return _from_env("REPORTS_DIR", PROJECT_ROOT / "reports")


def build_memory_limit() -> str:
    """DuckDB memory cap of a warehouse build: ``$WAREHOUSE_BUILD_MEMORY`` or 2GB.

    The primary-key index of usage_events must fit in it (about 1.3 GB for 20M
    events); raise it for larger data, e.g. ``WAREHOUSE_BUILD_MEMORY=8GB``.
    """
    return os.environ.get("WAREHOUSE_BUILD_MEMORY", "2GB")


def parquet_dir(value: str | os.PathLike | None = None) -> str | None:
    """The Parquet export the Spark engine reads: ``value``, else ``$WAREHOUSE_PARQUET_DIR``.

    Local paths are made absolute here, once, because report notebooks run in
    another working directory; storage URLs (``s3a://...``) are kept as given.

    Returns:
        The location, or None when neither is set.
    """
    text = str(value).strip() if value else os.environ.get("WAREHOUSE_PARQUET_DIR", "").strip()
    if not text:
        return None
    return text if "://" in text else str(Path(text).expanduser().resolve())


def load_params(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The pipeline parameters (``params.yaml`` at the project root by default)."""
    target = Path(path) if path else PARAMS_FILE
    with open(target, encoding="utf-8") as handle:
        return yaml.safe_load(handle)
