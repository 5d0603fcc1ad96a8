"""Synthetic SaaS dataset: customers, subscriptions, usage events, support tickets.

The generator simulates accounts month by month with numpy arrays over all
customers (no per-customer loops). Each account carries a hidden health that
drifts (AR(1) around a customer-level mean, with occasional shocks). Health
drives usage volume, event mix, adoption scores and support tickets; a monthly
churn hazard reads only state up to the previous month (tier, tenure, health
and its trend, recent tickets), so churn is predictable from the past but never
computed from anything at or after it.

Two passes: the first simulates accounts, subscriptions and tickets and keeps a
compact per-account-month activity record; the second turns those records into
usage events one month at a time, scaled so the mean number of events per
customer is ``events_per_customer``. Every table reaches the caller through
``write(table, frame)`` in chunks, so 20M events never sit in memory together.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from tqdm import tqdm

from helpers.domain import (
    RETENTION_SIGNAL_EVENTS,
    TICKET_TOPICS,
    EventType,
    Industry,
    PlanTier,
    TicketPriority,
)

DEFAULT_START = dt.date(2022, 1, 1)
DEFAULT_END = dt.date(2025, 12, 31)  # last day covered by the data (inclusive)
DEFAULT_CUSTOMERS = 5000
DEFAULT_SEED = 42
DEFAULT_EVENTS_PER_CUSTOMER = 200.0  # mean over all customers; 100k customers -> ~20M events

COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id", "industry", "plan_tier", "signup_date", "mrr", "churn_date"),
    "subscriptions": ("subscription_id", "customer_id", "plan_tier", "start_date", "end_date", "mrr"),
    "usage_events": ("event_id", "customer_id", "timestamp", "event_type", "feature_adoption_score"),
    "support_tickets": ("ticket_id", "customer_id", "created_at", "priority", "topic", "resolved_at"),
}

# --- Vocabularies as array positions (values always come from helpers.domain) ---
TIERS: tuple[PlanTier, ...] = tuple(PlanTier)
INDUSTRIES: tuple[Industry, ...] = tuple(Industry)
EVENT_TYPES: tuple[EventType, ...] = tuple(EventType)
PRIORITIES: tuple[TicketPriority, ...] = tuple(TicketPriority)
_TIER = {tier: i for i, tier in enumerate(TIERS)}
FREE, STARTER, CUSTOM = _TIER[PlanTier.FREE], _TIER[PlanTier.STARTER], _TIER[PlanTier.CUSTOM]
ENTERPRISE = _TIER[PlanTier.ENTERPRISE]

# --- Acquisition ---
SIGNUP_TIER_MIX = {
    PlanTier.FREE: 0.30,
    PlanTier.STARTER: 0.36,
    PlanTier.GROWTH: 0.23,
    PlanTier.ENTERPRISE: 0.095,
    PlanTier.CUSTOM: 0.015,
}
INDUSTRY_MIX = {
    Industry.FINTECH: 0.18,
    Industry.HEALTHTECH: 0.14,
    Industry.LEGALTECH: 0.08,
    Industry.HR_TECH: 0.11,
    Industry.EDTECH: 0.09,
    Industry.INSURTECH: 0.08,
    Industry.PROPTECH: 0.07,
    Industry.RETAILTECH: 0.10,
    Industry.OTHER: 0.15,
}
ACQUISITION_GROWTH_PER_YEAR = 0.25  # signups/month grow ~28% a year
ACQUISITION_SEASONALITY = 0.12  # more signups in Q1, fewer mid-year

# --- Prices: MRR of a new subscription ~ lognormal(median, sigma) clipped to [low, high] ---
TIER_PRICE = {  # median, sigma, low, high
    PlanTier.FREE: (0.0, 0.0, 0.0, 0.0),
    PlanTier.STARTER: (99.0, 0.50, 29.0, 299.0),
    PlanTier.GROWTH: (700.0, 0.45, 300.0, 2000.0),
    PlanTier.ENTERPRISE: (4000.0, 0.45, 2000.0, 12000.0),
    PlanTier.CUSTOM: (18000.0, 0.45, 10000.0, 60000.0),
}

# --- Hidden account health (standardised units; ~N(0, 0.75) across accounts) ---
HEALTH_MEAN_SD = 0.55
HEALTH_TIER_OFFSET = {
    PlanTier.FREE: -0.25,
    PlanTier.STARTER: -0.10,
    PlanTier.GROWTH: 0.0,
    PlanTier.ENTERPRISE: 0.15,
    PlanTier.CUSTOM: 0.20,
}
HEALTH_INDUSTRY_OFFSET = {Industry.FINTECH: 0.10, Industry.HEALTHTECH: 0.05, Industry.EDTECH: -0.15,
                          Industry.RETAILTECH: -0.10, Industry.PROPTECH: -0.05}
HEALTH_PERSISTENCE = 0.80  # AR(1) coefficient per month
HEALTH_NOISE_SD = 0.30
HEALTH_SHOCK_RATE = 0.02  # per month: champion leaves / new champion, budget change...
HEALTH_SHOCK_SIZE = 1.0
HEALTH_SHOCK_MEAN_SHIFT = 0.35  # part of a shock that moves the long-run mean too
HEALTH_SHOCK_NEGATIVE_SHARE = 0.7
REACTIVATION_HEALTH_BOOST = 0.3  # accounts come back with a reason to

# --- Monthly decisions (logit scale unless named RATE) ---
CHURN_BASE_LOGIT = {  # paid tiers; free accounts "leave" via FREE_LEAVE_*
    PlanTier.STARTER: -3.55,
    PlanTier.GROWTH: -4.0,
    PlanTier.ENTERPRISE: -4.6,
    PlanTier.CUSTOM: -5.0,
}
CHURN_HEALTH = 1.10  # per unit of health (lower health -> higher hazard)
CHURN_DECLINE = 0.8  # per unit of health lost over the last three months
CHURN_EARLY = 0.8  # extra logit in the first months after (re)activation ...
CHURN_EARLY_MONTHS = 4.0  # ... decaying with this time constant
CHURN_TICKETS = 0.35  # per log1p(tickets in the last three months)
CHURN_URGENT_TICKET = 0.35  # any high/critical ticket in the last three months
CHURN_AFTER_CONTRACTION = 0.6  # contracted in the last three months
ANNUAL_CONTRACT_TIERS = (ENTERPRISE, CUSTOM)  # churn mostly at the yearly renewal
RENEWAL_MONTH_LOGIT = 1.9
OFF_RENEWAL_LOGIT = -1.1
FREE_LEAVE_LOGIT = -3.2
FREE_LEAVE_HEALTH = 0.9

EXPLORE_ENTER_LOGIT = -3.3  # paid/free account starts evaluating more product
EXPLORE_ENTER_HEALTH = 0.8
EXPLORE_EXIT_RATE = 0.20  # gives up evaluating without buying
EXPAND_FROM_EXPLORE_RATE = 0.35  # per month while evaluating
UPGRADE_SHARE = 0.35  # of expansions: next tier instead of more seats
SEAT_EXPANSION = (1.10, 1.50)  # MRR multiplier range
UPGRADE_MIN_RATIO = 1.2
FREE_CONVERT_FROM_EXPLORE_RATE = 0.30
FREE_CONVERT_BASE_RATE = 0.004
FREE_CONVERT_GROWTH_SHARE = 0.2  # conversions straight to growth (rest: starter)
CONTRACT_LOGIT = -5.6
CONTRACT_HEALTH = 1.0
DOWNGRADE_SHARE = 0.3  # of contractions: previous tier instead of fewer seats
SEAT_CONTRACTION = (0.60, 0.90)
REACTIVATE_RATE = 0.012  # per month soon after churning ...
REACTIVATE_DECAY_MONTHS = 18.0  # ... fading with time away
REACTIVATE_HEALTH = 0.3
SHARE_CHANGES_ON_FIRST = 0.72  # the rest fall on a day 2..28 of the month
LAST_MID_MONTH_DAY = 28

# --- Usage events ---
TIER_USAGE = {  # relative events per active day
    PlanTier.FREE: 0.35,
    PlanTier.STARTER: 0.7,
    PlanTier.GROWTH: 1.0,
    PlanTier.ENTERPRISE: 1.7,
    PlanTier.CUSTOM: 2.4,
}
USAGE_HEALTH = 0.9  # log-volume per unit of health
USAGE_RAMP = 0.6  # new accounts start slower (log-volume), fading over ~2 months
USAGE_OVERDISPERSION_SHAPE = 6.0  # gamma noise on a month's volume (busy / quiet months)
WEEKEND_REDRAW = 0.75  # share of weekend events moved to a random day (B2B rhythm)
EVENT_BASE_SHARE = {
    EventType.EVIDENCE_UPLOAD: 0.21,
    EventType.MONITORING_RUN: 0.17,
    EventType.REPORT_VIEW: 0.24,
    EventType.USER_INVITE: 0.03,
    EventType.INTEGRATION_CONNECT: 0.03,
    EventType.API_CALL: 0.27,
    EventType.PREMIUM_FEATURE_TRIAL: 0.01,
    EventType.FEATURE_LIMIT_HIT: 0.02,
}
EVENT_HEALTH_LOGIT = {e: 0.5 for e in RETENTION_SIGNAL_EVENTS} | {
    EventType.REPORT_VIEW: -0.2,
    EventType.FEATURE_LIMIT_HIT: 0.3,
}
EVENT_EXPLORE_LOGIT = {
    EventType.PREMIUM_FEATURE_TRIAL: 2.3,
    EventType.FEATURE_LIMIT_HIT: 1.3,
    EventType.USER_INVITE: 0.4,
}
EVENT_EARLY_LOGIT = {  # first months: setting up
    EventType.USER_INVITE: 1.2,
    EventType.INTEGRATION_CONNECT: 1.2,
    EventType.EVIDENCE_UPLOAD: 0.2,
    EventType.API_CALL: -0.5,
}
EVENT_TIER_LOGIT = {  # limits bite on small plans; big plans automate
    EventType.FEATURE_LIMIT_HIT: {PlanTier.FREE: 1.2, PlanTier.STARTER: 0.6, PlanTier.ENTERPRISE: -0.4,
                                  PlanTier.CUSTOM: -0.8},
    EventType.API_CALL: {PlanTier.FREE: -0.8, PlanTier.STARTER: -0.3, PlanTier.ENTERPRISE: 0.3,
                         PlanTier.CUSTOM: 0.4},
}
ADOPTION_BASE = 0.1
ADOPTION_HEALTH = 0.8
ADOPTION_TIER = {PlanTier.FREE: -0.6, PlanTier.STARTER: -0.2, PlanTier.ENTERPRISE: 0.2, PlanTier.CUSTOM: 0.3}
ADOPTION_RAMP = 1.0  # adoption grows over the first months
ADOPTION_EVENT_SD = 0.08

# --- Support tickets ---
TICKET_RATE = {  # per active month at health 0
    PlanTier.FREE: 0.08,
    PlanTier.STARTER: 0.18,
    PlanTier.GROWTH: 0.28,
    PlanTier.ENTERPRISE: 0.5,
    PlanTier.CUSTOM: 0.8,
}
TICKET_HEALTH = 0.8  # log-rate per unit of health lost
TICKET_ONBOARDING = 1.5  # extra rate factor in the first months
PRIORITY_BASE_SHARE = {TicketPriority.LOW: 0.40, TicketPriority.MEDIUM: 0.38, TicketPriority.HIGH: 0.17,
                       TicketPriority.CRITICAL: 0.05}
PRIORITY_UNHEALTHY_LOGIT = {TicketPriority.LOW: -0.5, TicketPriority.HIGH: 0.5, TicketPriority.CRITICAL: 0.9}
PRIORITY_LARGE_ACCOUNT_LOGIT = {TicketPriority.HIGH: 0.3, TicketPriority.CRITICAL: 0.5}
URGENT_PRIORITIES = (TicketPriority.HIGH, TicketPriority.CRITICAL)
RESOLUTION_MEDIAN_HOURS = {TicketPriority.LOW: 60.0, TicketPriority.MEDIUM: 30.0, TicketPriority.HIGH: 12.0,
                           TicketPriority.CRITICAL: 4.0}
RESOLUTION_SIGMA = 1.0
# Topic weights by name; checked against helpers.domain.TICKET_TOPICS at import.
TOPIC_BASE_SHARE = {"billing": 0.12, "bug": 0.22, "onboarding": 0.10, "integration": 0.14,
                    "performance": 0.12, "feature_request": 0.20, "account": 0.10}
TOPIC_UNHEALTHY_LOGIT = {"bug": 0.4, "performance": 0.4, "billing": 0.5, "feature_request": -0.3}
TOPIC_EARLY_LOGIT = {"onboarding": 1.8, "integration": 0.5}
TOPIC_EXPLORE_LOGIT = {"billing": 0.6, "feature_request": 0.8}
if set(TOPIC_BASE_SHARE) != set(TICKET_TOPICS):
    raise ImportError("synthetic TOPIC_BASE_SHARE must name exactly helpers.domain.TICKET_TOPICS")

DAYS_PER_MONTH = 30.44
SECONDS_PER_DAY = 86_400
WORKDAY_PEAK_HOUR = 13.5  # events cluster in office hours
WORKDAY_HOUR_SD = 2.8
OFF_HOURS_SHARE = 0.12  # events at any hour (automation, other time zones)
WRITE_CHUNK_ROWS = 250_000

_NOT_SIGNED_UP, _ACTIVE, _CHURNED = 0, 1, 2


def generate(
    write: Callable[[str, pd.DataFrame], None],
    n_customers: int = DEFAULT_CUSTOMERS,
    seed: int = DEFAULT_SEED,
    start: dt.date = DEFAULT_START,
    end: dt.date = DEFAULT_END,
    events_per_customer: float = DEFAULT_EVENTS_PER_CUSTOMER,
    progress: bool = True,
) -> dict:
    """Simulate the dataset and hand it to ``write`` in chunks.

    Args:
        write: called as ``write(table, frame)`` for each chunk; ``table`` is one
            of ``COLUMNS``' keys and ``frame`` has exactly that table's columns.
        n_customers: number of customers, all signing up within [start, end].
        seed: seed of ``numpy.random.default_rng``; same arguments, same frames.
        start: first day covered by the data.
        end: last day covered by the data (inclusive).
        events_per_customer: mean number of usage events per customer.
        progress: show a tqdm bar over simulated months on stderr.

    Returns:
        ``{"data_start", "data_end", "seed", "n_customers", "rows": {table: count}}``.
    """
    _validate(write, n_customers, seed, start, end, events_per_customer)
    calendar = _Calendar.build(start, end)
    sim_rng, count_rng, event_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    rows = dict.fromkeys(COLUMNS, 0)

    def emit(table: str, frame: pd.DataFrame) -> None:
        rows[table] += len(frame)
        write(table, frame)

    with tqdm(total=2 * calendar.n_months, desc="synthetic accounts", unit="month",
              disable=not progress, file=sys.stderr) as bar:
        sim = _simulate_accounts(sim_rng, calendar, n_customers, bar)
        customer_ids = _ids("C", np.arange(1, n_customers + 1), max(6, len(str(n_customers))))
        _emit_customers(emit, sim, customer_ids, calendar)
        _emit_subscriptions(emit, sim, customer_ids)
        _emit_tickets(emit, sim, customer_ids, calendar)
        bar.set_description("synthetic events")
        _emit_events(emit, sim, customer_ids, count_rng, event_rng, n_customers * float(events_per_customer), bar)
    return {"data_start": start, "data_end": end, "seed": seed, "n_customers": n_customers, "rows": rows}


def _validate(write, n_customers, seed, start, end, events_per_customer) -> None:
    """Raise ValueError naming the first bad argument."""
    if not callable(write):
        raise ValueError(f"write must be callable as write(table, frame), got {write!r}")
    if not _is_int(n_customers) or n_customers < 1:
        raise ValueError(f"n_customers must be an int >= 1, got {n_customers!r}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise ValueError(f"{name} must be a datetime.date, got {value!r}")
    if start >= end:
        raise ValueError(f"start must be before end, got start={start} end={end}")
    if (isinstance(events_per_customer, bool) or not isinstance(events_per_customer, numbers.Real)
            or not math.isfinite(events_per_customer) or events_per_customer <= 0):
        raise ValueError(f"events_per_customer must be a finite number > 0, got {events_per_customer!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Calendar:
    """Simulated months as day numbers (days since 1970-01-01)."""

    window_lo: np.ndarray  # first day of each month inside [start, end]
    window_hi: np.ndarray  # exclusive last day of each month inside [start, end]
    month_of_year: np.ndarray  # 1..12
    end_exclusive: int  # day after `end`

    @property
    def n_months(self) -> int:
        return len(self.window_lo)

    @classmethod
    def build(cls, start: dt.date, end: dt.date) -> "_Calendar":
        months = np.arange(np.datetime64(start, "M"), np.datetime64(end, "M") + 2)
        bounds = months.astype("datetime64[D]").astype(np.int64)
        start_day = int(np.datetime64(start, "D").astype(np.int64))
        end_exclusive = int(np.datetime64(end, "D").astype(np.int64)) + 1
        return cls(
            window_lo=np.maximum(bounds[:-1], start_day),
            window_hi=np.minimum(bounds[1:], end_exclusive),
            month_of_year=months[:-1].astype(np.int64) % 12 + 1,
            end_exclusive=end_exclusive,
        )


@dataclass
class _Simulation:
    """Pass-one output: account state at `end`, history rows and activity records."""

    industry: np.ndarray
    signup_day: np.ndarray
    status: np.ndarray
    tier: np.ndarray
    mrr: np.ndarray
    churn_day: np.ndarray
    subscriptions: dict[str, np.ndarray]
    tickets_by_month: list[dict[str, np.ndarray]] = field(default_factory=list)
    activity_by_month: list[dict[str, np.ndarray]] = field(default_factory=list)


def _by_tier(table: dict, default: float = 0.0) -> np.ndarray:
    return np.array([table.get(tier, default) for tier in TIERS], dtype=np.float64)


def _sample_mrr(rng: np.random.Generator, tiers: np.ndarray) -> np.ndarray:
    """List MRR of new subscriptions of the given tiers (0 for free), rounded to cents."""
    median, sigma, low, high = (np.array([TIER_PRICE[t][k] for t in TIERS])[tiers] for k in range(4))
    price = median * np.exp(sigma * rng.standard_normal(len(tiers)))
    return np.round(np.clip(price, low, high), 2)


def _change_days(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    """Effective days of n plan changes in the month window [lo, hi): mostly the 1st."""
    span = min(hi - lo, LAST_MID_MONTH_DAY)
    days = np.full(n, lo, dtype=np.int64)
    if span > 1:
        mid = rng.random(n) >= SHARE_CHANGES_ON_FIRST
        days[mid] += 1 + (rng.random(mid.sum()) * (span - 1)).astype(np.int64)
    return days


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _simulate_accounts(rng: np.random.Generator, cal: _Calendar, n: int, bar) -> _Simulation:
    """Pass one: monthly account states, subscription history and tickets.

    Each month, in order: plan decisions for accounts active since before the
    month (from state up to the previous month only), reactivations, signups,
    the health step, the evaluation ("explore") state, then the month's
    activity windows and tickets.
    """
    n_months = cal.n_months
    # Signups spread over the whole window, growing over time.
    years = np.arange(n_months) / 12.0
    weight = ((cal.window_hi - cal.window_lo) * np.exp(ACQUISITION_GROWTH_PER_YEAR * years)
              * (1 + ACQUISITION_SEASONALITY * np.cos(2 * np.pi * (cal.month_of_year - 2) / 12)))
    signup_month = np.repeat(np.arange(n_months), rng.multinomial(n, weight / weight.sum()))
    signup_day = np.sort(cal.window_lo[signup_month] + (rng.random(n) * (
        cal.window_hi - cal.window_lo)[signup_month]).astype(np.int64))
    industry = rng.choice(len(INDUSTRIES), n, p=_normalised(INDUSTRY_MIX, INDUSTRIES))
    first_tier = rng.choice(len(TIERS), n, p=_normalised(SIGNUP_TIER_MIX, TIERS))
    first_mrr = _sample_mrr(rng, first_tier)
    industry_offset = np.array([HEALTH_INDUSTRY_OFFSET.get(i, 0.0) for i in INDUSTRIES])
    mean_health = (_by_tier(HEALTH_TIER_OFFSET)[first_tier] + industry_offset[industry]
                   + HEALTH_MEAN_SD * rng.standard_normal(n))

    status = np.zeros(n, np.int8)
    tier = first_tier.copy()
    mrr = np.zeros(n)
    health = np.zeros(n)
    health_lag = np.zeros((3, n))  # health of the last three months, [0] = previous month
    tickets_lag = np.zeros((3, n), np.int32)  # tickets of the last three months
    urgent_lag = np.zeros((3, n), np.int32)
    exploring = np.zeros(n, bool)
    sub_start = np.zeros(n, np.int64)  # start day of the open subscription
    active_since = np.zeros(n, np.int64)  # day of the latest (re)activation
    active_month = np.zeros(n, np.int64)  # month index of that day
    churn_day = np.zeros(n, np.int64)
    churn_month = np.full(n, -1)
    reactivate_from = np.full(n, n_months)  # first month a churned account may return in
    contracted_month = np.full(n, -100)

    closed = {"customer": [], "tier": [], "start": [], "end": [], "mrr": []}

    def close_subscriptions(who: np.ndarray, day: np.ndarray) -> None:
        for key, values in (("customer", who), ("tier", tier[who]), ("start", sub_start[who]),
                            ("end", day), ("mrr", mrr[who])):
            closed[key].append(values.copy())

    sim = _Simulation(industry=industry, signup_day=signup_day, status=status, tier=tier, mrr=mrr,
                      churn_day=churn_day, subscriptions={})
    churn_logit_by_tier = _by_tier(CHURN_BASE_LOGIT)
    for t in range(n_months):
        lo, hi = int(cal.window_lo[t]), int(cal.window_hi[t])
        # 1. Decisions for accounts active since before this month, from state up to month t-1.
        current = np.flatnonzero(status == _ACTIVE)
        ends_on = np.full(n, hi, dtype=np.int64)  # exclusive end of this month's activity
        if len(current):
            h, h_then = health[current], health_lag[2, current]
            tenure_months = (lo - active_since[current]) / DAYS_PER_MONTH
            cur_tier = tier[current]
            paid = cur_tier != FREE
            tickets3 = tickets_lag[:, current].sum(axis=0)
            urgent3 = urgent_lag[:, current].sum(axis=0) > 0
            logit = (churn_logit_by_tier[cur_tier] - CHURN_HEALTH * h
                     + CHURN_DECLINE * np.clip(h_then - h, 0, None)
                     + CHURN_EARLY * np.exp(-tenure_months / CHURN_EARLY_MONTHS)
                     + CHURN_TICKETS * np.log1p(tickets3) + CHURN_URGENT_TICKET * urgent3
                     + CHURN_AFTER_CONTRACTION * (t - contracted_month[current] <= 3))
            annual = np.isin(cur_tier, ANNUAL_CONTRACT_TIERS)
            months_in = t - active_month[current]
            renewal = annual & (months_in > 0) & (months_in % 12 == 0)
            logit += np.where(renewal, RENEWAL_MONTH_LOGIT, np.where(annual, OFF_RENEWAL_LOGIT, 0.0))
            free_logit = FREE_LEAVE_LOGIT - FREE_LEAVE_HEALTH * h
            p_leave = _sigmoid(np.where(paid, logit, free_logit))
            p_contract = np.where(paid, _sigmoid(CONTRACT_LOGIT - CONTRACT_HEALTH * h), 0.0)
            p_contract = np.where(renewal, 2 * p_contract, p_contract)
            p_grow = np.where(paid, EXPAND_FROM_EXPLORE_RATE * exploring[current],
                              np.where(exploring[current], FREE_CONVERT_FROM_EXPLORE_RATE,
                                       FREE_CONVERT_BASE_RATE))
            u = rng.random(len(current))
            leaves = u < p_leave
            contracts = ~leaves & (u < p_leave + p_contract)
            grows = ~leaves & ~contracts & (u < p_leave + p_contract + p_grow)

            who = current[leaves]
            day = _change_days(rng, len(who), lo, hi)
            close_subscriptions(who, day)
            status[who] = _CHURNED
            churn_day[who], churn_month[who] = day, t
            ends_on[who] = day
            exploring[who] = False
            # Back no earlier than the month after the first month without a subscription on the 1st.
            reactivate_from[who] = t + 1 + (day > lo)

            who = current[contracts | grows]
            new_tier, new_mrr = _plan_changes(rng, tier[who], mrr[who], grows[contracts | grows])
            changed = new_mrr != mrr[who]  # a contraction already at the tier's floor is no change
            who, new_tier, new_mrr = who[changed], new_tier[changed], new_mrr[changed]
            day = _change_days(rng, len(who), lo, hi)
            close_subscriptions(who, day)
            contracted_month[who[new_mrr < mrr[who]]] = t
            tier[who], mrr[who], sub_start[who] = new_tier, new_mrr, day
            exploring[who] = False

        # 2. Reactivations of accounts that left at least a month ago.
        away = np.flatnonzero((status == _CHURNED) & (reactivate_from <= t))
        if len(away):
            months_away = t - churn_month[away]
            p_back = (REACTIVATE_RATE * np.exp(-months_away / REACTIVATE_DECAY_MONTHS)
                      * np.exp(REACTIVATE_HEALTH * health[away]))
            who = away[rng.random(len(away)) < p_back]
            day = _change_days(rng, len(who), lo, hi)
            status[who], sub_start[who], active_since[who], active_month[who] = _ACTIVE, day, day, t
            mrr[who] = _sample_mrr(rng, tier[who])
            health[who] = mean_health[who] + REACTIVATION_HEALTH_BOOST
            health_lag[:, who] = health[who]
            tickets_lag[:, who], urgent_lag[:, who] = 0, 0

        # 3. Signups of the month.
        new = np.flatnonzero(signup_month == t)
        status[new], sub_start[new], active_since[new], active_month[new] = _ACTIVE, signup_day[new], signup_day[new], t
        mrr[new] = first_mrr[new]
        health[new] = mean_health[new] + np.sqrt(HEALTH_NOISE_SD**2 / (1 - HEALTH_PERSISTENCE**2)) * rng.standard_normal(len(new))

        # 4. Health step for every account signed up before (churned ones too: they may return).
        old = np.flatnonzero((status != _NOT_SIGNED_UP) & (signup_month < t))
        shock = rng.random(len(old)) < HEALTH_SHOCK_RATE
        sign = np.where(rng.random(len(old)) < HEALTH_SHOCK_NEGATIVE_SHARE, -1.0, 1.0)
        jump = shock * sign * HEALTH_SHOCK_SIZE * (0.5 + rng.random(len(old)))
        mean_health[old] += HEALTH_SHOCK_MEAN_SHIFT * jump
        health_lag[:, old] = np.roll(health_lag[:, old], 1, axis=0)
        health_lag[0, old] = health[old]
        health[old] = (mean_health[old] + HEALTH_PERSISTENCE * (health[old] - mean_health[old])
                       + HEALTH_NOISE_SD * rng.standard_normal(len(old)) + jump)
        health_lag[:, new] = health[new]

        # 5. Evaluation state: healthy accounts start trialling premium features before buying more.
        active = np.flatnonzero(status == _ACTIVE)
        enter = rng.random(len(active)) < _sigmoid(EXPLORE_ENTER_LOGIT + EXPLORE_ENTER_HEALTH * health[active])
        leave = rng.random(len(active)) < EXPLORE_EXIT_RATE
        exploring[active] = np.where(exploring[active], ~leave, enter)

        # 6. Activity windows of the month (churned this month: until the churn day) and tickets.
        busy = np.flatnonzero((status == _ACTIVE) | ((churn_month == t) & (ends_on > lo)))
        first = np.maximum(lo, active_since[busy])
        days = ends_on[busy] - first
        tenure = (first - active_since[busy]) / DAYS_PER_MONTH
        h = health[busy]
        b_tier = tier[busy]
        activity = {
            "customer": busy.astype(np.int32),
            "first_day": first,
            "days": days.astype(np.int32),
            "health": h,
            "tier": b_tier.astype(np.int8),
            "tenure": tenure,
            "exploring": exploring[busy],
            "volume": _by_tier(TIER_USAGE)[b_tier] * days
            * np.exp(USAGE_HEALTH * h - USAGE_RAMP * np.exp(-tenure / 2.0)),
            "adoption": _sigmoid(ADOPTION_BASE + ADOPTION_HEALTH * h + _by_tier(ADOPTION_TIER)[b_tier]
                                 - ADOPTION_RAMP * np.exp(-tenure / 4.0)),
        }
        sim.activity_by_month.append(activity)
        tickets = _simulate_tickets(rng, activity, cal.end_exclusive)
        sim.tickets_by_month.append(tickets)
        tickets_lag[:, busy] = np.roll(tickets_lag[:, busy], 1, axis=0)
        urgent_lag[:, busy] = np.roll(urgent_lag[:, busy], 1, axis=0)
        tickets_lag[0, busy] = np.bincount(tickets["customer"], minlength=n)[busy]
        urgent = np.isin(tickets["priority"], [PRIORITIES.index(p) for p in URGENT_PRIORITIES])
        urgent_lag[0, busy] = np.bincount(tickets["customer"][urgent], minlength=n)[busy]
        bar.update(1)

    still_open = np.flatnonzero(status == _ACTIVE)
    close_subscriptions(still_open, np.full(len(still_open), -1, dtype=np.int64))  # -1: ongoing
    sim.subscriptions = {key: np.concatenate(parts) for key, parts in closed.items()}
    return sim


def _normalised(table: dict, members: tuple) -> np.ndarray:
    weights = np.array([table[m] for m in members], dtype=np.float64)
    return weights / weights.sum()


def _plan_changes(rng: np.random.Generator, tiers: np.ndarray, mrr: np.ndarray, grows: np.ndarray):
    """New (tier, mrr) for expansions/conversions (grows) and contractions (~grows)."""
    n = len(tiers)
    low, high = (np.array([TIER_PRICE[t][k] for t in TIERS]) for k in (2, 3))
    new_tier, new_mrr = tiers.copy(), mrr.copy()
    u = rng.random(n)
    # Free -> paid conversions.
    convert = grows & (tiers == FREE)
    new_tier[convert] = np.where(u[convert] < FREE_CONVERT_GROWTH_SHARE, STARTER + 1, STARTER)
    # Expansions: more seats, or the next tier (also when seats outgrow the tier).
    expand = grows & (tiers != FREE)
    seats = mrr * rng.uniform(*SEAT_EXPANSION, n)
    upgrade = expand & (tiers < CUSTOM) & ((u < UPGRADE_SHARE) | (seats > high[tiers]))
    new_tier[upgrade] += 1
    new_mrr[expand] = seats[expand]
    # Contractions: fewer seats (not below the tier floor), or the previous paid tier.
    shrink = ~grows
    downgrade = shrink & (tiers > STARTER) & (u < DOWNGRADE_SHARE)
    new_tier[downgrade] -= 1
    seat_cut = shrink & ~downgrade
    new_mrr[seat_cut] = np.maximum(mrr[seat_cut] * rng.uniform(*SEAT_CONTRACTION, seat_cut.sum()),
                                   np.minimum(low[tiers[seat_cut]], mrr[seat_cut]))
    # Tier moves take that tier's price, but never move MRR the wrong way.
    priced = _sample_mrr(rng, new_tier)
    moved = new_tier != tiers
    new_mrr[moved & grows] = np.maximum(priced, UPGRADE_MIN_RATIO * mrr)[moved & grows]
    new_mrr[convert] = priced[convert]
    new_mrr[downgrade] = np.minimum(priced, (SEAT_CONTRACTION[1]) * mrr)[downgrade]
    return new_tier, np.round(new_mrr, 2)


def _categorical(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """One draw per row from softmax(logits)."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    cumulative = np.cumsum(p, axis=1)
    u = rng.random(len(p)) * cumulative[:, -1]
    return (u[:, None] >= cumulative).sum(axis=1).clip(max=p.shape[1] - 1)


def _times_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight: office hours mostly, some at any hour."""
    hours = rng.normal(WORKDAY_PEAK_HOUR, WORKDAY_HOUR_SD, n)
    anytime = rng.random(n) < OFF_HOURS_SHARE
    hours[anytime] = 24 * rng.random(anytime.sum())
    return (np.clip(hours, 0, 23.9997) * 3600).astype(np.int64)


def _simulate_tickets(rng: np.random.Generator, activity: dict, end_exclusive: int) -> dict[str, np.ndarray]:
    """A month's support tickets: more, and more urgent, as health falls."""
    h, tenure, tier = activity["health"], activity["tenure"], activity["tier"]
    rate = (_by_tier(TICKET_RATE)[tier] * np.exp(-TICKET_HEALTH * h)
            * (1 + TICKET_ONBOARDING * np.exp(-tenure / 2.0)) * activity["days"] / DAYS_PER_MONTH)
    row = np.repeat(np.arange(len(h)), rng.poisson(rate))
    created = ((activity["first_day"][row] + (rng.random(len(row)) * activity["days"][row]).astype(np.int64))
               * SECONDS_PER_DAY + _times_of_day(rng, len(row)))
    unhealthy = np.clip(-h[row], 0, None)[:, None]
    large = np.isin(tier[row], ANNUAL_CONTRACT_TIERS)[:, None]
    priority = _categorical(rng, np.log(_shares(PRIORITY_BASE_SHARE, PRIORITIES))
                            + unhealthy * _logits(PRIORITY_UNHEALTHY_LOGIT, PRIORITIES)
                            + large * _logits(PRIORITY_LARGE_ACCOUNT_LOGIT, PRIORITIES))
    early = np.exp(-tenure[row] / 2.0)[:, None]
    topic = _categorical(rng, np.log(_shares(TOPIC_BASE_SHARE, TICKET_TOPICS))
                         + unhealthy * _logits(TOPIC_UNHEALTHY_LOGIT, TICKET_TOPICS)
                         + early * _logits(TOPIC_EARLY_LOGIT, TICKET_TOPICS)
                         + activity["exploring"][row][:, None] * _logits(TOPIC_EXPLORE_LOGIT, TICKET_TOPICS))
    median_hours = np.array([RESOLUTION_MEDIAN_HOURS[p] for p in PRIORITIES])[priority]
    hours = median_hours * np.exp(RESOLUTION_SIGMA * rng.standard_normal(len(row)))
    resolved = created + (hours * 3600).astype(np.int64)
    resolved[resolved >= end_exclusive * SECONDS_PER_DAY] = -1  # still open at the end of the data
    order = np.argsort(created, kind="stable")
    return {"customer": activity["customer"][row][order], "created": created[order],
            "priority": priority[order], "topic": topic[order], "resolved": resolved[order]}


def _shares(table: dict, members: tuple) -> np.ndarray:
    return np.array([table[m] for m in members], dtype=np.float64)


def _logits(table: dict, members: tuple) -> np.ndarray:
    return np.array([table.get(m, 0.0) for m in members], dtype=np.float64)


def _ids(prefix: str, numbers_: np.ndarray, width: int) -> np.ndarray:
    """Fixed-width string ids ('C000042') as an object array, so they sort as numbers do."""
    return np.strings.add(prefix, np.strings.zfill(numbers_.astype(np.int64).astype(str), width)).astype(object)


def _days_to_datetime(days: np.ndarray) -> np.ndarray:
    """Day numbers (-1 = none) to datetime64[ns] midnights (NaT)."""
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[days < 0] = np.datetime64("NaT")
    return out


def _seconds_to_datetime(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds (-1 = none) to datetime64[ns] (NaT)."""
    out = seconds.astype("datetime64[s]").astype("datetime64[ns]")
    out[seconds < 0] = np.datetime64("NaT")
    return out


def _emit_chunks(emit, table: str, columns: dict) -> None:
    """Write a table's columns (equal-length arrays) in row chunks."""
    n = len(next(iter(columns.values())))
    for lo in range(0, max(n, 1), WRITE_CHUNK_ROWS):
        frame = pd.DataFrame({name: values[lo:lo + WRITE_CHUNK_ROWS] for name, values in columns.items()})
        if len(frame) or n == 0:
            emit(table, frame[list(COLUMNS[table])])


def _emit_customers(emit, sim: _Simulation, customer_ids: np.ndarray, cal: _Calendar) -> None:
    """One row per customer: current tier and MRR at `end`, churn date unless active then."""
    active = sim.status == _ACTIVE
    tier_names = np.array([t.value for t in TIERS], dtype=object)
    industry_names = np.array([i.value for i in INDUSTRIES], dtype=object)
    _emit_chunks(emit, "customers", {
        "customer_id": customer_ids,
        "industry": industry_names[sim.industry],
        "plan_tier": tier_names[sim.tier],
        "signup_date": _days_to_datetime(sim.signup_day),
        "mrr": np.where(active, sim.mrr, 0.0),
        "churn_date": _days_to_datetime(np.where(active, -1, sim.churn_day)),
    })


def _emit_subscriptions(emit, sim: _Simulation, customer_ids: np.ndarray) -> None:
    """Subscription rows, numbered in order of start date (then customer)."""
    subs = sim.subscriptions
    order = np.lexsort((subs["customer"], subs["start"]))
    n = len(order)
    tier_names = np.array([t.value for t in TIERS], dtype=object)
    _emit_chunks(emit, "subscriptions", {
        "subscription_id": _ids("S", np.arange(1, n + 1), max(7, len(str(n)))),
        "customer_id": customer_ids[subs["customer"][order]],
        "plan_tier": tier_names[subs["tier"][order]],
        "start_date": _days_to_datetime(subs["start"][order]),
        "end_date": _days_to_datetime(subs["end"][order]),
        "mrr": subs["mrr"][order],
    })


def _emit_tickets(emit, sim: _Simulation, customer_ids: np.ndarray, cal: _Calendar) -> None:
    """Ticket rows month by month, numbered in order of creation."""
    total = sum(len(m["customer"]) for m in sim.tickets_by_month)
    width = max(7, len(str(total)))
    priority_names = np.array([p.value for p in PRIORITIES], dtype=object)
    topic_names = np.array(TICKET_TOPICS, dtype=object)
    next_id = 1
    for month in sim.tickets_by_month:
        n = len(month["customer"])
        if n == 0:
            continue
        emit("support_tickets", pd.DataFrame({
            "ticket_id": _ids("T", np.arange(next_id, next_id + n), width),
            "customer_id": customer_ids[month["customer"]],
            "created_at": _seconds_to_datetime(month["created"]),
            "priority": priority_names[month["priority"]],
            "topic": topic_names[month["topic"]],
            "resolved_at": _seconds_to_datetime(month["resolved"]),
        }))
        next_id += n


def _event_type_logits(activity: dict) -> np.ndarray:
    """Per account-month log-weights of each event type."""
    h = activity["health"][:, None]
    explore = activity["exploring"][:, None]
    early = np.exp(-activity["tenure"] / 3.0)[:, None]
    tier_logit = np.array([[EVENT_TIER_LOGIT.get(e, {}).get(t, 0.0) for e in EVENT_TYPES] for t in TIERS])
    return (np.log(_shares(EVENT_BASE_SHARE, EVENT_TYPES)) + h * _logits(EVENT_HEALTH_LOGIT, EVENT_TYPES)
            + explore * _logits(EVENT_EXPLORE_LOGIT, EVENT_TYPES) + early * _logits(EVENT_EARLY_LOGIT, EVENT_TYPES)
            + tier_logit[activity["tier"]])


def _emit_events(emit, sim: _Simulation, customer_ids: np.ndarray, count_rng: np.random.Generator,
                 event_rng: np.random.Generator, target_events: float, bar) -> None:
    """Pass two: usage events month by month, volume scaled to ``target_events`` in expectation."""
    total_volume = sum(m["volume"].sum() for m in sim.activity_by_month)
    scale = target_events / total_volume if total_volume > 0 else 0.0
    counts = []
    for month in sim.activity_by_month:
        busy_month = count_rng.gamma(USAGE_OVERDISPERSION_SHAPE, 1 / USAGE_OVERDISPERSION_SHAPE, len(month["volume"]))
        counts.append(count_rng.poisson(scale * month["volume"] * busy_month))
    width = max(9, len(str(sum(int(c.sum()) for c in counts))))
    type_names = np.array([e.value for e in EVENT_TYPES], dtype=object)
    next_id = 1
    for month, count in zip(sim.activity_by_month, counts):
        n = int(count.sum())
        if n:
            p = np.exp(_event_type_logits(month))
            type_counts = event_rng.multinomial(count, p / p.sum(axis=1, keepdims=True))
            row = np.repeat(np.arange(len(count)), count)
            event_type = np.repeat(np.tile(np.arange(len(EVENT_TYPES)), len(count)), type_counts.ravel())
            day = month["first_day"][row] + (event_rng.random(n) * month["days"][row]).astype(np.int64)
            # B2B rhythm: most weekend events move to a random day of the same window.
            weekend = ((day + 3) % 7 >= 5) & (event_rng.random(n) < WEEKEND_REDRAW)
            day[weekend] = (month["first_day"][row[weekend]]
                            + (event_rng.random(weekend.sum()) * month["days"][row[weekend]]).astype(np.int64))
            seconds = day * SECONDS_PER_DAY + _times_of_day(event_rng, n)
            score = np.round(np.clip(month["adoption"][row] + ADOPTION_EVENT_SD * event_rng.standard_normal(n),
                                     0.0, 1.0), 4)
            order = np.argsort(seconds, kind="stable")
            emit("usage_events", pd.DataFrame({
                "event_id": _ids("E", np.arange(next_id, next_id + n), width),
                "customer_id": customer_ids[month["customer"][row[order]]],
                "timestamp": _seconds_to_datetime(seconds[order]),
                "event_type": type_names[event_type[order]],
                "feature_adoption_score": score[order],
            }))
            next_id += n
        bar.update(1)
