"""Shared fixtures: real DuckDB warehouse files in temporary folders (never mocks)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from helpers import warehouse
from helpers.warehouse import BuildSpec, write_staging

EXTERNAL_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "external"

CUSTOMER_COLUMNS = ["customer_id", "industry", "plan_tier", "signup_date", "mrr", "churn_date"]
SUBSCRIPTION_COLUMNS = ["subscription_id", "customer_id", "plan_tier", "start_date", "end_date", "mrr"]
EVENT_COLUMNS = ["event_id", "customer_id", "timestamp", "event_type", "feature_adoption_score"]
TICKET_COLUMNS = ["ticket_id", "customer_id", "created_at", "priority", "topic", "resolved_at"]


def customers_from_subscriptions(subscriptions: pd.DataFrame, data_end: dt.date) -> pd.DataFrame:
    """Customers consistent with their subscriptions (reference loop, independent of the SQL)."""
    rows = []
    for customer_id, group in subscriptions.groupby("customer_id", sort=True):
        active = [
            row for row in group.itertuples()
            if row.start_date <= data_end and (pd.isna(row.end_date) or row.end_date > data_end)
        ]
        ends = [row.end_date for row in group.itertuples() if not pd.isna(row.end_date)]
        latest = group.sort_values("start_date").iloc[-1]
        rows.append({
            "customer_id": customer_id,
            "industry": "Other",
            "plan_tier": latest["plan_tier"],
            "signup_date": group["start_date"].min(),
            "mrr": float(sum(row.mrr for row in active)),
            "churn_date": None if active else max(ends),
        })
    return pd.DataFrame(rows, columns=CUSTOMER_COLUMNS)


@pytest.fixture
def make_warehouse(tmp_path: Path) -> Callable[..., Path]:
    """Factory building a real warehouse file from small DataFrames.

    Call it with ``subscriptions`` (required), optional ``customers`` (derived
    from the subscriptions when omitted), ``events``, ``tickets`` and
    ``data_end``; it returns the path of the built warehouse.
    """
    counter = iter(range(1_000_000))

    def build(
        subscriptions: pd.DataFrame,
        customers: pd.DataFrame | None = None,
        events: pd.DataFrame | None = None,
        tickets: pd.DataFrame | None = None,
        data_end: dt.date = dt.date(2025, 12, 31),
        name: str | None = None,
    ) -> Path:
        path = tmp_path / (name or f"warehouse_{next(counter)}.duckdb")
        customers_frame = customers if customers is not None else customers_from_subscriptions(subscriptions, data_end)

        def load(con) -> BuildSpec:
            write_staging(con, "customers", customers_frame[CUSTOMER_COLUMNS])
            write_staging(con, "subscriptions", subscriptions[SUBSCRIPTION_COLUMNS])
            if events is not None and len(events):
                write_staging(con, "usage_events", events[EVENT_COLUMNS])
            if tickets is not None and len(tickets):
                write_staging(con, "support_tickets", tickets[TICKET_COLUMNS])
            return BuildSpec(source="test", data_end=data_end)

        warehouse.build(load, path)
        return path

    return build


def subscription_frame(rows: list[tuple]) -> pd.DataFrame:
    """Subscriptions from tuples (subscription_id, customer_id, plan_tier, start, end, mrr); dates as ISO text."""
    frame = pd.DataFrame(rows, columns=SUBSCRIPTION_COLUMNS)
    frame["start_date"] = pd.to_datetime(frame["start_date"]).dt.date
    frame["end_date"] = pd.to_datetime(frame["end_date"]).dt.date
    frame["end_date"] = frame["end_date"].where(frame["end_date"].notna(), None)
    return frame


_GOLDEN: dict[str, Path] = {}


def golden_fixture() -> dict[str, Path]:
    """The deterministic small warehouse with trained models, built once per test session."""
    if not _GOLDEN:
        import tempfile

        import golden_fixture as fixture

        _GOLDEN.update(fixture.build(Path(tempfile.mkdtemp(prefix="golden-fixture-"))))
    return _GOLDEN


def pytest_collection_finish(session) -> None:
    # nbval starts its kernels after collection: point them at the fixture first.
    if any(str(item.fspath).endswith(".ipynb") for item in session.items):
        import golden_fixture as fixture

        os.environ.update(fixture.environment(golden_fixture()))


@pytest.fixture(scope="session")
def small_synthetic_warehouse() -> Path:
    """A small synthetic warehouse (800 customers), built once per test session."""
    return golden_fixture()["warehouse"]


def small_training_params() -> dict:
    """params.yaml with fewer boosting rounds, sized for the small warehouse."""
    import golden_fixture as fixture

    return fixture.training_params()


@pytest.fixture(scope="session")
def trained_small_models() -> dict:
    """Both models trained and registered on the small warehouse, once per session."""
    paths = golden_fixture()
    return {"warehouse": paths["warehouse"], "models_dir": paths["models_dir"], "metrics_dir": paths["metrics_dir"]}
