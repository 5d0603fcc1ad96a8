"""Fault injection for issue 13: every failure it lists, the message expected, and proof that nothing was lost.

Each case provokes one failure against real parts (DuckDB files, model files,
papermill runs, ``python -m helpers`` subprocesses where the exit code
matters), checks the message, and compares SHA-256 digests of the warehouse,
the model files and the published reports before and after. The warehouse and
models are the session's small synthetic fixture, copied per case.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from helpers import registry, reports, warehouse
from helpers.cli import main
from helpers.repositories import DuckDBCustomerRepository
from helpers.reports import ReportError, run_reports
from helpers.warehouse import WarehouseBusyError, get_connection
from sample_data import build_frames, valid_frames

PROJECT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
WAIT_SECONDS = 120  # how long a helper process may take to reach the point where it is killed


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digests(*folders_or_files: Path) -> dict[str, str]:
    """SHA-256 of every file under the given files and folders (hidden temporaries included)."""
    found = {}
    for root in folders_or_files:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
        for path in paths:
            found[str(path)] = sha256(path)
    return found


@pytest.fixture
def workspace(trained_small_models, tmp_path) -> dict[str, Path]:
    """A private copy of the session's small warehouse and models, and an empty reports folder."""
    space = {
        "warehouse": tmp_path / "data" / "warehouse.duckdb",
        "models": tmp_path / "models",
        "reports": tmp_path / "reports",
    }
    space["warehouse"].parent.mkdir()
    shutil.copyfile(trained_small_models["warehouse"], space["warehouse"])
    shutil.copytree(trained_small_models["models_dir"], space["models"])
    return space


def state(space: dict[str, Path]) -> dict[str, str]:
    """What must not change: the warehouse file, every model file, every published report file."""
    return digests(space["warehouse"], space["models"], space["reports"])


def cli(space: dict[str, Path] | None, *arguments: str, prefix: tuple[str, ...] = (),
        **environment: str) -> subprocess.CompletedProcess:
    """``python -m helpers ARGUMENTS`` in a real process, pointed at the workspace by the environment."""
    env = {**os.environ, **environment}
    if space:
        env.update(WAREHOUSE_PATH=str(space["warehouse"]), MODELS_DIR=str(space["models"]),
                   REPORTS_DIR=str(space["reports"]))
    command = [sys.executable, "-m", "helpers", *arguments]
    return subprocess.run([*prefix, *command], capture_output=True, text=True, cwd=PROJECT, env=env, timeout=600)


@pytest.fixture
def main_in_process(monkeypatch, capsys) -> Callable[..., subprocess.CompletedProcess]:
    """``helpers.cli.main`` in this process (the exit code it returns is the one ``python -m helpers`` exits with).

    Starting the command line costs seconds per process, so only the cases that need a
    second process or another user's rights run it as one.
    """

    def run(space: dict[str, Path], *arguments: str) -> subprocess.CompletedProcess:
        monkeypatch.setenv("WAREHOUSE_PATH", str(space["warehouse"]))
        monkeypatch.setenv("MODELS_DIR", str(space["models"]))
        monkeypatch.setenv("REPORTS_DIR", str(space["reports"]))
        capsys.readouterr()
        code = main(list(arguments))
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(arguments, code, captured.out, captured.err)

    return run


def refused(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2 with an `error:` line holding every fragment, and no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def write_csvs(folder: Path, **changes: dict) -> dict[str, Path]:
    """The two-customer sample dataset as CSV files, with cells changed: table -> {(row, column): text}."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for table, frame in valid_frames().items():
        frame = frame.astype(object)
        for (row, column), value in changes.get(table, {}).items():
            frame.loc[row, column] = value
        paths[table] = folder / f"{table}.csv"
        frame.to_csv(paths[table], index=False)
    return paths


def ingest_args(paths: dict[str, Path]) -> list[str]:
    # The fixture's customers.mrr and churn_date are stated as of 2025-12-31 (tests/conftest.py), so the
    # data end is given: "auto" would take the latest activity in these few rows, an earlier day.
    return ["ingest", "--customers", str(paths["customers"]), "--subscriptions", str(paths["subscriptions"]),
            "--events", str(paths["usage_events"]), "--tickets", str(paths["support_tickets"]),
            "--data-end", "2025-12-31"]


def content_hash(warehouse: Path) -> str:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select content_hash from meta.build_info").fetchone()[0]


def wait_for_line(process: subprocess.Popen, expected: str) -> None:
    line = process.stdout.readline()
    assert expected in line, (line, process.stderr.read() if process.poll() is not None else "")


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the helper process and whatever it started (its kernel), as a crash or `kill -9` would."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=WAIT_SECONDS)


# --- item 1: nothing fails after the replace (dates outside what pandas holds) ----------------------------


@pytest.mark.parametrize("table, column, value", [
    ("usage_events", "timestamp", "9999-01-01 00:00:00"),
    ("customers", "signup_date", "1600-01-01"),
])
def test_1_a_date_out_of_range_is_refused_before_the_replace(workspace, main_in_process, tmp_path, table, column,
                                                             value):
    before = state(workspace)
    result = main_in_process(workspace, *ingest_args(write_csvs(tmp_path / "in", **{table: {(0, column): value}})))
    refused(result, f"{table}.csv", column, value)
    assert state(workspace) == before


# --- item 2: time zones ------------------------------------------------------------------------------------


def test_2_an_offset_in_a_csv_is_converted_to_utc(workspace, main_in_process, tmp_path):
    paths = write_csvs(tmp_path / "in", usage_events={(0, "timestamp"): "2024-01-11 10:00:00+05:00"})
    target = tmp_path / "w.duckdb"
    result = main_in_process(workspace, *ingest_args(paths), "--warehouse", str(target))
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(target), read_only=True) as con:
        stored = con.execute("select timestamp from raw.usage_events where event_id = 'E1'").fetchone()[0]
    assert str(stored) == "2024-01-11 05:00:00"


def test_2_aware_parquet_gives_the_same_warehouse_in_every_machine_zone(tmp_path):
    paths = write_csvs(tmp_path / "in")
    events = valid_frames()["usage_events"]
    events["timestamp"] = pd.to_datetime(events["timestamp"]).dt.tz_localize("Asia/Kolkata")
    paths["usage_events"] = tmp_path / "in" / "usage_events.parquet"
    events.to_parquet(paths["usage_events"])
    hashes = []
    for zone in ("UTC", "Asia/Kolkata"):
        target = tmp_path / f"{zone.replace('/', '_')}.duckdb"
        result = cli(None, *ingest_args(paths), "--warehouse", str(target), TZ=zone)
        assert result.returncode == 0, result.stderr
        hashes.append(content_hash(target))
    assert hashes[0] == hashes[1]


# --- item 3: money ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["123.456", "0.005"])
def test_3_money_with_more_than_two_decimals_is_refused(workspace, main_in_process, tmp_path, value):
    before = state(workspace)
    result = main_in_process(workspace, *ingest_args(write_csvs(tmp_path / "in", subscriptions={(0, "mrr"): value})))
    refused(result, "subscriptions.csv", "mrr", value)
    assert state(workspace) == before


# --- item 4: repositories -----------------------------------------------------------------------------------


@pytest.mark.parametrize("customer_id", [None, 7])
def test_4_get_by_id_without_a_string_id_is_refused(workspace, customer_id):
    before = state(workspace)
    with pytest.raises(TypeError, match="customer_id"):
        DuckDBCustomerRepository(workspace["warehouse"]).get_by_id(customer_id)
    assert state(workspace) == before


# --- item 5: known failures are `error:` and exit 2; the unexpected a summary and a hint --------------------


def test_5_a_file_that_is_not_a_warehouse(workspace, main_in_process):
    text = workspace["warehouse"].with_name("notes.duckdb")
    text.write_text("not a database\n")
    other = workspace["warehouse"].with_name("other.duckdb")
    with duckdb.connect(str(other)) as con:
        con.execute("create table t (x int)")
    before = state(workspace)
    # One real process for the exit code as a shell sees it; the others in this one.
    refused(cli(workspace, "validate", "--warehouse", str(text)), str(text), "not a valid DuckDB database file")
    refused(main_in_process(workspace, "summary", "--warehouse", str(text)), str(text), "not a valid DuckDB")
    for command in ("validate", "summary"):
        refused(main_in_process(workspace, command, "--warehouse", str(other)), str(other),
                "not a warehouse of this suite")
    assert state(workspace) == before


@pytest.mark.parametrize("command", [["summary"], ["validate"], ["generate", "--customers", "20", "--no-progress"]])
def test_5_warehouse_pointing_at_a_folder(workspace, main_in_process, command):
    before = state(workspace)
    folder = workspace["warehouse"].parent
    refused(main_in_process(workspace, *command, "--warehouse", str(folder)), f"{folder} is a folder, not a warehouse file")
    assert state(workspace) == before


def _without_root_override() -> tuple[str, ...]:
    """A command prefix under which root obeys file permissions (root ignores them otherwise)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be simulated")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search")


def test_5_a_warehouse_folder_that_is_not_writable(workspace):
    prefix = _without_root_override()
    folder = workspace["warehouse"].parent
    before = state(workspace)
    folder.chmod(0o555)
    try:
        result = cli(workspace, "generate", "--customers", "20", "--no-progress", prefix=prefix)
    finally:
        folder.chmod(0o755)
    refused(result, f"cannot write the warehouse {workspace['warehouse']}", "not writable", "--warehouse")
    assert state(workspace) == before


def test_5_a_reports_folder_that_is_not_writable(workspace):
    prefix = _without_root_override()
    workspace["reports"].mkdir()
    before = state(workspace)
    workspace["reports"].chmod(0o555)
    try:
        result = cli(workspace, "report", "--reports", "cohort", prefix=prefix)
    finally:
        workspace["reports"].chmod(0o755)
    refused(result, f"cannot write reports into {workspace['reports']}", "--reports-dir", "nothing ran")
    assert state(workspace) == before


@pytest.mark.parametrize("manifest, expected", [
    ([1, 2], "holds a JSON list, not an object"),
    ({"source": "synthetic", "seed": "forty-two"}, "seed must be an integer or null, got 'forty-two'"),
    ({"source": "synthetic", "seed": 4.5}, "seed must be an integer or null, got 4.5"),
    ("{not json", "is not valid JSON"),
])
def test_5_a_broken_build_manifest(workspace, main_in_process, tmp_path, manifest, expected):
    raw = tmp_path / "raw"
    raw.mkdir()
    for table, frame in valid_frames().items():
        frame.to_parquet(raw / f"{table}.parquet")
    (raw / "manifest.json").write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))
    before = state(workspace)
    refused(main_in_process(workspace, "build", "--raw-dir", str(raw)), str(raw / "manifest.json"), expected)
    assert state(workspace) == before


def test_5_broken_model_metadata_refuses_the_reports_that_read_models_only(workspace, main_in_process):
    metadata = workspace["models"] / "churn_model_metadata.json"
    metadata.write_text("[")
    before = state(workspace)
    refused(main_in_process(workspace, "report", "--reports", "churn"),
            "cannot read the metadata of model churn_model", str(metadata), "nothing was published")
    assert state(workspace) == before
    # A report that reads no model runs (fixture notebook: same runner, a fraction of the time).
    folder = run_reports(as_of="2025-01-01", reports=["hello"], notebooks_dir=FIXTURES,
                         catalog={"hello": "hello_report.ipynb"}, warehouse_path=workspace["warehouse"],
                         models_dir=workspace["models"], reports_dir=workspace["reports"])
    assert (folder / "hello_report.html").is_file()
    assert digests(workspace["warehouse"], workspace["models"]) == {
        path: digest for path, digest in before.items() if not path.startswith(str(workspace["reports"]))}


def test_5_an_expired_cell_timeout_says_so(workspace):
    arguments = {"notebooks_dir": FIXTURES, "catalog": {"hello": "hello_report.ipynb", "slow": "slow_cell.ipynb"},
                 "warehouse_path": workspace["warehouse"], "models_dir": workspace["models"],
                 "reports_dir": workspace["reports"], "as_of": "2025-01-01"}
    run_reports(reports=["hello"], **arguments)
    before = state(workspace)
    with pytest.raises(ReportError) as raised:
        run_reports(reports=["slow"], cell_timeout=2, parameters={"seconds": "600"}, **arguments)
    message = str(raised.value)
    assert "a cell ran longer than the cell timeout of 2 s" in message and "--cell-timeout" in message
    assert "-----" not in message
    kept = str(workspace["reports"] / "2025-01-01" / "failed" / "slow_cell.ipynb")
    assert {path: digest for path, digest in state(workspace).items() if path != kept} == before


def test_5_an_unexpected_error_is_one_line_and_a_hint_with_the_traceback_only_under_debug(workspace, main_in_process):
    # A DuckDB file with build metadata but none of the tables: nothing the CLI anticipates.
    odd = workspace["warehouse"].with_name("odd.duckdb")
    with duckdb.connect(str(odd)) as con:
        con.execute("create schema meta")
        con.execute("create table meta.build_info as select * from (values (1)) t(x)")
    before = state(workspace)
    plain = cli(workspace, "summary", "--warehouse", str(odd))
    assert plain.returncode == 3, plain.stderr
    lines = plain.stderr.strip().splitlines()
    assert lines[0].startswith("error: unexpected ") and lines[1].startswith("hint: ") and len(lines) == 2
    assert "--debug" in lines[1]
    debug = main_in_process(workspace, "--debug", "summary", "--warehouse", str(odd))
    assert debug.returncode == 3 and "Traceback (most recent call last)" in debug.stderr
    assert state(workspace) == before


# --- item 6: one report of a date replaces only itself ------------------------------------------------------


def test_6_rerunning_one_report_keeps_the_dates_other_reports(workspace, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for stem in ("cohort_report", "churn_report"):
        shutil.copyfile(FIXTURES / "hello_report.ipynb", notebooks / f"{stem}.ipynb")
    arguments = {"notebooks_dir": notebooks, "catalog": {"cohort": "cohort_report.ipynb", "churn": "churn_report.ipynb"},
                 "warehouse_path": workspace["warehouse"], "models_dir": workspace["models"],
                 "reports_dir": workspace["reports"], "as_of": "2025-01-01"}
    folder = run_reports(**arguments)
    churn_files = {name: sha256(folder / name) for name in ("churn_report.html", "churn_report.ipynb")}
    models_and_warehouse = digests(workspace["warehouse"], workspace["models"])
    run_reports(reports=["cohort"], parameters={"greeting": "again"}, **arguments)
    assert {name: sha256(folder / name) for name in churn_files} == churn_files
    assert "again as of" in (folder / "cohort_report.html").read_text()
    manifest = json.loads((folder / "run.json").read_text())
    assert sorted(manifest["reports"]) == ["churn", "cohort"]
    assert [run["reports"].keys() for run in reports.list_runs(workspace["reports"])] == [{"churn", "cohort"}]
    index = (workspace["reports"] / "index.html").read_text()
    assert "2025-01-01/churn_report.html" in index and "2025-01-01/cohort_report.html" in index
    assert digests(workspace["warehouse"], workspace["models"]) == models_and_warehouse


# --- item 7: provenance -------------------------------------------------------------------------------------


def test_7_a_parameter_that_chooses_the_data_is_refused(workspace, main_in_process, tmp_path):
    other = tmp_path / "other.duckdb"
    build_frames(other, valid_frames())
    before = state(workspace)
    refused(main_in_process(workspace, "report", "--reports", "cohort", "-p", "warehouse_path", str(other)),
            "use --warehouse instead of -p warehouse_path")
    refused(main_in_process(workspace, "report", "--reports", "churn", "-p", "models_dir", str(tmp_path)),
            "use --models-dir instead of -p models_dir")
    assert state(workspace) == before


def test_7_run_json_records_per_report_what_the_notebook_read(workspace):
    arguments = {"notebooks_dir": FIXTURES,
                 "catalog": {"hello": "hello_report.ipynb", "reader": "model_reader.ipynb"},
                 "warehouse_path": workspace["warehouse"], "models_dir": workspace["models"],
                 "reports_dir": workspace["reports"], "as_of": "2025-01-01"}
    folder = run_reports(**arguments)
    entries = json.loads((folder / "run.json").read_text())["reports"]
    expected_hash = content_hash(workspace["warehouse"])
    versions = {name: json.loads((workspace["models"] / f"{name}_metadata.json").read_text())["version"]
                for name in registry.MODEL_NAMES}
    assert entries["reader"]["warehouse_content_hash"] == expected_hash
    assert entries["reader"]["model_versions"] == versions
    executed = (folder / "model_reader.ipynb").read_text()
    assert f"content hash read: {expected_hash}" in executed, "the notebook read what run.json records"
    assert all(version in executed for version in versions.values())
    assert entries["hello"]["warehouse_content_hash"] == expected_hash and entries["hello"]["model_versions"] == {}


def test_7_a_warehouse_replaced_while_a_notebook_runs_fails_the_run(workspace, tmp_path):
    other = tmp_path / "other.duckdb"
    build_frames(other, valid_frames())
    arguments = {"notebooks_dir": FIXTURES, "catalog": {"reader": "model_reader.ipynb"},
                 "warehouse_path": workspace["warehouse"], "models_dir": workspace["models"],
                 "reports_dir": workspace["reports"], "as_of": "2025-01-01"}
    run_reports(**arguments)
    published = digests(workspace["reports"])
    with pytest.raises(ReportError, match="changed while the notebook ran"):
        run_reports(parameters={"swap_in": str(other)}, **arguments)
    assert digests(workspace["reports"]) == published


# --- item 8: leftovers of killed runs are removed by the next run -------------------------------------------

STALLED_BUILD = textwrap.dedent("""
    import sys, time
    from helpers import warehouse
    from sample_data import valid_frames

    def load(con):
        for table, frame in valid_frames().items():
            warehouse.write_staging(con, table, frame)
        print("staged", flush=True)
        time.sleep(600)

    warehouse.build(load, sys.argv[1])
""")


def _start(code: str, *arguments: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT / "tests"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", code, *arguments], cwd=PROJECT, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def test_8_a_killed_build_leaves_the_warehouse_and_its_leftovers_go_with_the_next_build(workspace, main_in_process):
    before = state(workspace)
    process = _start(STALLED_BUILD, str(workspace["warehouse"]))
    wait_for_line(process, "staged")
    kill_group(process)
    folder = workspace["warehouse"].parent
    leftovers = [p.name for p in folder.iterdir() if ".building" in p.name]
    assert leftovers, "the killed build left its file (the case this test is about)"
    assert state(workspace) == before, "the kill changed nothing published"
    result = main_in_process(workspace, "generate", "--customers", "30", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert not [p for p in folder.iterdir() if ".building" in p.name]
    assert sorted(p.name for p in folder.iterdir()) == ["warehouse.duckdb"], "no temporary and no lock file stays"


STALLED_REPORT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from helpers.reports import run_reports
    run_reports(as_of="2025-01-01", reports=["slow"], notebooks_dir=Path(sys.argv[1]),
                catalog={"slow": "slow_cell.ipynb"}, warehouse_path=sys.argv[2], reports_dir=sys.argv[3],
                models_dir=sys.argv[4], parameters={"seconds": "600"})
""")


def test_8_a_killed_report_run_leaves_a_staging_folder_that_the_next_run_removes(workspace):
    process = _start(STALLED_REPORT, str(FIXTURES), str(workspace["warehouse"]), str(workspace["reports"]),
                     str(workspace["models"]))
    # The staging folder exists before the first notebook starts; wait for it (bounded by the helper's sleep).
    try:
        for _ in range(WAIT_SECONDS * 10):
            staged = list(workspace["reports"].glob(".2025-01-01.*.building")) if workspace["reports"].exists() else []
            if staged or process.poll() is not None:
                break
            time.sleep(0.1)
    finally:
        kill_group(process)
    assert staged, process.stderr.read()
    before = state(workspace)
    run_reports(as_of="2024-12-01", reports=["hello"], notebooks_dir=FIXTURES, catalog={"hello": "hello_report.ipynb"},
                warehouse_path=workspace["warehouse"], models_dir=workspace["models"], reports_dir=workspace["reports"])
    assert not list(workspace["reports"].glob(".*.building")), "the killed run's staging folder is gone"
    after = state(workspace)
    assert {path: digest for path, digest in after.items() if path in before} == {
        path: digest for path, digest in before.items() if ".building" not in path}


STALLED_SAVE = textwrap.dedent("""
    import os, sys, time
    from helpers import registry
    from helpers.models.churn_model import ChurnModel  # noqa: F401 (the class of the loaded model)
    model = registry.load_model("churn_model", sys.argv[1])
    metadata = registry.get_model_metadata("churn_model", sys.argv[1])

    def stall(*arguments):
        print("written", flush=True)
        time.sleep(600)

    os.replace = stall  # the temporary pickle is complete; the rename never comes
    registry.save_model("churn_model", model, metadata, sys.argv[1])
""")


def test_8_a_killed_model_save_leaves_the_model_and_its_temporary_goes_with_the_next_save(workspace):
    before = state(workspace)
    process = _start(STALLED_SAVE, str(workspace["models"]))
    wait_for_line(process, "written")
    kill_group(process)
    assert [p for p in workspace["models"].iterdir() if p.name.endswith(".tmp")], "the killed save left its file"
    assert {path: digest for path, digest in state(workspace).items() if not path.endswith(".tmp")} == before
    registry.clear_cache()
    model = registry.load_model("churn_model", workspace["models"])
    registry.save_model("risk_model", registry.load_model("risk_model", workspace["models"]),
                        registry.get_model_metadata("risk_model", workspace["models"]), workspace["models"])
    registry.save_model("churn_model", model, registry.get_model_metadata("churn_model", workspace["models"]),
                        workspace["models"])
    assert not [p for p in workspace["models"].iterdir() if p.name.endswith(".tmp")]


# --- item 9: no write is lost to a rebuild ------------------------------------------------------------------

HOLD_READ_WRITE = textwrap.dedent("""
    import sys
    from helpers.warehouse import get_connection
    with get_connection(read_only=False, path=sys.argv[1]) as con:
        print("open", flush=True)
        sys.stdin.readline()
        con.execute("insert into raw.customers select 'LATE-WRITE', industry, plan_tier, signup_date, mrr, "
                    "churn_date from raw.customers limit 1")
        print("inserted", flush=True)
""")


def test_9_a_rebuild_is_refused_while_another_process_holds_the_warehouse_read_write(workspace, main_in_process):
    before = state(workspace)
    writer = _start(HOLD_READ_WRITE, str(workspace["warehouse"]))
    try:
        wait_for_line(writer, "open")
        result = main_in_process(workspace, "generate", "--customers", "30", "--no-progress")  # the second process
        refused(result, str(workspace["warehouse"]), f"process {writer.pid} (a read-write connection)",
                "nothing was changed")
        assert state(workspace) == before, "the rebuild did not replace the file"
        writer.stdin.write("\n")
        writer.stdin.flush()
        wait_for_line(writer, "inserted")
        assert writer.wait(timeout=WAIT_SECONDS) == 0, writer.stderr.read()
    finally:
        if writer.poll() is None:
            kill_group(writer)
    with duckdb.connect(str(workspace["warehouse"]), read_only=True) as con:
        assert con.execute("select count(*) from raw.customers where customer_id = 'LATE-WRITE'").fetchone()[0] == 1
    assert not workspace["warehouse"].with_name("warehouse.duckdb.lock").exists(), "the lock goes with its holder"


def test_9_a_read_write_connection_is_refused_while_a_rebuild_runs(workspace):
    before = state(workspace)
    build = _start(STALLED_BUILD, str(workspace["warehouse"]))
    try:
        wait_for_line(build, "staged")
        with pytest.raises(WarehouseBusyError, match=f"process {build.pid} \\(a rebuild of the warehouse\\)"):
            with get_connection(read_only=False, path=workspace["warehouse"]):
                pass
    finally:
        kill_group(build)
    assert state(workspace) == before


# --- item 10: messages that say what happened ---------------------------------------------------------------


def test_10_a_folder_given_as_a_file_says_folder(workspace, main_in_process, tmp_path):
    paths = write_csvs(tmp_path / "in")
    paths["usage_events"] = tmp_path / "a_folder"
    paths["usage_events"].mkdir()
    before = state(workspace)
    refused(main_in_process(workspace, *ingest_args(paths)), str(paths["usage_events"]), "folder")
    assert state(workspace) == before


def test_10_a_truncated_last_row_is_named(workspace, main_in_process, tmp_path):
    paths = write_csvs(tmp_path / "in")
    text = paths["subscriptions"].read_text().rstrip("\n")
    paths["subscriptions"].write_text(text[: text.rindex(",")])  # the last row stops mid-line
    before = state(workspace)
    result = main_in_process(workspace, *ingest_args(paths))
    refused(result, "subscriptions.csv", "row 2")
    assert "missing column" not in result.stderr
    assert state(workspace) == before


def test_10_a_duplicated_column_is_named(workspace, main_in_process, tmp_path):
    paths = write_csvs(tmp_path / "in")
    lines = paths["customers"].read_text().splitlines()
    paths["customers"].write_text("\n".join([lines[0] + ",mrr"] + [line + ",1" for line in lines[1:]]) + "\n")
    before = state(workspace)
    refused(main_in_process(workspace, *ingest_args(paths)), "customers.csv", "mrr", "more than once")
    assert state(workspace) == before


# --- item 11: the registry runs no code ---------------------------------------------------------------------


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_11_a_crafted_pickle_with_matching_metadata_runs_no_code(workspace, tmp_path):
    marker = tmp_path / "code-ran"
    crafted = pickle.dumps(_Payload(marker))
    metadata_path = workspace["models"] / "churn_model_metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata.update(sha256=hashlib.sha256(crafted).hexdigest(), pickle_bytes=len(crafted))
    (workspace["models"] / "churn_model.pkl").write_bytes(crafted)
    metadata_path.write_text(json.dumps(metadata))
    before = state(workspace)
    registry.clear_cache()
    with pytest.raises(registry.ModelIntegrityError, match="not on the allow-list"):
        registry.load_model("churn_model", workspace["models"])
    assert not marker.exists()
    assert state(workspace) == before


def test_11_a_risk_model_renamed_churn_model_is_refused(workspace):
    for suffix in (".pkl", "_metadata.json"):
        shutil.copyfile(workspace["models"] / f"risk_model{suffix}", workspace["models"] / f"churn_model{suffix}")
    metadata_path = workspace["models"] / "churn_model_metadata.json"
    metadata_path.write_text(json.dumps({**json.loads(metadata_path.read_text()), "name": "churn_model"}))
    before = state(workspace)
    registry.clear_cache()
    with pytest.raises(registry.ModelIntegrityError, match="RiskModel"):
        registry.load_model("churn_model", workspace["models"])
    assert state(workspace) == before


# --- one rule for every write: nothing after a replace turns it into a failure ------------------------------

def test_a_failure_after_the_replace_says_the_new_warehouse_is_in_place(workspace, main_in_process, monkeypatch):
    def broken(con):
        raise RuntimeError("injected: the summary query failed")

    monkeypatch.setattr(warehouse, "summary", broken)
    result = main_in_process(workspace, "generate", "--customers", "30", "--no-progress")
    assert result.returncode == 0, result.stderr
    new_hash = content_hash(workspace["warehouse"])
    assert f"content hash: {new_hash}" in result.stdout
    assert f"warning: the new warehouse is in place at {workspace['warehouse']} (content hash {new_hash})" in result.stderr
    assert "injected: the summary query failed" in result.stderr and "Traceback" not in result.stderr


def test_a_failed_index_after_publishing_is_a_warning_not_a_failure(workspace, main_in_process, monkeypatch):
    def broken(folder=None):
        raise OSError("injected: the index could not be written")

    monkeypatch.setattr(reports, "write_index", broken)
    monkeypatch.setattr(reports, "REPORT_NOTEBOOKS", {"hello": "hello_report.ipynb"})
    monkeypatch.setattr(reports.config, "NOTEBOOKS_DIR", FIXTURES)
    result = main_in_process(workspace, "report", "--reports", "hello", "--as-of", "2025-01-01")
    assert result.returncode == 0, result.stderr
    folder = workspace["reports"] / "2025-01-01"
    assert f"warning: the reports are published in {folder}" in result.stderr
    assert "injected: the index" in result.stderr
    assert (folder / "hello_report.html").is_file()


def test_a_model_save_that_fails_changes_no_model_file(workspace):
    before = state(workspace)
    model = registry.load_model("churn_model", workspace["models"])
    with pytest.raises(TypeError, match="cannot be written as JSON"):
        registry.save_model("churn_model", model, {"not json": object()}, workspace["models"])
    assert state(workspace) == before
