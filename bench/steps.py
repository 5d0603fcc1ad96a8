"""What each benchmark step runs, inside its own process (see bench/step.py).

A step function receives the run's ``StepContext`` and a ``Clock``. It imports
what it needs and prepares untimed inputs first, then wraps the work being
measured in ``clock.measure(part)``; the clock records the wall time and the
process's peak resident memory (VmHWM) at the end of each part. Most steps
have one part named after the step; the pandas reference has two (loading
the events, then the groupby). The returned dict is extra information for
the results (row counts, whether a reference matched the snapshot).

The Spark steps (``spark_<step>``) run the same analytics call as their DuckDB
step on a local SparkSession over the warehouse's Parquet export: one part
starts the session and registers the tables, another (named after the step)
runs the query, so that part compares with the DuckDB step like for like.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StepContext:
    """Everything a step may need; paths are absolute."""

    warehouse: Path
    as_of: dt.date | None = None
    models_dir: Path | None = None
    metrics_dir: Path | None = None
    raw_dir: Path | None = None
    customers: int | None = None
    events: int | None = None
    seed: int | None = None
    sample_customers: int = 200
    verify: bool = False
    train_params: Path | None = None
    train_max_iter: int | None = None
    parquet_dir: Path | None = None
    # Extra settings of the Spark steps' sessions, over helpers.warehouse.spark.create_session's.
    spark_conf: tuple[tuple[str, str], ...] = ()


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (VmHWM), in MiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


class Clock:
    """Wall time and peak memory of the measured parts of a step."""

    def __init__(self) -> None:
        self.parts: dict[str, dict[str, float]] = {}

    @contextlib.contextmanager
    def measure(self, part: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.parts[part] = {"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}


StepFunction = Callable[[StepContext, Clock], dict[str, Any]]


def _require(value: Any, name: str, step: str) -> Any:
    if value is None:
        raise ValueError(f"step {step} needs --{name.replace('_', '-')}")
    return value


# --- Setup: generate, build, train (run on a cache miss) ---


def generation(context: StepContext, clock: Clock) -> dict[str, Any]:
    """The synthetic generator writing the raw Parquet folder (``dvc repro generate``)."""
    from helpers.warehouse import raw_data

    raw_dir = _require(context.raw_dir, "raw_dir", "generation")
    customers = _require(context.customers, "customers", "generation")
    events = _require(context.events, "events", "generation")
    with clock.measure("generation"):
        manifest = raw_data.write_synthetic(raw_dir, customers, context.seed, events / customers, progress=False)
    return {"rows": manifest["rows"]}


def warehouse_build(context: StepContext, clock: Clock) -> dict[str, Any]:
    """The warehouse built from the raw folder through ingest (``dvc repro warehouse``)."""
    from helpers.warehouse import raw_data

    raw_dir = _require(context.raw_dir, "raw_dir", "warehouse_build")
    with clock.measure("warehouse_build"):
        metadata = raw_data.build_from_raw_dir(raw_dir, context.warehouse)
    return {"row_counts": metadata["row_counts"], "content_hash": metadata["content_hash"]}


def train_models(context: StepContext, clock: Clock) -> dict[str, Any]:
    """Both models trained and registered with ``training.train_all`` into the cache."""
    from helpers.models import training

    params = _training_params(context)
    models_dir = _require(context.models_dir, "models_dir", "train_models")
    with clock.measure("train_models"):
        written = training.train_all(params, context.warehouse, models_dir, context.metrics_dir)
    churn = written["churn_model"]
    return {
        "max_iter": params["churn_model"]["params"]["max_iter"],
        "candidate": churn.get("candidate"),
        "boosting_rounds": churn.get("boosting_rounds"),
        "versions": {name: metadata.get("version") for name, metadata in written.items()},
    }


def _training_params(context: StepContext) -> dict[str, Any]:
    """params.yaml (or ``--train-params``) with ``--train-max-iter`` applied, as training used them."""
    from helpers import config

    params = config.load_params(context.train_params)
    # One time-to-churn fit serves both registry names: its boosted-trees settings live under churn_model.
    if context.train_max_iter is not None:
        params["churn_model"]["params"]["max_iter"] = context.train_max_iter
    return params


# --- Steps of the suite, on the finished warehouse ---


def validate(context: StepContext, clock: Clock) -> dict[str, Any]:
    """Every declared data test on the warehouse."""
    from helpers import warehouse

    with clock.measure("validate"):
        problems = warehouse.validate(context.warehouse)
    return {"problems": len(problems)}


def _connection(context: StepContext):
    from helpers import warehouse

    return warehouse.get_connection(read_only=True, path=context.warehouse)


def snapshot(context: StepContext, clock: Clock) -> dict[str, Any]:
    """``features.snapshot`` at the as-of date (connection opening included, as in every step)."""
    from helpers.analytics import features

    with clock.measure("snapshot"):
        with _connection(context) as con:
            frame = features.snapshot(con, context.as_of)
    return {"rows": len(frame)}


# Issue 16: stacked_snapshots at three years of month starts, backtest_rolling at a year of origins.
STACKED_DATES = 36
BACKTEST_ORIGINS = 12


def stacked_snapshots(context: StepContext, clock: Clock) -> dict[str, Any]:
    """``features.stacked_snapshots`` at the 36 month starts ending at the as-of, horizon 1 day as training uses.

    With ``verify``, the first, middle and last dates' rows are compared (untimed)
    with ``features.snapshot`` at those dates.
    """
    from bench import reference
    from helpers.analytics import features
    from helpers.dates import add_months, month_starts

    as_of = _require(context.as_of, "as_of", "stacked_snapshots")
    dates = month_starts(add_months(as_of, 1 - STACKED_DATES), as_of)
    with clock.measure("stacked_snapshots"):
        with _connection(context) as con:
            frame = features.stacked_snapshots(con, dates, 1)
    info: dict[str, Any] = {"rows": len(frame), "dates": len(dates)}
    if context.verify:
        differences = []
        with _connection(context) as con:
            for day in (dates[0], dates[len(dates) // 2], dates[-1]):
                single = features.snapshot(con, day, 1)
                differences += reference.stacked_differences(frame[frame["as_of"] == day], single, day)
        info.update(matches_snapshot=not differences, differences=differences)
    return info


def mrr_movements(context: StepContext, clock: Clock) -> dict[str, Any]:
    """The monthly MRR roll-forward over the whole history."""
    from helpers.analytics import revenue

    with clock.measure("mrr_movements"):
        with _connection(context) as con:
            frame = revenue.mrr_movements(con)
    return {"rows": len(frame)}


def retention_metrics(context: StepContext, clock: Clock) -> dict[str, Any]:
    """Logo churn, GRR, NRR (monthly and trailing 12 months), quick ratio and ARPA over the whole history."""
    from helpers.analytics import revenue

    with clock.measure("retention_metrics"):
        with _connection(context) as con:
            frame = revenue.retention_metrics(con)
    return {"rows": len(frame)}


def _retention(kind: str) -> StepFunction:
    def run(context: StepContext, clock: Clock) -> dict[str, Any]:
        from helpers.analytics import cohorts

        with clock.measure(f"retention_{kind}"):
            with _connection(context) as con:
                frame = cohorts.retention_table(con, kind=kind)
        return {"rows": len(frame)}

    run.__doc__ = f"``cohorts.retention_table`` of kind {kind!r} (tidy)."
    return run


def kaplan_meier_by_plan_tier(context: StepContext, clock: Clock) -> dict[str, Any]:
    """Tenure table at the as-of date and one Kaplan-Meier curve per plan tier."""
    from helpers.analytics import survival

    with clock.measure("kaplan_meier_by_plan_tier"):
        with _connection(context) as con:
            table = survival.tenure_table(con, context.as_of, segment="plan_tier")
        curves = survival.kaplan_meier_by_group(
            table["duration_months"].to_numpy(), table["churned"].to_numpy(), table["plan_tier"].to_numpy()
        )
    return {"customers": len(table), "rows": len(curves)}


def score_customers(context: StepContext, clock: Clock) -> dict[str, Any]:
    """Both models loaded from the registry (hash-checked) and every paying customer scored."""
    from helpers import registry
    from helpers.models import churn_model, risk_model, scoring  # noqa: F401  (sklearn imported untimed)

    models_dir = _require(context.models_dir, "models_dir", "score_customers")
    with clock.measure("score_customers"):
        churn = registry.load_model("churn_model", models_dir)
        risk = registry.load_model("risk_model", models_dir)
        with _connection(context) as con:
            scores = scoring.score_customers(con, context.as_of, churn, risk)
    return {"rows": len(scores)}


def score_customers_one_thread(context: StepContext, clock: Clock) -> dict[str, Any]:
    """``score_customers`` with OpenMP limited to one thread, as the report notebooks run it.

    helpers.notebook.limited_threads does the same: scikit-learn's per-call
    OpenMP threads spin-wait, which on a busy machine multiplies the cost of
    scoring's many batch predictions.
    """
    from threadpoolctl import threadpool_limits

    from helpers import registry

    from helpers.models import churn_model, risk_model, scoring  # noqa: F401  (sklearn imported untimed)

    models_dir = _require(context.models_dir, "models_dir", "score_customers_one_thread")
    with clock.measure("score_customers_one_thread"):
        with threadpool_limits(limits=1, user_api="openmp"):
            churn = registry.load_model("churn_model", models_dir)
            risk = registry.load_model("risk_model", models_dir)
            with _connection(context) as con:
                scores = scoring.score_customers(con, context.as_of, churn, risk)
    return {"rows": len(scores)}


def backtest_rolling(context: StepContext, clock: Clock) -> dict[str, Any]:
    """``backtest.rolling_backtest`` at 12 origins: the registered recipe refitted at each one."""
    from helpers import registry
    from helpers.models import backtest

    models_dir = _require(context.models_dir, "models_dir", "backtest_rolling")
    metadata = registry.get_model_metadata("churn_model", models_dir)
    if "candidate" not in metadata:
        raise ValueError(f"the churn_model in {models_dir} records no candidate: nothing to refit")
    settings = _training_params(context)["churn_model"]
    with clock.measure("backtest_rolling"):
        with _connection(context) as con:
            table = backtest.rolling_backtest(con, settings, metadata["candidate"], metadata["calibration"],
                                              BACKTEST_ORIGINS, rounds=metadata.get("boosting_rounds"))
    return {"rows": len(table)}


# --- The same analytics on Spark (local mode, over the Parquet export) ---

# The part of a Spark step that starts the session and registers the tables.
SPARK_SESSION_PART = "spark_session"


def parquet_export(context: StepContext, clock: Clock) -> dict[str, Any]:
    """``export.export_parquet``: the warehouse tables as the Parquet files the Spark steps read."""
    from helpers.warehouse import export

    parquet_dir = _require(context.parquet_dir, "parquet_dir", "parquet_export")
    with clock.measure("parquet_export"):
        written = export.export_parquet(parquet_dir, context.warehouse)
    files = {path.name: path.stat().st_size for path in written.values()}
    return {"files": files, "total_mb": round(sum(files.values()) / 2**20, 1)}


# Each Spark step's work: (con, context) -> the frames it computes, the same
# calls as the DuckDB step of that name (a DuckDB connection or a SparkSession).
def _mrr_movements_work(con, context: StepContext) -> tuple:
    from helpers.analytics import revenue

    return (revenue.mrr_movements(con),)


def _retention_metrics_work(con, context: StepContext) -> tuple:
    from helpers.analytics import revenue

    return (revenue.retention_metrics(con),)


def _retention_work(kind: str) -> Callable[[Any, StepContext], tuple]:
    def work(con, context: StepContext) -> tuple:
        from helpers.analytics import cohorts

        return (cohorts.retention_table(con, kind=kind),)

    return work


def _kaplan_meier_work(con, context: StepContext) -> tuple:
    from helpers.analytics import survival

    table = survival.tenure_table(con, context.as_of, segment="plan_tier")
    curves = survival.kaplan_meier_by_group(
        table["duration_months"].to_numpy(), table["churned"].to_numpy(), table["plan_tier"].to_numpy()
    )
    return table, curves


def _snapshot_work(con, context: StepContext) -> tuple:
    from helpers.analytics import features

    return (features.snapshot(con, context.as_of),)


def _spark(duckdb_step: str, work: Callable[[Any, StepContext], tuple]) -> StepFunction:
    def run(context: StepContext, clock: Clock) -> dict[str, Any]:
        # Imported untimed, as DuckDB and pandas are for the DuckDB steps.
        import pyspark.sql  # noqa: F401
        import sqlglot  # noqa: F401

        from bench import engines
        from helpers.warehouse import spark as spark_engine

        name = f"spark_{duckdb_step}"
        parquet_dir = _require(context.parquet_dir, "parquet_dir", name)
        with clock.measure(SPARK_SESSION_PART):
            session = spark_engine.create_session(config=dict(context.spark_conf))
            spark_engine.register_warehouse(session, parquet_dir)
        try:
            with clock.measure(name):
                frames = work(session, context)
            # Before stop(): the JVM's VmHWM is gone with the JVM.
            info = engines.jvm_figures(session)
        finally:
            engines.stop_and_wait(session)
        info["rows"] = len(frames[-1])
        if len(frames) > 1:
            info["customers"] = len(frames[0])
        if context.verify:
            with _connection(context) as con:
                expected = work(con, context)
            differences = [
                line for number, (got, want) in enumerate(zip(frames, expected))
                for line in engines.frame_differences(got, want, f"frame {number}")
            ]
            info.update(matches_duckdb=not differences, differences=differences)
        return info

    run.__doc__ = f"The work of step {duckdb_step} on a local SparkSession (session start timed apart)."
    return run


# --- Reference points ---


def floor_single_query(context: StepContext, clock: Clock) -> dict[str, Any]:
    """The snapshot's event features in one hand-written GROUP BY (bench/sql)."""
    from bench import reference

    with clock.measure("floor_single_query"):
        with _connection(context) as con:
            aggregates = reference.floor_event_aggregates(con, context.as_of)
    info: dict[str, Any] = {"rows": len(aggregates)}
    if context.verify:
        info.update(_verify(context, reference.event_features(aggregates, context.as_of)))
    return info


def per_customer_loop(context: StepContext, clock: Clock) -> dict[str, Any]:
    """The seed's loop, one repository call and connection per customer, on a sample.

    The population (customers the snapshot scores) and the sample are chosen
    untimed; the parent extrapolates the sample's time to the population.
    """
    from bench import reference
    from helpers.analytics import features

    with _connection(context) as con:
        population = features.snapshot(con, context.as_of)[["customer_id", "events_30d"]]
    sample = reference.evenly_spaced(population["customer_id"].tolist(), context.sample_customers)
    with clock.measure("per_customer_loop"):
        counts = reference.per_customer_event_counts(context.warehouse, sample, context.as_of, days=30)
    expected = population.set_index("customer_id").loc[sample, "events_30d"].tolist()
    return {
        "population": len(population),
        "sample_customers": len(sample),
        "matches_snapshot": counts == expected,
    }


def pandas_groupby(context: StepContext, clock: Clock) -> dict[str, Any]:
    """Raw events loaded into pandas (one part), then the event features by groupby (another)."""
    from bench import reference

    with clock.measure("pandas_load_events"):
        with _connection(context) as con:
            events = reference.load_events(con, context.as_of)
    with clock.measure("pandas_groupby"):
        aggregates = reference.pandas_event_aggregates(events, context.as_of)
    info: dict[str, Any] = {"events_loaded": len(events), "rows": len(aggregates)}
    del events
    if context.verify:
        info.update(_verify(context, reference.event_features(aggregates, context.as_of)))
    return info


def process_baseline(context: StepContext, clock: Clock) -> dict[str, Any]:
    """Nothing but the imports every step pays: the floor under every peak RSS."""
    from helpers.analytics import cohorts, features, revenue, survival  # noqa: F401
    from helpers.models import churn_model, risk_model, scoring  # noqa: F401

    with clock.measure("process_baseline"):
        pass
    return {}


def _verify(context: StepContext, reference_features) -> dict[str, Any]:
    """Compare reference event features with the snapshot at the same as-of (untimed)."""
    from bench import reference
    from helpers.analytics import features

    with _connection(context) as con:
        frame = features.snapshot(con, context.as_of)
    differences = reference.compare_with_snapshot(frame, reference_features)
    return {"matches_snapshot": not differences, "differences": differences}


SETUP_STEPS: dict[str, StepFunction] = {
    "generation": generation,
    "warehouse_build": warehouse_build,
    "train_models": train_models,
}
SUITE_STEPS: dict[str, StepFunction] = {
    "validate": validate,
    "snapshot": snapshot,
    "stacked_snapshots": stacked_snapshots,
    "mrr_movements": mrr_movements,
    "retention_metrics": retention_metrics,
    "retention_logo": _retention("logo"),
    "retention_revenue": _retention("revenue"),
    "kaplan_meier_by_plan_tier": kaplan_meier_by_plan_tier,
    "score_customers": score_customers,
    "score_customers_one_thread": score_customers_one_thread,
    "backtest_rolling": backtest_rolling,
}
# Steps that need the trained models: the harness trains (or reuses the cached models) when one is selected.
SCORING_STEPS: tuple[str, ...] = ("score_customers", "score_customers_one_thread", "backtest_rolling")
# Steps whose first run also checks, untimed, that they compute the snapshot's values (matches_snapshot).
VERIFIED_STEPS: tuple[str, ...] = ("stacked_snapshots", "floor_single_query", "pandas_groupby")
REFERENCE_STEPS: dict[str, StepFunction] = {
    "floor_single_query": floor_single_query,
    "per_customer_loop": per_customer_loop,
    "pandas_groupby": pandas_groupby,
    "process_baseline": process_baseline,
}
# Spark counterparts of suite steps (spark_<step>): run only when asked for (--only), as they
# need Java and the optional `spark` extra and take minutes. parquet_export feeds them.
SPARK_STEPS: dict[str, StepFunction] = {
    f"spark_{name}": _spark(name, work)
    for name, work in {
        "snapshot": _snapshot_work,
        "mrr_movements": _mrr_movements_work,
        "retention_metrics": _retention_metrics_work,
        "retention_logo": _retention_work("logo"),
        "retention_revenue": _retention_work("revenue"),
        "kaplan_meier_by_plan_tier": _kaplan_meier_work,
    }.items()
}
ALL_STEPS: dict[str, StepFunction] = (
    SETUP_STEPS | {"parquet_export": parquet_export} | SUITE_STEPS | SPARK_STEPS | REFERENCE_STEPS
)
