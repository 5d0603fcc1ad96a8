"""A simulated SaaS company whose true churn probabilities are known, to check the suite's models against.

Independent of ``helpers.warehouse.synthetic`` (a different process; nothing imported
from ``helpers``): the suite's vocabularies are written out here, so a change
to them is caught by ingest rather than silently followed.

Process, one step per calendar month t (each customer has a renewal day
d <= 28, the day of month it signed up; "date(t)" is day d of month t):

- Latent health h follows an AR(1) around a level mu that drifts by the
  customer's own drift each month: h[t+1] = h[t] + k (mu[t] - h[t]) + s eps.
- Behaviour in month t follows h[t]: usage events ~ Poisson(rate[tier] e^0.7h),
  healthy accounts use integrations and the API, unhealthy ones mostly view
  reports and hit limits; feature_adoption_score = logistic(0.3 + 1.1h + noise);
  tickets ~ Poisson(0.12 e^-0.8h), urgent priorities likelier when h is low.
- Churn: logit p = a[interval] + b h[t] + c[tier] + d tickets[t-1] + e years
  since 2023-01 (the calendar drift). A monthly plan decides on date(t) of each
  month after the one it started in and ends that day. An annual plan
  (billing_interval year, MRR = yearly price / 12) decides NOTICE_MONTHS
  before each anniversary of its start and ends on the anniversary; from the
  notice on its end date is known (a scheduled cancellation).
- Trials: a free first month (plan free, MRR 0) converting with probability
  logistic(0.6 + 1.2h). Upgrades/downgrades at renewals (new subscription row
  from that day). Win-backs: a churned customer returns each month with
  probability 3%, on a new monthly subscription.

Truth (``truth_at(cut)``, cut = the first day of a month): the population is
every customer paying on cut - 1 day (a paid subscription with start <= cut-1
< end), exactly the population of ``helpers.analytics.features.snapshot(as_of=cut)``.
``p_stop_<h>`` is the probability, given the simulator's state on that day
(latent health, plan, tickets of the last month, annual notices given), that
the customer stops paying on some day D in [cut, cut + h), where "stops paying
on D" means D is the end_date of a paid subscription no other paid
subscription of the customer covers. That is the suite's label ("churned in
[as_of, as_of + horizon)", feature_snapshot.sql over churn_events.sql) with
horizon_days = the days from cut to cut + 3/6/12 months, or 90 days for
``90d``. A win-back inside the window does not undo the stop. It is not the
ARCHITECTURE section 5 monthly churn (active on the first day of M-1, not of
M): a stop on 15 January is a February churn there. Computed by Monte Carlo
forward simulation of the same step functions (2,000 paths per customer).
``realized_at(cut)`` applies the same definition to the simulated history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simulators.vocabulary import to_export_vocabulary, vocabulary_yaml

TIERS = ("starter", "growth", "enterprise")
MONTHLY_CENTS = np.array([4_900, 19_900, 89_900])
# Yearly prices divisible by 12 cents, so an annual plan's MRR has whole cents
# (the suite refuses money with more than two decimals).
ANNUAL_CENTS = np.array([49_920, 199_020, 899_040])
SIZES, SIZE_WEIGHTS = np.array([1, 2, 3, 5]), [0.6, 0.25, 0.1, 0.05]
INDUSTRIES = ("FinTech", "HealthTech", "LegalTech", "HR Tech", "EdTech", "InsurTech", "PropTech", "RetailTech", "Other")
INDUSTRY_LEVEL = np.array([0.1, -0.1, 0.2, 0.0, -0.2, 0.1, -0.1, 0.0, 0.0])
EVENT_TYPES = ("evidence_upload", "monitoring_run", "report_view", "user_invite",
               "integration_connect", "api_call", "premium_feature_trial", "feature_limit_hit")
EVENT_MIX = np.array([[0.20, 0.20, 0.15, 0.05, 0.10, 0.25, 0.03, 0.02],   # healthy account
                      [0.20, 0.05, 0.50, 0.02, 0.01, 0.05, 0.05, 0.12]])  # unhealthy account
EVENT_RATE = np.array([5.0, 10.0, 20.0])  # per month at health 0, by tier
TICKET_TIER = np.array([1.0, 1.3, 1.8])
PRIORITIES = ("low", "medium", "high", "critical")
TOPICS = ("billing", "bug", "onboarding", "integration", "performance", "feature_request", "account")
HORIZON_MONTHS = {"90d": None, "3m": 3, "6m": 6, "12m": 12}
DRIFT_EPOCH = np.datetime64("2023-01", "M")

TABLE_FILES = {"customers": "customers", "subscriptions": "subscriptions",
               "events": "usage_events", "tickets": "support_tickets"}


@dataclass(frozen=True)
class Params:
    """Coefficients of the generative process; the defaults are a mid-size B2B SaaS."""

    health_reversion: float = 0.2
    health_noise: float = 0.35
    level_mean: float = 0.2
    level_sd: float = 0.5
    drift_mean: float = -0.01      # per month: accounts slowly cool on average
    drift_sd: float = 0.02
    churn_intercept: tuple[float, float] = (-3.3, -1.4)  # monthly renewal, annual renewal
    churn_health: float = -0.9
    churn_tier: tuple[float, float, float] = (0.35, 0.0, -0.45)
    churn_tickets: float = 0.3
    churn_per_year: float = 0.15   # calendar drift of the log-odds
    notice_months: int = 2         # >= 1: annual plans decide this many months before renewal
    trial_share: float = 0.35
    trial_conversion: tuple[float, float] = (0.6, 1.2)
    tier_weights: tuple[float, float, float] = (0.5, 0.35, 0.15)
    annual_share: tuple[float, float, float] = (0.15, 0.25, 0.45)
    plan_change: float = 0.04
    winback_rate: float = 0.03


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _years(abs_month: np.datetime64) -> float:
    return float((abs_month - DRIFT_EPOCH).astype(int)) / 12.0


def _decide(h, tier, annual, age, notice, tickets, years, rng, p: Params):
    """Renewal-time decisions of paying customers in one month: (stops, new tier, new notice).

    Shared by the history and the Monte Carlo truth, so both follow one process.
    """
    logit = (np.where(annual, p.churn_intercept[1], p.churn_intercept[0]) + p.churn_health * h
             + np.asarray(p.churn_tier)[tier] + p.churn_tickets * tickets + p.churn_per_year * years)
    leave = rng.random(h.size) < _sigmoid(logit)
    renewal = ~annual | ((age > 0) & (age % 12 == 0))
    # An annual plan decides at its notice month; the decision takes effect at the renewal.
    notice = np.where(annual & (age % 12 == 12 - p.notice_months), leave.astype(np.int8), notice)
    stops = np.where(annual, renewal & (notice == 1), leave)
    notice = np.where(annual & renewal, np.int8(-1), notice).astype(np.int8)
    renews, u = renewal & ~stops, rng.random(h.size)
    up = renews & (tier < 2) & (u < p.plan_change * _sigmoid(2 * h - 1))
    down = renews & (tier > 0) & ~up & (u > 1 - p.plan_change * _sigmoid(-2 * h - 1))
    return stops, tier + up - down, notice


def _ticket_rate(h, tier, p: Params):
    return 0.12 * np.exp(-0.8 * h) * TICKET_TIER[tier]


def _next_health(h, mu, rng, p: Params):
    return h + p.health_reversion * (mu - h) + p.health_noise * rng.standard_normal(h.size)


def as_dates(values) -> np.ndarray:
    """datetime64[D] values as datetime.date objects (None for NaT), as Parquet DATE and CSV want."""
    return np.asarray(values, dtype="datetime64[D]").astype(object)


def _stop_dates(subscriptions: pd.DataFrame) -> pd.DataFrame:
    """(customer_id, stop_date): ends of paid subscriptions no other paid one covers (churn_events.sql)."""
    paid = subscriptions[subscriptions["mrr"] > 0]
    ends = paid.dropna(subset=["end_date"])[["customer_id", "end_date"]].drop_duplicates()
    pairs = ends.merge(paid[["customer_id", "start_date", "end_date"]], on="customer_id", suffixes=("", "_other"))
    covered = (pairs["start_date"] <= pairs["end_date"]) & (
        pairs["end_date_other"].isna() | (pairs["end_date_other"] > pairs["end_date"]))
    covered_ends = pairs[covered][["customer_id", "end_date"]].drop_duplicates()
    stops = ends.merge(covered_ends, how="left", indicator=True).query("_merge == 'left_only'")
    return stops[["customer_id", "end_date"]].rename(columns={"end_date": "stop_date"})


def _paying_on(subscriptions: pd.DataFrame, day: dt.date) -> pd.Series:
    """MRR of each customer with MRR > 0 on ``day`` (start <= day < end)."""
    on = (subscriptions["start_date"] <= day) & (subscriptions["end_date"].isna() | (subscriptions["end_date"] > day))
    mrr = subscriptions[on].groupby("customer_id")["mrr"].sum().round(2)
    return mrr[mrr > 0]


def _window_end(cut: dt.date, horizon: str) -> dt.date:
    months = HORIZON_MONTHS[horizon]
    return cut + dt.timedelta(days=90) if months is None else (pd.Timestamp(cut) + pd.DateOffset(months=months)).date()


@dataclass
class Company:
    """Files as a company would export them on ``data_end``, plus the full subscription history.

    ``customers``, ``subscriptions``, ``events`` and ``tickets`` are in the suite's
    file format (``events``/``tickets`` None when left out); ``history`` holds every
    subscription ever simulated, in the suite's vocabulary, for realized outcomes.
    """

    customers: pd.DataFrame
    subscriptions: pd.DataFrame
    events: pd.DataFrame | None
    tickets: pd.DataFrame | None
    data_end: dt.date
    history: pd.DataFrame
    history_end: dt.date
    vocabulary_yaml: str | None = None

    def write(self, folder: str | Path, fmt: str = "csv") -> dict[str, Path]:
        """Write one file per table (and vocabulary.yaml for export vocabulary); return ingest's keyword paths."""
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for key, name in TABLE_FILES.items():
            frame = getattr(self, key)
            if frame is None:
                continue
            paths[key] = folder / f"{name}.{fmt}"
            if fmt == "csv":
                frame.to_csv(paths[key], index=False)
            else:
                frame.to_parquet(paths[key], index=False)
        if self.vocabulary_yaml:
            (folder / "vocabulary.yaml").write_text(self.vocabulary_yaml)
        return paths

    def realized_at(self, cut: dt.date) -> pd.DataFrame:
        """Customers paying on cut - 1 day, their MRR, and whether they stopped paying in each window.

        ``stopped_<h>`` is 1.0/0.0, or NaN when the window runs past the simulated history.
        """
        paying = _paying_on(self.history, cut - dt.timedelta(days=1))
        stops = _stop_dates(self.history)
        frame = pd.DataFrame({"customer_id": paying.index, "mrr": paying.to_numpy()})
        for horizon in HORIZON_MONTHS:
            end = _window_end(cut, horizon)
            inside = stops[(stops["stop_date"] >= cut) & (stops["stop_date"] < end)]["customer_id"]
            observed = end <= self.history_end + dt.timedelta(days=1)
            frame[f"stopped_{horizon}"] = frame["customer_id"].isin(inside).astype(float) if observed else np.nan
        return frame


@dataclass
class SimulatedCompany(Company):
    """A simulated company: the exports, the history and the state behind ``truth_at``."""

    seed: int = 0
    params: Params = field(default_factory=Params)
    start: np.datetime64 = np.datetime64("2022-01", "M")
    states: list[dict[str, np.ndarray]] = field(default_factory=list, repr=False)
    lane_ids: np.ndarray = field(default_factory=lambda: np.array([]), repr=False)
    renewal_day: np.ndarray = field(default_factory=lambda: np.array([]), repr=False)

    def truth_at(self, cut: dt.date, paths: int = 2_000) -> pd.DataFrame:
        """True probability of stopping paying within 90 days, 3, 6 and 12 months of ``cut`` (see module doc)."""
        t0 = int((np.datetime64(cut, "M") - self.start).astype(int))
        if cut.day != 1 or not 0 < t0 < len(self.states):
            raise ValueError(f"cut must be the first day of a simulated month after the first, got {cut}")
        state, p = self.states[t0], self.params
        lanes = np.flatnonzero(state["status"] == 2)
        rng = np.random.default_rng([self.seed, t0, paths])
        first_stop = np.empty((lanes.size, paths), dtype=np.int8)
        chunk = max(1, 500_000 // paths)  # keeps the path arrays to a few MB
        for begin in range(0, lanes.size, chunk):
            rows = lanes[begin:begin + chunk]
            h, mu, drift, tier, annual, anchor, notice, tickets = (
                np.repeat(state[key][rows], paths)
                for key in ("h", "mu", "drift", "tier", "annual", "anchor", "notice", "tickets"))
            stop = np.full(h.size, -1, dtype=np.int8)
            for ahead in range(12):
                t = t0 + ahead
                stops, tier, notice = _decide(h, tier, annual, t - anchor, notice, tickets,
                                              _years(self.start + t), rng, p)
                stop[(stop < 0) & stops] = ahead
                tickets = rng.poisson(_ticket_rate(h, tier, p))
                mu = mu + drift
                h = _next_health(h, mu, rng, p)
            first_stop[begin:begin + rows.size] = stop.reshape(rows.size, paths)
        # Day offset of each path's stop from cut: day d of month cut + ahead.
        month_offsets = (np.datetime64(cut, "M") + np.arange(12)).astype("datetime64[D]") - np.datetime64(cut, "D")
        stop_day = month_offsets.astype(int)[np.maximum(first_stop, 0)] + (self.renewal_day[lanes][:, None] - 1)
        mrr = _paying_on(self.history, cut - dt.timedelta(days=1))
        frame = pd.DataFrame({"customer_id": self.lane_ids[lanes]})
        frame["mrr"] = frame["customer_id"].map(mrr)
        frame["billing_interval"] = np.where(state["annual"][lanes], "year", "month")
        frame["p_stop_90d"] = ((first_stop >= 0) & (stop_day < 90)).mean(axis=1)
        for horizon in ("3m", "6m", "12m"):
            frame[f"p_stop_{horizon}"] = ((first_stop >= 0) & (first_stop < HORIZON_MONTHS[horizon])).mean(axis=1)
        return frame


def _simulate(n: int, months: int, start: np.datetime64, rng, p: Params, event_rng):
    """Run the monthly process; return per-month states, subscription rows, events, tickets and lane data."""
    first = (start + np.arange(months + 1)).astype("datetime64[D]")
    growth = 1 + 1.5 * np.arange(months) / months  # signups grow over the years
    signup_month = rng.choice(months, size=n, p=growth / growth.sum())
    day = rng.integers(1, 29, n)
    industry, size = rng.integers(0, len(INDUSTRIES), n), rng.choice(SIZES, n, p=SIZE_WEIGHTS)
    s = {"h": np.zeros(n), "mu": p.level_mean + INDUSTRY_LEVEL[industry] + p.level_sd * rng.standard_normal(n),
         "drift": p.drift_mean + p.drift_sd * rng.standard_normal(n), "tier": rng.choice(3, n, p=p.tier_weights),
         "annual": np.zeros(n, bool), "anchor": np.zeros(n, int), "notice": np.full(n, -1, np.int8),
         "tickets": np.zeros(n, int), "status": np.zeros(n, np.int8)}  # 0 not yet, 1 trial, 2 paying, 3 lapsed, 4 lost
    start_month, lapsed_month = np.full(n, -1), np.full(n, -1)
    sub_start, sub_mrr = np.full(n, np.datetime64("NaT"), "datetime64[D]"), np.zeros(n, int)
    states, subs, events, tickets = [], [], [], []

    def close(lanes, end, known_from):
        subs.append((lanes, np.where(s["status"][lanes] == 1, -1, s["tier"][lanes]), s["annual"][lanes],
                     sub_start[lanes], end, sub_mrr[lanes], known_from))

    def open_paid(lanes, t, date_t, annual):
        s["annual"][lanes], s["anchor"][lanes], s["notice"][lanes] = annual, t, -1
        cents = np.where(annual, ANNUAL_CENTS[s["tier"][lanes]] // 12, MONTHLY_CENTS[s["tier"][lanes]])
        sub_mrr[lanes], sub_start[lanes], start_month[lanes], s["status"][lanes] = cents * size[lanes], date_t, t, 2

    for t in range(months):
        states.append({key: value.copy() for key, value in s.items()})
        date_t = first[t] + (day - 1)
        subscribed = (s["status"] == 1) | (s["status"] == 2)
        begin, end = np.where(subscribed, first[t], np.datetime64("NaT")), np.full(n, first[t + 1])
        # Renewals of paying customers: stop, change plan, or carry on.
        lanes = np.flatnonzero((s["status"] == 2) & (start_month < t))
        stops, new_tier, s["notice"][lanes] = _decide(
            s["h"][lanes], s["tier"][lanes], s["annual"][lanes], t - s["anchor"][lanes], s["notice"][lanes],
            s["tickets"][lanes], _years(start + t), rng, p)
        gone = lanes[stops]
        notice_day = first[max(t - p.notice_months, 0)] + (day[gone] - 1)
        close(gone, date_t[gone], np.where(s["annual"][gone], notice_day, date_t[gone]))
        s["status"][gone], lapsed_month[gone], end[gone] = 3, t, date_t[gone]
        changed = ~stops & (new_tier != s["tier"][lanes])
        moved = lanes[changed]
        close(moved, date_t[moved], date_t[moved])
        s["tier"][moved] = new_tier[changed]
        open_paid(moved, t, date_t[moved], s["annual"][moved])
        # Trials end after one month: converted or lost for good.
        lanes = np.flatnonzero((s["status"] == 1) & (start_month < t))
        close(lanes, date_t[lanes], date_t[lanes])
        won = rng.random(lanes.size) < _sigmoid(p.trial_conversion[0] + p.trial_conversion[1] * s["h"][lanes])
        open_paid(lanes[won], t, date_t[lanes[won]], rng.random(won.sum()) < np.take(p.annual_share, s["tier"][lanes[won]]))
        s["status"][lanes[~won]], end[lanes[~won]] = 4, date_t[lanes[~won]]
        # Win-backs: a lapsed customer returns on a fresh monthly plan, health reset near its level.
        lanes = np.flatnonzero((s["status"] == 3) & (lapsed_month < t))
        back = lanes[rng.random(lanes.size) < p.winback_rate]
        s["h"][back] = s["mu"][back] + 0.3 * rng.standard_normal(back.size)
        s["tier"][back], s["tickets"][back] = rng.choice(3, back.size, p=p.tier_weights), 0
        open_paid(back, t, date_t[back], np.zeros(back.size, bool))
        # Signups: a trial first, or straight onto a paid plan.
        new = np.flatnonzero(signup_month == t)
        s["h"][new] = s["mu"][new] + 0.4 * rng.standard_normal(new.size)
        trial = rng.random(new.size) < p.trial_share
        s["status"][new[trial]], start_month[new[trial]] = 1, t
        sub_start[new[trial]], sub_mrr[new[trial]] = date_t[new[trial]], 0
        paid = new[~trial]
        open_paid(paid, t, date_t[paid], rng.random(paid.size) < np.take(p.annual_share, s["tier"][paid]))
        begin[back], begin[new] = date_t[back], date_t[new]
        # Behaviour during the days subscribed this month.
        active = np.flatnonzero(~np.isnat(begin))
        seconds = (end[active] - begin[active]).astype("timedelta64[s]").astype(float)
        exposure = seconds / ((first[t + 1] - first[t]).astype(int) * 86_400.0)
        counts = rng.poisson(_ticket_rate(s["h"][active], s["tier"][active], p) * exposure)
        s["tickets"][:] = 0
        s["tickets"][active] = np.where(np.isin(s["status"][active], (1, 2)), counts, 0)
        for rows, rate in ((tickets, counts), (events, None)):
            if rate is None:  # usage feeds nothing back: its own stream, so events=False changes no other row
                if event_rng is None:
                    continue
                rate = event_rng.poisson(EVENT_RATE[s["tier"][active]] * np.exp(0.7 * s["h"][active]) * exposure)
            who = np.repeat(np.arange(active.size), rate)
            draw = rng if rows is tickets else event_rng
            at = begin[active][who].astype("datetime64[s]") + (draw.random(who.size) * seconds[who]).astype("timedelta64[s]")
            rows.append((active[who], at, s["h"][active][who]))
        signed = signup_month <= t
        s["mu"][signed] += s["drift"][signed]
        s["h"][signed] = _next_health(s["h"][signed], s["mu"][signed], rng, p)
    states.append({key: value.copy() for key, value in s.items()})
    # Still open at the end; an annual plan that gave notice already knows its end (next anniversary).
    lanes = np.flatnonzero(np.isin(s["status"], (1, 2)))
    leaving = (s["status"][lanes] == 2) & s["annual"][lanes] & (s["notice"][lanes] == 1)
    renewal = s["anchor"][lanes] + -(-(months - s["anchor"][lanes]) // 12) * 12
    on_day = lambda month: (start + month).astype("datetime64[D]") + (day[lanes] - 1)  # noqa: E731
    close(lanes, np.where(leaving, on_day(renewal), np.datetime64("NaT")),
          np.where(leaving, on_day(renewal - p.notice_months), np.datetime64("NaT")))
    return states, subs, events, tickets, signup_month, day, industry, first


def _event_frame(chunks, rng) -> pd.DataFrame:
    lane, at, h = (np.concatenate(part) for part in zip(*chunks))
    mix = _sigmoid(2 * h)[:, None] * EVENT_MIX[0] + (1 - _sigmoid(2 * h))[:, None] * EVENT_MIX[1]
    kind = (rng.random(lane.size)[:, None] > mix.cumsum(axis=1)).sum(axis=1).clip(0, len(EVENT_TYPES) - 1)
    score = np.round(_sigmoid(0.3 + 1.1 * h + 0.35 * rng.standard_normal(lane.size)), 3)
    return pd.DataFrame({"lane": lane, "timestamp": at.astype("datetime64[us]"),
                         "event_type": np.asarray(EVENT_TYPES)[kind], "feature_adoption_score": score})


def _ticket_frame(chunks, rng) -> pd.DataFrame:
    lane, at, h = (np.concatenate(part) for part in zip(*chunks))
    urgent = rng.random(lane.size) < _sigmoid(-1.2 - 1.0 * h)
    level = np.where(urgent, 2 + (rng.random(lane.size) < 0.3), rng.random(lane.size) < 0.5).astype(int)
    resolve = (rng.exponential(36 * 3600, lane.size)).astype("timedelta64[s]")
    return pd.DataFrame({"lane": lane, "created_at": at.astype("datetime64[us]"),
                         "priority": np.asarray(PRIORITIES)[level],
                         "topic": np.asarray(TOPICS)[rng.integers(0, len(TOPICS), lane.size)],
                         "resolved_at": (at + resolve).astype("datetime64[us]")})


def export_tables(history, customers, events, tickets, data_end: dt.date) -> dict[str, pd.DataFrame | None]:
    """The tables as a billing and product system would export them on ``data_end`` (suite vocabulary)."""
    end = np.datetime64(data_end, "D")
    subs = history[history["start_date"] <= data_end].copy()
    # An end date after the data end is known only for a scheduled cancellation.
    subs.loc[~(subs["known_from"] <= data_end), "end_date"] = None
    subs = subs.drop(columns="known_from").reset_index(drop=True)
    latest = subs.sort_values(["start_date", "subscription_id"]).groupby("customer_id")["plan_tier"].last()
    # customers.mrr and churn_date as the suite's rule reads them on the data end (customer_state.sql):
    # churn_date is null while any subscription is active, even a trial at MRR 0.
    on_end = (subs["start_date"] <= data_end) & (subs["end_date"].isna() | (subs["end_date"] > data_end))
    active_mrr = _paying_on(subs, data_end)
    last_end = subs.dropna(subset=["end_date"]).groupby("customer_id")["end_date"].max()
    customers = customers[customers["signup_date"] <= data_end].copy()
    customers["plan_tier"] = customers["customer_id"].map(latest)
    customers["mrr"] = customers["customer_id"].map(active_mrr).fillna(0.0).round(2)
    customers["churn_date"] = np.where(customers["customer_id"].isin(subs.loc[on_end, "customer_id"]), None,
                                       customers["customer_id"].map(last_end))
    if events is not None:
        events = events[events["timestamp"] < end + 1].reset_index(drop=True)
    if tickets is not None:
        tickets = tickets[tickets["created_at"] < end + 1].reset_index(drop=True)
        tickets["resolved_at"] = tickets["resolved_at"].where(tickets["resolved_at"] < end + 1)
    return {"customers": customers.reset_index(drop=True), "subscriptions": subs, "events": events, "tickets": tickets}


def simulate_company(n_customers: int, months: int, start: str | dt.date = "2022-01-01", seed: int = 0, *,
                     data_end: dt.date | None = None, events: bool = True, tickets: bool = True,
                     vocabulary: str = "suite", params: Params | None = None) -> SimulatedCompany:
    """Simulate ``months`` calendar months of a company from ``start`` (a month's first day), seeded.

    The exports hold what was observable on ``data_end`` (default: the last simulated
    day); the history, and so ``realized_at``, runs to the end of the simulation.
    """
    if vocabulary not in ("suite", "export"):
        raise ValueError(f"vocabulary must be 'suite' or 'export', got {vocabulary!r}")
    # Separate streams for what feeds nothing back (usage events, ticket details, spellings):
    # leaving events or tickets out, or spelling them otherwise, changes no other row.
    p, rng = params or Params(), np.random.default_rng(seed)
    event_rng, ticket_rng, spelling_rng = (np.random.default_rng([seed, stream]) for stream in (1, 2, 3))
    first_month = np.datetime64(pd.Timestamp(start).date(), "M")
    states, subs, event_chunks, ticket_chunks, signup_month, day, industry, first = _simulate(
        n_customers, months, first_month, rng, p, event_rng if events else None)
    history_end = (first[-1] - np.timedelta64(1, "D")).astype(object)
    data_end = pd.Timestamp(data_end).date() if data_end is not None else history_end
    if not first[0].astype(object) <= data_end <= history_end:
        raise ValueError(f"data_end {data_end} is outside the simulated {first[0]}..{history_end}")
    width = len(str(n_customers))
    lane_ids = np.array([f"C{lane + 1:0{width}d}" for lane in range(n_customers)])
    lane, tier, annual, begin, end, cents, known = (np.concatenate(part) for part in zip(*subs))
    order = np.lexsort((lane, begin))
    history = pd.DataFrame({
        "subscription_id": [f"S{i + 1:07d}" for i in range(lane.size)], "customer_id": lane_ids[lane[order]],
        "plan_tier": np.asarray(TIERS + ("free",))[tier[order]], "start_date": as_dates(begin[order]),
        "end_date": as_dates(end[order]), "mrr": cents[order] / 100.0,
        "billing_interval": np.where(annual[order] & (tier[order] >= 0), "year", "month"),
        "known_from": as_dates(known[order])})
    signup = first[signup_month] + (day - 1)
    customers = pd.DataFrame({"customer_id": lane_ids, "industry": np.asarray(INDUSTRIES)[industry],
                              "plan_tier": "", "signup_date": as_dates(signup), "mrr": 0.0, "churn_date": None})
    event_frame = ticket_frame = None
    if events:
        event_frame = _event_frame(event_chunks, event_rng).sort_values("timestamp", kind="stable", ignore_index=True)
        event_frame.insert(0, "customer_id", lane_ids[event_frame.pop("lane")])
        event_frame.insert(0, "event_id", [f"E{i + 1:08d}" for i in range(len(event_frame))])
    if tickets:
        ticket_frame = _ticket_frame(ticket_chunks, ticket_rng).sort_values("created_at", kind="stable", ignore_index=True)
        ticket_frame.insert(0, "customer_id", lane_ids[ticket_frame.pop("lane")])
        ticket_frame.insert(0, "ticket_id", [f"T{i + 1:07d}" for i in range(len(ticket_frame))])
    frames = export_tables(history, customers, event_frame, ticket_frame, data_end)
    if vocabulary == "export":
        frames = to_export_vocabulary(frames, spelling_rng)
    return SimulatedCompany(
        **frames, data_end=data_end, history=history.drop(columns="known_from"), history_end=history_end,
        vocabulary_yaml=vocabulary_yaml() if vocabulary == "export" else None, seed=seed, params=p,
        start=first_month, states=states, lane_ids=lane_ids, renewal_day=day)
