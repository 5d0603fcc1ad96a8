"""The benchmark's cache: one folder per (customers, events, seed) with a warehouse and models.

``bench/cache/`` is git-ignored (bench/.gitignore). A folder holds:

- ``warehouse.duckdb``: reused only when its ``meta.build_info`` says it is a
  synthetic build of the same seed, customer count and (within
  ``EVENT_COUNT_TOLERANCE``, since event counts are drawn) event count;
- ``models/``, ``metrics/``: the models trained on it, reused while their
  ``data_fingerprint`` is the warehouse's content hash and the training
  options are unchanged;
- ``parquet/``: the warehouse exported to Parquet for the Spark steps,
  reused while it was exported from a warehouse of the same content hash;
- ``setup.json``: the measurements of the setup steps (generation, build,
  training, Parquet export), reported again when the cache is reused;
- ``logs/``, ``runs/``: each child process's output and result file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
DEFAULT_CACHE_DIR = BENCH_DIR / "cache"
# The generator draws event counts around customers x events_per_customer.
EVENT_COUNT_TOLERANCE = 0.05
MODEL_NAMES = ("churn_model", "risk_model")


@dataclass(frozen=True)
class CacheFolder:
    """Paths of one scale's cache folder."""

    root: Path

    @classmethod
    def for_scale(cls, cache_dir: str | os.PathLike, customers: int, events: int, seed: int) -> "CacheFolder":
        return cls(Path(cache_dir).resolve() / f"customers{customers}_events{events}_seed{seed}")

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def metrics_dir(self) -> Path:
        return self.root / "metrics"

    @property
    def parquet_dir(self) -> Path:
        return self.root / "parquet"

    @property
    def setup_file(self) -> Path:
        return self.root / "setup.json"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def read_setup(self) -> dict[str, Any]:
        """Setup measurements recorded by earlier runs (empty when none)."""
        if not self.setup_file.is_file():
            return {}
        try:
            return json.loads(self.setup_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return {}

    def write_setup(self, record: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.setup_file.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, self.setup_file)


class UnreadableWarehouse(Exception):
    """``bench.describe`` could not read a warehouse's build metadata."""


def build_info(path: Path, python: str = sys.executable) -> dict[str, Any]:
    """The warehouse's ``meta.build_info`` row and ``default_as_of``, read by a child (bench/describe.py)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run([python, "-m", "bench.describe", str(path)], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise UnreadableWarehouse(done.stderr.strip() or f"bench.describe exited with {done.returncode}")
    return json.loads(done.stdout)


def reusable_warehouse(
    folder: CacheFolder, customers: int, events: int, seed: int, python: str = sys.executable
) -> tuple[bool, str]:
    """Whether the cached warehouse is a build of this scale; with the reason either way."""
    if not folder.warehouse.is_file():
        return False, f"no cached warehouse at {folder.warehouse}"
    try:
        info = build_info(folder.warehouse, python)
    except UnreadableWarehouse as error:
        return False, f"cached warehouse unreadable ({error})"
    counts = info.get("row_counts") or {}
    if info.get("source") != "synthetic" or info.get("seed") != seed:
        return False, f"cached warehouse is source={info.get('source')} seed={info.get('seed')}, wanted synthetic seed={seed}"
    if counts.get("customers") != customers:
        return False, f"cached warehouse has {counts.get('customers')} customers, wanted {customers}"
    found = counts.get("usage_events", 0)
    if abs(found - events) > EVENT_COUNT_TOLERANCE * events:
        return False, f"cached warehouse has {found} events, wanted about {events}"
    return True, f"reusing {folder.warehouse} (built {info.get('built_at')}, {found} events)"


def reusable_models(folder: CacheFolder, content_hash: str, options: dict[str, Any]) -> tuple[bool, str]:
    """Whether the cached models were trained on this warehouse with these options."""
    for name in MODEL_NAMES:
        metadata_file = folder.models_dir / f"{name}_metadata.json"
        if not (folder.models_dir / f"{name}.pkl").is_file() or not metadata_file.is_file():
            return False, f"no cached {name}"
        metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
        if metadata.get("data_fingerprint") != content_hash:
            return False, f"cached {name} was trained on other data"
    recorded = folder.read_setup().get("train_models", {}).get("options")
    if recorded != options:
        return False, f"training options changed ({recorded} -> {options})"
    return True, f"reusing the models in {folder.models_dir}"


def reusable_parquet(folder: CacheFolder, content_hash: str) -> tuple[bool, str]:
    """Whether the cached Parquet export was written from this warehouse and is still whole."""
    record = folder.read_setup().get("parquet_export", {})
    if (record.get("options") or {}).get("content_hash") != content_hash:
        return False, "no Parquet export of this warehouse"
    files = (record.get("info") or {}).get("files") or {}
    if not files:
        return False, "the Parquet export's record names no files"
    for name, size in files.items():
        path = folder.parquet_dir / name
        if not path.is_file() or path.stat().st_size != size:
            return False, f"the Parquet export lacks {name} or it changed"
    return True, f"reusing the Parquet export in {folder.parquet_dir}"
