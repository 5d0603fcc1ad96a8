"""Synthetic SaaS dataset: customers, subscriptions, usage events, support tickets.

Accounts are simulated month by month with numpy arrays over all customers (no
per-customer or per-event Python loops). Each account carries a hidden health
that drifts (AR(1) around a customer-level mean, with occasional shocks).
Health drives usage volume, event mix, adoption scores and support tickets. A
monthly churn hazard reads only state up to the previous month (tier, tenure,
health and its three-month decline, recent tickets, a recent contraction), so
churn is predictable from the past without anything being computed from its
future. An account that decides to leave may serve a notice of one or two
months, winding its usage down before the subscription ends.

Two passes: the first simulates accounts, subscriptions and tickets and keeps a
compact record per active account-month; the second turns those records into
usage events one month at a time, scaled so the mean number of events per
customer is ``events_per_customer``. Every table reaches the caller through
``write(table, frame)`` in chunks, so 20M events never sit in memory together.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import sys
from typing import Callable

import numpy as np
import pandas as pd
from tqdm import tqdm

from helpers import checks
from helpers.domain import TICKET_TOPICS, BillingInterval
from helpers.warehouse import catalog
from helpers.warehouse.synthetic import settings
from helpers.warehouse.synthetic.accounts import (
    Accounts,
    Calendar,
    times_of_day,
    weights,
)


def generator_settings(
    n_customers: int | None = None, seed: int | None = None, events_per_customer: float | None = None
) -> dict[str, object]:
    """The generator's size settings, its defaults filling what is None (recorded as build inputs)."""
    return {
        "n_customers": settings.DEFAULT_CUSTOMERS if n_customers is None else n_customers,
        "seed": settings.DEFAULT_SEED if seed is None else seed,
        "events_per_customer": (
            settings.DEFAULT_EVENTS_PER_CUSTOMER if events_per_customer is None else events_per_customer
        ),
    }


def generate(
    write: Callable[[str, pd.DataFrame], None],
    n_customers: int = settings.DEFAULT_CUSTOMERS,
    seed: int = settings.DEFAULT_SEED,
    start: dt.date = settings.DEFAULT_START,
    end: dt.date = settings.DEFAULT_END,
    events_per_customer: float = settings.DEFAULT_EVENTS_PER_CUSTOMER,
    progress: bool = True,
) -> dict:
    """Simulate the dataset and hand it to ``write`` in chunks.

    Args:
        write: called as ``write(table, frame)`` per chunk; ``table`` is a key of
            ``catalog.COLUMNS`` and ``frame`` has exactly that table's columns, in order.
        n_customers: number of customers; all sign up within [start, end].
        seed: seed of ``numpy.random.default_rng``; same arguments, same frames.
        start: first day covered by the data.
        end: last day covered by the data (inclusive).
        events_per_customer: mean number of usage events per customer.
        progress: show a tqdm bar over the simulated months on stderr.

    Returns:
        ``{"data_start", "data_end", "seed", "n_customers", "rows": {table: count}}``.
    """
    _validate(write, n_customers, seed, start, end, events_per_customer)
    calendar = Calendar.build(start, end)
    account_rng, count_rng, event_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    rows = dict.fromkeys(catalog.COLUMNS, 0)

    def emit(table: str, frame: pd.DataFrame) -> None:
        rows[table] += len(frame)
        write(table, frame)

    with tqdm(total=2 * calendar.n_months, desc="synthetic accounts", unit="month",
              disable=not progress, file=sys.stderr) as bar:
        accounts = Accounts(account_rng, calendar, n_customers)
        for month in range(calendar.n_months):
            accounts.simulate_month(month)
            bar.update(1)
        customer_ids = _ids("C", np.arange(1, n_customers + 1), max(6, len(str(n_customers))))
        _emit_customers(emit, accounts, customer_ids)
        _emit_subscriptions(emit, accounts, customer_ids)
        _emit_tickets(emit, accounts, customer_ids)
        bar.set_description("synthetic events")
        _emit_events(emit, accounts, customer_ids, count_rng, event_rng,
                     n_customers * float(events_per_customer), bar)
    return {"data_start": start, "data_end": end, "seed": seed, "n_customers": n_customers, "rows": rows}


def _validate(write, n_customers, seed, start, end, events_per_customer) -> None:
    """Raise ValueError naming the first bad argument."""
    if not callable(write):
        raise ValueError(f"write must be callable as write(table, frame), got {write!r}")
    checks.int_in_range(n_customers, "n_customers")
    checks.int_in_range(seed, "seed", minimum=0)
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise ValueError(f"{name} must be a datetime.date, got {value!r}")
    if start >= end:
        raise ValueError(f"start must be before end, got start={start} end={end}")
    if (not isinstance(events_per_customer, numbers.Real) or isinstance(events_per_customer, bool)
            or not math.isfinite(events_per_customer) or events_per_customer <= 0):
        raise ValueError(f"events_per_customer must be a finite number > 0, got {events_per_customer!r}")



def _ids(prefix: str, numbers_: np.ndarray, width: int) -> np.ndarray:
    """Fixed-width string ids ('C000042') as an object array, so they sort as the numbers do."""
    if len(numbers_) == 0:
        return np.empty(0, dtype=object)
    digits = np.char.zfill(numbers_.astype(np.int64).astype(str), width)
    return np.char.add(prefix, digits).astype(object)


def _to_datetime(values: np.ndarray, unit: str) -> np.ndarray:
    """Day or second numbers since the epoch (settings.NONE = NaT) to datetime64[ns]."""
    return values.astype(f"datetime64[{unit}]").astype("datetime64[ns]")


def _names(members) -> np.ndarray:
    return np.array([getattr(m, "value", m) for m in members], dtype=object)


def _emit_customers(emit, accounts: Accounts, customer_ids: np.ndarray) -> None:
    """One row per customer: tier and MRR at `end`, churn date unless active on `end`."""
    active = accounts.status == settings.ACTIVE
    _emit_chunks(emit, "customers", {
        "customer_id": customer_ids,
        "industry": _names(settings.INDUSTRIES)[accounts.industry],
        "plan_tier": _names(settings.TIERS)[accounts.tier],
        "signup_date": _to_datetime(accounts.signup_day, "D"),
        "mrr": np.where(active, accounts.mrr, 0.0),
        "churn_date": _to_datetime(np.where(active, settings.NONE, accounts.churn_day), "D"),
    })


def _emit_subscriptions(emit, accounts: Accounts, customer_ids: np.ndarray) -> None:
    """Subscription rows, numbered in order of start date (then customer)."""
    subs = accounts.subscriptions()
    order = np.lexsort((subs["customer"], subs["start"]))
    n = len(order)
    _emit_chunks(emit, "subscriptions", {
        "subscription_id": _ids("S", np.arange(1, n + 1), max(7, len(str(n)))),
        "customer_id": customer_ids[subs["customer"][order]],
        "plan_tier": _names(settings.TIERS)[subs["tier"][order]],
        "start_date": _to_datetime(subs["start"][order], "D"),
        "end_date": _to_datetime(subs["end"][order], "D"),
        "mrr": subs["mrr"][order],
        # The default dataset bills every plan monthly; annual plans come from your own files.
        "billing_interval": np.full(n, BillingInterval.MONTH.value, dtype=object),
    })


def _emit_chunks(emit, table: str, columns: dict[str, np.ndarray]) -> None:
    """Write a table's columns (equal-length arrays, in schema order) in row chunks."""
    n = len(next(iter(columns.values())))
    for lo in range(0, max(n, 1), settings.WRITE_CHUNK_ROWS):
        emit(table, pd.DataFrame({name: values[lo:lo + settings.WRITE_CHUNK_ROWS] for name, values in columns.items()}))


def _emit_tickets(emit, accounts: Accounts, customer_ids: np.ndarray) -> None:
    """Ticket rows month by month, numbered in order of creation."""
    months = accounts.tickets_by_month
    total = sum(len(m["customer"]) for m in months)
    width = max(7, len(str(total)))
    next_id = 1
    for t, month in enumerate(months):
        n = len(month["customer"])
        if n or (total == 0 and t == len(months) - 1):  # an empty frame only for an empty table
            emit("support_tickets", pd.DataFrame({
                "ticket_id": _ids("T", np.arange(next_id, next_id + n), width),
                "customer_id": customer_ids[month["customer"]],
                "created_at": _to_datetime(month["created"], "s"),
                "priority": _names(settings.PRIORITIES)[month["priority"]],
                "topic": _names(TICKET_TOPICS)[month["topic"]],
                "resolved_at": _to_datetime(month["resolved"], "s"),
            }))
        next_id += n


def _event_type_logits(activity: dict) -> np.ndarray:
    """Log-weights of each event type per account-month."""
    tier_logit = np.array([[settings.EVENT_TIER_LOGIT.get(e, {}).get(t, 0.0) for e in settings.EVENT_TYPES] for t in settings.TIERS])
    return (np.log(weights(settings.EVENT_BASE_SHARE, settings.EVENT_TYPES))
            + activity["health"][:, None] * weights(settings.EVENT_HEALTH_LOGIT, settings.EVENT_TYPES)
            + activity["exploring"][:, None] * weights(settings.EVENT_EXPLORE_LOGIT, settings.EVENT_TYPES)
            + np.exp(-activity["tenure"] / 3.0)[:, None] * weights(settings.EVENT_EARLY_LOGIT, settings.EVENT_TYPES)
            + tier_logit[activity["tier"]])


def _emit_events(emit, accounts: Accounts, customer_ids: np.ndarray, count_rng: np.random.Generator,
                 event_rng: np.random.Generator, target_events: float, bar) -> None:
    """Pass two: usage events month by month, ``target_events`` in expectation, numbered in time order."""
    months = accounts.activity_by_month
    total_volume = sum(m["volume"].sum() for m in months)
    scale = target_events / total_volume if total_volume > 0 else 0.0
    # Counts first (a few numbers per account-month) so the id width is known up front.
    counts = [count_rng.poisson(scale * m["volume"] * count_rng.gamma(
        settings.USAGE_OVERDISPERSION_SHAPE, 1 / settings.USAGE_OVERDISPERSION_SHAPE, len(m["volume"]))) for m in months]
    total = sum(int(c.sum()) for c in counts)
    width = max(9, len(str(total)))
    next_id = 1
    for t, (month, count) in enumerate(zip(months, counts)):
        n = int(count.sum())
        if n or (total == 0 and t == len(months) - 1):  # an empty frame only for an empty table
            emit("usage_events", _event_frame(event_rng, month, count, customer_ids, next_id, width))
        next_id += n
        bar.update(1)


def _event_frame(rng: np.random.Generator, month: dict, count: np.ndarray, customer_ids: np.ndarray,
                 first_id: int, width: int) -> pd.DataFrame:
    """One month's events: ``count[i]`` events inside account-month i's activity window."""
    n = int(count.sum())
    p = np.exp(_event_type_logits(month))
    type_counts = rng.multinomial(count, p / p.sum(axis=1, keepdims=True))
    row = np.repeat(np.arange(len(count)), count)
    event_type = np.repeat(np.tile(np.arange(len(settings.EVENT_TYPES)), len(count)), type_counts.ravel())
    first_day, days = month["first_day"][row], month["days"][row]
    day = first_day + (rng.random(n) * days).astype(np.int64)
    # B2B rhythm: most weekend events move to another day of the same window (1970-01-01 was a Thursday).
    weekend = ((day + 3) % 7 >= 5) & (rng.random(n) < settings.WEEKEND_REDRAW)
    day[weekend] = first_day[weekend] + (rng.random(weekend.sum()) * days[weekend]).astype(np.int64)
    seconds = day * settings.SECONDS_PER_DAY + times_of_day(rng, n)
    score = np.clip(month["adoption"][row] + settings.ADOPTION_EVENT_SD * rng.standard_normal(n), 0.0, 1.0).round(4)
    order = np.argsort(seconds, kind="stable")
    return pd.DataFrame({
        "event_id": _ids("E", np.arange(first_id, first_id + n), width),
        "customer_id": customer_ids[month["customer"][row[order]]],
        "timestamp": _to_datetime(seconds[order], "s"),
        "event_type": _names(settings.EVENT_TYPES)[event_type[order]],
        "feature_adoption_score": score[order],
    })
