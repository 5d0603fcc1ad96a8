"""Paths are anchored on the package and overridable by environment variables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import config

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_anchored_on_the_project(monkeypatch):
    for variable in config.PATH_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    assert config.warehouse_path() == ROOT / "data" / "warehouse.duckdb"
    assert config.models_dir() == ROOT / "models"
    assert config.reports_dir() == ROOT / "reports"
    assert config.metrics_dir() == config.metrics_dir("") == ROOT / "metrics"
    assert (config.SQL_DIR / "schema.sql").is_file()


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "m"))
    monkeypatch.setenv("REPORTS_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("METRICS_DIR", str(tmp_path / "x"))
    assert config.warehouse_path() == tmp_path / "w.duckdb"
    assert config.models_dir() == tmp_path / "m"
    assert config.reports_dir() == tmp_path / "r"
    assert config.metrics_dir() == tmp_path / "x"
    monkeypatch.chdir(tmp_path)
    assert config.metrics_dir("given") == tmp_path / "given", "an argument wins, resolved now"


def test_paths_do_not_depend_on_the_working_directory(tmp_path):
    env = {key: value for key, value in __import__("os").environ.items()
           if key not in ("WAREHOUSE_PATH", "MODELS_DIR", "REPORTS_DIR")}
    result = subprocess.run(
        [sys.executable, "-c", "from helpers import config; print(config.warehouse_path())"],
        cwd=tmp_path, capture_output=True, text=True, env=env, check=True,
    )
    assert Path(result.stdout.strip()) == ROOT / "data" / "warehouse.duckdb"


def test_parquet_dir_is_absolute_for_local_folders_and_kept_for_urls(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WAREHOUSE_PARQUET_DIR", raising=False)
    assert config.parquet_dir() is None
    assert config.parquet_dir("") is None
    assert config.parquet_dir("export") == str(tmp_path / "export")
    assert config.parquet_dir("s3a://bucket/suite") == "s3a://bucket/suite"
    monkeypatch.setenv("WAREHOUSE_PARQUET_DIR", "data/parquet")
    assert config.parquet_dir() == str(tmp_path / "data" / "parquet")  # resolved now, not in the kernel's folder
    assert config.parquet_dir("other") == str(tmp_path / "other")     # the argument wins
