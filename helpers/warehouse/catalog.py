"""The table catalog: every warehouse table's name, key and columns, declared once.

The schema (``helpers/sql/schema.sql``), the data tests, ingest, the Parquet
export, the Spark registration and the synthetic generator all read this
module, so a column added here is known everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """One ``raw`` table.

    Attributes:
        name: table name in schema ``raw``.
        key: primary key column (names failing rows in data-test reports).
        columns: every column, in schema order.
        not_null: columns that must hold a value.
        optional_in_files: columns a user's file may leave out (derived or left empty on ingest).
    """

    name: str
    key: str
    columns: tuple[str, ...]
    not_null: tuple[str, ...]
    optional_in_files: tuple[str, ...] = ()


# Load order respects the foreign keys: customers first.
CATALOG: tuple[Table, ...] = (
    Table(
        "customers",
        key="customer_id",
        columns=("customer_id", "industry", "plan_tier", "signup_date", "mrr", "churn_date"),
        not_null=("customer_id", "industry", "plan_tier", "signup_date", "mrr"),
        # Derived from the subscriptions as of the data end when a file leaves them out.
        optional_in_files=("mrr", "churn_date"),
    ),
    Table(
        "subscriptions",
        key="subscription_id",
        columns=("subscription_id", "customer_id", "plan_tier", "start_date", "end_date", "mrr", "billing_interval"),
        # billing_interval: "month" when left out or blank (the build fills it); "year" for annual plans.
        not_null=("subscription_id", "customer_id", "plan_tier", "start_date", "mrr"),
        optional_in_files=("end_date", "billing_interval"),
    ),
    Table(
        "usage_events",
        key="event_id",
        columns=("event_id", "customer_id", "timestamp", "event_type", "feature_adoption_score"),
        not_null=("event_id", "customer_id", "timestamp", "event_type", "feature_adoption_score"),
    ),
    Table(
        "support_tickets",
        key="ticket_id",
        columns=("ticket_id", "customer_id", "created_at", "priority", "topic", "resolved_at"),
        not_null=("ticket_id", "customer_id", "created_at", "priority", "topic"),
        optional_in_files=("resolved_at",),
    ),
)

TABLES: tuple[str, ...] = tuple(table.name for table in CATALOG)
TABLE_KEYS: dict[str, str] = {table.name: table.key for table in CATALOG}
COLUMNS: dict[str, tuple[str, ...]] = {table.name: table.columns for table in CATALOG}

# Customer columns that ingest derives from the subscriptions when a file leaves them out.
DERIVED_CUSTOMER_COLUMNS: tuple[str, ...] = ("mrr", "churn_date")

# Qualified warehouse table -> file name in a Parquet export folder (Spark reads these).
EXPORTED_TABLES: dict[str, str] = {
    **{f"raw.{name}": f"{name}.parquet" for name in TABLES},
    "meta.build_info": "build_info.parquet",
}


def table(name: str) -> Table:
    """The catalog entry of ``name``; ValueError naming the tables otherwise."""
    for entry in CATALOG:
        if entry.name == name:
            return entry
    raise ValueError(f"unknown table {name!r}; expected one of {', '.join(TABLES)}")
