"""The Spark engine gives DuckDB's results from the same SQL (helpers.warehouse.spark, helpers.warehouse.engine, helpers.warehouse.export).

Spark runs in local mode (pyspark from PyPI, the machine's Java 17), one
session for this module. Without Java or pyspark the Spark tests skip, except
when the CI environment variable is set: CI must prove the Spark path, so
there they fail.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import EXTERNAL_DIR, subscription_frame

import nbformat

from helpers import cli, reports, warehouse

from helpers.analytics import cohorts, features, revenue, survival

from helpers.warehouse import spark as spark_engine
from helpers.warehouse.data_tests import run_data_tests
from helpers.warehouse.export import EXPORTED_TABLES, export_parquet
from helpers.warehouse.ingest import ingest
from helpers.warehouse.queries import fetch_row, load_sql

DBT_PERIODS = EXTERNAL_DIR / "dbt-mrr-playbook-subscription-periods.csv"
RATE_TOLERANCE = 1e-12


def missing_requirement(*modules: str, java: bool = True) -> str | None:
    """What the Spark engine lacks on this machine, or None."""
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if missing:
        return f"Python package(s) {', '.join(missing)} missing (pip install -e '.[spark]')"
    if java and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (install openjdk-17-jre-headless)"
    return None


def require(*modules: str, java: bool = True) -> None:
    """Skip without the requirement, but fail under CI, where the Spark path must be tested."""
    missing = missing_requirement(*modules, java=java)
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so the Spark engine must be tested, but: {missing}", pytrace=False)
    pytest.skip(missing)


# Each test query is new Java code to Spark (whole-stage code generation) and runs once
# or twice on a few thousand rows: the JIT's optimizing tier (C2) costs more than it
# gives in a JVM that lives a few minutes. Only how fast the JVM runs, never a result.
JVM_OPTIONS = "-XX:TieredStopAtLevel=1"


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """One local Spark session for the module: 2 cores, 2 shuffle partitions, no UI.

    Adaptive execution is off: on rows this few it only adds jobs (and time),
    never changes a result. The session time zone is not UTC (the suite's
    default), to show that no date or timestamp shifts with it. The driver
    JVM compiles with the JIT's quick tier only (JVM_OPTIONS).
    """
    require("pyspark", "sqlglot")
    session = spark_engine.create_session(
        "local[2]",
        app_name="test_spark",
        config={
            "spark.sql.shuffle.partitions": "2",
            "spark.sql.adaptive.enabled": "false",
            "spark.sql.session.timeZone": "America/Los_Angeles",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.extraJavaOptions": JVM_OPTIONS,
            "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("spark-warehouse")),
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@dataclass(frozen=True)
class Warehouse:
    """A DuckDB warehouse, its Parquet export and the dates its cases use."""

    path: Path
    parquet_dir: Path
    as_of: dt.date
    start: dt.date
    end: dt.date


def exported(path: Path, folder: Path, as_of: str, start: str, end: str) -> Warehouse:
    export_parquet(folder, path)
    return Warehouse(path, folder, *(dt.date.fromisoformat(day) for day in (as_of, start, end)))


@pytest.fixture(scope="module")
def synthetic(small_synthetic_warehouse, tmp_path_factory) -> Warehouse:
    """conftest's 800-customer synthetic warehouse (2022 to 2025), exported to Parquet."""
    return exported(small_synthetic_warehouse, tmp_path_factory.mktemp("synthetic_parquet"),
                    as_of="2025-03-01", start="2023-02-10", end="2024-11-30")


@pytest.fixture(scope="module")
def dbt_playbook(tmp_path_factory) -> Warehouse:
    """The dbt MRR playbook's subscription periods, ingested as tests/test_revenue.py does."""
    if not DBT_PERIODS.is_file():
        pytest.skip(f"external data not available: {DBT_PERIODS}")
    folder = tmp_path_factory.mktemp("dbt")
    periods = pd.read_csv(DBT_PERIODS, dtype={"subscription_id": str, "customer_id": str})
    customers = (
        periods.groupby("customer_id", as_index=False)["start_date"].min()
        .rename(columns={"start_date": "signup_date"})
        .assign(industry="Other", plan_tier="starter")
    )
    subscriptions = periods.rename(columns={"monthly_amount": "mrr"}).assign(plan_tier="starter")
    customers[["customer_id", "industry", "plan_tier", "signup_date"]].to_csv(folder / "customers.csv", index=False)
    subscriptions[["subscription_id", "customer_id", "plan_tier", "start_date", "end_date", "mrr"]].to_csv(
        folder / "subscriptions.csv", index=False
    )
    path = folder / "dbt.duckdb"
    ingest(folder / "customers.csv", folder / "subscriptions.csv", warehouse_path=path)
    return exported(path, folder / "parquet", as_of="2019-06-01", start="2018-03-15", end="2019-10-01")


# Every analytics function of the engine seam, with bounds and dates where it takes them.
CASES: dict[str, Callable[[object, Warehouse], pd.DataFrame]] = {
    "mrr_by_customer_month": lambda con, w: revenue.mrr_by_customer_month(con),
    "customer_movements": lambda con, w: revenue.customer_movements(con, w.start, w.end),
    "paying_by_age_by_first_plan": lambda con, w: revenue.paying_by_age(con, w.start, w.end, "plan_at_first_payment"),
    "mrr_movements": lambda con, w: revenue.mrr_movements(con),
    "mrr_movements_between": lambda con, w: revenue.mrr_movements(con, w.start, w.end),
    "retention_metrics": lambda con, w: revenue.retention_metrics(con),
    "logo_retention": lambda con, w: cohorts.retention_table(con, "logo"),
    "revenue_retention_between": lambda con, w: cohorts.retention_table(con, "revenue", start=w.start, end=w.end),
    "tenure_table": lambda con, w: survival.tenure_table(con, w.as_of, segment="plan_tier"),
    "retention_metrics_by_first_plan": lambda con, w: revenue.retention_metrics(con, segment="plan_at_first_payment"),
    "revenue_retention_by_current_plan": lambda con, w: cohorts.retention_table(con, "revenue", segment="current_plan"),
    "snapshot": lambda con, w: features.snapshot(con, w.as_of, horizon_days=90),
    "churn_events": lambda con, w: features.churn_events(con),
}


def assert_same_frame(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same columns, dtypes and rows; money exact to the cent, rates to 1e-12."""
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    assert len(got) == len(expected)
    for column in expected.columns:
        left, right = got[column].reset_index(drop=True), expected[column].reset_index(drop=True)
        if pd.api.types.is_float_dtype(right):
            np.testing.assert_allclose(left, right, rtol=RATE_TOLERANCE, atol=RATE_TOLERANCE, equal_nan=True,
                                       err_msg=column)
            continue
        assert left.isna().tolist() == right.isna().tolist(), column
        present = right.notna()
        if any(isinstance(value, Decimal) for value in right[present]):
            # Decimal on both sides, equal digit for digit (scale included).
            assert all(isinstance(value, Decimal) for value in left[present]), column
            assert [str(value) for value in left[present]] == [str(value) for value in right[present]], column
        else:
            assert left[present].tolist() == right[present].tolist(), column


# The Parquet folder compare_engines registered last in the module's session, kept only
# while nothing else ran against the catalog: the parity tests then skip registering the
# same folder again (a second each). Any other test forgets it (forget_the_registration).
REGISTERED: dict[str, Path] = {}
ONLY_COMPARE_ENGINES: set[str] = set()


def touches_the_catalog_only_through_compare_engines(test: Callable) -> Callable:
    ONLY_COMPARE_ENGINES.add(test.__name__)
    return test


@pytest.fixture(autouse=True)
def forget_the_registration(request):
    yield
    if request.function.__name__ not in ONLY_COMPARE_ENGINES:
        REGISTERED.clear()


def compare_engines(spark, case: str, source: Warehouse) -> pd.DataFrame:
    if REGISTERED.get("folder") != source.parquet_dir:
        REGISTERED.clear()
        spark_engine.register_warehouse(spark, source.parquet_dir)
        REGISTERED["folder"] = source.parquet_dir
    with warehouse.get_connection(path=source.path) as con:
        expected = CASES[case](con, source)
    got = CASES[case](spark, source)
    assert len(expected) > 0, f"{case}: an empty result proves nothing"
    assert_same_frame(got, expected)
    return got


@pytest.mark.parametrize("case", list(CASES))
@touches_the_catalog_only_through_compare_engines
def test_spark_matches_duckdb_on_the_synthetic_warehouse(spark, synthetic, case):
    compare_engines(spark, case, synthetic)


# Subscriptions only: no events or tickets, so the snapshot's usage features are all zero.
@pytest.mark.parametrize("case", list(CASES))
@touches_the_catalog_only_through_compare_engines
def test_spark_matches_duckdb_on_the_dbt_playbook(spark, dbt_playbook, case):
    got = compare_engines(spark, case, dbt_playbook)
    if case == "mrr_movements":
        # The roll-forward holds exactly in Decimal on Spark too.
        money = got[["starting_mrr", *revenue.MOVEMENTS]].sum(axis=1)
        assert money.tolist() == got["ending_mrr"].tolist()


@touches_the_catalog_only_through_compare_engines
def test_arpa_rounds_an_exact_half_cent_up_on_both_engines(spark, make_warehouse, tmp_path):
    # 1.00 + 1.01 over two customers is 1.005 exactly: half up gives 1.01. A
    # double's round() gave 1.00 on DuckDB and 1.01 on Spark.
    path = make_warehouse(subscription_frame([
        ("a1", "A", "starter", "2024-01-01", None, 1.00),
        ("b1", "B", "starter", "2024-01-01", None, 1.01),
    ]), data_end=dt.date(2024, 2, 29))
    source = exported(path, tmp_path / "parquet", as_of="2024-02-01", start="2024-01-01", end="2024-02-01")
    got = compare_engines(spark, "retention_metrics", source)
    # January, February and the state on 1 March (data through 29 February).
    assert got["arpa"].tolist() == [Decimal("1.01"), Decimal("1.01"), Decimal("1.01")]


def broken_copy(source: Path, target: Path) -> None:
    """The export with rows that break one rule of each data-test template."""
    shutil.copytree(source, target)

    def edit(name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
        table = pq.read_table(target / name)
        frame = change(table.to_pandas())
        schema = pa.schema([field.with_nullable(True) for field in table.schema])
        pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), target / name)

    def customers(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[0, "plan_tier"] = "gold"                            # accepted_values
        frame.loc[1, "mrr"] = Decimal("-5.00")                        # range, consistency
        frame.loc[2, "churn_date"] = frame.loc[2, "signup_date"] - dt.timedelta(days=1)  # ordered
        return pd.concat([frame, frame.iloc[[3]]], ignore_index=True)  # unique

    def events(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[0:2, "event_type"] = "teleport"
        frame.loc[3, "customer_id"] = "nobody"                        # relationship
        frame.loc[4, "feature_adoption_score"] = 1.5
        frame.loc[5, "timestamp"] = pd.Timestamp("2031-01-01")        # not_after_data_end
        frame.loc[6, "timestamp"] = pd.Timestamp("2001-01-01")        # not_before_signup
        frame.loc[7, "event_type"] = None                             # not_null
        return frame

    edit("customers.parquet", customers)
    edit("usage_events.parquet", events)


def test_data_tests_find_the_same_problems_on_spark(spark, synthetic, tmp_path):
    broken = tmp_path / "broken"
    broken_copy(synthetic.parquet_dir, broken)
    con = duckdb.connect()
    con.execute("create schema raw; create schema meta")
    for table, name in EXPORTED_TABLES.items():
        con.execute(f"create table {table} as select * from read_parquet($path)", {"path": str(broken / name)})
    data_end = con.execute("select data_end from meta.build_info").fetchone()[0]
    expected = run_data_tests(con, "raw", data_end)

    spark_engine.register_warehouse(spark, broken)
    got = run_data_tests(spark, "raw", warehouse.data_end(spark))
    # The command line runs the same tests (in the running session) and exits 1.
    assert cli.main(["validate", "--engine", "spark", "--parquet", str(broken)]) == 1

    templates = {problem.test.template for problem in expected}
    assert templates >= {"unique", "not_null", "accepted_values", "range", "relationship", "ordered",
                         "not_before_signup", "not_after_data_end", "customer_consistency"}
    assert [problem.describe() for problem in got] == [problem.describe() for problem in expected]


def test_parameters_are_bound_as_typed_literals(spark):
    text = "x'); drop table raw.customers; --"
    row = fetch_row(
        spark,
        "select $text as text, $day as day, $count + 1 as next, list_contains($tiers, 'growth') as has_growth",
        {"text": text, "day": dt.date(2024, 2, 29), "count": 41, "tiers": ["starter", "growth"]},
    )
    assert row == (text, dt.date(2024, 2, 29), 42, True)
    with pytest.raises(TypeError, match="bind a date"):
        spark_engine.spark_arguments({"as_of": dt.datetime(2024, 1, 1, 12)})
    with pytest.raises(TypeError, match="dict"):
        spark_engine.spark_arguments({"as_of": {"a": 1}})


def test_connect_switches_engines_with_one_parameter(spark, synthetic, monkeypatch):
    monkeypatch.delenv("WAREHOUSE_PARQUET_DIR", raising=False)
    settings = {"warehouse_path": synthetic.path, "parquet_dir": synthetic.parquet_dir}
    with warehouse.connect("duckdb", **settings) as con:
        assert isinstance(con, duckdb.DuckDBPyConnection)
        expected = revenue.mrr_movements(con)
    # A running session (a cluster notebook's `spark`) is used and left running.
    with warehouse.connect("spark", **settings) as con:
        assert con is spark
        assert_same_frame(revenue.mrr_movements(con), expected)
    assert spark.sql("select 1").collect()[0][0] == 1
    spark.sql("drop table raw.support_tickets")
    with pytest.raises(spark_engine.SparkEngineError, match="raw.support_tickets"):
        with warehouse.connect("spark"):
            pass
    monkeypatch.setenv("WAREHOUSE_PARQUET_DIR", str(synthetic.parquet_dir))
    with warehouse.connect("spark") as con:
        assert spark_engine.missing_tables(con) == []
    with pytest.raises(ValueError, match="engine must be one of 'duckdb', 'spark'"):
        with warehouse.connect("postgres"):
            pass
    with pytest.raises(TypeError, match="SparkSession"):
        revenue.mrr_movements("warehouse.duckdb")


def test_translation_flattens_nested_ctes_under_unique_names():
    require("sqlglot", java=False)
    import sqlglot

    queries = {
        "retention_metrics": load_sql(
            "retention_metrics", movements=revenue._movements_sql(), customer_months=revenue.customer_months_sql()
        ),
        "feature_snapshot": load_sql("feature_snapshot", churn_events=load_sql("churn_events"),
                                     feature_columns=load_sql("feature_columns")),
    }
    for name, sql in queries.items():
        translated = spark_engine.to_spark_sql(sql)
        tree = sqlglot.parse_one(translated, read="spark")
        withs = list(tree.find_all(sqlglot.exp.With))
        assert len(withs) == 1, name
        names = [cte.alias for cte in withs[0].expressions]
        assert len(names) == len(set(names)), name
        assert "$" not in translated, name
        assert ":start_month" in translated or ":as_of" in translated, name
    # The month spine appears five times in retention_metrics' text and once in its translation.
    assert queries["retention_metrics"].count("unnest(generate_series(") == 5
    assert spark_engine.to_spark_sql(queries["retention_metrics"]).upper().count("SEQUENCE(") == 1


def test_export_writes_every_table_with_its_types(synthetic, tmp_path):
    written = export_parquet(tmp_path / "out", synthetic.path)
    assert sorted(path.name for path in written.values()) == sorted(EXPORTED_TABLES.values())
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == sorted(EXPORTED_TABLES.values())
    with warehouse.get_connection(path=synthetic.path) as con:
        for table, path in written.items():
            rows = con.execute(f"select count(*) from {table}").fetchone()[0]
            assert pq.read_metadata(path).num_rows == rows, table
    schema = pq.read_schema(written["raw.subscriptions"])
    assert schema.field("mrr").type == pa.decimal128(12, 2)
    assert schema.field("start_date").type == pa.date32()
    assert pq.read_schema(written["raw.usage_events"]).field("timestamp").type == pa.timestamp("us")
    with pytest.raises(ValueError, match="must be a folder"):
        export_parquet(written["raw.customers"], synthetic.path)


def test_a_failed_export_leaves_the_previous_one_whole(synthetic, tmp_path):
    target = tmp_path / "out"
    export_parquet(target, synthetic.path)
    before = {path.name: path.read_bytes() for path in target.iterdir()}
    # A warehouse without support tickets: the export fails on its fourth table.
    partial = tmp_path / "partial.duckdb"
    shutil.copy(synthetic.path, partial)
    with duckdb.connect(str(partial)) as con:
        con.execute("drop table raw.support_tickets")
    with pytest.raises(duckdb.CatalogException, match="support_tickets"):
        export_parquet(target, partial)
    assert {path.name: path.read_bytes() for path in target.iterdir()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "partial.duckdb"]  # no staging left


def test_a_table_the_suite_did_not_register_is_never_replaced(spark, synthetic):
    spark_engine.register_warehouse(spark, synthetic.parquet_dir)
    spark.sql("drop table raw.support_tickets")
    spark.catalog.createTable("raw.support_tickets", path=str(synthetic.parquet_dir / "support_tickets.parquet"),
                              source="parquet")  # someone else's table: no description of ours
    with pytest.raises(spark_engine.SparkEngineError, match="raw.support_tickets already exists.*not registered"):
        spark_engine.register_warehouse(spark, synthetic.parquet_dir)
    spark.sql("drop table raw.support_tickets")
    spark_engine.register_warehouse(spark, synthetic.parquet_dir)  # ours again: replaced freely
    assert spark_engine.register_warehouse(spark, synthetic.parquet_dir)["raw.support_tickets"].endswith(
        "support_tickets.parquet")


def text_outputs(notebook: Path) -> list[str]:
    """Every text a notebook shows (streams, plain text, HTML tables), cell by cell; images left out."""
    texts = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                texts.append(output["text"])
            for kind in ("text/plain", "text/html", "text/markdown"):
                if kind in output.get("data", {}):
                    texts.append(output["data"][kind])
    return texts


# The notebook's kernel starts its own Spark session with Spark's defaults (200 shuffle
# partitions, adaptive execution, a UI, both JIT tiers). The kernel inherits this
# process's environment, so spark-submit's arguments give it the settings of the
# module's session: no result depends on them, only the time the kernel's JVM takes.
KERNEL_SPARK_SUBMIT_ARGS = " ".join([
    "--conf spark.sql.shuffle.partitions=2",
    "--conf spark.default.parallelism=2",
    "--conf spark.sql.adaptive.enabled=false",
    "--conf spark.ui.enabled=false",
    "--conf spark.ui.showConsoleProgress=false",
    f"--driver-java-options {JVM_OPTIONS}",
    "pyspark-shell",
])


def test_the_cohort_report_runs_on_spark_end_to_end(spark, synthetic, tmp_path, monkeypatch):
    monkeypatch.setenv("PYSPARK_SUBMIT_ARGS", KERNEL_SPARK_SUBMIT_ARGS)
    # No DuckDB file on the Spark run: the runner and the notebook read only the export.
    runs = {
        "duckdb": reports.run_reports(reports=["cohort"], warehouse_path=synthetic.path,
                                      reports_dir=tmp_path / "duckdb"),
        "spark": reports.run_reports(reports=["cohort"], warehouse_path=tmp_path / "absent.duckdb",
                                     reports_dir=tmp_path / "spark",
                                     parameters={"engine": "spark", "parquet_dir": str(synthetic.parquet_dir)}),
    }
    assert not (tmp_path / "absent.duckdb").exists()
    assert runs["spark"].name == runs["duckdb"].name  # the same auto as-of, read by each engine
    texts = {name: text_outputs(folder / "cohort_report.ipynb") for name, folder in runs.items()}
    assert any("engine spark" in text for text in texts["spark"])
    # Every table, key figure and sentence is the same, but for the engine named in the caption.
    assert [text.replace("engine spark", "engine duckdb") for text in texts["spark"]] == texts["duckdb"]
    assert len(texts["duckdb"]) > 10
    assert (runs["spark"] / "cohort_report.html").stat().st_size > 100_000  # the charts are inline
