"""Raw input folders: one Parquet file per table plus ``manifest.json``.

The pipeline's ``generate`` stage writes the synthetic dataset into such a
folder; its ``warehouse`` stage builds the warehouse from it through the same
ingest path (type checks and data tests) that users' own files go through.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from helpers import files
from helpers.warehouse import ingest as ingest_module
from helpers.warehouse import synthetic

TABLE_FILES = {
    "customers": "customers.parquet",
    "subscriptions": "subscriptions.parquet",
    "usage_events": "usage_events.parquet",
    "support_tickets": "support_tickets.parquet",
}
MANIFEST = "manifest.json"


def write_synthetic(
    raw_dir: str | os.PathLike,
    n_customers: int | None = None,
    seed: int | None = None,
    events_per_customer: float | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate the synthetic dataset into ``raw_dir`` (replaced atomically).

    Returns:
        The manifest: source, seed, settings, data range and row counts.
    """
    settings = synthetic.generator_settings(n_customers, seed, events_per_customer)
    target = Path(raw_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    building = files.staging_folder(target)
    writers: dict[str, pq.ParquetWriter] = {}

    def write(table: str, frame: pd.DataFrame) -> None:
        batch = pa.Table.from_pandas(frame, preserve_index=False)
        if table not in writers:
            writers[table] = pq.ParquetWriter(building / TABLE_FILES[table], batch.schema)
        writers[table].write_table(batch.cast(writers[table].schema))

    try:
        info = synthetic.generate(write, progress=progress, **settings)
        for writer in writers.values():
            writer.close()
        manifest = {
            "source": "synthetic",
            "seed": settings["seed"],
            "settings": settings,
            "data_start": str(info["data_start"]),
            "data_end": str(info["data_end"]),
            "rows": info["rows"],
        }
        (building / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        files.replace_folder(building, target)
    except BaseException:
        for writer in writers.values():
            with contextlib.suppress(Exception):
                writer.close()
        shutil.rmtree(building, ignore_errors=True)
        raise
    return manifest


def read_manifest(raw_dir: str | os.PathLike) -> dict[str, Any]:
    """The folder's manifest, or an ingested-data default when it has none.

    Raises:
        IngestError: the manifest is not a JSON object, or its seed, source or data_end has the wrong type.
    """
    path = Path(raw_dir) / MANIFEST
    if not path.is_file():
        return {"source": "ingested"}
    fix = f"Fix or delete {path} (it is optional), or write the folder again with `python -m helpers generate --raw-dir`."
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ingest_module.IngestError(f"{path} is not valid JSON ({error}). {fix}") from None
    if not isinstance(manifest, dict):
        raise ingest_module.IngestError(f"{path} holds a JSON {type(manifest).__name__}, not an object. {fix}")
    seed = manifest.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ingest_module.IngestError(f"{path}: seed must be an integer or null, got {seed!r}. {fix}")
    if not isinstance(manifest.get("source", ""), str):
        raise ingest_module.IngestError(f"{path}: source must be text, got {manifest['source']!r}. {fix}")
    if "data_end" in manifest:
        try:
            dt.date.fromisoformat(str(manifest["data_end"]))
        except ValueError:
            raise ingest_module.IngestError(
                f"{path}: data_end must be a date in YYYY-MM-DD form, got {manifest['data_end']!r}. {fix}"
            ) from None
    return manifest


def build_from_raw_dir(raw_dir: str | os.PathLike, warehouse_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Build the warehouse from a raw folder through the ingest path.

    Returns:
        The build metadata.
    """
    folder = Path(raw_dir)
    if not folder.is_dir():
        raise ingest_module.IngestError(
            f"raw data folder not found: {folder}. Run `python -m helpers generate --raw-dir {folder}` or `dvc repro`."
        )
    manifest = read_manifest(folder)
    optional = {"usage_events", "support_tickets"}
    inputs = {}
    for table, name in TABLE_FILES.items():
        path = folder / name
        if path.is_file():
            inputs[table] = path
        elif table not in optional:
            raise ingest_module.IngestError(f"{folder}: no {name}; a raw folder needs customers and subscriptions")
    data_end = dt.date.fromisoformat(manifest["data_end"]) if "data_end" in manifest else None
    return ingest_module.ingest(
        inputs["customers"],
        inputs["subscriptions"],
        inputs.get("usage_events"),
        inputs.get("support_tickets"),
        warehouse_path=warehouse_path,
        data_end=data_end,
        source=manifest.get("source", "ingested"),
        seed=manifest.get("seed"),
    )
