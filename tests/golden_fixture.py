"""The small deterministic fixture: a synthetic warehouse and models trained on it.

Golden notebooks are executed on it (``make golden``) and nbval re-executes
them on a fresh build at test time, so the build must be deterministic: the
same seed and size give the same content hash, and training is seeded.
"""

from __future__ import annotations

from pathlib import Path

from helpers import config, warehouse

from helpers.models import training

SETTINGS = {"n_customers": 800, "seed": 7, "events_per_customer": 60}


def training_params() -> dict:
    """params.yaml with fewer boosting rounds, sized for the small warehouse."""
    params = config.load_params()
    params["churn_model"]["params"].update(max_iter=60, min_samples_leaf=20)
    return params


def build(folder: Path) -> dict[str, Path]:
    """Build the warehouse and train both models under ``folder``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "warehouse": folder / "warehouse.duckdb",
        "models_dir": folder / "models",
        "metrics_dir": folder / "metrics",
        "reports_dir": folder / "reports",
    }
    warehouse.build_synthetic(paths["warehouse"], progress=False, **SETTINGS)
    training.train_all(training_params(), paths["warehouse"], paths["models_dir"], paths["metrics_dir"])
    return paths


def environment(paths: dict[str, Path]) -> dict[str, str]:
    """Environment variables that point helpers.config at the fixture."""
    return {
        "WAREHOUSE_PATH": str(paths["warehouse"]),
        "MODELS_DIR": str(paths["models_dir"]),
        "REPORTS_DIR": str(paths["reports_dir"]),
        "METRICS_DIR": str(paths["metrics_dir"]),
    }
