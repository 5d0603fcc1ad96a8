"""Where the pipeline's data comes from: ``data:`` in params.yaml, the synthetic raw folder, or your files.

``data.source: synthetic`` (the default): the ``generate`` stage writes the
seeded dataset as a raw folder (one Parquet file per table plus
``manifest.json``). ``data.source: files``: your CSV/Parquet exports named in
``data.files``, with ``data.data_end`` and an optional ``data.vocabulary``.
The ``inputs`` stage records the content hash of each file in
``data/inputs.json`` (so DVC rebuilds when a file's content changes); the
``warehouse`` stage builds from whichever source params.yaml names, always
through the ingest checks. Relative paths are relative to params.yaml's folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from helpers import config, files
from helpers.warehouse import connection, ingest_checks, synthetic
from helpers.warehouse import ingest as ingest_module

TABLE_FILES = {
    "customers": "customers.parquet",
    "subscriptions": "subscriptions.parquet",
    "usage_events": "usage_events.parquet",
    "support_tickets": "support_tickets.parquet",
}
MANIFEST = "manifest.json"
SOURCES = ("synthetic", "files")
FILE_KEYS = {"customers": "customers", "subscriptions": "subscriptions", "events": "usage_events",
             "tickets": "support_tickets"}  # data.files key -> table
REQUIRED_FILES = ("customers", "subscriptions")


@dataclass(frozen=True)
class DataSource:
    """The ``data:`` section of params.yaml, checked: where the warehouse's rows come from."""

    source: str
    files: dict[str, Path]
    data_end: dt.date | None
    vocabulary: Path | None
    params_path: Path
    generator: dict[str, Any]  # customers, seed, events_per_customer given in data: (for source synthetic)


def _params_error(params_path: Path, key: str, problem: str) -> ingest_module.IngestError:
    return ingest_module.IngestError(f"{params_path}: data.{key} {problem}")


def read_data_source(params_path: str | os.PathLike) -> DataSource:
    """Read and check ``data:`` of a params file (source, files, data_end, vocabulary).

    Raises:
        IngestError: naming the params file, the key and what to write instead.
    """
    path = Path(params_path).resolve()
    try:
        section = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("data") or {}
    except (OSError, yaml.YAMLError) as error:
        raise ingest_module.IngestError(f"cannot read the parameters file {path}: {error}") from None
    source = str(section.get("source", "synthetic")).strip()
    if source not in SOURCES:
        raise _params_error(path, "source", f"is {source!r}; write one of: {', '.join(SOURCES)}")
    base = path.parent
    given = section.get("files") or {}
    if not isinstance(given, dict):
        raise _params_error(path, "files", "must map customers, subscriptions[, events, tickets] to file paths")
    unknown = sorted(set(given) - set(FILE_KEYS))
    if unknown:
        raise _params_error(path, "files", f"has unknown key(s) {', '.join(unknown)}; known: {', '.join(FILE_KEYS)}")
    chosen = {key: base / str(value) for key, value in given.items() if value not in (None, "")}
    if source == "files":
        missing = [key for key in REQUIRED_FILES if key not in chosen]
        if missing:
            raise _params_error(path, "files", f"needs {' and '.join(missing)} when data.source is files")
    data_end = section.get("data_end", "auto")
    if data_end in (None, "", "auto"):
        end = None
    else:
        try:
            # ISO only: a loose parser would read "June" as a day of the current year.
            end = data_end if isinstance(data_end, dt.date) else dt.date.fromisoformat(str(data_end).strip())
        except ValueError:
            raise _params_error(path, "data_end", f"is {data_end!r}; write auto or a date such as 2025-06-30") from None
    vocabulary = section.get("vocabulary")
    generator = {key: section[key] for key in ("customers", "seed", "events_per_customer") if key in section}
    return DataSource(source, chosen, end, base / str(vocabulary) if vocabulary else None, path, generator)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fingerprints(data: DataSource) -> dict[str, Any]:
    """Content hashes of the chosen files and vocabulary (each checked to be a readable file)."""
    record: dict[str, Any] = {}
    for key, path in data.files.items():
        ingest_checks.check_path(FILE_KEYS[key], path, key)
        record[key] = {"path": str(path), "sha256": _sha256(path)}
    if data.vocabulary is not None:
        if not data.vocabulary.is_file():
            raise _params_error(data.params_path, "vocabulary", f"names {data.vocabulary}, which is not a file")
        record["vocabulary"] = {"path": str(data.vocabulary), "sha256": _sha256(data.vocabulary)}
    return record


def write_inputs(params_path: str | os.PathLike, out: str | os.PathLike) -> dict[str, Any]:
    """The ``inputs`` stage: record the source and, for files, each file's SHA-256 in ``out`` (JSON).

    Rewritten only when it changes, so DVC reruns the build exactly when an input's content changed.

    Returns:
        What was recorded.
    """
    data = read_data_source(params_path)
    record: dict[str, Any] = {"source": data.source}
    if data.source == "files":
        record |= {"data_end": str(data.data_end) if data.data_end else "auto", "files": _fingerprints(data)}
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    target = Path(out)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        files.write_atomically(target, text)
    return record


def build_from_params(
    params_path: str | os.PathLike,
    warehouse_path: str | os.PathLike | None = None,
    raw_dir: str | os.PathLike | None = None,
    inputs: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """The ``warehouse`` stage: build from the source params.yaml names, never the generator's over your files.

    Args:
        params_path: the parameters file.
        warehouse_path: target warehouse (default ``config.warehouse_path()``).
        raw_dir: the synthetic raw folder (source synthetic), written by ``generate``.
        inputs: the ``inputs`` stage's record; the files must still have the recorded content.

    Returns:
        The build metadata (with ``notes`` for files: the data end chosen).
    """
    data = read_data_source(params_path)
    if data.source == "synthetic":
        if raw_dir is None:
            raise ingest_module.IngestError("data.source is synthetic: pass the generated folder with --raw-dir")
        return build_from_raw_dir(raw_dir, warehouse_path)
    if inputs is not None and Path(inputs).is_file():
        recorded = json.loads(Path(inputs).read_text(encoding="utf-8")).get("files", {})
        current = _fingerprints(data)
        changed = sorted(key for key in current if recorded.get(key) != current[key])
        if changed:
            raise ingest_module.IngestError(
                f"{', '.join(changed)} changed since the inputs stage recorded them ({inputs}); run `dvc repro` again"
            )
    return ingest_module.ingest(
        data.files["customers"], data.files["subscriptions"], data.files.get("events"), data.files.get("tickets"),
        warehouse_path=warehouse_path, data_end=data.data_end, vocabulary_file=data.vocabulary,
    )


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


def refuse_replacing_files(warehouse_path: str | os.PathLike | None) -> None:
    """The generator never writes over a warehouse built from your files: refuse, naming the way out.

    Raises:
        IngestError: the target holds ingested data.
    """
    target = Path(warehouse_path) if warehouse_path else config.warehouse_path()
    if not target.is_file():
        return
    try:
        with connection.get_connection(read_only=True, path=target) as con:
            metadata = connection.read_metadata(con)
    except Exception:  # not a readable warehouse: the build's own checks decide
        return
    if metadata.get("source") not in ("synthetic", None):
        raise ingest_module.IngestError(
            f"{target} holds data built from your files (source {metadata['source']}, data {metadata['data_start']} "
            f"to {metadata['data_end']}); the generator does not write over it. Pass --warehouse OTHER_FILE, "
            "or move that file away first."
        )


def write_not_generated(raw_dir: str | os.PathLike, params_path: str | os.PathLike) -> dict[str, Any]:
    """The ``generate`` stage when params.yaml names your files: an empty raw folder saying why (fast, no data).

    Returns:
        The manifest written.
    """
    data = read_data_source(params_path)
    manifest = {"source": "not generated", "reason": f"data.source is {data.source} in {Path(params_path).name}"}
    target = Path(raw_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    building = files.staging_folder(target)
    try:
        (building / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        files.replace_folder(building, target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
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
