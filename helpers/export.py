"""Export the warehouse tables to Parquet, for engines that read files (Spark).

``python -m helpers export --parquet DIR`` writes one file per table:
``DIR/customers.parquet``, ``subscriptions.parquet``, ``usage_events.parquet``,
``support_tickets.parquet`` (schema ``raw``) and ``build_info.parquet``
(``meta.build_info``), with DuckDB's own types (DECIMAL(12,2) money, DATE,
TIMESTAMP without time zone). ``helpers.spark.register_warehouse`` turns such
a folder back into the ``raw.*`` / ``meta.build_info`` names the SQL reads.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from helpers import warehouse

# Qualified warehouse table -> file name in the export folder.
EXPORTED_TABLES: dict[str, str] = {
    "raw.customers": "customers.parquet",
    "raw.subscriptions": "subscriptions.parquet",
    "raw.usage_events": "usage_events.parquet",
    "raw.support_tickets": "support_tickets.parquet",
    "meta.build_info": "build_info.parquet",
}


def export_parquet(
    parquet_dir: str | os.PathLike, warehouse_path: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Write every warehouse table to ``parquet_dir/<table>.parquet`` (DuckDB COPY ... TO).

    All files are written beside their final names first and renamed only when
    every one is complete, so a failed export leaves an earlier one whole, and
    the folder never mixes tables of two warehouses after a success.

    Args:
        parquet_dir: the output folder (created if missing).
        warehouse_path: the warehouse file; defaults to ``config.warehouse_path()``.

    Returns:
        Qualified table name -> the Parquet file written.
    """
    target = Path(parquet_dir)
    if target.exists() and not target.is_dir():
        raise ValueError(f"the Parquet output (--parquet) must be a folder; {target} is a file")
    run = uuid.uuid4().hex[:8]
    partials = {table: target / f".{name}.{run}.partial" for table, name in EXPORTED_TABLES.items()}
    try:
        with warehouse.get_connection(read_only=True, path=warehouse_path) as con:
            target.mkdir(parents=True, exist_ok=True)
            for table, partial in partials.items():
                # The table name comes from EXPORTED_TABLES; the path is bound.
                con.execute(f"copy (select * from {table}) to $path (format parquet)", {"path": str(partial)})
        written = {}
        for table, partial in partials.items():
            written[table] = target / EXPORTED_TABLES[table]
            os.replace(partial, written[table])
    finally:
        for partial in partials.values():
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
    return written
