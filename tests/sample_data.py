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
