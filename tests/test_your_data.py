"""Your data, end to end: exports named in params.yaml, `make reports`, reports checked against a plain loop.

A copy of the project (code, notebooks, dvc.yaml, params.yaml, Makefile) in a
temporary folder, so the repository's data/, models/ and reports/ are never
touched. The small company (tests/simulators/small.py) has monthly and annual
plans, trials, mid-month starts, an upgrade, a downgrade, a win-back and an
annual cancellation ending after the data end, spelled as real exports spell
them. It is too small to train a model, so the churn and backtest reports are
skipped with what to run, and the others publish. Slow (a minute or two): the
full pipeline runs once per module and the tests read what it left.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from simulators import monthly_summary, small_company

from helpers import config, warehouse

VENV = Path(sys.executable).parent.parent
PROJECT_FILES = ("helpers", "notebooks", "dvc.yaml", "params.yaml", "Makefile", "pyproject.toml", "requirements",
                 "metrics")
REPORT_DAY = "2025-07-01"  # the day after the data end, 2025-06-30

pytestmark = pytest.mark.slow


def _copy_project(target: Path) -> Path:
    target.mkdir()
    for name in PROJECT_FILES:
        source = config.PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target / name)  # keeps mtimes: make sees the environment as up to date
    (target / "data").mkdir()
    subprocess.run([str(VENV / "bin" / "dvc"), "init", "--no-scm", "-q"], cwd=target, check=True, timeout=120)
    return target


def _set_data(params: Path, **data) -> None:
    content = yaml.safe_load(params.read_text())
    content["data"].update(data)
    params.write_text(yaml.safe_dump(content, sort_keys=False))


def _make(project: Path, *arguments: str, **variables: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name not in config.PATH_VARIABLES}
    env |= {"PYTHONPATH": str(project), **variables}  # the copy's code, in make, DVC and the kernels
    # -o: never reinstall into the running environment (an editable install from the copy would
    # point every later import of helpers, in every test worker, at this temporary folder).
    keep = [option for stamp in (".installed", ".installed-dev") for option in ("-o", str(VENV / stamp))]
    result = subprocess.run(["make", *keep, *arguments, f"VENV={VENV}"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _metadata(path: Path) -> dict:
    with warehouse.get_connection(path=path, read_only=True) as con:
        return warehouse.read_metadata(con)


def _cohort_snapshots(reports: Path) -> pd.DataFrame:
    """The cohort report's monthly snapshots, as its executed notebook printed them."""
    executed = nbformat.read(reports / REPORT_DAY / "cohort_report.ipynb", as_version=4)
    text = next(output["text"] for cell in executed.cells if cell.cell_type == "code"
                for output in cell.get("outputs", []) if "ending_mrr  active_customers" in output.get("text", ""))
    lines = text[text.index("     month ending_mrr"):].splitlines()
    rows = [line.split() for line in lines[1:] if line.strip()]
    return pd.DataFrame([{"month": dt.date.fromisoformat(month), "mrr": Decimal(mrr), "active_customers": int(active),
                          "churned_customers": int(churned)} for month, mrr, active, churned in rows])


def _expected(subscriptions: pd.DataFrame, months: list[dt.date]) -> pd.DataFrame:
    expected = monthly_summary(subscriptions, months)
    expected["mrr"] = [Decimal(str(value)).quantize(Decimal("0.01")) for value in expected["mrr"]]
    return expected[["month", "mrr", "active_customers", "churned_customers"]]


@pytest.fixture(scope="module")
def files_project(tmp_path_factory) -> dict:
    """`make reports` (dvc repro) on the small company's export files, once for the module."""
    project = _copy_project(tmp_path_factory.mktemp("your-data") / "project")
    company = small_company(vocabulary="export")
    company.write(project / "exports")
    _set_data(project / "params.yaml", source="files", vocabulary="exports/vocabulary.yaml",
              files={"customers": "exports/customers.csv", "subscriptions": "exports/subscriptions.csv",
                     "events": "exports/usage_events.csv", "tickets": "exports/support_tickets.csv"})
    result = _make(project, "reports")
    return {"project": project, "company": company, "output": result.stdout + result.stderr}


def test_make_reports_on_your_files_matches_an_independent_computation(files_project):
    project, company = files_project["project"], files_project["company"]
    metadata = _metadata(project / "data" / "warehouse.duckdb")
    assert metadata["source"] == "ingested"
    # The auto data end is the latest activity, not C03's scheduled end on 2025-12-01.
    assert metadata["data_end"] == dt.date(2025, 6, 30)
    assert metadata["inputs"]["data_end"]["end_dates_after"] == 1
    assert "Data end used: 2025-06-30" in files_project["output"]
    run = json.loads((project / "reports" / REPORT_DAY / "run.json").read_text())
    # Every report that needs no model publishes, the LTV and forecast report (06) included.
    assert set(run["reports"]) == {"overview", "cohort", "ltv"}
    assert set(run["skipped"]) == {"churn", "backtest"}
    assert "python -m helpers train" in run["skipped"]["churn"]
    assert (project / "reports" / REPORT_DAY / "cohort_report.html").stat().st_size > 0
    snapshots = _cohort_snapshots(project / "reports")
    # The last snapshot is the state on the report day: the end of June, June's churn included.
    assert snapshots["month"].iloc[-1] == dt.date(2025, 7, 1)
    expected = _expected(company.subscriptions, list(snapshots["month"]))
    pd.testing.assert_frame_equal(snapshots, expected, check_dtype=False)


def test_your_files_and_the_generator_take_turns_without_losing_anything(files_project):
    project = files_project["project"]
    path = project / "data" / "warehouse.duckdb"
    from_files = _metadata(path)["content_hash"]
    exports = {file.name: file.read_bytes() for file in (project / "exports").iterdir()}
    _set_data(project / "params.yaml", source="synthetic", customers=60, events_per_customer=5)
    _make(project, "warehouse")
    synthetic = _metadata(path)
    assert synthetic["source"] == "synthetic"
    _set_data(project / "params.yaml", source="files")
    _make(project, "warehouse")
    assert _metadata(path)["content_hash"] == from_files  # your data back, the same content: reproducible
    assert {file.name: file.read_bytes() for file in (project / "exports").iterdir()} == exports
    assert (project / "reports" / REPORT_DAY / "cohort_report.html").is_file()  # earlier reports kept


def test_billing_export_only_into_the_paths_the_variables_name(files_project, tmp_path):
    """Customers and subscriptions only; WAREHOUSE_PATH, MODELS_DIR and REPORTS_DIR set: make runs without DVC.

    `make warehouse` and the cohort report only: `make reports` ran in full in the fixture.
    """
    project = files_project["project"]
    company = small_company(vocabulary="export", events=False, tickets=False)
    company.write(project / "billing")
    params = project / "params_billing.yaml"
    shutil.copy2(project / "params.yaml", params)
    # Without usage or tickets the latest activity is the last start (20 June): the export's day is given.
    _set_data(params, source="files", vocabulary="billing/vocabulary.yaml", data_end="2025-06-30",
              files={"customers": "billing/customers.csv", "subscriptions": "billing/subscriptions.csv"})
    untouched = {path: path.read_bytes() for path in (project / "data").glob("*.duckdb")}
    elsewhere = {"WAREHOUSE_PATH": str(tmp_path / "w.duckdb"), "MODELS_DIR": str(tmp_path / "models"),
                 "REPORTS_DIR": str(tmp_path / "reports")}
    _make(project, "warehouse", "PARAMS=params_billing.yaml", **elsewhere)
    env = {name: value for name, value in os.environ.items() if name not in config.PATH_VARIABLES}
    report = subprocess.run([sys.executable, "-m", "helpers", "report", "--reports", "cohort"], cwd=project,
                            env=env | elsewhere | {"PYTHONPATH": str(project)}, capture_output=True, text=True,
                            timeout=600)
    assert report.returncode == 0, report.stderr
    metadata = _metadata(tmp_path / "w.duckdb")
    assert metadata["row_counts"]["usage_events"] == 0 and metadata["inputs"]["data_end"]["chosen"] == "given"
    snapshots = _cohort_snapshots(tmp_path / "reports")
    expected = _expected(company.subscriptions, list(snapshots["month"]))
    pd.testing.assert_frame_equal(snapshots, expected, check_dtype=False)
    assert {path: path.read_bytes() for path in (project / "data").glob("*.duckdb")} == untouched


def test_a_stage_under_dvc_refuses_path_variables_it_would_ignore(files_project, tmp_path):
    """dvc repro sets DVC_STAGE for every stage command (dvc/stage/run.py); the command refuses then."""
    project = files_project["project"]
    env = {name: value for name, value in os.environ.items() if name not in config.PATH_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-m", "helpers", "inputs", "--params", "params.yaml", "--out", str(tmp_path / "i.json")],
        cwd=project, capture_output=True, text=True, timeout=300,
        env=env | {"PYTHONPATH": str(project), "MODELS_DIR": str(tmp_path / "m"), "DVC_STAGE": "inputs"},
    )
    assert result.returncode == 2
    assert "$MODELS_DIR is set" in result.stderr and "make reports" in result.stderr
    assert not (tmp_path / "i.json").exists()
