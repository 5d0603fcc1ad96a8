"""A small valid dataset (two customers) shared by the warehouse tests."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from helpers import warehouse

DATA_END = dt.date(2024, 12, 31)


def valid_frames() -> dict[str, pd.DataFrame]:
    """A small dataset that passes every rule."""
    d = dt.date
    ts = dt.datetime
    return {
        "customers": pd.DataFrame({
            "customer_id": ["C1", "C2"],
            "industry": ["FinTech", "HR Tech"],
            "plan_tier": ["starter", "growth"],
            "signup_date": [d(2024, 1, 10), d(2024, 2, 1)],
            "mrr": [100.0, 0.0],
            "churn_date": [None, d(2024, 6, 1)],
        }),
        "subscriptions": pd.DataFrame({
            "subscription_id": ["S1", "S2"],
            "customer_id": ["C1", "C2"],
            "plan_tier": ["starter", "growth"],
            "start_date": [d(2024, 1, 10), d(2024, 2, 1)],
            "end_date": [None, d(2024, 6, 1)],
            "mrr": [100.0, 300.0],
        }),
        "usage_events": pd.DataFrame({
            "event_id": ["E1", "E2"],
            "customer_id": ["C1", "C2"],
            "timestamp": [ts(2024, 1, 11, 9), ts(2024, 3, 1, 17)],
            "event_type": ["api_call", "report_view"],
            "feature_adoption_score": [0.5, 0.2],
        }),
        "support_tickets": pd.DataFrame({
            "ticket_id": ["T1", "T2"],
            "customer_id": ["C1", "C2"],
            "created_at": [ts(2024, 2, 1, 8), ts(2024, 5, 1, 12)],
            "priority": ["high", "low"],
            "topic": ["billing", "bug"],
            "resolved_at": [ts(2024, 2, 2, 8), None],
        }),
    }


def build_frames(path, frames: dict[str, pd.DataFrame]) -> dict:
    def load(con):
        for table, frame in frames.items():
            warehouse.write_staging(con, table, frame)
        return warehouse.BuildSpec(source="test", data_end=DATA_END)

    return warehouse.build(load, path)


def random_frames(seed: int, n_customers: int = 60, data_end: dt.date = dt.date(2024, 12, 31)) -> dict[str, pd.DataFrame]:
    """A small random dataset obeying every rule, made by plain loops (independent of helpers.warehouse.synthetic).

    Customers have one to four paid or free periods with gaps, a few dozen
    events and a few tickets each; customers.mrr / churn_date follow from the
    subscriptions via conftest's reference loop.
    """
    import random

    from conftest import customers_from_subscriptions
    from helpers.domain import EventType, Industry, PlanTier, TicketPriority

    rng = random.Random(seed)
    first_signup = dt.date(2023, 1, 1)
    subscriptions, events, tickets, industries = [], [], [], {}
    for number in range(n_customers):
        customer_id = f"C{number:04d}"
        industries[customer_id] = rng.choice(Industry.values())
        signup = first_signup + dt.timedelta(days=rng.randrange(0, 600))
        start, last_day = signup, signup
        for period in range(rng.randint(1, 4)):
            if start > data_end:
                break
            ends = rng.random() < 0.7
            end = start + dt.timedelta(days=rng.randint(20, 400)) if ends else None
            if end is not None and end > data_end:
                end = None
            mrr = 0.0 if rng.random() < 0.1 else float(rng.choice([49, 99, 249, 499, 1200]))
            subscriptions.append((f"S{number:04d}{period}", customer_id, rng.choice(PlanTier.values()[1:]), start, end, mrr))
            last_day = end or data_end
            if end is None:
                break
            start = end + dt.timedelta(days=rng.choice([0, 0, 10, 45, 120]))
        span = max((last_day - signup).days, 1)
        for k in range(rng.randint(0, 40)):
            moment = dt.datetime.combine(signup, dt.time()) + dt.timedelta(minutes=rng.randrange(0, span * 1440))
            events.append((f"E{number:04d}{k:03d}", customer_id, min(moment, dt.datetime.combine(data_end, dt.time(23))),
                           rng.choice(EventType.values()), round(rng.random(), 3)))
        for k in range(rng.randint(0, 5)):
            created = dt.datetime.combine(signup, dt.time()) + dt.timedelta(minutes=rng.randrange(0, span * 1440))
            created = min(created, dt.datetime.combine(data_end, dt.time(12)))
            resolved = created + dt.timedelta(hours=rng.randint(1, 400)) if rng.random() < 0.8 else None
            tickets.append((f"T{number:04d}{k}", customer_id, created, rng.choice(TicketPriority.values()), "bug", resolved))
    subscription_frame = pd.DataFrame(subscriptions, columns=["subscription_id", "customer_id", "plan_tier", "start_date", "end_date", "mrr"])
    customers = customers_from_subscriptions(subscription_frame, data_end)
    customers["industry"] = customers["customer_id"].map(industries)
    return {
        "customers": customers,
        "subscriptions": subscription_frame,
        "usage_events": pd.DataFrame(events, columns=["event_id", "customer_id", "timestamp", "event_type", "feature_adoption_score"]),
        "support_tickets": pd.DataFrame(tickets, columns=["ticket_id", "customer_id", "created_at", "priority", "topic", "resolved_at"]),
    }
