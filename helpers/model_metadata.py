"""What the registry writes beside a pickle: version, library versions, JSON.

Used by ``helpers.registry``; kept apart so the registry itself is about
files, trust and the cache.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import platform
import warnings
from decimal import Decimal
from pathlib import Path, PurePath
from typing import Any

import numpy as np

__all__ = [
    "ModelVersionWarning",
    "derive_version",
    "metadata_json",
    "running_library_versions",
    "warn_on_version_mismatch",
]

# Distributions whose versions are recorded beside the pickle (Python itself
# is recorded as "python"). Missing ones are simply omitted.
_TRACKED_DISTRIBUTIONS: tuple[str, ...] = ("numpy", "pandas", "scikit-learn", "duckdb")


class ModelVersionWarning(UserWarning):
    """A model was saved with other library versions than the running ones."""


def _installed_version(library: str) -> str | None:
    if library == "python":
        return platform.python_version()
    try:
        return importlib.metadata.version(library)
    except importlib.metadata.PackageNotFoundError:
        return None


def running_library_versions() -> dict[str, str]:
    """Versions of Python and of the tracked libraries that are installed."""
    versions = {"python": platform.python_version()}
    for distribution in _TRACKED_DISTRIBUTIONS:
        version = _installed_version(distribution)
        if version is not None:
            versions[distribution] = version
    return versions


def warn_on_version_mismatch(name: str, pickle_path: Path, metadata: dict) -> None:
    """Warn once per library whose recorded version differs from the running one.

    Versions are compared exactly, as scikit-learn does for its own pickles:
    even a patch release may change how an estimator unpickles or predicts.
    """
    recorded = metadata.get("library_versions")
    if not isinstance(recorded, dict):
        return  # metadata from before versions were recorded: nothing to compare
    for library, saved_version in sorted(recorded.items()):
        running_version = _installed_version(str(library))
        if running_version == saved_version:
            continue
        running = f"{library} {running_version}" if running_version else f"no {library} installed"
        warnings.warn(
            f"model {name!r} ({pickle_path}) was saved with {library} {saved_version} but "
            f"{running} is running; loading it anyway. If it fails or predicts "
            "differently, install the recorded versions or retrain with `dvc repro`.",
            ModelVersionWarning,
            stacklevel=3,  # points at the caller of load_model
        )


def derive_version(trained_at: object, sha256: str) -> str:
    """``<YYYYMMDDTHHMMSS>-<sha256[:12]>`` from trained_at, else from the save time (UTC)."""
    moment: dt.datetime | dt.date | None = None
    if isinstance(trained_at, dt.date):  # includes datetime and pandas Timestamp
        moment = trained_at
    elif isinstance(trained_at, str):
        try:
            moment = dt.datetime.fromisoformat(trained_at)
        except ValueError:
            moment = None
    if moment is not None and not isinstance(moment, dt.datetime):
        moment = dt.datetime.combine(moment, dt.time())
    try:
        stamp = f"{moment:%Y%m%dT%H%M%S}" if moment is not None else None
    except ValueError:  # pandas NaT is a datetime that cannot be formatted
        stamp = None
    if stamp is None:
        stamp = f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}"
    return f"{stamp}-{sha256[:12]}"


def _json_default(value: Any) -> Any:
    """JSON form of the values metadata typically carries beyond plain JSON."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # lossless: Decimal(text) gives the amount back exactly
    if isinstance(value, np.datetime64):
        return str(value)  # .item() of a ns timestamp would be a bare integer
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(
        f"value {value!r} of type {type(value).__name__} is not JSON-serialisable; "
        "convert it to a str, number, list or dict"
    )


def metadata_json(metadata: dict) -> str:
    """The metadata file's text: indented JSON, dates, Decimals and numpy values included.

    Raises:
        TypeError, ValueError: a value has no JSON form.
    """
    return json.dumps(metadata, indent=2, ensure_ascii=False, default=_json_default) + "\n"
