"""Model registry: pickles with verified SHA-256 hashes and JSON metadata.

A model ``<name>`` lives in two files of the models folder
(``config.models_dir()``, i.e. ``$MODELS_DIR`` or ``models/``):

- ``<name>.pkl``: the pickled model (highest protocol);
- ``<name>_metadata.json``: the caller's metadata (version, trained_at, as-of
  range, horizon, params, features, metrics, data fingerprint) plus fields the
  registry fills itself: ``name``, ``model_class``, ``sha256`` and
  ``pickle_bytes`` of the pickle, ``library_versions`` and, when the caller
  gave none, ``version``.

Trust. ``load_model`` checks the pickle's SHA-256 against the metadata before
unpickling anything (the seed system did not: defect 5); that detects a
corrupt or half-written file, not a tampered one, since whoever can replace a
model on the shared DVC remote can replace its metadata too. So the pickle is
then read by ``helpers.safe_pickle``, which builds only allow-listed types
(numpy, the suite's scikit-learn pipelines, the suite's model classes) and
runs nothing else; and the object must be of the class its name stands for
(``churn_model`` a ``ChurnModel``, ``risk_model`` a ``RiskModel``; any other
model the class its metadata records). ``save_model`` applies the same checks
before writing, so a model that could not be loaded is never saved. Names are
plain identifiers, so a name can never reach outside the models folder.

Write order. ``save_model`` pickles, checks and serialises everything in
memory first (so an unpicklable or untrusted model or unserialisable metadata
fails before any file is touched), then writes the pickle, then the metadata,
each one atomically (temp file in the same folder, fsync, ``os.replace``,
fsync of the folder). Readers therefore only ever see whole files, and a crash
between the two writes leaves a new pickle beside the old metadata, which
describes a *different* hash: ``load_model`` refuses it with
``ModelIntegrityError`` instead of loading a model under the wrong
description; saving again repairs it. The opposite order would publish
metadata describing a pickle that is not there yet. Another process's load can
land between the two writes of a save; it sees the same mismatch, so a load
re-reads for up to ``_SAVE_GRACE_SECONDS`` while a save looks in progress (a
file changed under it, or the pickle is only just newer than its metadata)
before it raises. Within one process, saves and loads are serialised by a lock
and never interleave.
Interrupted writes may leave hidden ``.<file>.*.tmp`` files, safe to delete.

Cache. ``load_model`` returns the same object for repeated calls while the
files are unchanged. An entry is valid while the metadata file's bytes are
identical and the pickle's (inode, size, mtime_ns) are unchanged. Every save
rewrites the metadata with the new pickle's hash, so a new model is never
missed even when file timestamps are coarse, and reading a small JSON file
per call is far cheaper than re-hashing the pickle. Staleness can never
unpickle unverified bytes: a cached object was verified when it was loaded.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import pickle
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from helpers import config, files, safe_pickle
from helpers.model_metadata import (
    ModelVersionWarning,
    derive_version,
    metadata_json,
    running_library_versions,
    warn_on_version_mismatch,
)

__all__ = [
    "MODEL_NAMES",
    "ModelIntegrityError",
    "ModelVersionWarning",
    "clear_cache",
    "get_model_metadata",
    "load_model",
    "models_missing",
    "save_model",
]

MODEL_NAMES: tuple[str, ...] = ("churn_model", "risk_model")

# The class each known model must be, by name: its module may be any of the
# helpers package (modules move between subpackages; pickles name the module).
_MODEL_CLASSES: dict[str, str] = {"churn_model": "ChurnModel", "risk_model": "RiskModel"}

# Anchored with fullmatch: ``$`` alone would accept a trailing newline.
_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")

# Fields the registry owns: they overwrite whatever the caller passed, so a
# metadata dict loaded from an older model and re-saved cannot carry a stale hash.
_REGISTRY_FIELDS: tuple[str, ...] = ("name", "model_class", "sha256", "pickle_bytes", "library_versions")

# Another process's save can be caught between its pickle and its metadata
# write, which looks like a hash mismatch. While that is plausible (a file
# changed under the reader, or the pickle is only just newer than its
# metadata), the load re-reads both files for up to this long before it
# raises. Nothing is unpickled while waiting.
_SAVE_GRACE_SECONDS = 1.0
_RETRY_PAUSE_SECONDS = 0.01

_UNKNOWN_METADATA = {"version": "unknown"}


class ModelIntegrityError(Exception):
    """A model's files cannot be trusted: hash mismatch, corrupt metadata, unlisted type, wrong class."""


@dataclass(frozen=True)
class _CacheEntry:
    metadata_bytes: bytes
    pickle_signature: tuple[int, int, int]
    model: object


# One re-entrant lock serialises cache access, loads and saves within the
# process: two threads asking for the same model get the same object, and a
# save never interleaves its two writes with another thread's save.
_lock = threading.RLock()
_cache: dict[Path, _CacheEntry] = {}


def save_model(name: str, model: object, metadata: dict, models_dir: Path | None = None) -> dict:
    """Pickle ``model`` and write it with its metadata, atomically.

    Args:
        name: model name, a plain identifier (e.g. ``"churn_model"``).
        model: an object ``load_model`` can load back: built from allow-listed
            types only (see ``helpers.safe_pickle``), and of the name's class
            (``churn_model``: ``ChurnModel``; ``risk_model``: ``RiskModel``).
        metadata: the caller's fields (version, trained_at, as-of range,
            horizon, params, features, metrics, data fingerprint). Dates,
            Decimals (written as strings, losslessly), numpy scalars/arrays,
            sets and paths are serialised. If it has no ``version``, one is
            derived: ``<trained_at as YYYYMMDDTHHMMSS>-<sha256[:12]>``, using
            the save time in UTC when ``trained_at`` is absent or unparsable.
        models_dir: folder of the model files; ``config.models_dir()`` if None.

    Returns:
        The metadata as written, read back from its JSON (equal to what
        ``get_model_metadata(name)`` returns afterwards).

    Raises:
        TypeError: the model is of another class than its name's, or holds a
            type ``load_model`` would refuse; the metadata is not a dict or
            not JSON-serialisable.
    """
    pickle_path, metadata_path = _model_paths(name, models_dir)
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata for model {name!r} must be a dict, got {type(metadata).__name__}")

    # Everything that can fail on the caller's objects happens before any file
    # is touched, so a failure leaves the previous model byte-identical.
    mismatch = _class_mismatch(name, type(model))
    if mismatch:
        raise TypeError(f"cannot save model {name!r}: {mismatch}")
    pickle_bytes = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        safe_pickle.loads(pickle_bytes)  # the very check load_model will make
    except safe_pickle.UntrustedPickleError as error:
        raise TypeError(
            f"cannot save model {name!r}: load_model would refuse its pickle ({error}); "
            "keep models to numpy, the suite's scikit-learn pipelines and model classes, "
            "or add the type to the allow-list in helpers/safe_pickle.py"
        ) from error
    sha256 = hashlib.sha256(pickle_bytes).hexdigest()
    written = {key: value for key, value in metadata.items() if key not in _REGISTRY_FIELDS}
    if written.get("version") in (None, ""):
        written["version"] = derive_version(metadata.get("trained_at"), sha256)
    written.update(
        name=name,
        model_class=_class_name(type(model)),
        sha256=sha256,
        pickle_bytes=len(pickle_bytes),
        library_versions=running_library_versions(),
    )
    try:
        metadata_text = metadata_json(written)
    except (TypeError, ValueError) as error:
        raise TypeError(f"metadata for model {name!r} cannot be written as JSON: {error}") from error

    with _lock:
        pickle_path.parent.mkdir(parents=True, exist_ok=True)
        files.write_atomically(pickle_path, pickle_bytes)  # pickle first: see the module docstring
        files.write_atomically(metadata_path, metadata_text)
        _cache.pop(pickle_path, None)
    return json.loads(metadata_text)


def load_model(name: str, models_dir: Path | None = None) -> object:
    """Load a model after verifying its pickle's SHA-256, types and class.

    Cached: later calls return the same object until either file changes.
    Warns with ``ModelVersionWarning`` when the recorded library versions
    differ from the running ones, then loads anyway.

    Args:
        name: model name, a plain identifier (e.g. ``"churn_model"``).
        models_dir: folder of the model files; ``config.models_dir()`` if None.

    Returns:
        The unpickled model.

    Raises:
        ValueError: ``name`` is not a plain identifier.
        FileNotFoundError: the pickle or its metadata is missing (run ``dvc pull``).
        ModelIntegrityError: hash mismatch, no hash recorded, corrupt metadata;
            the pickle names a type outside the allow-list (nothing it names
            is run) or holds another class than the name's.
    """
    pickle_path, metadata_path = _model_paths(name, models_dir)
    with _lock:
        # Pickle first: when nothing was pulled yet, the error names the model file.
        pickle_signature = _signature(_stat_required(pickle_path, name))
        metadata_bytes = _read_required(metadata_path, name)[0]
        cached = _cache.get(pickle_path)
        if (
            cached is not None
            and cached.metadata_bytes == metadata_bytes
            and cached.pickle_signature == pickle_signature
        ):
            return cached.model

        pickle_bytes, pickle_signature, metadata_bytes, metadata = _read_verified(
            name, pickle_path, metadata_path
        )
        warn_on_version_mismatch(name, pickle_path, metadata)
        model = _unpickle_trusted(name, pickle_path, pickle_bytes, metadata, metadata_path)
        _cache[pickle_path] = _CacheEntry(metadata_bytes, pickle_signature, model)
        return model


def get_model_metadata(name: str, models_dir: Path | None = None) -> dict:
    """Read a model's metadata.

    Args:
        name: model name, a plain identifier (e.g. ``"churn_model"``).
        models_dir: folder of the model files; ``config.models_dir()`` if None.

    Returns:
        The metadata dict (a fresh copy), or ``{"version": "unknown"}`` when
        the metadata file does not exist.

    Raises:
        ValueError: ``name`` is not a plain identifier.
        ModelIntegrityError: the file is not a JSON object.
    """
    _, metadata_path = _model_paths(name, models_dir)
    try:
        metadata_bytes = metadata_path.read_bytes()
    except FileNotFoundError:
        return dict(_UNKNOWN_METADATA)
    return _parse_metadata(metadata_bytes, metadata_path)


def clear_cache() -> None:
    """Forget every cached model (the next ``load_model`` reads the files again)."""
    with _lock:
        _cache.clear()


# --- paths and names ---------------------------------------------------------


def _validate_name(name: object) -> str:
    """Return ``name`` if it is a plain identifier; raise ValueError otherwise."""
    if not isinstance(name, str) or _NAME_PATTERN.fullmatch(name) is None:
        raise ValueError(
            "name must be a plain identifier (ASCII letters, digits and '_', not starting "
            f"with a digit; no path separators, dots or spaces), e.g. one of {MODEL_NAMES}; "
            f"got {name!r}"
        )
    return name


def _model_paths(name: object, models_dir: str | os.PathLike | None) -> tuple[Path, Path]:
    """The pickle and metadata paths of a validated model name."""
    _validate_name(name)
    folder = config.models_dir() if models_dir is None else Path(models_dir).expanduser()
    # Resolved so that two spellings of one folder share one cache entry.
    folder = folder.resolve()
    return folder / f"{name}.pkl", folder / f"{name}_metadata.json"


# --- reading -----------------------------------------------------------------


def _missing_file_error(name: str, path: Path) -> FileNotFoundError:
    # The (errno, message, filename) form keeps .errno and .filename standard;
    # str() reads "[Errno 2] Model 'x' is not available (...); missing file: '<path>'".
    return FileNotFoundError(
        errno.ENOENT,
        f"Model {name!r} is not available (run `dvc pull` to fetch the trained models, "
        "`dvc repro` to retrain them, or point $MODELS_DIR at the folder that holds them); "
        "missing file",
        str(path),
    )


def _signature(stat: os.stat_result) -> tuple[int, int, int]:
    # os.replace gives every saved file a new inode, so a save is visible here
    # even when two saves fall within one tick of a coarse file-system clock.
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _stat_required(path: Path, name: str) -> os.stat_result:
    try:
        return path.stat()
    except FileNotFoundError:
        raise _missing_file_error(name, path) from None


def _read_required(path: Path, name: str) -> tuple[bytes, tuple[int, int, int]]:
    """The bytes of ``path`` and the signature of the very file they came from."""
    try:
        with open(path, "rb") as handle:
            # fstat on the open handle: the signature belongs to the bytes read,
            # even if the file is replaced meanwhile.
            signature = _signature(os.fstat(handle.fileno()))
            return handle.read(), signature
    except FileNotFoundError:
        raise _missing_file_error(name, path) from None


def _parse_metadata(metadata_bytes: bytes, metadata_path: Path) -> dict:
    try:
        metadata = json.loads(metadata_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelIntegrityError(
            f"model metadata {metadata_path} is not valid JSON ({error}); "
            "restore it with `dvc pull` or retrain with `dvc repro`"
        ) from error
    if not isinstance(metadata, dict):
        raise ModelIntegrityError(
            f"model metadata {metadata_path} holds a JSON {type(metadata).__name__}, not an object; "
            "restore it with `dvc pull` or retrain with `dvc repro`"
        )
    return metadata


def _recorded_sha256(name: str, metadata: dict, metadata_path: Path) -> str:
    recorded = metadata.get("sha256")
    if not isinstance(recorded, str) or _SHA256_PATTERN.fullmatch(recorded.lower()) is None:
        raise ModelIntegrityError(
            f"model metadata {metadata_path} has no valid 'sha256' (got {recorded!r}), so the "
            f"pickle of model {name!r} cannot be verified and is not loaded; save the model "
            "again with save_model or retrain with `dvc repro`"
        )
    recorded_name = metadata.get("name", name)
    if recorded_name != name:
        raise ModelIntegrityError(
            f"model metadata {metadata_path} describes model {recorded_name!r}, not {name!r}; "
            "restore the right file with `dvc pull` or retrain with `dvc repro`"
        )
    return recorded.lower()


def _save_may_be_in_progress(
    name: str,
    pickle_path: Path,
    metadata_path: Path,
    pickle_signature: tuple[int, int, int],
    metadata_signature: tuple[int, int, int],
) -> bool:
    """Whether a hash mismatch may be another process's save caught between its two writes."""
    # A file replaced while we read it: a save is running.
    if (
        _signature(_stat_required(metadata_path, name)) != metadata_signature
        or _signature(_stat_required(pickle_path, name)) != pickle_signature
    ):
        return True
    # The pickle was just written and the metadata not yet (it is written
    # second); an old pickle newer than its metadata is a crashed save instead.
    pickle_mtime_ns, metadata_mtime_ns = pickle_signature[2], metadata_signature[2]
    return pickle_mtime_ns >= metadata_mtime_ns and time.time_ns() - pickle_mtime_ns < _SAVE_GRACE_SECONDS * 1e9


def _read_verified(
    name: str, pickle_path: Path, metadata_path: Path
) -> tuple[bytes, tuple[int, int, int], bytes, dict]:
    """Read both files and check the pickle's hash; nothing is unpickled here.

    Returns:
        (pickle bytes, pickle signature, metadata bytes, parsed metadata).
    """
    deadline = time.monotonic() + _SAVE_GRACE_SECONDS
    while True:
        metadata_bytes, metadata_signature = _read_required(metadata_path, name)
        pickle_bytes, pickle_signature = _read_required(pickle_path, name)
        metadata = _parse_metadata(metadata_bytes, metadata_path)
        expected = _recorded_sha256(name, metadata, metadata_path)
        actual = hashlib.sha256(pickle_bytes).hexdigest()
        if hmac.compare_digest(actual, expected):
            return pickle_bytes, pickle_signature, metadata_bytes, metadata
        if not _save_may_be_in_progress(name, pickle_path, metadata_path, pickle_signature, metadata_signature):
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(_RETRY_PAUSE_SECONDS)
    raise ModelIntegrityError(
        f"pickle {pickle_path} of model {name!r} does not match its metadata {metadata_path}: "
        f"expected sha256 {expected}, actual {actual}. The file was modified, corrupted or "
        "half-updated, so it was not unpickled; restore both files with `dvc pull` or "
        "retrain with `dvc repro`"
    )


# --- types and classes -------------------------------------------------------


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _class_mismatch(name: str, cls: type) -> str | None:
    """Why a known model name cannot hold an instance of ``cls`` (None when it can)."""
    expected = _MODEL_CLASSES.get(name)
    if expected is None or (cls.__qualname__ == expected and cls.__module__.split(".")[0] == "helpers"):
        return None
    return f"{name!r} must be a helpers {expected}, not a {_class_name(cls)}"


def _refuse(name: str, pickle_path: Path, reason: str) -> ModelIntegrityError:
    return ModelIntegrityError(
        f"model {name!r} ({pickle_path}) is not trusted and was not loaded: {reason}. Restore it "
        "from a remote you trust with `dvc pull`, or retrain it with `dvc repro`"
    )


def _unpickle_trusted(name: str, pickle_path: Path, pickle_bytes: bytes, metadata: dict, metadata_path: Path) -> object:
    """Unpickle allow-listed types only; check the class against the name and the metadata."""
    recorded = metadata.get("model_class")  # absent in metadata saved before it was recorded
    if recorded is not None and name in _MODEL_CLASSES and (
        not isinstance(recorded, str) or recorded.rpartition(".")[2] != _MODEL_CLASSES[name]
    ):
        raise _refuse(name, pickle_path, f"its metadata {metadata_path} records a {recorded!r}, "
                      f"but {name!r} must be a helpers {_MODEL_CLASSES[name]}")
    try:
        model = safe_pickle.loads(pickle_bytes)
    except safe_pickle.UntrustedPickleError as error:
        raise _refuse(name, pickle_path, f"{error} (nothing outside the allow-list was run)") from None
    except Exception as error:
        error.add_note(
            f"while unpickling model {name!r} from {pickle_path} (hash verified); "
            "if the libraries changed since it was saved, retrain it with `dvc repro`"
        )
        raise
    mismatch = _class_mismatch(name, type(model))
    if mismatch is None and recorded is not None and recorded != _class_name(type(model)):
        mismatch = f"its metadata records a {recorded!r}, the pickle holds a {_class_name(type(model))}"
    if mismatch:
        raise _refuse(name, pickle_path, mismatch)
    return model


def models_missing(models_dir: Path, content_hash: str) -> str | None:
    """Why the registered models cannot serve this warehouse (absent, unreadable, trained on other data), or None."""
    for name in MODEL_NAMES:
        try:
            metadata = get_model_metadata(name, models_dir)
        except (ModelIntegrityError, ValueError, OSError) as error:
            return f"cannot read the metadata of model {name}: {error}"
        if metadata.get("version", "unknown") == "unknown":
            return f"there is no {name} in {models_dir}"
        if metadata.get("data_fingerprint") != content_hash:
            return (f"the {name} in {models_dir} was trained on other data (warehouse content "
                    f"{str(metadata.get('data_fingerprint'))[:12]}, this one is {content_hash[:12]})")
    return None
