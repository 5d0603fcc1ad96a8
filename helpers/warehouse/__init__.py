"""The warehouse layer: table catalog, connections and engines, queries, builds, data tests, ingest, export.

The names most callers need are re-exported here, so ``helpers.warehouse.get_connection``
(the seed system's import path) and ``warehouse.read_metadata`` keep working.
"""

from helpers.warehouse.build import (
    SCHEMA_VERSION,
    BuildSpec,
    WarehouseBuildError,
    build,
    build_synthetic,
    content_hash,
    refresh_content_hash,
    schema_sql,
    summary,
    table_fingerprints,
    validate,
    write_staging,
)
from helpers.warehouse.catalog import TABLES
from helpers.warehouse.connection import (
    WarehouseBusyError,
    WarehouseError,
    connect,
    data_end,
    data_range,
    get_connection,
    read_metadata,
    release_buffers,
)

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "BuildSpec",
    "WarehouseBuildError",
    "WarehouseBusyError",
    "WarehouseError",
    "build",
    "build_synthetic",
    "connect",
    "content_hash",
    "data_end",
    "data_range",
    "get_connection",
    "read_metadata",
    "release_buffers",
    "refresh_content_hash",
    "schema_sql",
    "summary",
    "table_fingerprints",
    "validate",
    "write_staging",
]
