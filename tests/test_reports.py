"""Report runs with papermill: parameter checks, publishing, failures, the index."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import duckdb
import nbformat
import pytest

from helpers import reports
from helpers.reports import ReportError, _side_by_side, recorded_seconds, run_reports, start_order
from sample_data import build_frames, valid_frames

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
CATALOG = {"hello": "hello_report.ipynb", "broken": "broken.ipynb", "bare": "no_parameters.ipynb"}


@pytest.fixture
def setup(tmp_path):
    warehouse_path = tmp_path / "w.duckdb"
    build_frames(warehouse_path, valid_frames())
    return {"warehouse_path": warehouse_path, "reports_dir": tmp_path / "reports", "models_dir": tmp_path / "models"}


def run(setup, **arguments):
    return run_reports(notebooks_dir=FIXTURES, catalog=CATALOG, **setup, **arguments)


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_run_publishes_notebook_html_manifest_and_index(setup):
    folder = run(setup, as_of="2024-07-01", reports=["hello"], parameters={"greeting": "hi", "repeat": "2"})
    assert folder == setup["reports_dir"] / "2024-07-01"
    assert sorted(p.name for p in folder.iterdir()) == ["hello_report.html", "hello_report.ipynb", "run.json"]
    page = (folder / "hello_report.html").read_text()
    assert "hi hi as of 2024-07-01 - 2 customers" in page
    assert "data:image/png;base64" in page, "plots are inline"
    assert "get_connection" not in page, "code cells are hidden"
    assert "KEY FIGURES" not in page, "cells kept for nbval are left out of the page"
    assert "KEY FIGURES" in (folder / "hello_report.ipynb").read_text(), "but stay in the executed notebook"
    manifest = json.loads((folder / "run.json").read_text())
    entry = manifest["reports"]["hello"]
    assert entry["file"] == "hello_report.html"
    assert entry["parameters"]["repeat"] == 2, "text values are cast to the declared type"
    assert entry["model_versions"] == {}, "the hello report declares no models_dir: it read no model"
    with duckdb.connect(str(setup["warehouse_path"]), read_only=True) as con:
        recorded = con.execute("select content_hash from meta.build_info").fetchone()[0]
    assert entry["warehouse_content_hash"] == recorded
    assert 0 < entry["seconds"] < 600
    assert recorded_seconds(setup["reports_dir"]) == {"hello": entry["seconds"]}
    index = (setup["reports_dir"] / "index.html").read_text()
    assert "2024-07-01/hello_report.html" in index


def meeting_notebook() -> nbformat.NotebookNode:
    """A report that leaves a mark in ``meeting_dir`` and finishes only once another report left one too."""
    return nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                             "language": "python"}}, cells=[
        nbformat.v4.new_code_cell('as_of: str = "auto"  # YYYY-MM-DD or auto\nmeeting_dir: str = ""  # the marks',
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import os, time, uuid\nfrom pathlib import Path\nfolder = Path(meeting_dir)\nprint('in', os.getcwd())\n"
            "(folder / uuid.uuid4().hex).touch()\ndeadline = time.monotonic() + 120\n"
            "while len(list(folder.iterdir())) < 2:\n    if time.monotonic() > deadline:\n"
            "        raise RuntimeError('no other report ran beside this one')\n    time.sleep(0.1)\nprint('met')"),
    ])


def test_two_reports_run_side_by_side(setup, tmp_path, monkeypatch):
    """Each waits for the other's mark: run one after the other, the first would wait in vain and fail."""
    from helpers import threads

    monkeypatch.setenv(threads.THREADS_VARIABLE, "2")  # two cores' worth, whatever this machine has

    notebooks, meeting = tmp_path / "notebooks", tmp_path / "meeting"
    notebooks.mkdir()
    meeting.mkdir()
    for name in ("first_report.ipynb", "second_report.ipynb"):
        nbformat.write(meeting_notebook(), notebooks / name)
    here, moves = Path.cwd(), []
    chdir = os.chdir
    # Threads share the process's working directory: the runner must never move it.
    monkeypatch.setattr(os, "chdir", lambda path: (moves.append(Path(path)), chdir(path)))
    folder = run_reports(as_of="2024-07-01", parameters={"meeting_dir": str(meeting)}, notebooks_dir=notebooks,
                         catalog={"first": "first_report.ipynb", "second": "second_report.ipynb"}, **setup)
    assert len(list(meeting.iterdir())) == 2
    assert list(json.loads((folder / "run.json").read_text())["reports"]) == ["first", "second"]
    # Each kernel ran in the notebooks' folder; this process stayed where it was.
    for name in ("first_report", "second_report"):
        assert f"in {notebooks}" in (folder / f"{name}.ipynb").read_text()
    assert Path.cwd() == here and set(moves) <= {here}


def test_reports_start_longest_first_by_their_recorded_seconds():
    names = ["overview", "cohort", "new", "ltv", "backtest"]
    recorded = {"overview": 14.3, "cohort": 17.3, "ltv": 33.0, "backtest": 7.8}
    # Without a record a report may be long: it starts first; then the longest.
    assert [names[i] for i in start_order(names, recorded, workers=2)] == ["new", "ltv", "cohort", "overview", "backtest"]
    # One at a time nothing is gained: the catalog's order.
    assert start_order(names, recorded, workers=1) == [0, 1, 2, 3, 4]
    assert start_order(names, {}, workers=2) == [0, 1, 2, 3, 4]


def test_a_failure_stops_the_reports_not_started_and_entries_keep_catalog_order(monkeypatch):
    from helpers import threads

    monkeypatch.setenv(threads.THREADS_VARIABLE, "2")
    plans = [(types.SimpleNamespace(name=name), {}) for name in "abcde"]
    started = []

    def run_one(spec, values):
        started.append(spec.name)
        if spec.name == "d":
            raise ValueError("report d failed")
        time.sleep(0.5)
        return {"file": f"{spec.name}.html"}

    recorded = {"d": 100.0, "c": 50.0, "a": 3.0, "b": 2.0, "e": 1.0}
    with pytest.raises(ValueError, match="report d failed"):
        _side_by_side(run_one, plans, at_once=2, seconds=recorded)
    # d and c started together; at most the one report a freed worker took before the cancel ran.
    assert started[:2] in (["d", "c"], ["c", "d"]) and len(started) <= 3, started
    started.clear()
    entries = _side_by_side(lambda spec, values: {"file": spec.name}, plans, at_once=2, seconds=recorded)
    assert list(entries) == list("abcde")


def test_recorded_seconds_are_each_reports_latest(tmp_path):
    def manifest(as_of, reports):
        (tmp_path / as_of).mkdir()
        (tmp_path / as_of / "run.json").write_text(json.dumps({"as_of": as_of, "reports": reports}))

    manifest("2024-06-01", {"a": {"file": "a.html", "generated_at": "2024-07-02T10:00:00+00:00", "seconds": 5.0},
                            "b": {"file": "b.html", "generated_at": "2024-07-02T10:00:00+00:00", "seconds": 9.0}})
    # A later date run earlier, a report without seconds (an older run.json) and a string entry (the oldest form).
    manifest("2024-07-01", {"a": {"file": "a.html", "generated_at": "2024-07-01T10:00:00+00:00", "seconds": 7.0},
                            "b": {"file": "b.html", "generated_at": "2024-07-03T10:00:00+00:00"},
                            "c": "c.html"})
    assert recorded_seconds(tmp_path) == {"a": 5.0, "b": 9.0}
    assert recorded_seconds(tmp_path / "absent") == {}


def test_auto_as_of_is_the_day_after_the_last_complete_month(setup):
    # The sample warehouse's data ends 2024-12-31.
    assert run(setup, reports=["hello"]).name == "2025-01-01"


def test_unknown_parameter_is_refused_before_anything_runs(setup):
    with pytest.raises(ReportError, match=r"unknown parameter\(s\) greting.*greeting"):
        run(setup, as_of="2024-07-01", reports=["hello"], parameters={"greting": "hi"})
    assert not setup["reports_dir"].exists() or not any(setup["reports_dir"].iterdir())


def test_a_badly_typed_parameter_is_refused(setup):
    with pytest.raises(ReportError, match="repeat expects int"):
        run(setup, as_of="2024-07-01", reports=["hello"], parameters={"repeat": "twice"})


def test_unknown_report_and_missing_parameters_cell_are_refused(setup):
    with pytest.raises(ReportError, match="unknown report"):
        run(setup, reports=["nope"])
    with pytest.raises(ReportError, match="no cell tagged 'parameters'"):
        run(setup, reports=["bare"])


def test_a_failed_run_keeps_the_failed_notebook_and_changes_no_published_report(setup):
    run(setup, as_of="2024-07-01", reports=["hello"])
    before = tree_digest(setup["reports_dir"])
    with pytest.raises(ReportError, match="report broken .* failed") as raised:
        run(setup, as_of="2024-07-01", reports=["hello", "broken"])
    assert "deliberately broken report" in str(raised.value)
    after = tree_digest(setup["reports_dir"])
    kept = "2024-07-01/failed/broken.ipynb"
    assert kept in after
    assert {path: digest for path, digest in after.items() if path != kept} == before
    assert "RuntimeError" in (setup["reports_dir"] / kept).read_text()
    assert not list(setup["reports_dir"].glob(".*building*")), "no staging folder is left behind"


def test_rerunning_a_date_replaces_its_reports(setup):
    run(setup, as_of="2024-07-01", reports=["hello"], parameters={"greeting": "first"})
    run(setup, as_of="2024-07-01", reports=["hello"], parameters={"greeting": "second"})
    page = (setup["reports_dir"] / "2024-07-01" / "hello_report.html").read_text()
    assert "second as of" in page and "first as of" not in page
    run(setup, as_of="2024-08-01", reports=["hello"])
    runs = reports.list_runs(setup["reports_dir"])
    assert [r["as_of"] for r in runs] == ["2024-08-01", "2024-07-01"]


def test_a_run_for_one_report_replaces_only_that_report(setup, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for stem in ("first_report", "second_report"):
        (notebooks / f"{stem}.ipynb").write_bytes((FIXTURES / "hello_report.ipynb").read_bytes())
    catalog = {"first": "first_report.ipynb", "second": "second_report.ipynb"}
    arguments = {**setup, "notebooks_dir": notebooks, "catalog": catalog, "as_of": "2024-07-01"}
    folder = run_reports(reports=["first", "second"], parameters={"greeting": "old"}, **arguments)
    second_before = (folder / "second_report.html").read_bytes()
    run_reports(reports=["first"], parameters={"greeting": "new"}, **arguments)
    assert "new as of" in (folder / "first_report.html").read_text()
    assert (folder / "second_report.html").read_bytes() == second_before, "the other report is kept as it was"
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["reports"]["first"]["parameters"]["greeting"] == "new"
    assert manifest["reports"]["second"]["parameters"]["greeting"] == "old"
    index = (setup["reports_dir"] / "index.html").read_text()
    assert "2024-07-01/first_report.html" in index and "2024-07-01/second_report.html" in index


@pytest.mark.parametrize("name, flag", [("warehouse_path", "--warehouse"), ("models_dir", "--models-dir")])
def test_parameters_that_choose_the_data_are_refused(setup, name, flag):
    with pytest.raises(ReportError, match=f"use {flag} instead of -p {name}"):
        run(setup, as_of="2024-07-01", reports=["hello"], parameters={name: "/elsewhere"})


def test_cli_report_exits_non_zero_on_a_bad_parameter(setup):
    result = subprocess.run(
        [sys.executable, "-m", "helpers", "report", "--warehouse", str(setup["warehouse_path"]),
         "--reports-dir", str(setup["reports_dir"]), "--reports", "cohort", "-p", "no_such_parameter", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "unknown parameter(s) no_such_parameter" in result.stderr


def test_every_report_notebook_declares_the_runner_parameters():
    for name, notebook in reports.REPORT_NOTEBOOKS.items():
        declared = reports.notebook_parameters(reports.config.NOTEBOOKS_DIR / notebook)
        assert {"as_of", "warehouse_path"} <= set(declared), name


def test_relative_paths_reach_the_notebooks_as_absolute_ones(setup, monkeypatch):
    # Notebooks run in their own folder: a path relative to the caller must not be read from there.
    monkeypatch.chdir(setup["warehouse_path"].parent)
    folder = run_reports(
        as_of="2024-07-01", reports=["hello"], notebooks_dir=FIXTURES, catalog=CATALOG,
        warehouse_path=Path(setup["warehouse_path"].name), reports_dir=Path("reports"), models_dir=Path("models"),
    )
    assert "2 customers" in (folder / "hello_report.html").read_text()
    entry = json.loads((folder / "run.json").read_text())["reports"]["hello"]
    assert entry["parameters"]["warehouse_path"] == str(setup["warehouse_path"])


def test_a_spark_run_of_reports_that_read_only_duckdb_is_refused_before_spark_starts(setup):
    # Notebooks 01 and 05 declare no engine: with them, Spark would read the export and they the DuckDB file.
    with pytest.raises(ReportError, match="overview.*backtest.*--reports \\(cohort, churn, ltv\\)"):
        run_reports(parameters={"engine": "spark"}, **setup)
    assert not setup["reports_dir"].exists()


def flaky_kernel(folder: Path, deaths: int) -> Path:
    """A 'python3' kernelspec whose first ``deaths`` starts exit at once (as a kernel losing a port race does).

    Returns the folder to put on JUPYTER_PATH; later starts run the real ipykernel.
    """
    spec_dir = folder / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    starts = folder / "starts.txt"
    launcher = folder / "launch.py"
    launcher.write_text(
        "import os, sys\n"
        f"starts = {str(starts)!r}\n"
        "count = len(open(starts).read()) if os.path.exists(starts) else 0\n"
        "open(starts, 'a').write('x')\n"
        f"if count < {deaths}:\n"
        "    sys.exit(1)\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'ipykernel_launcher', '-f', sys.argv[1]])\n"
    )
    spec = {"argv": [sys.executable, str(launcher), "{connection_file}"], "display_name": "flaky", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return folder


def test_a_kernel_that_dies_while_starting_is_started_again(setup, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(flaky_kernel(tmp_path / "jupyter", deaths=1)))
    with pytest.warns(UserWarning, match="kernel died while starting"):
        folder = run(setup, as_of="2024-07-01", reports=["hello"])
    assert (tmp_path / "jupyter" / "starts.txt").read_text() == "xx", "one failed start, one that ran"
    assert "as of 2024-07-01" in (folder / "hello_report.html").read_text()


def test_a_kernel_that_never_starts_fails_the_run_after_the_last_attempt(setup, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(flaky_kernel(tmp_path / "jupyter", deaths=reports.KERNEL_START_ATTEMPTS)))
    with pytest.warns(UserWarning), pytest.raises(ReportError, match="report hello .* kernel_info"):
        run(setup, as_of="2024-07-01", reports=["hello"])
    assert len((tmp_path / "jupyter" / "starts.txt").read_text()) == reports.KERNEL_START_ATTEMPTS
    assert not (setup["reports_dir"] / "2024-07-01" / "hello_report.html").exists()
