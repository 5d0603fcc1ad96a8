"""A company small enough to check by hand, and an independent monthly summary of any subscriptions.

``small_company()`` gives eleven hand-written customers as export files (the
same ``Company`` object the simulator returns); ``monthly_summary`` recomputes
MRR, active, new, reactivated and churned customers per month with plain
loops, independently of the suite's SQL, so reports can be checked against it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from simulators.company import Company, as_dates, export_tables
from simulators.vocabulary import to_export_vocabulary, vocabulary_yaml

# Each comment says what the row is there to exercise. Dates are ISO; end dates exclusive.
SMALL_DATA_END = dt.date(2025, 6, 30)
SMALL_SUBSCRIPTIONS = [  # subscription_id, customer_id, plan_tier, start, end (exclusive), mrr, billing_interval
    ("S01", "C01", "growth", "2024-11-01", None, 199.00, "month"),
    ("S02", "C02", "starter", "2024-11-15", "2025-03-15", 49.00, "month"),         # mid-month start, stops 15 March
    # 8,990.40 a year, cancelled in the spring: the export shows its end date after the data end.
    ("S03", "C03", "enterprise", "2024-12-01", "2025-12-01", 749.20, "year"),
    ("S04", "C04", "growth", "2024-10-10", "2025-02-10", 199.00, "month"),
    ("S05", "C04", "enterprise", "2025-02-10", None, 899.00, "month"),             # upgrade
    ("S06", "C05", "starter", "2024-12-01", "2025-02-01", 49.00, "month"),
    ("S07", "C05", "growth", "2025-04-20", None, 199.00, "month"),                 # win-back, paying again from May
    ("S08", "C06", "free", "2025-01-05", "2025-02-05", 0.00, "month"),             # trial, converted
    ("S09", "C06", "starter", "2025-02-05", None, 49.00, "month"),
    ("S10", "C07", "free", "2025-03-03", "2025-04-03", 0.00, "month"),             # trial, never paid
    ("S11", "C08", "enterprise", "2024-10-01", "2025-05-01", 899.00, "month"),
    ("S12", "C08", "growth", "2025-05-01", None, 199.00, "month"),                 # downgrade
    ("S13", "C09", "growth", "2024-07-01", None, 165.85, "year"),                  # 1,990.20 a year, renews 2025-07-01
    ("S14", "C10", "growth", "2025-06-20", None, 199.00, "month"),                 # first paying month: July
    ("S15", "C11", "starter", "2024-03-01", "2025-03-01", 41.60, "year"),          # annual, left at its renewal
]
SMALL_INDUSTRIES = {"C01": "FinTech", "C02": "HealthTech", "C03": "LegalTech", "C04": "HealthTech", "C05": "EdTech",
                    "C06": "RetailTech", "C07": "Other", "C08": "InsurTech", "C09": "HR Tech", "C10": "PropTech",
                    "C11": "FinTech"}
SMALL_EVENTS = [  # customer_id, timestamp, event_type, feature_adoption_score
    ("C01", "2025-01-07 09:15:00", "report_view", 0.62), ("C01", "2025-05-12 14:02:10", "api_call", 0.71),
    ("C02", "2025-01-20 11:00:00", "evidence_upload", 0.35), ("C03", "2025-02-03 08:30:00", "integration_connect", 0.55),
    ("C03", "2025-06-29 23:59:59", "monitoring_run", 0.58), ("C04", "2025-03-01 10:00:00", "user_invite", 0.80),
    ("C05", "2025-04-22 16:45:00", "report_view", 0.20), ("C06", "2025-01-06 12:00:00", "premium_feature_trial", 0.10),
    ("C07", "2025-03-05 12:00:00", "report_view", 0.05), ("C08", "2025-05-02 09:00:00", "feature_limit_hit", 0.40),
    ("C09", "2025-06-30 18:00:00", "api_call", 0.90), ("C10", "2025-06-21 10:30:00", "evidence_upload", 0.15),
]
SMALL_TICKETS = [  # customer_id, created_at, priority, topic, resolved_at
    ("C02", "2025-02-20 10:00:00", "high", "billing", "2025-02-21 09:00:00"),
    ("C03", "2025-05-02 08:00:00", "critical", "bug", "2025-05-02 17:30:00"),
    ("C08", "2025-04-15 13:00:00", "medium", "performance", None),                 # still open on the data end
    ("C01", "2025-06-10 11:20:00", "low", "feature_request", "2025-06-12 15:00:00"),
]


def small_company(vocabulary: str = "suite", *, events: bool = True, tickets: bool = True) -> Company:
    """The eleven hand-written customers above as export files, data end 2025-06-30.

    Monthly and annual plans, trials, mid-month starts, an upgrade, a downgrade, a
    win-back and an annual cancellation whose end date is after the data end.
    ``vocabulary="export"`` spells values as real exports do (``vocabulary_yaml`` maps them back).
    """
    history = pd.DataFrame(SMALL_SUBSCRIPTIONS, columns=["subscription_id", "customer_id", "plan_tier", "start_date",
                                                          "end_date", "mrr", "billing_interval"])
    for column in ("start_date", "end_date"):
        history[column] = as_dates(pd.to_datetime(history[column]).to_numpy())
    firsts = history.groupby("customer_id")["start_date"].min()
    customers = pd.DataFrame({"customer_id": firsts.index, "industry": firsts.index.map(SMALL_INDUSTRIES),
                              "plan_tier": "", "signup_date": firsts.to_numpy(), "mrr": 0.0, "churn_date": None})
    event_frame = pd.DataFrame(SMALL_EVENTS, columns=["customer_id", "timestamp", "event_type", "feature_adoption_score"])
    event_frame["timestamp"] = pd.to_datetime(event_frame["timestamp"]).astype("datetime64[us]")
    event_frame.insert(0, "event_id", [f"E{i + 1:02d}" for i in range(len(event_frame))])
    ticket_frame = pd.DataFrame(SMALL_TICKETS, columns=["customer_id", "created_at", "priority", "topic", "resolved_at"])
    for column in ("created_at", "resolved_at"):
        ticket_frame[column] = pd.to_datetime(ticket_frame[column]).astype("datetime64[us]")
    ticket_frame.insert(0, "ticket_id", [f"T{i + 1:02d}" for i in range(len(ticket_frame))])
    frames = export_tables(history.assign(known_from=history["start_date"]), customers,
                           event_frame if events else None, ticket_frame if tickets else None, SMALL_DATA_END)
    if vocabulary == "export":
        frames = to_export_vocabulary(frames, np.random.default_rng(7))
    return Company(**frames, data_end=SMALL_DATA_END, history=history, history_end=SMALL_DATA_END,
                   vocabulary_yaml=vocabulary_yaml() if vocabulary == "export" else None)


def _as_date(value) -> dt.date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def monthly_summary(subscriptions: pd.DataFrame, months) -> pd.DataFrame:
    """Per month, by plain loops over the rows (ARCHITECTURE section 5), the expected values of reports.

    A customer's MRR in month M sums the mrr of its subscriptions with start <= first day of M < end
    (end empty = ongoing); active = MRR > 0. ``churned``: active in M-1, not in M (``churned_mrr`` is
    minus their M-1 MRR); ``new``: first active month ever; ``reactivated``: active after an inactive month.

    Args:
        subscriptions: rows with customer_id, start_date, end_date, mrr (dates as dates or ISO text).
        months: first days of the months to report.
    """
    rows = [(row.customer_id, _as_date(row.start_date), _as_date(row.end_date), round(float(row.mrr) * 100))
            for row in subscriptions.itertuples()]
    wanted = sorted(_as_date(month) for month in months)
    month = min([start for _, start, _, _ in rows] + wanted[:1]).replace(day=1)
    previous: dict[str, int] = {}
    ever: set[str] = set()
    summary = []
    while month <= wanted[-1]:
        cents: dict[str, int] = {}
        for customer, start, end, amount in rows:  # money in whole cents: sums stay exact
            if start <= month and (end is None or month < end):
                cents[customer] = cents.get(customer, 0) + amount
        active = {customer: amount for customer, amount in cents.items() if amount > 0}
        churned = [customer for customer in previous if customer not in active]
        if month in wanted:
            summary.append({
                "month": month, "mrr": sum(active.values()) / 100, "active_customers": len(active),
                "new_customers": sum(customer not in ever for customer in active),
                "reactivated_customers": sum(customer in ever and customer not in previous for customer in active),
                "churned_customers": len(churned), "churned_mrr": -sum(previous[c] for c in churned) / 100})
        ever |= set(active)
        previous = active
        month = (pd.Timestamp(month) + pd.DateOffset(months=1)).date()
    return pd.DataFrame(summary)
