"""Repositories over the warehouse, with the seed system's method names.

Single-record methods return domain entities; bulk methods return DataFrames
computed by one set-based query (never a loop of single-row queries).

A repository opens one connection per call unless it is used as a context
manager (``with DuckDBUsageRepository() as repo: ...``), which holds one
read-only connection for the whole block: one connection per unit of work.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from helpers import config, warehouse
from helpers.domain import Customer, UsageEvent
from helpers.warehouse.queries import load_sql

# get_sample(n) accepts 1 <= n <= MAX_SAMPLE_SIZE. DuckDB's SAMPLE clause takes
# no bound parameter, so n is checked here before it is written into the SQL.
MAX_SAMPLE_SIZE = 100_000
SAMPLE_SEED = 42
MAX_WINDOW_DAYS = 36_500


class _Repository:
    """Connection handling shared by the repositories."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else config.warehouse_path()
        self._held: duckdb.DuckDBPyConnection | None = None
        self._context = None

    def __enter__(self):
        self._context = warehouse.get_connection(read_only=True, path=self.path)
        self._held = self._context.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        context, self._context, self._held = self._context, None, None
        context.__exit__(*exc_info)

    def _query(self, sql: str, parameters: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a read query on the held connection or a fresh read-only one; return a frame."""
        if self._held is not None:
            return self._held.execute(sql, parameters or {}).df()
        with warehouse.get_connection(read_only=True, path=self.path) as con:
            return con.execute(sql, parameters or {}).df()

    def _records(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Like ``_query`` but keeps exact Python values (Decimal money), as records."""
        def run(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
            cursor = con.execute(sql, parameters or {})
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

        if self._held is not None:
            return run(self._held)
        with warehouse.get_connection(read_only=True, path=self.path) as con:
            return run(con)

    def _data_end(self) -> dt.date:
        if self._held is not None:
            return warehouse.data_end(self._held)
        with warehouse.get_connection(read_only=True, path=self.path) as con:
            return warehouse.data_end(con)


def _customer(record: dict[str, Any]) -> Customer:
    return Customer(
        customer_id=record["customer_id"],
        industry=record["industry"],
        plan_tier=record["plan_tier"],
        signup_date=record["signup_date"],
        mrr=record["mrr"],
        churn_date=record["churn_date"],
    )


def _customers_query(
    customer_id: str | None = None, active_only: bool = False, by_mrr: bool = False
) -> tuple[str, dict[str, Any]]:
    """SQL and parameters of helpers/sql/customers.sql for one repository method."""
    order_by = "mrr desc, customer_id" if by_mrr else "customer_id"
    return load_sql("customers", order_by=order_by), {"customer_id": customer_id, "active_only": active_only}


def _check_sample_size(n: object) -> int:
    # bool is an int subclass; True is not a sample size.
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"get_sample: n must be an int, got {type(n).__name__} {n!r}")
    if not 1 <= n <= MAX_SAMPLE_SIZE:
        raise ValueError(f"get_sample: n must be between 1 and {MAX_SAMPLE_SIZE}, got {n}")
    return n


class DuckDBCustomerRepository(_Repository):
    """Customers of the warehouse."""

    def get_by_id(self, customer_id: str) -> Customer | None:
        """The customer with this id, or None."""
        records = self._records(*_customers_query(customer_id=customer_id))
        return _customer(records[0]) if records else None

    def get_all_active(self) -> list[Customer]:
        """Customers with no churn date, highest MRR first (one query)."""
        return [_customer(record) for record in self._records(*_customers_query(active_only=True, by_mrr=True))]

    def get_sample(self, n: int) -> list[Customer]:
        """A reproducible reservoir sample of ``n`` customers, ordered by id.

        Args:
            n: sample size, an int with 1 <= n <= MAX_SAMPLE_SIZE (100,000).

        Raises:
            ValueError: ``n`` is not an int or out of range.
        """
        size = _check_sample_size(n)
        # size is a validated int: the only value formatted into SQL here.
        sql = load_sql("customers_sample", sample_size=str(size), sample_seed=str(SAMPLE_SEED))
        records = self._sample_records(sql)
        return [_customer(record) for record in records]

    def _sample_records(self, sql: str) -> list[dict[str, Any]]:
        # DuckDB's REPEATABLE sampling is deterministic only single-threaded,
        # so the sample runs on its own connection with one thread.
        with warehouse.get_connection(read_only=True, path=self.path) as con:
            con.execute("set threads = 1")
            cursor = con.execute(sql)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def save(self, customer: Customer) -> None:
        """Insert or update a customer (a real upsert on the primary key).

        The warehouse's content hash is refreshed so models trained on the old
        data can tell the data changed.
        """
        if not isinstance(customer, Customer):
            raise TypeError(f"save expects a Customer, got {type(customer).__name__}")
        parameters = {
            "customer_id": customer.customer_id,
            "industry": customer.industry.value,
            "plan_tier": customer.plan_tier.value,
            "signup_date": customer.signup_date,
            "mrr": customer.mrr.amount,
            "churn_date": customer.churn_date,
        }
        with warehouse.get_connection(read_only=False, path=self.path) as con:
            con.execute("begin transaction")
            con.execute(load_sql("customer_upsert"), parameters)
            warehouse.refresh_content_hash(con, ("customers",))
            con.execute("commit")

    def customers_frame(self, active_only: bool = False) -> pd.DataFrame:
        """All customers (or only active ones) as a DataFrame, for notebooks."""
        return self._query(*_customers_query(active_only=active_only))


class DuckDBUsageRepository(_Repository):
    """Usage events of the warehouse.

    ``as_of`` is a date meaning "at the start of that day": windows cover
    ``[as_of - days, as_of)``. It defaults to the day after the warehouse's
    data end, so the last day of data is included; never the wall clock.
    """

    def _as_of(self, as_of: dt.date | None) -> dt.date:
        if as_of is None:
            return self._data_end() + dt.timedelta(days=1)
        if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
            raise ValueError(f"as_of must be a date, got {as_of!r}")
        return as_of

    @staticmethod
    def _check_days(days: object) -> int:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_WINDOW_DAYS:
            raise ValueError(f"days must be an int between 1 and {MAX_WINDOW_DAYS}, got {days!r}")
        return days

    def get_events_for_customer(self, customer_id: str, since: dt.datetime | dt.date | None = None) -> list[UsageEvent]:
        """A customer's events, newest first; only those at or after ``since`` when given."""
        records = self._records(
            load_sql("events_for_customer"), {"customer_id": customer_id, "since": since}
        )
        return [UsageEvent(**record) for record in records]

    def get_event_count_last_n_days(self, customer_id: str, days: int, as_of: dt.date | None = None) -> int:
        """Number of a customer's events in the ``days`` days before ``as_of``."""
        window_days = self._check_days(days)
        end = self._as_of(as_of)
        records = self._records(
            load_sql("event_count_window"),
            {"customer_id": customer_id, "window_start": end - dt.timedelta(days=window_days), "as_of": end},
        )
        return int(records[0]["events"])

    def event_counts_last_n_days(self, days: int, as_of: dt.date | None = None) -> pd.DataFrame:
        """Every customer's event count in the ``days`` days before ``as_of`` (zeros included), one query."""
        window_days = self._check_days(days)
        end = self._as_of(as_of)
        return self._query(
            load_sql("event_counts_window"),
            {"window_start": end - dt.timedelta(days=window_days), "as_of": end},
        )

    def daily_activity(self, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        """Events and active customers per day and event type, aggregated in DuckDB."""
        return self._query(load_sql("daily_activity"), {"start": start, "end": end})
