"""The benchmark harness at a tiny scale: complete, self-consistent output and correct references.

No timing is asserted anywhere: only that every number is there, that the
ratios are computed from the numbers written, and that the reference
implementations compute the snapshot's own event features.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # bench/ is not an installed package; `python -m pytest` adds it anyway
    sys.path.insert(0, str(PROJECT_ROOT))

from bench import harness, reference  # noqa: E402
from bench.cli import build_parser  # noqa: E402
from bench.harness import Benchmark, Settings  # noqa: E402
from helpers import warehouse
from helpers.analytics import features
from helpers.models import training  # noqa: E402

SUITE_STEPS = ("generation", "warehouse_build", "validate", "snapshot", "mrr_movements", "retention_logo",
               "retention_revenue", "kaplan_meier_by_plan_tier", "train_models", "score_customers",
               "score_customers_one_thread")
REFERENCES = ("floor_single_query", "per_customer_loop", "pandas_load_events", "pandas_groupby",
              "process_baseline")
NUMBER_FIELDS = ("median_s", "min_s", "max_s", "peak_rss_mb")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> dict:
    """``python -m bench`` at 300 customers / 20,000 events, one timed run, a stand-in report command."""
    folder = tmp_path_factory.mktemp("bench")
    params = training.load_params()
    params["churn_model"]["params"].update(max_iter=10, min_samples_leaf=5)
    # 300 customers time the harness, not a model: a baseline may win, and registering it is allowed here.
    params["churn_model"]["allow_baseline"] = True
    params_file = folder / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    json_path = folder / "results" / "bench.json"
    command = [
        sys.executable, "-m", "bench",
        "--customers", "300", "--events", "20000", "--repeat", "1", "--warmup", "0",
        "--sample-customers", "20",
        "--cache-dir", str(folder / "cache"),
        "--json", str(json_path),
        "--train-params", str(params_file),
        "--report", "stand_in={python} -c pass",
    ]
    # One OpenMP thread: scikit-learn's spin-waiting threads make training several
    # times slower on a busy machine, and nothing here depends on speed.
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return {
        "results": json.loads(json_path.read_text()),
        "markdown": json_path.with_suffix(".md").read_text(),
        "stdout": done.stdout,
    }


def test_every_step_and_reference_has_its_numbers(bench_run):
    results = bench_run["results"]
    assert set(results) >= {"scale", "steps", "reference", "ratios"}
    assert results["scale"]["customers"] == 300 and results["scale"]["events"] == 20000
    for name in SUITE_STEPS + ("report_stand_in",):
        entry = results["steps"][name]
        for field in NUMBER_FIELDS:
            assert isinstance(entry[field], (int, float)) and entry[field] >= 0, (name, field, entry)
        assert entry["min_s"] <= entry["median_s"] <= entry["max_s"], (name, entry)
    for name in REFERENCES:
        entry = results["reference"][name]
        for field in NUMBER_FIELDS:
            assert isinstance(entry[field], (int, float)) and entry[field] >= 0, (name, field, entry)
    assert results["steps"]["validate"]["info"]["problems"] == 0


def test_ratios_come_from_the_numbers_in_the_json(bench_run):
    steps, references, ratios = (bench_run["results"][key] for key in ("steps", "reference", "ratios"))
    snapshot = steps["snapshot"]["median_s"]
    expected = {
        "snapshot_over_floor_single_query": snapshot / references["floor_single_query"]["median_s"],
        "per_customer_loop_over_snapshot": references["per_customer_loop"]["median_s"] / snapshot,
        "pandas_groupby_over_snapshot": references["pandas_groupby"]["median_s"] / snapshot,
    }
    for name, value in expected.items():
        assert ratios[name] == pytest.approx(value, rel=1e-3, abs=1e-4), name


def test_the_loop_is_extrapolated_from_its_sample(bench_run):
    loop = bench_run["results"]["reference"]["per_customer_loop"]
    info = loop["info"]
    assert info["sample_customers"] == 20 and info["population"] >= 20
    assert info["matches_snapshot"] is True
    factor = info["population"] / info["sample_customers"]
    assert loop["median_s"] == pytest.approx(loop["sample_median_s"] * factor, rel=1e-3, abs=1e-5)
    assert "extrapolated" in loop["note"]


def test_the_references_were_checked_against_the_snapshot(bench_run):
    references = bench_run["results"]["reference"]
    assert references["floor_single_query"]["info"]["matches_snapshot"] is True
    assert references["pandas_groupby"]["info"]["matches_snapshot"] is True


def test_the_markdown_table_lists_every_step(bench_run):
    for text in (bench_run["markdown"], bench_run["stdout"]):
        for name in SUITE_STEPS + ("report_stand_in",) + REFERENCES:
            assert f"| {name} |" in text, name
        for name in bench_run["results"]["ratios"]:
            assert f"| {name} |" in text, name


def test_a_second_run_reuses_the_cached_warehouse_and_models(bench_run, tmp_path):
    scale = bench_run["results"]["scale"]
    cache_dir = Path(scale["warehouse"]).parents[1]
    settings = Settings(
        customers=300, events=20000, repeat=1, warmup=0, cache_dir=cache_dir,
        json_path=tmp_path / "again.json", markdown_path=tmp_path / "again.md",
        reports=[], only=frozenset({"snapshot"}), train_params=Path(scale["training"]["params_file"]),
    )
    results = Benchmark(settings, log=lambda line: None).run()
    assert results["scale"]["warehouse_reused"] is True
    assert results["steps"]["generation"]["cached"] is True
    assert set(results["steps"]) == {"generation", "warehouse_build", "snapshot"}


def test_reports_are_skipped_with_a_note_while_the_runner_is_missing(bench_run, tmp_path, monkeypatch):
    scale = bench_run["results"]["scale"]
    missing = "ModuleNotFoundError: No module named 'helpers.reports'"
    monkeypatch.setattr(harness, "report_catalog", lambda python, env: (None, missing))
    settings = Settings(
        customers=300, events=20000, repeat=1, warmup=0, cache_dir=Path(scale["warehouse"]).parents[1],
        json_path=tmp_path / "reports.json", markdown_path=tmp_path / "reports.md",
        only=frozenset({"reports"}), train_params=Path(scale["training"]["params_file"]),
    )
    results = Benchmark(settings, log=lambda line: None).run()
    entry = results["steps"]["report"]
    assert entry["status"] == "not available" and missing in entry["note"]
    assert all(entry[field] is None for field in NUMBER_FIELDS)
    assert results["targets"]["reports_under_60_s"]["met"] is None
    assert "not available" in (tmp_path / "reports.md").read_text()


def test_floor_and_pandas_references_equal_the_snapshot_features_column_by_column(bench_run):
    path = Path(bench_run["results"]["scale"]["warehouse"])
    with warehouse.get_connection(path=path) as con:
        for as_of in (dt.date(2024, 7, 1), dt.date(2026, 1, 1)):
            snapshot = features.snapshot(con, as_of)
            floor = reference.event_features(reference.floor_event_aggregates(con, as_of), as_of)
            in_pandas = reference.event_features(
                reference.pandas_event_aggregates(reference.load_events(con, as_of), as_of), as_of
            )
            assert reference.compare_with_snapshot(snapshot, floor) == []
            assert reference.compare_with_snapshot(snapshot, in_pandas) == []
            # The two references agree on every customer with events, not only the snapshot's.
            pd.testing.assert_frame_equal(floor, in_pandas, check_dtype=False, rtol=1e-9)
            assert len(snapshot) and floor["events_90d"].sum() > 0


def test_the_comparison_notices_a_wrong_feature(bench_run):
    path = Path(bench_run["results"]["scale"]["warehouse"])
    as_of = dt.date(2026, 1, 1)
    with warehouse.get_connection(path=path) as con:
        snapshot = features.snapshot(con, as_of)
        floor = reference.event_features(reference.floor_event_aggregates(con, as_of), as_of)
    tampered = floor.copy()
    tampered.loc[tampered["customer_id"].isin(snapshot["customer_id"]).idxmax(), "events_30d"] += 1
    problems = reference.compare_with_snapshot(snapshot, tampered)
    assert len(problems) == 1 and problems[0].startswith("events_30d")


def test_the_command_line_refuses_a_malformed_report():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--report", "no-command-here"])
    assert build_parser().parse_args(["--report", "a=echo {as_of}"]).reports == [("a", "echo {as_of}")]
