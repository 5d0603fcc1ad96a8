"""Atomic warehouse builds: schema, staging, data tests, build metadata, then one rename.

A build writes a new file beside the target, loads staging tables, runs the
declared data tests, copies the rows into the constrained ``raw`` tables,
records metadata and only then moves the file into place. A reader never sees
a half-built warehouse, and a failed build leaves the old file byte-identical.
A build holds the warehouse's write lock from its first write to the rename,
and is refused while another process holds the warehouse read-write.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from helpers import config, files
from helpers.domain import (
    BillingInterval,
    EventType,
    Industry,
    PlanTier,
    TicketPriority,
)
from helpers.warehouse import synthetic
from helpers.warehouse.catalog import TABLES
from helpers.warehouse.connection import (
    WarehouseError,
    check_warehouse_file,
    data_end,
    get_connection,
    read_metadata,
    write_lock,
)
from helpers.warehouse.data_tests import Problem, run_data_tests
from helpers.warehouse.queries import fetch_row, load_sql

SCHEMA_VERSION = 1

class WarehouseBuildError(WarehouseError):
    """A build was refused because its data broke declared rules; nothing was replaced."""

    def __init__(self, problems: list[Problem], source_files: dict[str, str] | None = None, data_end_note: str = ""):
        self.problems = problems
        self.source_files = source_files or {}
        lines = [problem.describe(self.source_files) for problem in problems]
        numbering = " (rows are counted from 1 after the header)" if self.source_files else ""
        # Rules read on the data end name the value used and how to set it.
        note = f"\n{data_end_note}" if data_end_note and any(p.test.needs_data_end for p in problems) else ""
        super().__init__(
            f"{len(problems)} data test(s) failed; the warehouse was not changed{numbering}:\n- "
            + "\n- ".join(lines) + note
        )


@dataclass
class BuildSpec:
    """What a build's loader tells the builder about the data it staged.

    ``data_start`` / ``data_end`` are derived from the data when left as None;
    ``data_end_note`` says how the data end was chosen, for errors that depend on it.
    """

    source: str
    seed: int | None = None
    data_start: dt.date | None = None
    data_end: dt.date | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    source_files: dict[str, str] = field(default_factory=dict)
    with_source_rows: bool = False
    data_end_note: str = ""


def _vocabulary_literals(values: list[str]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def schema_sql() -> str:
    """The DDL of the warehouse, vocabulary checks filled from ``helpers.domain``."""
    return load_sql(
        "schema",
        industry_values=_vocabulary_literals(Industry.values()),
        plan_tier_values=_vocabulary_literals(PlanTier.values()),
        event_type_values=_vocabulary_literals(EventType.values()),
        priority_values=_vocabulary_literals(TicketPriority.values()),
        billing_interval_values=_vocabulary_literals(BillingInterval.values()),
    )


def write_staging(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Append a DataFrame to a staging table, matching columns by name.

    Args:
        con: connection to the build in progress.
        table: one of TABLES.
        frame: rows with the table's columns (``_source_row`` optional).
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
    con.register("_staging_frame", frame)
    try:
        con.execute(f"insert into staging.{table} by name select * from _staging_frame")
    finally:
        con.unregister("_staging_frame")


def _create_build_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(schema_sql())
    con.execute("create schema staging")
    for table in TABLES:
        # Staging copies the column types but none of the constraints, so
        # bad rows can be loaded, found and reported by the data tests.
        con.execute(
            f"create table staging.{table} as "
            f"select *, cast(null as bigint) as _source_row from raw.{table} limit 0"
        )


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = $schema and table_name = $table order by ordinal_position",
        {"schema": schema, "table": table},
    ).fetchall()
    return [row[0] for row in rows]


def table_fingerprints(
    con: duckdb.DuckDBPyConnection, schema: str = "raw", tables: tuple[str, ...] = TABLES
) -> dict[str, str]:
    """Order-independent fingerprint of each table's content (row count and row hashes)."""
    fingerprints = {}
    for table in tables:
        count, xor_hash, sum_hash = fetch_row(con, load_sql("table_fingerprint", schema=schema, table=table))
        fingerprints[table] = f"{count}:{xor_hash}:{sum_hash}"
    return fingerprints


def _row_counts(fingerprints: dict[str, str]) -> dict[str, int]:
    # A fingerprint starts with the table's row count.
    return {table: int(fingerprint.split(":")[0]) for table, fingerprint in fingerprints.items()}


def content_hash(fingerprints: dict[str, str]) -> str:
    """SHA-256 over the table fingerprints: equal data gives an equal hash."""
    payload = json.dumps({"schema_version": SCHEMA_VERSION, **fingerprints}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _data_range(con: duckdb.DuckDBPyConnection, schema: str) -> tuple[dt.date, dt.date]:
    start, end = fetch_row(con, load_sql("data_range", schema=schema))
    if start is None or end is None:
        raise WarehouseError("cannot derive the data range: the customers table is empty")
    return start, end


def _write_metadata(con: duckdb.DuckDBPyConnection, spec: BuildSpec) -> dict[str, Any]:
    fingerprints = table_fingerprints(con)
    row_counts = _row_counts(fingerprints)
    metadata = {
        "source": spec.source,
        "seed": spec.seed,
        "data_start": spec.data_start,
        "data_end": spec.data_end,
        # Provenance only: analytics never read the clock.
        "built_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0),
        "row_counts": json.dumps(row_counts),
        "table_hashes": json.dumps(fingerprints),
        "content_hash": content_hash(fingerprints),
        "schema_version": SCHEMA_VERSION,
        "inputs": json.dumps(spec.inputs, default=str),
    }
    con.execute(
        "insert into meta.build_info by name select "
        + ", ".join(f"${name} as {name}" for name in metadata),
        metadata,
    )
    return metadata


def _remove_quietly(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def build(
    load: Callable[[duckdb.DuckDBPyConnection], BuildSpec],
    path: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Build a warehouse atomically.

    Args:
        load: fills the ``staging`` tables of the connection it is given (see
            ``write_staging``) and returns a BuildSpec describing the data.
        path: target file; defaults to ``config.warehouse_path()``.

    Returns:
        The metadata recorded in ``meta.build_info``.

    Raises:
        WarehouseBuildError: the staged data broke declared rules; the target is untouched.
        WarehouseBusyError: another process holds the warehouse read-write (or is rebuilding it).
        WarehouseError: the target is a folder, or its folder is not writable.
    """
    target = Path(path) if path is not None else config.warehouse_path()
    check_warehouse_file(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WarehouseError(
            f"cannot create the warehouse's folder {target.parent} ({error.strerror}); "
            "choose another --warehouse; nothing was changed"
        ) from None
    # Held from the first write to the rename: no read-write connection can
    # write into the file this build is about to replace (see connection.write_lock).
    with write_lock(target, "a rebuild of the warehouse"):
        return _build_locked(load, target)


def _build_locked(load: Callable[[duckdb.DuckDBPyConnection], BuildSpec], target: Path) -> dict[str, Any]:
    # Beside the target, so the final rename stays on one file system.
    files.remove_stale(target)
    building = files.temporary_path(target)
    building_wal = building.with_name(building.name + ".wal")
    try:
        # Capped so DuckDB spills staging work to disk instead of holding it
        # all (100k customers / 20M events: peak 3.8 GB uncapped, 2.3 GB capped).
        with duckdb.connect(str(building), config={"memory_limit": config.build_memory_limit()}) as con:
            _create_build_schema(con)
            spec = load(con)
            # A subscription without a billing interval is billed monthly (files may leave the column out).
            con.execute(
                "update staging.subscriptions set billing_interval = $month where billing_interval is null",
                {"month": BillingInterval.MONTH.value},
            )
            if spec.data_start is None or spec.data_end is None:
                derived_start, derived_end = _data_range(con, "staging")
                spec.data_start = spec.data_start or derived_start
                spec.data_end = spec.data_end or derived_end
            problems = run_data_tests(
                con, "staging", spec.data_end, with_source_rows=spec.with_source_rows
            )
            if problems:
                raise WarehouseBuildError(problems, spec.source_files, spec.data_end_note)
            for table in TABLES:
                columns = ", ".join(f'"{name}"' for name in _columns(con, "raw", table))
                con.execute(
                    f"insert into raw.{table} ({columns}) select {columns} from staging.{table}"
                )
            con.execute("drop schema staging cascade")
            metadata = _write_metadata(con, spec)
            con.execute("checkpoint")
        # A WAL left beside the old file must not be replayed into the new one.
        _remove_quietly(target.with_name(target.name + ".wal"))
        # The last step: nothing after it can fail the build.
        os.replace(building, target)
    except BaseException:
        _remove_quietly(building, building_wal)
        raise
    files.fsync_folder(target.parent)
    return metadata


def refresh_content_hash(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...]) -> str:
    """Recompute the fingerprints of ``tables`` after a write and update the metadata.

    Args:
        con: a read-write connection.
        tables: the tables that changed.

    Returns:
        The new content hash.
    """
    record = read_metadata(con)
    fingerprints = dict(record["table_hashes"])
    fingerprints.update(table_fingerprints(con, tables=tables))
    row_counts = _row_counts(fingerprints)
    new_hash = content_hash(fingerprints)
    con.execute(
        "update meta.build_info set table_hashes = $hashes, content_hash = $hash, row_counts = $counts",
        {"hashes": json.dumps(fingerprints), "hash": new_hash, "counts": json.dumps(row_counts)},
    )
    return new_hash


def validate(path: str | os.PathLike | None = None) -> list[Problem]:
    """Run every declared data test against a finished warehouse.

    Args:
        path: the warehouse file; defaults to ``config.warehouse_path()``.

    Returns:
        Every problem found, each with a count and example keys (empty = valid).
    """
    with get_connection(read_only=True, path=path) as con:
        return run_data_tests(con, "raw", data_end(con))


def summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per table: rows, distinct customers and date range, from one query each."""
    return con.execute(load_sql("warehouse_summary")).df()


def build_synthetic(
    path: str | os.PathLike | None = None,
    n_customers: int | None = None,
    seed: int | None = None,
    events_per_customer: float | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate the synthetic dataset and build a warehouse from it, atomically.

    Args:
        path: target file; defaults to ``config.warehouse_path()``.
        n_customers, seed, events_per_customer: generator settings (its defaults when None).
        progress: show the generator's progress bar.

    Returns:
        The build metadata.
    """
    settings = synthetic.generator_settings(n_customers, seed, events_per_customer)

    def load(con: duckdb.DuckDBPyConnection) -> BuildSpec:
        info = synthetic.generate(
            lambda table, frame: write_staging(con, table, frame), progress=progress, **settings
        )
        return BuildSpec(
            source="synthetic",
            seed=settings["seed"],
            data_start=info["data_start"],
            data_end=info["data_end"],
            inputs=settings,
        )

    return build(load, path)
