"""Reports that need no model publish without one; churn and backtest say exactly what to run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sample_data import build_frames, valid_frames

from helpers import registry, reports, warehouse
from helpers.reports import ReportError, run_reports

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
# The fixture notebook under the names of reports that read models, and of one that does not.
CATALOG = {"overview": "hello_report.ipynb", "churn": "hello_report.ipynb", "backtest": "hello_report.ipynb"}


@pytest.fixture
def setup(tmp_path):
    path = tmp_path / "w.duckdb"
    build_frames(path, valid_frames())
    return {"warehouse_path": path, "reports_dir": tmp_path / "reports", "models_dir": tmp_path / "models"}


def test_without_models_the_other_reports_publish_and_the_skipped_ones_say_what_to_run(setup):
    folder = run_reports(as_of="auto", notebooks_dir=FIXTURES, catalog=CATALOG, **setup)
    manifest = json.loads((folder / "run.json").read_text())
    assert list(manifest["reports"]) == ["overview"]
    assert set(manifest["skipped"]) == {"churn", "backtest"}
    assert "there is no churn_model" in manifest["skipped"]["churn"]
    assert "python -m helpers train" in manifest["skipped"]["churn"] and "make reports" in manifest["skipped"]["churn"]
    assert reports.skipped_reports(folder) == manifest["skipped"]


def test_asking_only_for_reports_that_need_models_is_refused_with_what_to_run(setup):
    with pytest.raises(ReportError, match=r"report\(s\) churn need models.*python -m helpers train"):
        run_reports(as_of="auto", reports=["churn"], notebooks_dir=FIXTURES, catalog=CATALOG, **setup)
    assert not setup["reports_dir"].exists()


def test_models_trained_on_other_data_are_not_used(trained_small_models, tmp_path):
    models = trained_small_models["models_dir"]
    with warehouse.get_connection(path=trained_small_models["warehouse"], read_only=True) as con:
        own = warehouse.read_metadata(con)["content_hash"]
    assert registry.models_missing(models, own) is None
    assert "was trained on other data" in registry.models_missing(models, "0" * 64)
