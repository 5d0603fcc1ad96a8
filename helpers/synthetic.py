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
from dataclasses import dataclass
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

# Vocabularies as array positions; the values written always come from helpers.domain.
TIERS: tuple[PlanTier, ...] = tuple(PlanTier)
INDUSTRIES: tuple[Industry, ...] = tuple(Industry)
EVENT_TYPES: tuple[EventType, ...] = tuple(EventType)
PRIORITIES: tuple[TicketPriority, ...] = tuple(TicketPriority)
FREE, STARTER, GROWTH, ENTERPRISE, CUSTOM = (
    TIERS.index(t) for t in (PlanTier.FREE, PlanTier.STARTER, PlanTier.GROWTH, PlanTier.ENTERPRISE, PlanTier.CUSTOM)
)
if (FREE, STARTER, GROWTH, ENTERPRISE, CUSTOM) != tuple(range(len(TIERS))):
    raise ImportError("helpers.synthetic moves plans one tier position up or down: PlanTier must be ordered by price")

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
ACQUISITION_GROWTH_PER_YEAR = 0.25  # log-growth of monthly signups (~28% a year)
ACQUISITION_SEASONALITY = 0.12  # amplitude; signups peak in February, dip in August

# --- Prices: a new subscription's MRR ~ lognormal(median, sigma) clipped to [low, high] ---
TIER_PRICE = {  # median, sigma, low, high
    PlanTier.FREE: (0.0, 0.0, 0.0, 0.0),
    PlanTier.STARTER: (99.0, 0.50, 29.0, 299.0),
    PlanTier.GROWTH: (700.0, 0.45, 300.0, 2000.0),
    PlanTier.ENTERPRISE: (4000.0, 0.45, 2000.0, 12000.0),
    PlanTier.CUSTOM: (18000.0, 0.45, 10000.0, 60000.0),
}

# --- Hidden account health (standardised; spread ~0.75 across accounts) ---
HEALTH_MEAN_SD = 0.55  # spread of customer-level means
HEALTH_TIER_OFFSET = {PlanTier.FREE: -0.25, PlanTier.STARTER: -0.10, PlanTier.ENTERPRISE: 0.15,
                      PlanTier.CUSTOM: 0.20}
HEALTH_INDUSTRY_OFFSET = {Industry.FINTECH: 0.10, Industry.HEALTHTECH: 0.05, Industry.EDTECH: -0.15,
                          Industry.RETAILTECH: -0.10, Industry.PROPTECH: -0.05}
HEALTH_PERSISTENCE = 0.88  # AR(1) coefficient per month
HEALTH_NOISE_SD = 0.25
HEALTH_SHOCK_RATE = 0.02  # per month: a champion leaves or arrives, a budget changes
HEALTH_SHOCK_SIZE = 1.0  # shocks are +-(0.5..1.5) x this
HEALTH_SHOCK_MEAN_SHIFT = 0.35  # share of a shock that moves the long-run mean too
HEALTH_SHOCK_NEGATIVE_SHARE = 0.7
REACTIVATION_HEALTH_BOOST = 0.3  # returning accounts come back with a reason to

# --- Monthly decisions (logits unless named RATE / SHARE) ---
CHURN_BASE_LOGIT = {  # paid tiers; free accounts leave via FREE_LEAVE_*
    PlanTier.STARTER: -4.8,
    PlanTier.GROWTH: -5.35,
    PlanTier.ENTERPRISE: -5.7,
    PlanTier.CUSTOM: -6.3,
}
CHURN_HEALTH = 1.9  # per unit of health (lower health -> higher hazard)
CHURN_DECLINE = 1.2  # per unit of health lost over the last three months
CHURN_EARLY = 0.8  # extra logit right after (re)activation ...
CHURN_EARLY_MONTHS = 4.0  # ... fading with this time constant
CHURN_TICKETS = 0.35  # per log1p(tickets in the last three months)
CHURN_URGENT_TICKET = 0.35  # any high/critical ticket in the last three months
CHURN_AFTER_CONTRACTION = 0.6  # contracted in the last three months
ANNUAL_CONTRACT_TIERS = (ENTERPRISE, CUSTOM)  # these churn mostly at the yearly renewal
RENEWAL_MONTH_LOGIT = 1.9
OFF_RENEWAL_LOGIT = -1.1
FREE_LEAVE_LOGIT = -3.2
FREE_LEAVE_HEALTH = 1.5
NOTICE_MONTHS_SHARE = (0.5, 0.35, 0.15)  # months between deciding to leave and the end date
WIND_DOWN_USAGE = 0.7  # log-volume lost while serving notice
WIND_DOWN_ADOPTION = 0.5

EXPLORE_ENTER_LOGIT = -3.6  # an account starts evaluating more of the product ...
EXPLORE_ENTER_HEALTH = 0.8  # ... more often when healthy
EXPLORE_EXIT_RATE = 0.20  # gives up evaluating without buying
EXPAND_FROM_EXPLORE_RATE = 0.25  # per month while evaluating
UPGRADE_SHARE = 0.35  # of expansions: the next tier instead of more seats
SEAT_EXPANSION = (1.10, 1.40)  # MRR multiplier range
UPGRADE_MIN_RATIO = 1.2
FREE_CONVERT_FROM_EXPLORE_RATE = 0.30
FREE_CONVERT_BASE_RATE = 0.004
FREE_CONVERT_GROWTH_SHARE = 0.2  # conversions straight to growth (the rest: starter)
CONTRACT_LOGIT = -4.6
CONTRACT_HEALTH = 1.0
RENEWAL_CONTRACT_FACTOR = 2.0  # renewals are when annual accounts cut seats
DOWNGRADE_SHARE = 0.3  # of contractions: the previous paid tier instead of fewer seats
SEAT_CONTRACTION = (0.60, 0.90)
REACTIVATE_RATE = 0.012  # per month soon after churning ...
REACTIVATE_DECAY_MONTHS = 18.0  # ... fading with time away
REACTIVATE_HEALTH = 0.3
SHARE_CHANGES_ON_FIRST = 0.72  # the rest fall on days 2..28
LAST_MID_MONTH_DAY = 28

# --- Usage events ---
TIER_USAGE = {PlanTier.FREE: 0.35, PlanTier.STARTER: 0.7, PlanTier.GROWTH: 1.0, PlanTier.ENTERPRISE: 1.7,
              PlanTier.CUSTOM: 2.4}  # relative events per active day
USAGE_HEALTH = 0.9  # log-volume per unit of health
USAGE_RAMP = 0.6  # new accounts start slower (log-volume), fading over ~2 months
USAGE_OVERDISPERSION_SHAPE = 10.0  # gamma noise on a month's volume (busy and quiet months)
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
EVENT_EXPLORE_LOGIT = {EventType.PREMIUM_FEATURE_TRIAL: 2.3, EventType.FEATURE_LIMIT_HIT: 1.3,
                       EventType.USER_INVITE: 0.4}
EVENT_EARLY_LOGIT = {EventType.USER_INVITE: 1.2, EventType.INTEGRATION_CONNECT: 1.2,
                     EventType.EVIDENCE_UPLOAD: 0.2, EventType.API_CALL: -0.5}  # setting up
EVENT_TIER_LOGIT = {  # limits bite on small plans; large plans automate
    EventType.FEATURE_LIMIT_HIT: {PlanTier.FREE: 1.2, PlanTier.STARTER: 0.6, PlanTier.ENTERPRISE: -0.4,
                                  PlanTier.CUSTOM: -0.8},
    EventType.API_CALL: {PlanTier.FREE: -0.8, PlanTier.STARTER: -0.3, PlanTier.ENTERPRISE: 0.3,
                         PlanTier.CUSTOM: 0.4},
}
ADOPTION_BASE = 0.1  # logit of the adoption score at health 0
ADOPTION_HEALTH = 0.8
ADOPTION_TIER = {PlanTier.FREE: -0.6, PlanTier.STARTER: -0.2, PlanTier.ENTERPRISE: 0.2, PlanTier.CUSTOM: 0.3}
ADOPTION_RAMP = 1.0  # adoption grows over the first months
ADOPTION_EVENT_SD = 0.08

# --- Support tickets ---
TICKET_RATE = {PlanTier.FREE: 0.08, PlanTier.STARTER: 0.18, PlanTier.GROWTH: 0.28, PlanTier.ENTERPRISE: 0.5,
               PlanTier.CUSTOM: 0.8}  # per active month at health 0
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
# Topics are free text in the warehouse (no enum); these names are checked
# against helpers.domain.TICKET_TOPICS below, which is what gets written.
TOPIC_BASE_SHARE = {"billing": 0.12, "bug": 0.22, "onboarding": 0.10, "integration": 0.14,
                    "performance": 0.12, "feature_request": 0.20, "account": 0.10}
TOPIC_UNHEALTHY_LOGIT = {"bug": 0.4, "performance": 0.4, "billing": 0.5, "feature_request": -0.3}
TOPIC_EARLY_LOGIT = {"onboarding": 1.8, "integration": 0.5}
TOPIC_EXPLORE_LOGIT = {"billing": 0.6, "feature_request": 0.8}
if set(TOPIC_BASE_SHARE) != set(TICKET_TOPICS) or not (
        set(TOPIC_UNHEALTHY_LOGIT) | set(TOPIC_EARLY_LOGIT) | set(TOPIC_EXPLORE_LOGIT)) <= set(TICKET_TOPICS):
    raise ImportError("helpers.synthetic topic weights must name exactly helpers.domain.TICKET_TOPICS")

# --- Calendar and output ---
DAYS_PER_MONTH = 30.44
SECONDS_PER_DAY = 86_400
WORKDAY_PEAK_HOUR = 13.5  # activity clusters in office hours
WORKDAY_HOUR_SD = 2.8
OFF_HOURS_SHARE = 0.12  # at any hour: automation, other time zones
WRITE_CHUNK_ROWS = 250_000

_NOT_SIGNED_UP, _ACTIVE, _CHURNED = 0, 1, 2
_NONE = np.iinfo(np.int64).min  # a missing day or second: numpy reads it as NaT


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
        write: called as ``write(table, frame)`` per chunk; ``table`` is a key of
            ``COLUMNS`` and ``frame`` has exactly that table's columns, in order.
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
    calendar = _Calendar.build(start, end)
    account_rng, count_rng, event_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    rows = dict.fromkeys(COLUMNS, 0)

    def emit(table: str, frame: pd.DataFrame) -> None:
        rows[table] += len(frame)
        write(table, frame)

    with tqdm(total=2 * calendar.n_months, desc="synthetic accounts", unit="month",
              disable=not progress, file=sys.stderr) as bar:
        accounts = _Accounts(account_rng, calendar, n_customers)
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
    if not _is_int(n_customers) or n_customers < 1:
        raise ValueError(f"n_customers must be an int >= 1, got {n_customers!r}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise ValueError(f"{name} must be a datetime.date, got {value!r}")
    if start >= end:
        raise ValueError(f"start must be before end, got start={start} end={end}")
    if (not isinstance(events_per_customer, numbers.Real) or isinstance(events_per_customer, bool)
            or not math.isfinite(events_per_customer) or events_per_customer <= 0):
        raise ValueError(f"events_per_customer must be a finite number > 0, got {events_per_customer!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Calendar:
    """Simulated months as day numbers (days since 1970-01-01), clipped to [start, end]."""

    window_lo: np.ndarray  # first day of each month's window
    window_hi: np.ndarray  # exclusive last day of each month's window
    month_of_year: np.ndarray  # 1..12
    end_exclusive: int  # the day after `end`

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


class _Accounts:
    """Pass one: every account's state as arrays, advanced one month at a time.

    After the last month: ``status``, ``tier``, ``mrr``, ``churn_day`` describe
    each account at `end`; ``subscriptions()`` gives the history;
    ``tickets_by_month`` and ``activity_by_month`` hold per-month records.
    """

    def __init__(self, rng: np.random.Generator, calendar: _Calendar, n: int) -> None:
        self.rng, self.cal, self.n = rng, calendar, n
        months = calendar.n_months
        # Signups spread over the whole window, growing over time; ids follow signup order.
        growth = np.exp(ACQUISITION_GROWTH_PER_YEAR * np.arange(months) / 12)
        season = 1 + ACQUISITION_SEASONALITY * np.cos(2 * np.pi * (calendar.month_of_year - 2) / 12)
        weight = (calendar.window_hi - calendar.window_lo) * growth * season
        self.signup_month = np.repeat(np.arange(months), rng.multinomial(n, weight / weight.sum()))
        days_in_window = (calendar.window_hi - calendar.window_lo)[self.signup_month]
        self.signup_day = np.sort(calendar.window_lo[self.signup_month]
                                  + (rng.random(n) * days_in_window).astype(np.int64))
        self.industry = rng.choice(len(INDUSTRIES), n, p=_weights(INDUSTRY_MIX, INDUSTRIES, normalise=True))
        self.tier = rng.choice(len(TIERS), n, p=_weights(SIGNUP_TIER_MIX, TIERS, normalise=True))
        self.first_mrr = _sample_mrr(rng, self.tier)
        self.mean_health = (_weights(HEALTH_TIER_OFFSET, TIERS)[self.tier]
                            + _weights(HEALTH_INDUSTRY_OFFSET, INDUSTRIES)[self.industry]
                            + HEALTH_MEAN_SD * rng.standard_normal(n))

        self.status = np.full(n, _NOT_SIGNED_UP, np.int8)
        self.mrr = np.zeros(n)
        self.health = np.zeros(n)
        self.health_lag = np.zeros((3, n))  # health of the three months before, [0] = latest
        self.tickets_lag = np.zeros((3, n), np.int32)  # tickets of the last three months
        self.urgent_lag = np.zeros((3, n), np.int32)  # of which high or critical
        self.exploring = np.zeros(n, bool)  # evaluating premium features (precedes expansions)
        self.sub_start = np.zeros(n, np.int64)  # start day of the open subscription
        self.active_since = np.zeros(n, np.int64)  # day of the latest (re)activation
        self.active_month = np.zeros(n, np.int64)  # month of that day
        self.churn_day = np.full(n, _NONE, np.int64)
        self.churn_month = np.full(n, -1)
        self.leave_month = np.full(n, -1)  # month a decided account's subscription ends (-1: none)
        self.reactivate_from = np.full(n, months)  # first month a churned account may return in
        self.contracted_month = np.full(n, -100)
        self.ends_on = np.zeros(n, np.int64)  # exclusive end of this month's activity

        self._closed: dict[str, list[np.ndarray]] = {k: [] for k in ("customer", "tier", "start", "end", "mrr")}
        self.tickets_by_month: list[dict[str, np.ndarray]] = []
        self.activity_by_month: list[dict[str, np.ndarray]] = []

    def simulate_month(self, t: int) -> None:
        """Advance every account through month t.

        Order matters for "no peeking": plan decisions read state up to month
        t-1 only; health then moves to month t and drives month t's activity.
        """
        lo, hi = int(self.cal.window_lo[t]), int(self.cal.window_hi[t])
        self.ends_on[:] = hi
        self._decide(t, lo, hi)
        self._reactivate(t, lo, hi)
        self._sign_up(t)
        self._step_health(t)
        self._step_exploring()
        self._record_activity(t, lo)

    def subscriptions(self) -> dict[str, np.ndarray]:
        """All subscription rows: closed ones plus those still open (end = _NONE)."""
        open_ = np.flatnonzero(self.status == _ACTIVE)
        still_open = self._subscription_rows(open_, np.full(len(open_), _NONE, np.int64))
        return {key: np.concatenate(parts + [still_open[key]]) for key, parts in self._closed.items()}

    def _subscription_rows(self, who: np.ndarray, end_day: np.ndarray) -> dict[str, np.ndarray]:
        return {"customer": who, "tier": self.tier[who], "start": self.sub_start[who], "end": end_day,
                "mrr": self.mrr[who]}

    def _close(self, who: np.ndarray, day: np.ndarray) -> None:
        for key, values in self._subscription_rows(who, day).items():
            self._closed[key].append(values.copy())

    def _churn_logit(self, who: np.ndarray, t: int, lo: int) -> np.ndarray:
        """Monthly churn log-odds of paid accounts from state up to the previous month."""
        h = self.health[who]
        tier = self.tier[who]
        tenure_months = (lo - self.active_since[who]) / DAYS_PER_MONTH
        annual = np.isin(tier, ANNUAL_CONTRACT_TIERS)
        return (_weights(CHURN_BASE_LOGIT, TIERS)[tier] - CHURN_HEALTH * h
                + CHURN_DECLINE * np.clip(self.health_lag[2, who] - h, 0, None)
                + CHURN_EARLY * np.exp(-tenure_months / CHURN_EARLY_MONTHS)
                + CHURN_TICKETS * np.log1p(self.tickets_lag[:, who].sum(axis=0))
                + CHURN_URGENT_TICKET * (self.urgent_lag[:, who].sum(axis=0) > 0)
                + CHURN_AFTER_CONTRACTION * (t - self.contracted_month[who] <= 3)
                + np.where(self._at_renewal(who, t), RENEWAL_MONTH_LOGIT,
                           np.where(annual, OFF_RENEWAL_LOGIT, 0.0)))

    def _at_renewal(self, who: np.ndarray, t: int) -> np.ndarray:
        """Annual-contract accounts whose yearly renewal falls in month t."""
        months_in = t - self.active_month[who]
        return np.isin(self.tier[who], ANNUAL_CONTRACT_TIERS) & (months_in > 0) & (months_in % 12 == 0)

    def _decide(self, t: int, lo: int, hi: int) -> None:
        """Leave / contract / grow decisions of accounts active since before month t."""
        current = np.flatnonzero(self.status == _ACTIVE)
        if len(current) == 0:
            return
        rng = self.rng
        h = self.health[current]
        paid = self.tier[current] != FREE
        undecided = self.leave_month[current] < 0  # accounts serving notice make no other move
        p_leave = undecided * _sigmoid(np.where(paid, self._churn_logit(current, t, lo),
                                                FREE_LEAVE_LOGIT - FREE_LEAVE_HEALTH * h))
        p_contract = (undecided * paid * _sigmoid(CONTRACT_LOGIT - CONTRACT_HEALTH * h)
                      * np.where(self._at_renewal(current, t), RENEWAL_CONTRACT_FACTOR, 1.0))
        exploring = self.exploring[current]
        p_grow = undecided * np.where(paid, EXPAND_FROM_EXPLORE_RATE * exploring,
                                      np.where(exploring, FREE_CONVERT_FROM_EXPLORE_RATE, FREE_CONVERT_BASE_RATE))
        u = rng.random(len(current))
        decides = u < p_leave
        contracts = ~decides & (u < p_leave + p_contract)
        grows = ~decides & ~contracts & (u < p_leave + p_contract + p_grow)
        notice = rng.choice(len(NOTICE_MONTHS_SHARE), len(current), p=NOTICE_MONTHS_SHARE)
        self.leave_month[current[decides]] = t + notice[decides]
        self.exploring[current[decides]] = False

        who = current[self.leave_month[current] == t]
        day = _change_days(rng, len(who), lo, hi)
        self._close(who, day)
        self.status[who] = _CHURNED
        self.churn_day[who], self.churn_month[who], self.ends_on[who] = day, t, day
        self.leave_month[who] = -1
        # Back no earlier than the month after the first month that starts without a subscription,
        # so monthly metrics always see the gap.
        self.reactivate_from[who] = t + 1 + (day > lo)

        changing = contracts | grows
        who = current[changing]
        new_tier, new_mrr = _plan_changes(rng, self.tier[who], self.mrr[who], grows[changing])
        moved = new_mrr != self.mrr[who]  # a contraction already at the tier's floor changes nothing
        who, new_tier, new_mrr = who[moved], new_tier[moved], new_mrr[moved]
        day = _change_days(rng, len(who), lo, hi)
        self._close(who, day)
        self.contracted_month[who[new_mrr < self.mrr[who]]] = t
        self.tier[who], self.mrr[who], self.sub_start[who] = new_tier, new_mrr, day
        self.exploring[who] = False

    def _activate(self, who: np.ndarray, day: np.ndarray, t: int) -> None:
        self.status[who] = _ACTIVE
        self.sub_start[who], self.active_since[who], self.active_month[who] = day, day, t

    def _reactivate(self, t: int, lo: int, hi: int) -> None:
        """Churned accounts returning on their last tier, more likely soon after leaving."""
        away = np.flatnonzero((self.status == _CHURNED) & (self.reactivate_from <= t))
        p_back = (REACTIVATE_RATE * np.exp(-(t - self.churn_month[away]) / REACTIVATE_DECAY_MONTHS)
                  * np.exp(REACTIVATE_HEALTH * self.health[away]))
        who = away[self.rng.random(len(away)) < p_back]
        self._activate(who, _change_days(self.rng, len(who), lo, hi), t)
        self.mrr[who] = _sample_mrr(self.rng, self.tier[who])
        self.health[who] = self.mean_health[who] + REACTIVATION_HEALTH_BOOST
        self.health_lag[:, who] = self.health[who]
        self.tickets_lag[:, who] = 0
        self.urgent_lag[:, who] = 0

    def _sign_up(self, t: int) -> None:
        new = np.flatnonzero(self.signup_month == t)
        self._activate(new, self.signup_day[new], t)
        self.mrr[new] = self.first_mrr[new]
        stationary_sd = HEALTH_NOISE_SD / math.sqrt(1 - HEALTH_PERSISTENCE**2)
        self.health[new] = self.mean_health[new] + stationary_sd * self.rng.standard_normal(len(new))
        self.health_lag[:, new] = self.health[new]

    def _step_health(self, t: int) -> None:
        """AR(1) step with shocks for accounts signed up before month t (churned too: they may return)."""
        old = np.flatnonzero((self.status != _NOT_SIGNED_UP) & (self.signup_month < t))
        rng = self.rng
        shock = rng.random(len(old)) < HEALTH_SHOCK_RATE
        sign = np.where(rng.random(len(old)) < HEALTH_SHOCK_NEGATIVE_SHARE, -1.0, 1.0)
        jump = shock * sign * HEALTH_SHOCK_SIZE * (0.5 + rng.random(len(old)))
        self.mean_health[old] += HEALTH_SHOCK_MEAN_SHIFT * jump
        self.health_lag[:, old] = np.roll(self.health_lag[:, old], 1, axis=0)
        self.health_lag[0, old] = self.health[old]
        mean = self.mean_health[old]
        self.health[old] = (mean + HEALTH_PERSISTENCE * (self.health[old] - mean)
                            + HEALTH_NOISE_SD * rng.standard_normal(len(old)) + jump)

    def _step_exploring(self) -> None:
        """Healthy accounts start trialling premium features; some give up."""
        active = np.flatnonzero((self.status == _ACTIVE) & (self.leave_month < 0))
        p_enter = _sigmoid(EXPLORE_ENTER_LOGIT + EXPLORE_ENTER_HEALTH * self.health[active])
        enter = self.rng.random(len(active)) < p_enter
        give_up = self.rng.random(len(active)) < EXPLORE_EXIT_RATE
        self.exploring[active] = np.where(self.exploring[active], ~give_up, enter)

    def _record_activity(self, t: int, lo: int) -> None:
        """Month t's activity windows (churned this month: until the churn day) and tickets."""
        busy = np.flatnonzero((self.status == _ACTIVE) | ((self.churn_month == t) & (self.ends_on > lo)))
        first = np.maximum(lo, self.active_since[busy])
        days = self.ends_on[busy] - first
        tenure = (first - self.active_since[busy]) / DAYS_PER_MONTH
        h = self.health[busy]
        tier = self.tier[busy]
        winding_down = (self.leave_month[busy] >= 0) | (self.churn_month[busy] == t)
        activity = {
            "customer": busy.astype(np.int32),
            "first_day": first,
            "days": days,
            "health": h,
            "tier": tier.astype(np.int8),
            "tenure": tenure,
            "exploring": self.exploring[busy],
            "volume": _weights(TIER_USAGE, TIERS)[tier] * days
            * np.exp(USAGE_HEALTH * h - USAGE_RAMP * np.exp(-tenure / 2.0) - WIND_DOWN_USAGE * winding_down),
            "adoption": _sigmoid(ADOPTION_BASE + ADOPTION_HEALTH * h + _weights(ADOPTION_TIER, TIERS)[tier]
                                 - ADOPTION_RAMP * np.exp(-tenure / 4.0) - WIND_DOWN_ADOPTION * winding_down),
        }
        self.activity_by_month.append(activity)
        tickets = _simulate_tickets(self.rng, activity, self.cal.end_exclusive)
        self.tickets_by_month.append(tickets)
        urgent = np.isin(tickets["priority"], [PRIORITIES.index(p) for p in URGENT_PRIORITIES])
        for lag, rows in ((self.tickets_lag, tickets["customer"]), (self.urgent_lag, tickets["customer"][urgent])):
            lag[:, busy] = np.roll(lag[:, busy], 1, axis=0)
            lag[0, busy] = np.bincount(rows, minlength=self.n)[busy]


def _weights(table: dict, members: tuple, normalise: bool = False) -> np.ndarray:
    """Values of ``table`` in the order of ``members`` (0 when absent)."""
    values = np.array([table.get(m, 0.0) for m in members], dtype=np.float64)
    return values / values.sum() if normalise else values


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _sample_mrr(rng: np.random.Generator, tiers: np.ndarray) -> np.ndarray:
    """List MRR of new subscriptions of the given tiers (0 for free), in cents."""
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


def _plan_changes(rng: np.random.Generator, tiers: np.ndarray, mrr: np.ndarray, grows: np.ndarray):
    """New (tier, mrr) after expansions or conversions (``grows``) and contractions (the rest)."""
    n = len(tiers)
    low, high = (np.array([TIER_PRICE[t][k] for t in TIERS]) for k in (2, 3))
    new_tier, new_mrr = tiers.copy(), mrr.copy()
    u = rng.random(n)
    convert = grows & (tiers == FREE)
    new_tier[convert] = np.where(u[convert] < FREE_CONVERT_GROWTH_SHARE, GROWTH, STARTER)
    # Expansions: more seats, or the next tier (also when seats outgrow the tier).
    expand = grows & (tiers != FREE)
    seats = mrr * rng.uniform(*SEAT_EXPANSION, n)
    upgrade = expand & (tiers < CUSTOM) & ((u < UPGRADE_SHARE) | (seats > high[tiers]))
    new_tier[upgrade] += 1
    new_mrr[expand] = seats[expand]
    # Contractions: fewer seats (not below the tier's floor), or the previous paid tier.
    shrink = ~grows
    downgrade = shrink & (tiers > STARTER) & (u < DOWNGRADE_SHARE)
    new_tier[downgrade] -= 1
    seat_cut = shrink & ~downgrade
    floor = np.minimum(low[tiers], mrr)
    new_mrr[seat_cut] = np.maximum(mrr * rng.uniform(*SEAT_CONTRACTION, n), floor)[seat_cut]
    # A tier move takes that tier's price, but never moves MRR the wrong way.
    priced = _sample_mrr(rng, new_tier)
    new_mrr[upgrade] = np.maximum(priced, UPGRADE_MIN_RATIO * mrr)[upgrade]
    new_mrr[convert] = priced[convert]
    new_mrr[downgrade] = np.minimum(priced, SEAT_CONTRACTION[1] * mrr)[downgrade]
    return new_tier, np.round(new_mrr, 2)


def _categorical(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """One draw per row from softmax(row)."""
    cumulative = np.cumsum(np.exp(logits - logits.max(axis=1, keepdims=True)), axis=1)
    u = rng.random(len(logits)) * cumulative[:, -1]
    return (u[:, None] >= cumulative).sum(axis=1).clip(max=logits.shape[1] - 1)


def _times_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight: office hours mostly, some at any hour."""
    hours = rng.normal(WORKDAY_PEAK_HOUR, WORKDAY_HOUR_SD, n)
    anytime = rng.random(n) < OFF_HOURS_SHARE
    hours[anytime] = 24 * rng.random(anytime.sum())
    return (np.clip(hours, 0, 23.9997) * 3600).astype(np.int64)


def _simulate_tickets(rng: np.random.Generator, activity: dict, end_exclusive: int) -> dict[str, np.ndarray]:
    """A month's support tickets: more, and more urgent, as health falls."""
    h, tenure, tier = activity["health"], activity["tenure"], activity["tier"]
    rate = (_weights(TICKET_RATE, TIERS)[tier] * np.exp(-TICKET_HEALTH * h)
            * (1 + TICKET_ONBOARDING * np.exp(-tenure / 2.0)) * activity["days"] / DAYS_PER_MONTH)
    row = np.repeat(np.arange(len(h)), rng.poisson(rate))
    day = activity["first_day"][row] + (rng.random(len(row)) * activity["days"][row]).astype(np.int64)
    created = day * SECONDS_PER_DAY + _times_of_day(rng, len(row))
    unhealthy = np.clip(-h[row], 0, None)[:, None]
    large = np.isin(tier[row], ANNUAL_CONTRACT_TIERS)[:, None]
    priority = _categorical(rng, np.log(_weights(PRIORITY_BASE_SHARE, PRIORITIES))
                            + unhealthy * _weights(PRIORITY_UNHEALTHY_LOGIT, PRIORITIES)
                            + large * _weights(PRIORITY_LARGE_ACCOUNT_LOGIT, PRIORITIES))
    early = np.exp(-tenure[row] / 2.0)[:, None]
    topic = _categorical(rng, np.log(_weights(TOPIC_BASE_SHARE, TICKET_TOPICS))
                         + unhealthy * _weights(TOPIC_UNHEALTHY_LOGIT, TICKET_TOPICS)
                         + early * _weights(TOPIC_EARLY_LOGIT, TICKET_TOPICS)
                         + activity["exploring"][row][:, None] * _weights(TOPIC_EXPLORE_LOGIT, TICKET_TOPICS))
    hours = _weights(RESOLUTION_MEDIAN_HOURS, PRIORITIES)[priority] * np.exp(
        RESOLUTION_SIGMA * rng.standard_normal(len(row)))
    resolved = created + (hours * 3600).astype(np.int64)
    resolved[resolved >= end_exclusive * SECONDS_PER_DAY] = _NONE  # still open when the data ends
    order = np.argsort(created, kind="stable")
    return {"customer": activity["customer"][row][order], "created": created[order],
            "priority": priority[order], "topic": topic[order], "resolved": resolved[order]}


def _ids(prefix: str, numbers_: np.ndarray, width: int) -> np.ndarray:
    """Fixed-width string ids ('C000042') as an object array, so they sort as the numbers do."""
    if len(numbers_) == 0:
        return np.empty(0, dtype=object)
    digits = np.char.zfill(numbers_.astype(np.int64).astype(str), width)
    return np.char.add(prefix, digits).astype(object)


def _to_datetime(values: np.ndarray, unit: str) -> np.ndarray:
    """Day or second numbers since the epoch (_NONE = NaT) to datetime64[ns]."""
    return values.astype(f"datetime64[{unit}]").astype("datetime64[ns]")


def _names(members) -> np.ndarray:
    return np.array([getattr(m, "value", m) for m in members], dtype=object)


def _emit_customers(emit, accounts: _Accounts, customer_ids: np.ndarray) -> None:
    """One row per customer: tier and MRR at `end`, churn date unless active on `end`."""
    active = accounts.status == _ACTIVE
    _emit_chunks(emit, "customers", {
        "customer_id": customer_ids,
        "industry": _names(INDUSTRIES)[accounts.industry],
        "plan_tier": _names(TIERS)[accounts.tier],
        "signup_date": _to_datetime(accounts.signup_day, "D"),
        "mrr": np.where(active, accounts.mrr, 0.0),
        "churn_date": _to_datetime(np.where(active, _NONE, accounts.churn_day), "D"),
    })


def _emit_subscriptions(emit, accounts: _Accounts, customer_ids: np.ndarray) -> None:
    """Subscription rows, numbered in order of start date (then customer)."""
    subs = accounts.subscriptions()
    order = np.lexsort((subs["customer"], subs["start"]))
    n = len(order)
    _emit_chunks(emit, "subscriptions", {
        "subscription_id": _ids("S", np.arange(1, n + 1), max(7, len(str(n)))),
        "customer_id": customer_ids[subs["customer"][order]],
        "plan_tier": _names(TIERS)[subs["tier"][order]],
        "start_date": _to_datetime(subs["start"][order], "D"),
        "end_date": _to_datetime(subs["end"][order], "D"),
        "mrr": subs["mrr"][order],
    })


def _emit_chunks(emit, table: str, columns: dict[str, np.ndarray]) -> None:
    """Write a table's columns (equal-length arrays, in schema order) in row chunks."""
    n = len(next(iter(columns.values())))
    for lo in range(0, max(n, 1), WRITE_CHUNK_ROWS):
        emit(table, pd.DataFrame({name: values[lo:lo + WRITE_CHUNK_ROWS] for name, values in columns.items()}))


def _emit_tickets(emit, accounts: _Accounts, customer_ids: np.ndarray) -> None:
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
                "priority": _names(PRIORITIES)[month["priority"]],
                "topic": _names(TICKET_TOPICS)[month["topic"]],
                "resolved_at": _to_datetime(month["resolved"], "s"),
            }))
        next_id += n


def _event_type_logits(activity: dict) -> np.ndarray:
    """Log-weights of each event type per account-month."""
    tier_logit = np.array([[EVENT_TIER_LOGIT.get(e, {}).get(t, 0.0) for e in EVENT_TYPES] for t in TIERS])
    return (np.log(_weights(EVENT_BASE_SHARE, EVENT_TYPES))
            + activity["health"][:, None] * _weights(EVENT_HEALTH_LOGIT, EVENT_TYPES)
            + activity["exploring"][:, None] * _weights(EVENT_EXPLORE_LOGIT, EVENT_TYPES)
            + np.exp(-activity["tenure"] / 3.0)[:, None] * _weights(EVENT_EARLY_LOGIT, EVENT_TYPES)
            + tier_logit[activity["tier"]])


def _emit_events(emit, accounts: _Accounts, customer_ids: np.ndarray, count_rng: np.random.Generator,
                 event_rng: np.random.Generator, target_events: float, bar) -> None:
    """Pass two: usage events month by month, ``target_events`` in expectation, numbered in time order."""
    months = accounts.activity_by_month
    total_volume = sum(m["volume"].sum() for m in months)
    scale = target_events / total_volume if total_volume > 0 else 0.0
    # Counts first (a few numbers per account-month) so the id width is known up front.
    counts = [count_rng.poisson(scale * m["volume"] * count_rng.gamma(
        USAGE_OVERDISPERSION_SHAPE, 1 / USAGE_OVERDISPERSION_SHAPE, len(m["volume"]))) for m in months]
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
    event_type = np.repeat(np.tile(np.arange(len(EVENT_TYPES)), len(count)), type_counts.ravel())
    first_day, days = month["first_day"][row], month["days"][row]
    day = first_day + (rng.random(n) * days).astype(np.int64)
    # B2B rhythm: most weekend events move to another day of the same window (1970-01-01 was a Thursday).
    weekend = ((day + 3) % 7 >= 5) & (rng.random(n) < WEEKEND_REDRAW)
    day[weekend] = first_day[weekend] + (rng.random(weekend.sum()) * days[weekend]).astype(np.int64)
    seconds = day * SECONDS_PER_DAY + _times_of_day(rng, n)
    score = np.clip(month["adoption"][row] + ADOPTION_EVENT_SD * rng.standard_normal(n), 0.0, 1.0).round(4)
    order = np.argsort(seconds, kind="stable")
    return pd.DataFrame({
        "event_id": _ids("E", np.arange(first_id, first_id + n), width),
        "customer_id": customer_ids[month["customer"][row[order]]],
        "timestamp": _to_datetime(seconds[order], "s"),
        "event_type": _names(EVENT_TYPES)[event_type[order]],
        "feature_adoption_score": score[order],
    })
