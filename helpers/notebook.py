"""What every notebook repeats: resolving parameters, opening the warehouse, formatting tables.

The numbered notebooks take their parameters as plain literals (papermill
fills them); this module turns them into paths, dates and an open
connection, and turns result frames into tables that read well in the HTML
reports (money as "$12,345", shares as "12.3%"). It also holds the small
report tables the notebooks show (tier and segment summaries, the data test
list, the roll-forward), so a notebook cell is one call and one display.

Paths come from ``helpers.config`` when a parameter is empty, so a notebook
runs the same from JupyterLab, papermill or nbval, whatever the working
directory.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from helpers import config, warehouse
from helpers import engine as engine_seam
from helpers.dates import DateLike, add_months, default_as_of, month_start, to_date

MISSING = "—"  # shown in tables where a value is undefined (NaN, None)


# --- parameters ----------------------------------------------------------------


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
    """The metrics folder ``dvc metrics show`` reads: the parameter, else ``metrics/`` at the project root."""
    if value is None or not str(value).strip():
        return config.PROJECT_ROOT / "metrics"
    return Path(str(value).strip()).expanduser().resolve()


def check_as_of(as_of: dt.date, data_start: dt.date, data_end: dt.date) -> dt.date:
    """Refuse an as-of date outside the data: a report needs data before it, and none after the data end.

    Args:
        as_of: the resolved date.
        data_start, data_end: the warehouse's data range (``meta.build_info``).

    Returns:
        ``as_of`` unchanged.

    Raises:
        ValueError: ``as_of`` is on or before the first day of data, or later than the day after the last.
    """
    latest = data_end + dt.timedelta(days=1)
    if as_of > latest:
        raise ValueError(
            f"as_of {as_of} is after the data: the warehouse covers {data_start} to {data_end}, so the "
            f"latest as-of date is {latest}; pass an earlier date or 'auto'"
        )
    if as_of <= data_start:
        raise ValueError(
            f"as_of {as_of} is before any data: the warehouse covers {data_start} to {data_end}; "
            f"pass a later date or 'auto'"
        )
    return as_of


def resolve_as_of(value: DateLike | None, data_start: dt.date, data_end: dt.date) -> dt.date:
    """The notebook's ``as_of`` parameter as a date: ``auto`` is the day after the last complete month.

    Args:
        value: ``"auto"`` (or empty/None) or a date such as ``"2025-07-01"``.
        data_start, data_end: the warehouse's data range.

    Returns:
        The as-of date, checked to lie within the data (see ``check_as_of``).
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
        return default_as_of(data_end)
    return check_as_of(to_date(value, "as_of"), data_start, data_end)


def last_complete_month(as_of: DateLike) -> dt.date:
    """First day of the last month that ends before ``as_of``: where a report's monthly analysis stops.

    As of 2026-01-01 that is December 2025; as of 2025-12-15 it is November 2025.
    """
    return add_months(month_start(to_date(as_of, "as_of")), -1)


def month_window(as_of: DateLike, months: int) -> tuple[dt.date, dt.date]:
    """The ``months`` complete months before ``as_of``, as (first month, last month)."""
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise ValueError(f"months must be a positive int, got {months!r}")
    last = last_complete_month(as_of)
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
    from helpers import training

    params = training.load_params(params_path or None)
    if isinstance(overrides, str):
        overrides = yaml.safe_load(overrides) if overrides.strip() else {}
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise ValueError(f"overrides must be a mapping such as {{churn_model: {{params: {{max_iter: 60}}}}}}, got {overrides!r}")
    merged = _merge(params, overrides, "")
    if horizon_days:
        if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
            raise ValueError(f"horizon_days must be a positive int (0 keeps params.yaml's), got {horizon_days!r}")
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


# --- connections ---------------------------------------------------------------


@contextlib.contextmanager
def connect(
    engine: str = "duckdb", warehouse_path: str | os.PathLike | None = "", parquet_dir: str | os.PathLike | None = ""
) -> Iterator[Any]:
    """Open the warehouse with the chosen engine (``helpers.engine.connect``); closed on exit.

    Args:
        engine: ``"duckdb"`` (read-only connection to the warehouse file) or ``"spark"``.
        warehouse_path: DuckDB: the notebook's parameter (empty: the default warehouse).
        parquet_dir: Spark: a folder written by ``python -m helpers export --parquet DIR``
            (empty: ``$WAREHOUSE_PARQUET_DIR``, else the tables the Spark session already resolves).

    Yields:
        A connection the ``helpers`` query functions accept.
    """
    # Report runs pass absolute paths; a relative one is the kernel's working directory's.
    with engine_seam.connect(
        engine, warehouse_path=resolve_warehouse_path(warehouse_path), parquet_dir=parquet_dir or None
    ) as con:
        yield con


@dataclass
class ReportContext:
    """What a report notebook sets up once: the connection, the as-of date, paths and build metadata.

    Use ``open_report`` to make one; ``close()`` (or a ``with`` block) closes the connection.
    """

    con: Any
    engine: str
    as_of: dt.date
    warehouse_path: Path
    models_dir: Path
    metadata: dict[str, Any]
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)

    @property
    def last_month(self) -> dt.date:
        """The last complete month before ``as_of`` (first day)."""
        return last_complete_month(self.as_of)

    def window(self, months: int) -> tuple[dt.date, dt.date]:
        """The ``months`` complete months before ``as_of`` as (first, last)."""
        return month_window(self.as_of, months)

    def caption(self) -> str:
        """One markdown line saying what the report is computed on (no clock time, no path)."""
        meta = self.metadata
        source = meta.get("source", "unknown")
        if meta.get("seed") is not None and not pd.isna(meta.get("seed")):
            source += f", seed {int(meta['seed'])}"
        return (
            f"**As of {self.as_of:%Y-%m-%d}** (data strictly before this day; the last complete month is "
            f"{self.last_month:%B %Y}). Warehouse: {source}, data {meta['data_start']} to {meta['data_end']}, "
            f"content `{str(meta.get('content_hash', ''))[:12]}`; engine {self.engine}."
        )

    def close(self) -> None:
        """Close the connection."""
        self._stack.close()

    def __enter__(self) -> "ReportContext":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_report(
    as_of: DateLike | None = "auto",
    warehouse_path: str | os.PathLike | None = "",
    models_dir: str | os.PathLike | None = "",
    engine: str = "duckdb",
    parquet_dir: str | os.PathLike | None = "",
) -> ReportContext:
    """Resolve a notebook's parameters and open its connection.

    Args:
        as_of: ``"auto"`` or a date; checked against the warehouse's data range.
        warehouse_path, models_dir: the parameters (empty: helpers.config defaults).
        engine: ``"duckdb"`` or ``"spark"``.
        parquet_dir: Spark only: the exported Parquet folder (see ``connect``).

    Returns:
        A ReportContext holding an open connection.
    """
    stack = contextlib.ExitStack()
    try:
        con = stack.enter_context(connect(engine, warehouse_path, parquet_dir))
        metadata = warehouse.read_metadata(con)
        as_of_date = resolve_as_of(as_of, metadata["data_start"], metadata["data_end"])
    except BaseException:
        stack.close()
        raise
    return ReportContext(
        con=con,
        engine=engine_seam.check_engine(engine),
        as_of=as_of_date,
        warehouse_path=resolve_warehouse_path(warehouse_path),
        models_dir=resolve_models_dir(models_dir),
        metadata=metadata,
        _stack=stack,
    )


@contextlib.contextmanager
def limited_threads(threads: int = 1) -> Iterator[None]:
    """Fit and predict with at most ``threads`` OpenMP threads (0: no limit).

    Scoring makes many small batch predictions (one per feature for the
    drivers, one per month for the survival curves), each starting OpenMP
    threads; on a busy machine their spin-waiting made scoring 2,500
    customers take 41 s instead of 2.4 s, and fitting the churn model 44 s
    instead of 18 s. Results are identical whatever the thread count.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads must be an int >= 0 (0: no limit), got {threads!r}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn ships it; without it, run unlimited
        threadpool_limits = None
    if threads == 0 or threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=threads, user_api="openmp"):
        yield


def configure_display() -> None:
    """Pandas and matplotlib settings for notebooks: wide enough tables, inline PNG figures.

    Figures from ``helpers.plots`` are not managed by pyplot, so a cell shows a
    figure exactly once when it is the cell's value (or passed to ``display``).
    """
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_colwidth", 300)
    pd.set_option("display.width", 160)
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to configure
        return
    shell = get_ipython()
    if shell is None:
        return
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    import matplotlib.pyplot  # noqa: F401  (registers the inline figure formatter)

    set_matplotlib_formats("png")


# --- formatting ----------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A float for numbers (Decimal, numpy, int); None for missing or NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None
    return None if math.isnan(number) else number


def format_money(value: Any, decimals: int = 0, currency: str = "$") -> str:
    """``12345.6`` -> ``"$12,346"``; negative amounts as ``"-$9,730"``; missing as "—"."""
    number = _number(value)
    if number is None:
        return MISSING
    rounded = round(number, decimals)
    sign = "-" if rounded < 0 else ""
    return f"{sign}{currency}{abs(rounded):,.{decimals}f}"


def format_percent(value: Any, decimals: int = 1) -> str:
    """A share as a percentage: ``0.1234`` -> ``"12.3%"``; missing as "—"."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{number * 100:.{decimals}f}%"


def format_count(value: Any) -> str:
    """A count with thousands separators: ``12345`` -> ``"12,345"``; missing as "—"."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{round(number):,d}"


def format_number(value: Any, decimals: int = 2) -> str:
    """A plain number with ``decimals`` decimals and thousands separators; missing as "—"."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{number:,.{decimals}f}"


def format_month(value: Any) -> str:
    """A month as ``"2025-12"``; missing as "—"."""
    if value is None or pd.isna(value):
        return MISSING
    return f"{pd.Timestamp(value):%Y-%m}"


def format_date(value: Any) -> str:
    """A date as ``"2025-12-31"``; missing as "—"."""
    if value is None or pd.isna(value):
        return MISSING
    return f"{pd.Timestamp(value):%Y-%m-%d}"


def format_table(
    frame: pd.DataFrame,
    money: Iterable[str] = (),
    percent: Iterable[str] = (),
    counts: Iterable[str] = (),
    numbers: Mapping[str, int] | None = None,
    months: Iterable[str] = (),
    dates: Iterable[str] = (),
    rename: Mapping[str, str] | None = None,
    index: str | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` with its values formatted as text, for display.

    Args:
        frame: the result to show.
        money, percent, counts, months, dates: columns formatted with ``format_money``,
            ``format_percent``, ``format_count``, ``format_month``, ``format_date``.
        numbers: column -> decimals, formatted with ``format_number``.
        rename: column -> the header to show (applied after formatting).
        index: a column to show as the row label instead of 0, 1, 2...

    Returns:
        A frame of strings (columns not named are left as they are).
    """
    shown = frame.copy()
    formatters: dict[str, Any] = {}
    for columns, formatter in (
        (money, format_money), (percent, format_percent), (counts, format_count),
        (months, format_month), (dates, format_date),
    ):
        formatters.update({column: formatter for column in columns})
    for column, decimals in (numbers or {}).items():
        formatters[column] = lambda value, decimals=decimals: format_number(value, decimals)
    missing = sorted(set(formatters) - set(shown.columns))
    if missing:
        raise KeyError(f"format_table: no column(s) {', '.join(missing)}; the frame has {', '.join(map(str, shown.columns))}")
    for column, formatter in formatters.items():
        shown[column] = shown[column].map(formatter)
    if index is not None:
        shown = shown.set_index(index)
    if rename:
        shown = shown.rename(columns=dict(rename))
        if shown.index.name in rename:
            shown.index.name = rename[shown.index.name]
    return shown


def _plain(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {_plain(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_plain(item) for item in value) + "]"
    return str(value)


def print_key_figures(figures: Mapping[str, Any]) -> None:
    """Print ``name  value`` lines for regression checks (nbval compares this text).

    Round the values before passing them: the text must be identical run after
    run, so give no timestamps, paths, versions or unrounded floats.
    """
    if not figures:
        print("(no figures)")
        return
    width = max(len(str(name)) for name in figures)
    for name, value in figures.items():
        print(f"{str(name):<{width}}  {_plain(value)}")


# --- report tables: warehouse overview (01) -----------------------------------


def describe_warehouse(metadata: Mapping[str, Any]) -> pd.DataFrame:
    """The build metadata as a two-column table (what, value)."""
    seed = metadata.get("seed")
    rows = [
        ("source", metadata.get("source", "unknown")),
        ("generator seed", MISSING if seed is None or pd.isna(seed) else str(int(seed))),
        ("data range", f"{metadata['data_start']} to {metadata['data_end']}"),
        ("content hash (prefix)", str(metadata.get("content_hash", ""))[:12]),
        ("schema version", str(metadata.get("schema_version", MISSING))),
        ("built at (UTC)", MISSING if metadata.get("built_at") is None else f"{pd.Timestamp(metadata['built_at']):%Y-%m-%d %H:%M}"),
    ]
    return pd.DataFrame(rows, columns=["what", "value"]).set_index("what")


def row_count_table(metadata: Mapping[str, Any], summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows per table (from the build metadata), with customers covered and date span when ``summary`` is given.

    Args:
        metadata: ``warehouse.read_metadata``.
        summary: ``warehouse.summary`` (one row per table), optional.
    """
    counts = pd.DataFrame(
        {"table": list(metadata["row_counts"]), "rows": list(metadata["row_counts"].values())}
    )
    if summary is not None:
        counts = counts.merge(
            summary.rename(columns={"table_name": "table"})[["table", "customers", "first_date", "last_date"]],
            on="table", how="left",
        )
        return format_table(
            counts, counts=["rows", "customers"], dates=["first_date", "last_date"], index="table",
            rename={"first_date": "first date", "last_date": "last date"},
        )
    return format_table(counts, counts=["rows"], index="table")


def data_test_results(con: Any, data_end: dt.date | None = None) -> pd.DataFrame:
    """Run every declared data test and list each one with its result.

    Returns:
        One row per test: ``test, table, column, rule, result`` ("pass" or "FAIL"),
        ``failing_rows`` and ``example`` (the first failing row, if any).
    """
    from helpers.data_tests import DATA_TESTS, run_data_tests

    end = data_end if data_end is not None else warehouse.data_end(con)
    problems = {problem.test.name: problem for problem in run_data_tests(con, "raw", end)}
    rows = []
    for test in DATA_TESTS:
        problem = problems.get(test.name)
        rows.append({
            "test": test.name,
            "table": test.table,
            "column": test.column,
            "rule": test.rule,
            "result": "FAIL" if problem else "pass",
            "failing_rows": problem.count if problem else 0,
            "example": problem.describe() if problem else "",
        })
    return pd.DataFrame(rows)


def data_test_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Data test results per table: how many ran, passed and failed, and which kinds of check.

    Args:
        results: ``data_test_results``.

    Returns:
        One row per table (index ``table``): ``tests, passed, failed, failing_rows, checks``
        (e.g. "not null x5, unique, accepted values x2").
    """
    frame = results.copy()
    frame["kind"] = frame.apply(lambda row: _test_kind(row["test"], row["table"]), axis=1)
    rows = []
    for table, group in frame.groupby("table", sort=False):
        kinds = group["kind"].value_counts(sort=False)
        rows.append({
            "table": table,
            "tests": len(group),
            "passed": int((group["result"] == "pass").sum()),
            "failed": int((group["result"] != "pass").sum()),
            "failing_rows": int(group["failing_rows"].sum()),
            "checks": ", ".join(kind if count == 1 else f"{kind} x{count}" for kind, count in kinds.items()),
        })
    return pd.DataFrame(rows).set_index("table")


def _test_kind(name: str, table: str) -> str:
    """``not_null_customers_mrr`` -> ``not null``: the test's name up to its table."""
    head = name.split(f"_{table}_")[0] if f"_{table}_" in name else name
    return head.replace("_", " ")


def weekly_event_counts(daily: pd.DataFrame, start: DateLike | None = None, end: DateLike | None = None) -> pd.DataFrame:
    """Events per ISO week (starting Monday) and event type, complete weeks only.

    Args:
        daily: ``DuckDBUsageRepository.daily_activity()`` (``day, event_type, events``).
        start, end: first and last day to keep (None: the data's own range).

    Returns:
        Index ``week`` (its Monday), one column per event type, values = events.
    """
    frame = daily[["day", "event_type", "events"]].copy()
    if frame.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="week"))
    frame["day"] = pd.to_datetime(frame["day"])
    first = pd.Timestamp(start) if start is not None else frame["day"].min()
    last = pd.Timestamp(end) if end is not None else frame["day"].max()
    frame = frame[(frame["day"] >= first) & (frame["day"] <= last)]
    frame["week"] = frame["day"] - pd.to_timedelta(frame["day"].dt.weekday, unit="D")
    weekly = frame.pivot_table(index="week", columns="event_type", values="events", aggfunc="sum", fill_value=0)
    # Keep whole weeks only: a partial first or last week would look like a dip.
    complete = (weekly.index >= first) & (weekly.index + pd.Timedelta(days=6) <= last)
    weekly = weekly[complete]
    weekly.columns.name = "event_type"
    return weekly.astype("int64")


def monthly_customer_counts(
    movements: pd.DataFrame, customers: pd.DataFrame, start: DateLike, end: DateLike
) -> pd.DataFrame:
    """Paying customers, signups and churned customers per month.

    Args:
        movements: ``revenue.mrr_movements`` (``month, active_customers, churned_customers``).
        customers: the customers frame (``signup_date``).
        start, end: first and last month (any day of it).

    Returns:
        ``month, paying_customers, signups, churned_customers``.
    """
    first, last = month_start(to_date(start, "start")), month_start(to_date(end, "end"))
    months = pd.date_range(first, last, freq="MS")
    signup_months = pd.to_datetime(customers["signup_date"]).dt.to_period("M").dt.to_timestamp()
    signups = signup_months.value_counts().reindex(months, fill_value=0)
    moves = movements.set_index(pd.to_datetime(movements["month"]))
    return pd.DataFrame({
        "month": months,
        "paying_customers": moves["active_customers"].reindex(months, fill_value=0).to_numpy(),
        "signups": signups.to_numpy(),
        "churned_customers": moves["churned_customers"].reindex(months, fill_value=0).to_numpy(),
    })


def mix_table(customers: pd.DataFrame, by: str, order: Iterable[str] | None = None) -> pd.DataFrame:
    """Customers, paying customers and MRR per value of ``by`` (e.g. ``plan_tier``).

    Args:
        customers: the customers frame (``customer_id``, ``by``, ``mrr``, ``churn_date``).
        by: the category column.
        order: the categories in display order (default: by customers, descending).

    Returns:
        ``<by>, customers, paying_customers, mrr, customer_share, mrr_share``.
    """
    frame = customers.copy()
    frame["mrr"] = frame["mrr"].astype(float)
    table = frame.groupby(by).agg(
        customers=("customer_id", "size"),
        paying_customers=("mrr", lambda values: int((values > 0).sum())),
        mrr=("mrr", "sum"),
    )
    if order is not None:
        table = table.reindex(list(order), fill_value=0)
    else:
        table = table.sort_values("customers", ascending=False)
    table["customer_share"] = table["customers"] / max(table["customers"].sum(), 1)
    total_mrr = table["mrr"].sum()
    table["mrr_share"] = table["mrr"] / total_mrr if total_mrr else np.nan
    return table.reset_index()


# --- report tables: cohort report (02) ----------------------------------------


MOVEMENT_LABELS = {
    "starting_mrr": "starting MRR",
    "new": "new",
    "reactivation": "reactivation",
    "expansion": "expansion",
    "contraction": "contraction",
    "churn": "churn",
    "ending_mrr": "ending MRR",
    "net_change": "net change",
    "active_customers": "customers",
}


def roll_forward_table(movements: pd.DataFrame) -> pd.DataFrame:
    """The monthly MRR roll-forward, money formatted: one row per month.

    Columns: starting MRR, the five movements, ending MRR, net change and
    paying customers at the month's snapshot.
    """
    frame = movements.copy()
    frame["net_change"] = frame["ending_mrr"].map(Decimal) - frame["starting_mrr"].map(Decimal)
    columns = ["month", *MOVEMENT_LABELS]
    money = [column for column in MOVEMENT_LABELS if column != "active_customers"]
    return format_table(
        frame[columns], money=money, counts=["active_customers"], months=["month"],
        index="month", rename=MOVEMENT_LABELS,
    )


def retention_summary_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Monthly logo churn, GRR and NRR (monthly and trailing 12 months) and quick ratio, formatted."""
    columns = {
        "month": "month", "logo_churn_rate": "logo churn", "grr": "GRR", "nrr": "NRR",
        "grr_ttm": "GRR (TTM)", "nrr_ttm": "NRR (TTM)", "quick_ratio": "quick ratio", "arpa": "ARPA",
    }
    return format_table(
        metrics[list(columns)], percent=["logo_churn_rate", "grr", "nrr", "grr_ttm", "nrr_ttm"],
        numbers={"quick_ratio": 2}, money=["arpa"], months=["month"], index="month", rename=columns,
    )


def describe_logrank(result: Any, segment: str = "plan tier") -> str:
    """The log-rank test in one sentence, e.g. "... chi-square 412.3 on 4 degrees of freedom, p < 0.001"."""
    p_value = result.p_value
    shown_p = "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"
    verdict = (
        f"the {segment}s do not share one survival curve" if p_value < 0.05
        else f"no evidence that the {segment}s' survival curves differ"
    )
    return (
        f"Log-rank test across {len(result.summary)} {segment}s: chi-square {result.statistic:.1f} on "
        f"{result.degrees_of_freedom} degrees of freedom, {shown_p} ({verdict} at the 5% level)."
    )


def logrank_table(result: Any, order: Iterable[str] | None = None, segment: str = "group") -> pd.DataFrame:
    """Per group: customers, observed and expected churns and their ratio, formatted."""
    table = result.summary.copy()
    if order is not None:
        position = {name: i for i, name in enumerate(order)}
        table = table.sort_values("group", key=lambda column: column.map(lambda g: position.get(g, len(position))))
    table["observed_over_expected"] = table["observed"] / table["expected"]
    return format_table(
        table, counts=["subjects", "observed"], numbers={"expected": 1, "observed_over_expected": 2}, index="group",
        rename={"group": segment, "subjects": "customers", "observed": "observed churns",
                "expected": "expected churns", "observed_over_expected": "observed / expected"},
    )


# --- report tables: churn report (04) -----------------------------------------


def tier_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Customers, MRR and MRR at risk per risk tier (all tiers, lowest first).

    Args:
        scores: ``scoring.score_customers``.

    Returns:
        ``risk_tier, customers, customer_share, mrr, mrr_share, mean_probability,
        mrr_at_risk`` (MRR x churn probability within the churn model's horizon),
        ``expected_mrr_at_risk_12m``.
    """
    frame = scores.assign(mrr=scores["mrr"].astype(float))
    frame["mrr_at_risk"] = frame["mrr"] * frame["churn_probability"]
    grouped = frame.groupby("risk_tier", observed=False).agg(
        customers=("customer_id", "size"),
        mrr=("mrr", "sum"),
        mean_probability=("churn_probability", "mean"),
        mrr_at_risk=("mrr_at_risk", "sum"),
        expected_mrr_at_risk_12m=("expected_mrr_at_risk_12m", "sum"),
    )
    grouped["customer_share"] = grouped["customers"] / max(grouped["customers"].sum(), 1)
    grouped["mrr_share"] = grouped["mrr"] / grouped["mrr"].sum() if grouped["mrr"].sum() else np.nan
    grouped = grouped.reset_index()
    grouped["risk_tier"] = grouped["risk_tier"].astype(str)
    return grouped[["risk_tier", "customers", "customer_share", "mrr", "mrr_share", "mean_probability",
                    "mrr_at_risk", "expected_mrr_at_risk_12m"]]


def segment_summary(scores: pd.DataFrame, by: str, order: Iterable[str] | None = None) -> pd.DataFrame:
    """Customers, MRR, churn probability and MRR at risk per value of ``by`` (``plan_tier`` or ``industry``).

    Returns:
        ``<by>, customers, mrr, mean_probability, high_risk_customers`` (tier high
        or critical), ``mrr_at_risk``, ``mrr_at_risk_share`` (of the segment's MRR),
        ``expected_mrr_at_risk_12m``; riskiest MRR first unless ``order`` is given.
    """
    frame = scores.assign(mrr=scores["mrr"].astype(float))
    frame["mrr_at_risk"] = frame["mrr"] * frame["churn_probability"]
    frame["high_risk"] = frame["risk_tier"].astype(str).isin(["high", "critical"])
    table = frame.groupby(by).agg(
        customers=("customer_id", "size"),
        mrr=("mrr", "sum"),
        mean_probability=("churn_probability", "mean"),
        high_risk_customers=("high_risk", "sum"),
        mrr_at_risk=("mrr_at_risk", "sum"),
        expected_mrr_at_risk_12m=("expected_mrr_at_risk_12m", "sum"),
    )
    table["mrr_at_risk_share"] = (table["mrr_at_risk"] / table["mrr"]).where(table["mrr"] > 0)
    if order is not None:
        table = table.reindex([value for value in order if value in table.index])
    else:
        table = table.sort_values("mrr_at_risk", ascending=False)
    table = table.reset_index()
    table["high_risk_customers"] = table["high_risk_customers"].astype(int)
    return table[[by, "customers", "mrr", "mean_probability", "high_risk_customers", "mrr_at_risk",
                  "mrr_at_risk_share", "expected_mrr_at_risk_12m"]]


RANKINGS = ("mrr_at_risk", "probability")


def top_accounts(scores: pd.DataFrame, n: int = 20, rank_by: str = "mrr_at_risk") -> pd.DataFrame:
    """The ``n`` accounts most at risk, with MRR, probability, MRR at risk and their drivers.

    Args:
        scores: ``scoring.score_customers``.
        n: how many accounts.
        rank_by: ``"mrr_at_risk"`` (MRR x probability: where the money is) or
            ``"probability"`` (likeliest to churn).

    Returns:
        ``customer_id, plan_tier, industry, mrr, churn_probability, risk_tier,
        mrr_at_risk, expected_mrr_at_risk_12m, drivers`` (text).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"top_n must be a positive int, got {n!r}")
    if rank_by not in RANKINGS:
        raise ValueError(f"rank_by must be one of {', '.join(map(repr, RANKINGS))}; got {rank_by!r}")
    frame = scores.assign(mrr=scores["mrr"].astype(float))
    frame["mrr_at_risk"] = frame["mrr"] * frame["churn_probability"]
    key = ["mrr_at_risk", "churn_probability"] if rank_by == "mrr_at_risk" else ["churn_probability", "mrr"]
    frame = frame.sort_values([*key, "customer_id"], ascending=[False, False, True]).head(n)
    frame["drivers"] = frame["top_drivers"].map(format_drivers)
    frame["risk_tier"] = frame["risk_tier"].astype(str)
    columns = ["customer_id", "plan_tier", "industry", "mrr", "churn_probability", "risk_tier",
               "mrr_at_risk", "expected_mrr_at_risk_12m", "drivers"]
    return frame[columns].reset_index(drop=True)


def format_drivers(drivers: Any) -> str:
    """``["adoption_30d (+0.758)", ...]`` -> ``"adoption_30d +0.76; ..."`` (score points, in probability)."""
    if drivers is None or (isinstance(drivers, float) and math.isnan(drivers)) or len(drivers) == 0:
        return "(no feature raises the score)"
    parts = []
    for driver in drivers:
        text = str(driver)
        name, _, value = text.partition(" (")
        try:
            points = float(value.rstrip(")"))
        except ValueError:
            parts.append(text)
            continue
        if abs(points) >= 0.005:  # drivers that round to +0.00 explain nothing
            parts.append(f"{name} {points:+.2f}")
    return "; ".join(parts) or "(no feature raises the score by 0.01 or more)"


def mrr_at_risk_by_horizon(scores: pd.DataFrame, months: Iterable[int] = (3, 6, 12)) -> pd.DataFrame:
    """Expected MRR lost within 3, 6 and 12 months (risk model), per risk tier.

    Returns:
        Long frame: ``horizon_months, risk_tier, expected_mrr_at_risk``.
    """
    rows = []
    tiers = scores["risk_tier"].cat.categories if hasattr(scores["risk_tier"], "cat") else sorted(scores["risk_tier"].unique())
    for horizon in months:
        column = f"expected_mrr_at_risk_{horizon}m"
        sums = scores.groupby(scores["risk_tier"].astype(str))[column].sum()
        for tier in tiers:
            rows.append({"horizon_months": horizon, "risk_tier": str(tier), "expected_mrr_at_risk": float(sums.get(str(tier), 0.0))})
    return pd.DataFrame(rows)


def mrr_at_risk_table(scores: pd.DataFrame, months: Iterable[int] = (3, 6, 12)) -> pd.DataFrame:
    """Expected MRR lost and expected churners within each horizon, with the share of current MRR.

    Returns:
        ``horizon, expected_churners, expected_mrr_at_risk, share_of_mrr`` (numbers, not text).
    """
    total = float(scores["mrr"].astype(float).sum())
    rows = []
    for horizon in months:
        survival = scores[f"survival_{horizon}m"]
        at_risk = float(scores[f"expected_mrr_at_risk_{horizon}m"].sum())
        rows.append({
            "horizon": f"{horizon} months",
            "expected_churners": float((1.0 - survival).sum()),
            "expected_mrr_at_risk": at_risk,
            "share_of_mrr": at_risk / total if total else np.nan,
        })
    return pd.DataFrame(rows)


def describe_models(churn: Mapping[str, Any], risk: Mapping[str, Any]) -> pd.DataFrame:
    """The registered models' metadata side by side: version, trained_at, as-of range, key metrics."""
    churn_metrics = churn.get("metrics", {}).get("churn_model", {})
    risk_metrics = risk.get("metrics", {})

    def as_of_range(meta: Mapping[str, Any]) -> str:
        bounds = meta.get("as_of_range") or []
        return f"{bounds[0]} to {bounds[1]}" if len(bounds) == 2 else MISSING

    rows = {
        "version": (churn.get("version", "unknown"), risk.get("version", "unknown")),
        "trained at (UTC)": (str(churn.get("trained_at", MISSING)), str(risk.get("trained_at", MISSING))),
        "training as-of range": (as_of_range(churn), as_of_range(risk)),
        "horizon": (f"{churn['horizon_days']} days" if "horizon_days" in churn else MISSING,
                    f"{risk['horizon_months']} months" if "horizon_months" in risk else MISSING),
        "data fingerprint": (str(churn.get("data_fingerprint", ""))[:12] or MISSING,
                             str(risk.get("data_fingerprint", ""))[:12] or MISSING),
        "out-of-time ROC-AUC": (format_number(churn_metrics.get("roc_auc"), 3), MISSING),
        "out-of-time PR-AUC": (format_number(churn_metrics.get("pr_auc"), 3), MISSING),
        "top-decile lift": (format_number(churn_metrics.get("top_decile_lift"), 2), MISSING),
        "churned MRR in top decile": (format_percent(churn_metrics.get("top_decile_churned_mrr_share")), MISSING),
        "concordance (held out)": (MISSING, format_number(risk_metrics.get("concordance"), 3)),
        "largest gap to Kaplan-Meier": (MISSING, format_number(risk_metrics.get("km_max_gap"), 3)),
    }
    table = pd.DataFrame(rows, index=["churn_model", "risk_model"]).T
    table.index.name = "metadata"
    return table


def drift_table(psi: pd.DataFrame, top: int | None = None) -> pd.DataFrame:
    """PSI per feature (worst first; the ``top`` worst plus every flagged one when given), formatted."""
    frame = psi.sort_values("psi", ascending=False)
    if top is not None:
        frame = frame[(np.arange(len(frame)) < top) | frame["flagged"].to_numpy()]
    frame["flag"] = np.where(frame["flagged"], "shifted (PSI > 0.2)", "")
    return format_table(frame[["feature", "psi", "flag"]], numbers={"psi": 3}, index="feature", rename={"psi": "PSI"})


# --- training notebook (03) ---------------------------------------------------


NOT_REGISTERED = "not registered"
TRAINED_IN_THIS_RUN = "in this notebook run"


def evaluation_metadata(churn_evaluation: Any, risk_evaluation: Any, params: Mapping[str, Any],
                        data_fingerprint: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Model-card metadata of an evaluation run (what ``training.train_all`` would register, minus the refit).

    Args:
        churn_evaluation: ``training.fit_and_evaluate_churn``.
        risk_evaluation: ``training.fit_and_evaluate_risk``.
        params: the training parameters used.
        data_fingerprint: the warehouse content hash.

    Returns:
        (churn metadata, risk metadata) shaped like the registry's, versions "not registered".
    """
    from helpers.training import churn_details, risk_details

    run = {"version": NOT_REGISTERED, "trained_at": TRAINED_IN_THIS_RUN, "data_fingerprint": data_fingerprint}
    churn = churn_details(churn_evaluation, params["churn_model"]) | run
    risk = risk_details(risk_evaluation, params["risk_model"]) | run
    return churn, risk


def evaluation_model_card(churn_evaluation: Any, risk_evaluation: Any, params: Mapping[str, Any],
                          data_fingerprint: str) -> str:
    """The model card of an evaluation run that registered nothing, in markdown."""
    from helpers.model_card import render_model_card

    churn, risk = evaluation_metadata(churn_evaluation, risk_evaluation, params, data_fingerprint)
    card = render_model_card(churn, risk)
    note = (
        "Not registered: this run evaluated the models without saving them; with `register=True` "
        "(or `dvc repro train`) they are refitted on every labelled snapshot and saved."
    )
    lines = [note if line.startswith("The registered model was then refitted") else line for line in card.split("\n")]
    return "\n".join(lines)


def demote_headings(markdown: str, levels: int = 1) -> str:
    """Push every markdown heading down ``levels`` levels (``# Card`` -> ``## Card``), to nest a document in a report."""
    lines = []
    in_code = False
    for line in markdown.split("\n"):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("#"):
            line = "#" * levels + line
        lines.append(line)
    return "\n".join(lines)


def reliability_frame(predictions: pd.DataFrame, models: Iterable[str], label: str = "churned",
                      bins: int = 10) -> pd.DataFrame:
    """Reliability tables of several score columns, stacked with a ``model`` column."""
    from helpers.evaluation import reliability_table

    frames = []
    for model in models:
        table = reliability_table(predictions[label], predictions[model], bins=bins)
        table.insert(0, "model", model)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def metrics_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Classification metrics of the churn model and baselines, formatted, one row per model."""
    rows = []
    for model, values in metrics.items():
        rows.append({
            "model": model,
            "roc_auc": values.get("roc_auc"), "pr_auc": values.get("pr_auc"), "brier": values.get("brier"),
            "top_decile_lift": values.get("top_decile_lift"),
            "top_decile_churned_mrr_share": values.get("top_decile_churned_mrr_share"),
        })
    return format_table(
        pd.DataFrame(rows), numbers={"roc_auc": 3, "pr_auc": 3, "brier": 4, "top_decile_lift": 2},
        percent=["top_decile_churned_mrr_share"], index="model",
        rename={"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "brier": "Brier", "top_decile_lift": "top-decile lift",
                "top_decile_churned_mrr_share": "churned MRR in top decile"},
    )


# --- backtest notebook (05) ---------------------------------------------------


def backtest_dates(con: Any, as_of: dt.date, horizon_days: int, count: int = 12) -> list[dt.date]:
    """The last ``count`` month starts whose ``horizon_days`` outcome window ends by ``as_of``.

    Like ``backtest.backtest_dates`` but measured from the report's as-of date
    (never later than the data end), so a report as of an earlier date uses no later outcomes.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive int, got {count!r}")
    latest_known = min(as_of, warehouse.data_end(con) + dt.timedelta(days=1))
    newest = month_start(latest_known - dt.timedelta(days=horizon_days))
    return [add_months(newest, -offset) for offset in range(count - 1, -1, -1)]


def in_sample_note(results: pd.DataFrame, trained_as_of: Any, evaluation_split: Mapping[str, Any] | None = None) -> str:
    """Markdown caveat on the dates inside the model's training range (empty caveat when none are)."""
    inside = int(results["in_sample"].sum()) if len(results) else 0
    total = len(results)
    if trained_as_of is None:
        return "The model records no training range, so in-sample dates cannot be told apart; read the agreement with care."
    first, last = (format_date(day) for day in trained_as_of)
    if inside == 0:
        return (f"None of the {total} dates falls in the model's training range ({first} to {last}): "
                "this is an out-of-time check.")
    text = (
        f"**In-sample caveat: {inside} of {total} dates fall in the model's training range ({first} to {last}).** "
        "The model learned from those outcomes, so the agreement there flatters it; it is a consistency check, "
        "not evidence of accuracy on new data."
    )
    if evaluation_split:
        test = evaluation_split.get("test_as_of") or []
        if len(test) == 2:
            text += (f" The honest out-of-time figures are the evaluation recorded at training time "
                     f"(model trained before, scored on {test[0]} to {test[1]}; see the model card).")
    return text


def backtest_table(results: pd.DataFrame) -> pd.DataFrame:
    """The backtest per date, formatted, with the error of expected against realized MRR lost."""
    frame = results.copy()
    frame["mrr_error"] = (frame["expected_mrr_lost"] - frame["realized_mrr_lost"]) / frame["realized_mrr_lost"].where(
        frame["realized_mrr_lost"] > 0
    )
    frame["sample"] = np.where(frame["in_sample"], "in-sample", "out-of-time")
    return format_table(
        frame[["as_of", "customers", "expected_churners", "realized_churners", "expected_mrr_lost",
               "realized_mrr_lost", "mrr_error", "roc_auc", "sample"]],
        dates=["as_of"], counts=["customers", "realized_churners"], numbers={"expected_churners": 1, "roc_auc": 3},
        money=["expected_mrr_lost", "realized_mrr_lost"], percent=["mrr_error"], index="as_of",
        rename={"as_of": "as of", "expected_churners": "expected churners", "realized_churners": "realized churners",
                "expected_mrr_lost": "expected MRR lost", "realized_mrr_lost": "realized MRR lost",
                "mrr_error": "MRR error", "roc_auc": "ROC-AUC"},
    )


def risk_tiers(params_path: str | os.PathLike | None = "") -> dict[str, float]:
    """The risk tier lower bounds from ``params.yaml`` (``scoring.risk_tiers``), else the scoring defaults."""
    from helpers import training
    from helpers.scoring import DEFAULT_RISK_TIERS

    tiers = (training.load_params(params_path or None).get("scoring") or {}).get("risk_tiers")
    return {str(name): float(bound) for name, bound in (tiers or DEFAULT_RISK_TIERS).items()}


def training_profile(model: Any) -> dict[str, Any] | None:
    """The feature profile a churn model recorded at training (for drift), or None if it has none.

    Models pickled before profiles were recorded lack the attribute; retrain them
    (``dvc repro train``) to get drift checks.
    """
    profile = getattr(model, "training_profile", None)
    return profile or None
