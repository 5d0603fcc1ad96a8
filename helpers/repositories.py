"""Repositories over the warehouse, with the seed system's method names.

Single-record methods return domain entities; bulk methods return DataFrames
computed by one set-based query (never a loop of single-row queries).

A repository opens one connection per call unless it is used as a context
manager (``with DuckDBUsageRepository() as repo: ...``), which holds one
read-only connection for the whole block: one connection per unit of work.

Arguments are checked before any SQL runs: a customer id must be a non-empty
string (``None`` would otherwise match every customer in a query whose filter
is optional), counts are ints in a documented range, and dates or timestamps
are real ones. Money stays exact: entities and frames carry ``Decimal`` MRR.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from helpers import config, warehouse
from helpers.checks import int_in_range
from helpers.dates import to_date
from helpers.domain import Customer, UsageEvent
from helpers.warehouse.queries import fetch_frame, load_sql

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
        """Run a read query on the held connection or a fresh read-only one; return a frame.

        Through ``queries.fetch_frame``, the suite's one query path: DECIMAL
        money arrives as ``Decimal`` (DuckDB's own ``.df()`` makes it float).
        """
        if self._held is not None:
            return fetch_frame(self._held, sql, parameters or {})
        with warehouse.get_connection(read_only=True, path=self.path) as con:
            return fetch_frame(con, sql, parameters or {})

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


def _check_customer_id(customer_id: object) -> str:
    """Return a usable customer id; never let None reach a query whose filter is optional."""
    if not isinstance(customer_id, str):
        raise TypeError(f"customer_id must be a str such as 'C0001', got {type(customer_id).__name__} {customer_id!r}")
    if not customer_id.strip():
        raise ValueError(f"customer_id must be a non-empty str such as 'C0001', got {customer_id!r}")
    return customer_id


def _to_timestamp(value: object, name: str) -> dt.datetime | None:
    """A point in time as a naive UTC datetime (how the warehouse stores them); None passes through.

    Accepts a datetime, a date (its midnight), a pandas Timestamp, a
    numpy datetime64 or ISO text. An aware value is converted to UTC.

    Raises:
        ValueError: anything else (numbers, unparsable text, NaT).
    """
    if value is None:
        return None
    message = f"{name} must be a date or timestamp such as 2024-01-31 or 2024-01-31T09:30:00, got {value!r}"
    if isinstance(value, (str, np.datetime64)):
        try:
            value = pd.Timestamp(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(message) from None
    # Numbers would parse as nanoseconds since 1970: refuse them outright.
    if not isinstance(value, dt.date) or pd.isna(value):
        raise ValueError(message)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


class DuckDBCustomerRepository(_Repository):
    """Customers of the warehouse."""

    def get_by_id(self, customer_id: str) -> Customer | None:
        """The customer with this id, or None.

        Raises:
            TypeError: ``customer_id`` is not a str (``None`` included).
            ValueError: ``customer_id`` is empty or blank.
        """
        records = self._records(*_customers_query(customer_id=_check_customer_id(customer_id)))
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
        size = int_in_range(n, "get_sample: n", 1, MAX_SAMPLE_SIZE)
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

    def _as_of(self, as_of: object) -> dt.date:
        # A date, a midnight datetime or ISO text such as "2024-01-31", as everywhere in the suite.
        if as_of is None:
            return self._data_end() + dt.timedelta(days=1)
        return to_date(as_of, "as_of")

    @staticmethod
    def _check_days(days: object) -> int:
        return int_in_range(days, "days", 1, MAX_WINDOW_DAYS)

    def get_events_for_customer(self, customer_id: str, since: dt.datetime | dt.date | None = None) -> list[UsageEvent]:
        """A customer's events, newest first; only those at or after ``since`` when given.

        Args:
            customer_id: a non-empty str.
            since: a datetime, date, Timestamp or ISO text; naive values are
                UTC (as stored), aware ones are converted to UTC.

        Raises:
            TypeError: ``customer_id`` is not a str.
            ValueError: ``customer_id`` is blank, or ``since`` is not a point in time.
        """
        parameters = {"customer_id": _check_customer_id(customer_id), "since": _to_timestamp(since, "since")}
        records = self._records(load_sql("events_for_customer"), parameters)
        return [UsageEvent(**record) for record in records]

    def get_event_count_last_n_days(self, customer_id: str, days: int, as_of: dt.date | None = None) -> int:
        """Number of a customer's events in the ``days`` days before ``as_of``.

        Raises:
            TypeError: ``customer_id`` is not a str.
            ValueError: blank ``customer_id``, ``days`` not an int in [1, 36500],
                or ``as_of`` not a date.
        """
        customer_id = _check_customer_id(customer_id)
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

    def daily_activity(self, start: dt.date | None = None, end: dt.date | None = None,
                       active_customers: bool = True) -> pd.DataFrame:
        """Events, active customers and mean adoption per day and event type, aggregated in DuckDB.

        Args:
            start: first day included (a date or ISO text), or None for no bound.
            end: last day included, or None for no bound.
            active_customers: count the distinct customers of each day and type. That
                count costs about ten times the rest at 20M events; False leaves the
                column out (the overview's weekly chart needs only ``events``).

        Returns:
            ``day, event_type, events, active_customers, mean_adoption_score`` (without
            ``active_customers`` when not asked for), ordered by day and type.

        Raises:
            ValueError: ``start`` or ``end`` is not a date, or ``start`` is after ``end``.
        """
        first, last = to_date(start, "start"), to_date(end, "end")
        if first is not None and last is not None and first > last:
            raise ValueError(f"start ({first}) is after end ({last}); swap them")
        column = "count(distinct customer_id) as active_customers," if active_customers else ""
        return self._query(load_sql("daily_activity", active_customers=column), {"start": first, "end": last})
