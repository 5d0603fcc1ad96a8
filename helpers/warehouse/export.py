"""Export the warehouse tables to Parquet, for engines that read files (Spark).

``python -m helpers export --parquet DIR`` writes one file per table:
``DIR/customers.parquet``, ``subscriptions.parquet``, ``usage_events.parquet``,
``support_tickets.parquet`` (schema ``raw``) and ``build_info.parquet``
(``meta.build_info``), with DuckDB's own types (DECIMAL(12,2) money, DATE,
TIMESTAMP without time zone). ``helpers.warehouse.spark.register_warehouse`` turns such
a folder back into the ``raw.*`` / ``meta.build_info`` names the SQL reads.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from helpers import files
from helpers.warehouse.catalog import EXPORTED_TABLES
from helpers.warehouse.connection import get_connection


def export_parquet(
    parquet_dir: str | os.PathLike, warehouse_path: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Write every warehouse table to ``parquet_dir/<table>.parquet`` (DuckDB COPY ... TO).

    The files are written into a new folder beside ``parquet_dir``, which
    then replaces it as a whole: readers see the previous export or the new
    one, never a mix, and a failed export leaves the previous one as it was.

    Args:
        parquet_dir: the output folder (created, or replaced with everything in it).
        warehouse_path: the warehouse file; defaults to ``config.warehouse_path()``.

    Returns:
        Qualified table name -> the Parquet file written.
    """
    target = Path(parquet_dir).absolute()
    if target.exists() and not target.is_dir():
        raise ValueError(f"the Parquet output (--parquet) must be a folder; {target} is a file")
    with get_connection(read_only=True, path=warehouse_path) as con:
        staging = files.staging_folder(target)
        try:
            for table, file_name in EXPORTED_TABLES.items():
                # The table name comes from EXPORTED_TABLES; the path is bound.
                con.execute(
                    f"copy (select * from {table}) to $path (format parquet)", {"path": str(staging / file_name)}
                )
            files.replace_folder(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return {table: target / file_name for table, file_name in EXPORTED_TABLES.items()}
