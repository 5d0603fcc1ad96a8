"""A report's run context: the open warehouse, its metadata and as-of date, thread limits, display settings."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot  # noqa: F401  (registers the inline figure formatter)
import pandas as pd
from IPython import get_ipython
from matplotlib_inline.backend_inline import set_matplotlib_formats

from helpers import warehouse
from helpers.dates import DateLike, resolve_as_of
from helpers.notebook.parameters import (
    last_complete_month,
    last_snapshot,
    month_window,
    resolve_models_dir,
    resolve_warehouse_path,
)
from helpers.warehouse import engine as engine_seam


@contextlib.contextmanager
def connect(
    engine: str = "duckdb", warehouse_path: str | os.PathLike | None = "", parquet_dir: str | os.PathLike | None = ""
) -> Iterator[Any]:
    """Open the warehouse with the chosen engine (``helpers.warehouse.connect``); closed on exit.

    Args:
        engine: ``"duckdb"`` (read-only connection to the warehouse file) or ``"spark"``.
        warehouse_path: DuckDB: the notebook's parameter (empty: the default warehouse).
        parquet_dir: Spark: a folder written by ``python -m helpers export --parquet DIR``
            (empty: ``$WAREHOUSE_PARQUET_DIR``, else the tables the Spark session already resolves).

    Yields:
        A connection the ``helpers`` query functions accept.
    """
    # Report runs pass absolute paths; a relative one is the kernel's working directory's.
    with warehouse.connect(
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
        """The month of the last snapshot shown: its first day is the state at the end of the last complete month."""
        return last_snapshot(self.as_of)

    def window(self, months: int) -> tuple[dt.date, dt.date]:
        """The last ``months`` monthly snapshots as (first, last), the last being ``last_month``."""
        return month_window(self.as_of, months)

    def caption(self) -> str:
        """One markdown line saying what the report is computed on (no clock time, no path)."""
        meta = self.metadata
        source = meta.get("source", "unknown")
        if meta.get("seed") is not None and not pd.isna(meta.get("seed")):
            source += f", seed {int(meta['seed'])}"
        complete = last_complete_month(self.as_of)
        return (
            f"**As of {self.as_of:%Y-%m-%d}** (data strictly before this day). Monthly figures are snapshots on "
            f"the first day of each month; the last, {self.last_month:%Y-%m-%d}, is the state at the end of "
            f"{complete:%B %Y} (the last complete month), so churn during {complete:%B} shows in it. "
            f"Warehouse: {source}, data {meta['data_start']} to {meta['data_end']}, "
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


def configure_display() -> None:
    """Pandas and matplotlib settings for notebooks: wide enough tables, inline PNG figures.

    Figures from ``helpers.plots`` are not managed by pyplot, so a cell shows a
    figure exactly once when it is the cell's value (or passed to ``display``).
    """
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_colwidth", 300)
    pd.set_option("display.width", 160)
    if get_ipython() is None:  # plain Python: nothing to configure
        return
    set_matplotlib_formats("png")
