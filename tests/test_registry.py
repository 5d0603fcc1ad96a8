"""The model registry: atomic saves, verified and allow-listed loads, cache, names, versions."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pickle
import sys
import threading
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from helpers import registry
from helpers.models.churn_model import ChurnModel
from helpers.models.risk_model import RiskModel
from helpers.registry import (
    MODEL_NAMES,
    ModelIntegrityError,
    ModelVersionWarning,
    clear_cache,
    get_model_metadata,
    load_model,
    save_model,
)

METADATA = {
    "trained_at": "2025-06-30T12:34:56",
    "horizon_days": 90,
    "params": {"C": 1.0},
    "features": ["mrr", "tenure_months"],
}


def churn(coefficient: float) -> ChurnModel:
    """A stand-in churn model: the suite's class with plain state, compared by value."""
    return ChurnModel(estimator=None, horizon_days=90, reference={"coefficient": coefficient})


def risk(horizon_months: int) -> RiskModel:
    """A stand-in risk model."""
    return RiskModel(estimator=None, horizon_months=horizon_months)


class Model:
    """A class of the tests: not on the registry's allow-list."""

    def __init__(self, coefficient: float):
        self.coefficient = coefficient


class Unpicklable:
    """Pickling fails part-way, as with a model holding a lock or a connection."""

    def __reduce__(self):
        raise TypeError("cannot pickle this model")


class Payload:
    """Unpickling it creates ``marker``: stands in for a malicious pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    monkeypatch.delenv("MODELS_DIR", raising=False)
    # A tampered pickle looks like a save in progress for a moment; don't wait for it here.
    monkeypatch.setattr(registry, "_SAVE_GRACE_SECONDS", 0.05)
    clear_cache()
    yield
    clear_cache()


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


# --- save and load -----------------------------------------------------------


def test_known_model_names():
    assert MODEL_NAMES == ("churn_model", "risk_model")


def test_save_then_load_round_trips(tmp_path):
    save_model("churn_model", churn(0.5), METADATA, models_dir=tmp_path)
    assert load_model("churn_model", models_dir=tmp_path) == churn(0.5)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "churn_model.pkl", "churn_model_metadata.json",
    ]


def test_saved_metadata_is_filled_by_the_registry(tmp_path):
    written = save_model("risk_model", risk(2), METADATA, models_dir=tmp_path)
    pickle_bytes = (tmp_path / "risk_model.pkl").read_bytes()
    sha256 = hashlib.sha256(pickle_bytes).hexdigest()

    assert written["sha256"] == sha256
    assert written["pickle_bytes"] == len(pickle_bytes)
    assert written["name"] == "risk_model"
    assert written["model_class"] == "helpers.models.risk_model.RiskModel"
    assert written["version"] == f"20250630T123456-{sha256[:12]}"
    assert {"python", "numpy", "pandas", "duckdb"} <= set(written["library_versions"])
    assert written["library_versions"]["numpy"] == np.__version__
    assert {key: written[key] for key in METADATA} == METADATA
    assert get_model_metadata("risk_model", models_dir=tmp_path) == written
    assert pickle.loads(pickle_bytes) == risk(2)


def test_caller_version_is_kept_and_registry_fields_win(tmp_path):
    stale = dict(METADATA, version="v7", sha256="0" * 64, name="other", pickle_bytes=1)
    written = save_model("churn_model", churn(1.0), stale, models_dir=tmp_path)
    assert written["version"] == "v7"
    assert written["name"] == "churn_model"
    assert written["sha256"] == hashlib.sha256((tmp_path / "churn_model.pkl").read_bytes()).hexdigest()
    assert stale["sha256"] == "0" * 64  # the caller's dict is not modified
    assert load_model("churn_model", models_dir=tmp_path) == churn(1.0)


def test_version_without_trained_at_uses_the_save_time(tmp_path):
    written = save_model("churn_model", churn(1.0), {}, models_dir=tmp_path)
    stamp, short_hash = written["version"].split("-")
    assert short_hash == written["sha256"][:12]
    assert abs(dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S") - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)) < dt.timedelta(minutes=5)


def test_metadata_serialises_dates_decimals_and_numpy(tmp_path):
    metadata = {
        "trained_at": dt.datetime(2025, 6, 30, 8, 0),
        "as_of_range": [dt.date(2024, 1, 1), dt.date(2025, 3, 1)],
        "metrics": {"roc_auc": np.float64(0.81), "n_train": np.int64(1200), "mrr_at_risk": Decimal("1234.50")},
        "coefficients": np.array([0.5, -1.0]),
        "tiers": {"growth"},
    }
    written = save_model("churn_model", churn(1.0), metadata, models_dir=tmp_path)
    assert written["trained_at"] == "2025-06-30T08:00:00"
    assert written["as_of_range"] == ["2024-01-01", "2025-03-01"]
    assert written["metrics"] == {"roc_auc": 0.81, "n_train": 1200, "mrr_at_risk": "1234.50"}
    assert written["coefficients"] == [0.5, -1.0]
    assert written["tiers"] == ["growth"]
    assert written["version"].startswith("20250630T080000-")


def test_unserialisable_metadata_fails_before_any_file_changes(tmp_path):
    save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path)
    before = files_of(tmp_path)
    with pytest.raises(TypeError, match="churn_model.*JSON"):
        save_model("churn_model", churn(2.0), {"fitted_on": object()}, models_dir=tmp_path)
    assert files_of(tmp_path) == before


def test_models_dir_environment_variable_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "from_env"))
    save_model("churn_model", churn(3.0), METADATA)
    assert (tmp_path / "from_env" / "churn_model.pkl").is_file()
    assert load_model("churn_model") == churn(3.0)
    assert get_model_metadata("churn_model")["name"] == "churn_model"


# --- cache -------------------------------------------------------------------


def test_load_returns_the_cached_object(tmp_path):
    save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path)
    first = load_model("churn_model", models_dir=tmp_path)
    assert load_model("churn_model", models_dir=tmp_path) is first
    clear_cache()
    assert load_model("churn_model", models_dir=tmp_path) is not first


def test_load_returns_the_new_model_after_a_save(tmp_path):
    save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path)
    old = load_model("churn_model", models_dir=tmp_path)
    save_model("churn_model", churn(2.0), METADATA, models_dir=tmp_path)
    new = load_model("churn_model", models_dir=tmp_path)
    assert new == churn(2.0) and new is not old


def test_cache_sees_files_replaced_behind_its_back(tmp_path):
    """Files copied in by `dvc pull` (not save_model) are picked up too."""
    source = tmp_path / "source"
    save_model("churn_model", churn(9.0), METADATA, models_dir=source)
    target = tmp_path / "target"
    save_model("churn_model", churn(1.0), METADATA, models_dir=target)
    assert load_model("churn_model", models_dir=target) == churn(1.0)
    for file_name in ("churn_model.pkl", "churn_model_metadata.json"):
        (target / file_name).write_bytes((source / file_name).read_bytes())
    assert load_model("churn_model", models_dir=target) == churn(9.0)


def test_cache_is_per_folder(tmp_path):
    save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path / "a")
    save_model("churn_model", churn(2.0), METADATA, models_dir=tmp_path / "b")
    assert load_model("churn_model", models_dir=tmp_path / "a") == churn(1.0)
    assert load_model("churn_model", models_dir=tmp_path / "b") == churn(2.0)


def test_concurrent_first_loads_share_one_object(tmp_path):
    save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path)
    loaded: list[object] = []
    threads = [
        threading.Thread(target=lambda: loaded.append(load_model("churn_model", models_dir=tmp_path)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loaded) == 8 and all(model is loaded[0] for model in loaded)


# --- integrity ---------------------------------------------------------------


def test_flipped_byte_raises_integrity_error(tmp_path):
    written = save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path)
    path = tmp_path / "churn_model.pkl"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError) as caught:
        load_model("churn_model", models_dir=tmp_path)
    message = str(caught.value)
    assert written["sha256"] in message
    assert hashlib.sha256(bytes(data)).hexdigest() in message
    assert str(path) in message


def test_swapped_malicious_pickle_is_never_unpickled(tmp_path):
    # Control: the payload really runs when unpickled, so its absence below means something.
    control = tmp_path / "control_marker"
    pickle.loads(pickle.dumps(Payload(control)))
    assert control.exists()

    models = tmp_path / "models"
    save_model("churn_model", churn(1.0), METADATA, models_dir=models)
    marker = tmp_path / "payload_ran"
    (models / "churn_model.pkl").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ModelIntegrityError, match="expected sha256"):
        load_model("churn_model", models_dir=models)
    assert not marker.exists()


def test_tampering_after_a_cached_load_is_detected(tmp_path):
    save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path)
    load_model("churn_model", models_dir=tmp_path)
    marker = tmp_path / "payload_ran"
    (tmp_path / "churn_model.pkl").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ModelIntegrityError):
        load_model("churn_model", models_dir=tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("sha256", [None, "", "not-a-hash", 42], ids=["absent", "empty", "text", "number"])
def test_metadata_without_a_valid_sha256_is_refused(tmp_path, sha256):
    marker = tmp_path / "payload_ran"
    models = tmp_path / "models"
    save_model("churn_model", churn(1.0), METADATA, models_dir=models)
    (models / "churn_model.pkl").write_bytes(pickle.dumps(Payload(marker)))
    metadata_path = models / "churn_model_metadata.json"
    metadata = json.loads(metadata_path.read_text())
    if sha256 is None:
        del metadata["sha256"]
    else:
        metadata["sha256"] = sha256
    metadata_path.write_text(json.dumps(metadata))
    with pytest.raises(ModelIntegrityError, match="sha256") as caught:
        load_model("churn_model", models_dir=models)
    assert str(metadata_path) in str(caught.value)
    assert not marker.exists()


def test_metadata_of_another_model_is_refused(tmp_path):
    save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path)
    save_model("risk_model", risk(2), METADATA, models_dir=tmp_path)
    (tmp_path / "risk_model.pkl").write_bytes((tmp_path / "churn_model.pkl").read_bytes())
    (tmp_path / "risk_model_metadata.json").write_bytes((tmp_path / "churn_model_metadata.json").read_bytes())
    with pytest.raises(ModelIntegrityError, match="describes model 'churn_model'"):
        load_model("risk_model", models_dir=tmp_path)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[1, 2]"], ids=["syntax", "encoding", "array"])
def test_corrupt_metadata_raises_integrity_error(tmp_path, content):
    save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path)
    metadata_path = tmp_path / "churn_model_metadata.json"
    metadata_path.write_bytes(content)
    with pytest.raises(ModelIntegrityError, match="churn_model_metadata.json"):
        get_model_metadata("churn_model", models_dir=tmp_path)
    with pytest.raises(ModelIntegrityError, match="churn_model_metadata.json"):
        load_model("churn_model", models_dir=tmp_path)


# --- missing files and names -------------------------------------------------


@pytest.mark.parametrize("missing", ["churn_model.pkl", "churn_model_metadata.json", "folder"])
def test_missing_files_tell_the_user_to_run_dvc_pull(tmp_path, missing):
    models = tmp_path / "models"
    save_model("churn_model", churn(1.0), METADATA, models_dir=models)
    if missing == "folder":
        models = tmp_path / "nowhere"
    else:
        (models / missing).unlink()
    with pytest.raises(FileNotFoundError, match="dvc pull") as caught:
        load_model("churn_model", models_dir=models)
    assert "dvc repro" in str(caught.value)
    assert caught.value.filename in str(caught.value)
    assert Path(caught.value.filename).parent == models.resolve()


def test_missing_pickle_is_noticed_even_when_cached(tmp_path):
    save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path)
    load_model("churn_model", models_dir=tmp_path)
    (tmp_path / "churn_model.pkl").unlink()
    with pytest.raises(FileNotFoundError, match="dvc pull"):
        load_model("churn_model", models_dir=tmp_path)


def test_missing_metadata_reads_as_unknown_version(tmp_path):
    assert get_model_metadata("churn_model", models_dir=tmp_path) == {"version": "unknown"}
    assert get_model_metadata("churn_model", models_dir=tmp_path / "nowhere") == {"version": "unknown"}


BAD_NAMES = ["../x", "a/b", "", "x.pkl", "churn model", None, "..", "/etc/passwd", "a\\b", "churn_model\n", "1model"]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize(
    "call",
    [
        lambda name, folder: load_model(name, models_dir=folder),
        lambda name, folder: get_model_metadata(name, models_dir=folder),
        lambda name, folder: save_model(name, churn(1.0), METADATA, models_dir=folder),
    ],
    ids=["load_model", "get_model_metadata", "save_model"],
)
def test_bad_names_are_rejected(tmp_path, call, name):
    folder = tmp_path / "models"
    folder.mkdir()
    with pytest.raises(ValueError, match="^name must be a plain identifier"):
        call(name, folder)
    assert list(tmp_path.rglob("*")) == [folder]  # nothing written anywhere


# --- library versions --------------------------------------------------------


@pytest.mark.parametrize(
    ("library", "saved", "running"),
    [("numpy", "1.0.0", np.__version__), ("not-a-real-library", "9.9", "no not-a-real-library installed")],
)
def test_library_version_mismatch_warns_and_loads(tmp_path, library, saved, running):
    save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path)
    metadata_path = tmp_path / "churn_model_metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["library_versions"][library] = saved
    metadata_path.write_text(json.dumps(metadata))
    with pytest.warns(ModelVersionWarning) as caught:
        model = load_model("churn_model", models_dir=tmp_path)
    assert model == churn(1.0)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert f"{library} {saved}" in message and running in message
    assert caught[0].filename == __file__  # attributed to the caller of load_model
    assert issubclass(ModelVersionWarning, UserWarning)


def test_matching_library_versions_do_not_warn(tmp_path):
    save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model("churn_model", models_dir=tmp_path)


# --- atomic writes -----------------------------------------------------------


def test_save_leaves_no_temporary_files(tmp_path):
    for coefficient in (1.0, 2.0):
        save_model("churn_model", churn(coefficient), METADATA, models_dir=tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["churn_model.pkl", "churn_model_metadata.json"]
    mode = (tmp_path / "churn_model.pkl").stat().st_mode & 0o777
    assert mode == 0o644


def test_unpicklable_model_leaves_the_previous_files_byte_identical(tmp_path):
    save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path)
    before = files_of(tmp_path)
    with pytest.raises(TypeError, match="cannot pickle"):
        save_model("churn_model", ChurnModel(Unpicklable(), 90, {}), METADATA, models_dir=tmp_path)
    assert files_of(tmp_path) == before
    assert load_model("churn_model", models_dir=tmp_path) == churn(1.0)


def test_crash_between_the_two_writes_is_refused_at_load(tmp_path, monkeypatch):
    """Pickle first, metadata second: a crash in between leaves a pickle the old metadata does not describe."""
    save_model("churn_model", churn(1.0), METADATA, models_dir=tmp_path)
    old_metadata = (tmp_path / "churn_model_metadata.json").read_bytes()
    real_replace = os.replace

    def replace_then_crash(source, destination):
        if str(destination).endswith("_metadata.json"):
            raise OSError("disk full")
        real_replace(source, destination)

    with monkeypatch.context() as patch:
        patch.setattr(registry.os, "replace", replace_then_crash)
        with pytest.raises(OSError, match="disk full"):
            save_model("churn_model", churn(2.0), METADATA, models_dir=tmp_path)

    assert sorted(os.listdir(tmp_path)) == ["churn_model.pkl", "churn_model_metadata.json"]
    assert (tmp_path / "churn_model_metadata.json").read_bytes() == old_metadata
    with pytest.raises(ModelIntegrityError):
        load_model("churn_model", models_dir=tmp_path)
    save_model("churn_model", churn(2.0), METADATA, models_dir=tmp_path)  # saving again repairs it
    assert load_model("churn_model", models_dir=tmp_path) == churn(2.0)


def test_load_waits_out_another_process_between_its_two_writes(tmp_path, monkeypatch):
    """New pickle already in place, its metadata a moment later: the load gets the new model."""
    monkeypatch.setattr(registry, "_SAVE_GRACE_SECONDS", 2.0)
    source, target = tmp_path / "source", tmp_path / "target"
    save_model("churn_model", churn(2.0), METADATA, models_dir=source)
    save_model("churn_model", churn(1.0), METADATA, models_dir=target)
    (target / "churn_model.pkl").write_bytes((source / "churn_model.pkl").read_bytes())
    staged = target / "churn_model_metadata.json.next"
    staged.write_bytes((source / "churn_model_metadata.json").read_bytes())
    # Replaced in one step, as save_model's atomic writer does: a plain write_bytes would
    # let the load read a truncated, empty file (it did, once, in a full test run).
    late_metadata = threading.Timer(0.1, lambda: os.replace(staged, target / "churn_model_metadata.json"))
    late_metadata.start()
    try:
        assert load_model("churn_model", models_dir=target) == churn(2.0)
    finally:
        late_metadata.join()


# --- trust: allow-listed types only, the class its name stands for ------------


class SystemCall:
    """Unpickling it runs a shell command, as a tampered model file would."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class Evaluate:
    """Unpickling it evaluates Python text."""

    def __init__(self, text: str):
        self.text = text

    def __reduce__(self):
        return (eval, (self.text,))


def plant(models: Path, name: str, pickle_bytes: bytes, **metadata_changes) -> None:
    """Replace a saved model's pickle and make its metadata match (hash, size): a tampered remote."""
    (models / f"{name}.pkl").write_bytes(pickle_bytes)
    metadata_path = models / f"{name}_metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata.update(sha256=hashlib.sha256(pickle_bytes).hexdigest(), pickle_bytes=len(pickle_bytes))
    for key, value in metadata_changes.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    metadata_path.write_text(json.dumps(metadata))


MALICIOUS = {
    "os.system": lambda marker: SystemCall(f"touch {marker}"),
    "builtins.eval": lambda marker: Evaluate(f"__import__('pathlib').Path({str(marker)!r}).touch()"),
    "pathlib.Path.touch": lambda marker: Payload(marker),
}


@pytest.mark.parametrize("kind", list(MALICIOUS))
def test_a_pickle_with_a_matching_hash_runs_no_code(tmp_path, kind):
    # Control: the payload really runs when unpickled, so its absence below means something.
    control = tmp_path / "control_marker"
    pickle.loads(pickle.dumps(MALICIOUS[kind](control)))
    assert control.exists()

    models = tmp_path / "models"
    save_model("churn_model", churn(1.0), METADATA, models_dir=models)
    marker = tmp_path / "pwned"
    plant(models, "churn_model", pickle.dumps(MALICIOUS[kind](marker)))
    with pytest.raises(ModelIntegrityError, match="not trusted") as caught:
        load_model("churn_model", models_dir=models)
    assert not marker.exists()
    message = str(caught.value)
    assert "which is not on the allow-list" in message and "dvc pull" in message
    # The refused global is named as the pickle spells it (os.system is posix.system on Linux).
    assert {"os.system": os.system.__module__ + ".system", "builtins.eval": "builtins.eval",
            "pathlib.Path.touch": "pathlib.Path.touch"}[kind] in message


def test_a_hand_written_global_is_refused_before_its_module_is_imported(tmp_path, monkeypatch):
    """helpers.__main__ runs the command line when imported: the check must come first."""
    monkeypatch.delitem(sys.modules, "helpers.__main__", raising=False)
    models = tmp_path / "models"
    save_model("churn_model", churn(1.0), METADATA, models_dir=models)
    plant(models, "churn_model", b"chelpers.__main__\nChurnModel\n)\x81.")
    with pytest.raises(ModelIntegrityError, match=r"helpers\.__main__\.ChurnModel, which is not on the allow-list"):
        load_model("churn_model", models_dir=models)
    assert "helpers.__main__" not in sys.modules


def test_a_pickle_cannot_change_an_allowed_class(tmp_path):
    """BUILD on a class object would set a class attribute for the whole process."""
    models = tmp_path / "models"
    save_model("churn_model", churn(1.0), METADATA, models_dir=models)
    had_attribute = "predict_proba" in vars(ChurnModel)
    original = ChurnModel.predict_proba
    # Push the class ChurnModel, then BUILD it with (no dict state, {"predict_proba": 7}).
    plant(models, "churn_model", b"chelpers.models.churn_model\nChurnModel\n(N}S'predict_proba'\nI7\nstb.")
    with pytest.raises(ModelIntegrityError, match=r"changed class attributes .*ChurnModel\.predict_proba"):
        load_model("churn_model", models_dir=models)
    assert had_attribute and ChurnModel.predict_proba is original


@pytest.mark.parametrize("metadata_class", ["recorded", "removed", "forged"])
def test_a_risk_model_renamed_churn_model_is_refused(tmp_path, metadata_class):
    models = tmp_path / "models"
    save_model("churn_model", churn(1.0), METADATA, models_dir=models)
    save_model("risk_model", risk(12), METADATA, models_dir=models)
    model_class = {
        "recorded": "helpers.models.risk_model.RiskModel",  # the risk model's own metadata, renamed
        "removed": None,  # as if saved before the class was recorded
        "forged": "helpers.models.churn_model.ChurnModel",  # the metadata lies
    }[metadata_class]
    plant(models, "churn_model", (models / "risk_model.pkl").read_bytes(), model_class=model_class)
    with pytest.raises(ModelIntegrityError, match="not trusted") as caught:
        load_model("churn_model", models_dir=models)
    message = str(caught.value)
    assert "ChurnModel" in message and "RiskModel" in message


def test_any_model_must_be_the_class_its_metadata_records(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    written = save_model("scaler", StandardScaler(), METADATA, models_dir=tmp_path)
    assert written["model_class"] == "sklearn.preprocessing._data.StandardScaler"
    assert isinstance(load_model("scaler", models_dir=tmp_path), StandardScaler)
    plant(tmp_path, "scaler", pickle.dumps(LogisticRegression()))
    with pytest.raises(ModelIntegrityError, match="records a 'sklearn.preprocessing._data.StandardScaler'"):
        load_model("scaler", models_dir=tmp_path)


@pytest.mark.parametrize(
    ("name", "model", "expected"),
    [
        ("churn_model", risk(12), "'churn_model' must be a helpers ChurnModel, not a helpers.models.risk_model.RiskModel"),
        ("churn_model", Model(1.0), "must be a helpers ChurnModel, not a test_registry.Model"),
        ("churn_model", ChurnModel(Model(1.0), 90, {}), "test_registry.Model, which is not on the allow-list"),
        ("other_model", {"transform": files_of}, "test_registry.files_of, which is not on the allow-list"),
        ("other_model", {"transform": np.log1p}, "numpy.log1p, which is not on the allow-list"),
    ],
    ids=["wrong-class", "unlisted-class", "unlisted-part", "function", "ufunc"],
)
def test_save_refuses_what_load_would_refuse(tmp_path, name, model, expected):
    save_model(name, churn(1.0) if name == "churn_model" else {"scores": [0.5]}, METADATA, models_dir=tmp_path)
    before = files_of(tmp_path)
    with pytest.raises(TypeError, match=expected):
        save_model(name, model, METADATA, models_dir=tmp_path)
    assert files_of(tmp_path) == before


def test_allow_listed_class_names_are_classes():
    """No function slips in under a class entry (a function could call anything)."""
    from helpers import safe_pickle

    for module, name in sorted(safe_pickle._ALLOWED_CLASSES):
        found = getattr(__import__(module, fromlist=[name]), name, None)
        if found is not None:  # numpy aliases such as numpy.bool_ vary between versions
            assert isinstance(found, type), f"{module}.{name}"
    assert "builtins.eval" not in safe_pickle.allowed_globals()
    assert "helpers.models.churn_model.ChurnModel" in safe_pickle.allowed_globals()


def test_the_trained_models_load_and_predict_as_before(trained_small_models):
    """The suite's real pipelines pass the allow-list and lose nothing on the way."""
    from helpers import warehouse
    from helpers.analytics import features

    models_dir = trained_small_models["models_dir"]
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        as_of = warehouse.read_metadata(con)["data_end"].replace(day=1)
        rows = features.snapshot(con, as_of, 90).head(200)
    for name, cls in (("churn_model", ChurnModel), ("risk_model", RiskModel)):
        model = load_model(name, models_dir=models_dir)
        assert type(model) is cls
        assert get_model_metadata(name, models_dir=models_dir)["model_class"].endswith(cls.__qualname__)
        unrestricted = pickle.loads((models_dir / f"{name}.pkl").read_bytes())
        predict = "predict_proba" if name == "churn_model" else "survival_curves"
        np.testing.assert_array_equal(getattr(model, predict)(rows), getattr(unrestricted, predict)(rows))


def test_a_sigmoid_calibrated_churn_model_round_trips(trained_small_models, tmp_path):
    """params.yaml may choose sigmoid calibration: its fitted parts are on the allow-list too."""
    from helpers import warehouse
    from helpers.models import selection, training
    from helpers.models.churn_model import ChurnModel, reference_values
    from helpers.dates import add_months

    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        last = add_months(warehouse.read_metadata(con)["data_end"].replace(day=1), -4)
        train = training.load_snapshots(con, add_months(last, -6), last)
    settings = {"params": {"max_iter": 10, "min_samples_leaf": 20}}
    rows = selection.training_rows(train, last, settings)
    for method in ("sigmoid", "isotonic"):
        curve, _ = selection.fit_curve("boosted_trees", rows, rows, settings, method)
        assert curve.calibration.method == method
    model = ChurnModel(curve, 90, reference_values(train))
    save_model("churn_model", model, METADATA, models_dir=tmp_path)
    loaded = load_model("churn_model", models_dir=tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(train.head(100)), model.predict_proba(train.head(100)))
