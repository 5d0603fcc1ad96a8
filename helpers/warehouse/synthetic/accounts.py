"""The account simulation of the synthetic generator: calendar, monthly decisions, plan changes, tickets.

All accounts advance together month by month as numpy arrays; nothing here
reads a later month than the one being simulated.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from helpers.domain import (
    TICKET_TOPICS,
)
from helpers.warehouse.synthetic import settings


@dataclass(frozen=True)
class Calendar:
    """Simulated months as day numbers (days since 1970-01-01), clipped to [start, end]."""

    window_lo: np.ndarray  # first day of each month's window
    window_hi: np.ndarray  # exclusive last day of each month's window
    month_of_year: np.ndarray  # 1..12
    end_exclusive: int  # the day after `end`

    @property
    def n_months(self) -> int:
        return len(self.window_lo)

    @classmethod
    def build(cls, start: dt.date, end: dt.date) -> "Calendar":
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


class Accounts:
    """Pass one: every account's state as arrays, advanced one month at a time.

    After the last month: ``status``, ``tier``, ``mrr``, ``churn_day`` describe
    each account at `end`; ``subscriptions()`` gives the history;
    ``tickets_by_month`` and ``activity_by_month`` hold per-month records.
    """

    def __init__(self, rng: np.random.Generator, calendar: Calendar, n: int) -> None:
        self.rng, self.cal, self.n = rng, calendar, n
        months = calendar.n_months
        # Signups spread over the whole window, growing over time; ids follow signup order.
        growth = np.exp(settings.ACQUISITION_GROWTH_PER_YEAR * np.arange(months) / 12)
        season = 1 + settings.ACQUISITION_SEASONALITY * np.cos(2 * np.pi * (calendar.month_of_year - 2) / 12)
        weight = (calendar.window_hi - calendar.window_lo) * growth * season
        self.signup_month = np.repeat(np.arange(months), rng.multinomial(n, weight / weight.sum()))
        days_in_window = (calendar.window_hi - calendar.window_lo)[self.signup_month]
        self.signup_day = np.sort(calendar.window_lo[self.signup_month]
                                  + (rng.random(n) * days_in_window).astype(np.int64))
        self.industry = rng.choice(len(settings.INDUSTRIES), n, p=weights(settings.INDUSTRY_MIX, settings.INDUSTRIES, normalise=True))
        self.tier = rng.choice(len(settings.TIERS), n, p=weights(settings.SIGNUP_TIER_MIX, settings.TIERS, normalise=True))
        self.first_mrr = _sample_mrr(rng, self.tier)
        self.mean_health = (weights(settings.HEALTH_TIER_OFFSET, settings.TIERS)[self.tier]
                            + weights(settings.HEALTH_INDUSTRY_OFFSET, settings.INDUSTRIES)[self.industry]
                            + settings.HEALTH_MEAN_SD * rng.standard_normal(n))

        self.status = np.full(n, settings.NOT_SIGNED_UP, np.int8)
        self.mrr = np.zeros(n)
        self.health = np.zeros(n)
        self.health_lag = np.zeros((3, n))  # health of the three months before, [0] = latest
        self.tickets_lag = np.zeros((3, n), np.int32)  # tickets of the last three months
        self.urgent_lag = np.zeros((3, n), np.int32)  # of which high or critical
        self.exploring = np.zeros(n, bool)  # evaluating premium features (precedes expansions)
        self.sub_start = np.zeros(n, np.int64)  # start day of the open subscription
        self.active_since = np.zeros(n, np.int64)  # day of the latest (re)activation
        self.active_month = np.zeros(n, np.int64)  # month of that day
        self.churn_day = np.full(n, settings.NONE, np.int64)
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
        """All subscription rows: closed ones plus those still open (end = settings.NONE)."""
        open_ = np.flatnonzero(self.status == settings.ACTIVE)
        still_open = self._subscription_rows(open_, np.full(len(open_), settings.NONE, np.int64))
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
        tenure_months = (lo - self.active_since[who]) / settings.DAYS_PER_MONTH
        annual = np.isin(tier, settings.ANNUAL_CONTRACT_TIERS)
        return (weights(settings.CHURN_BASE_LOGIT, settings.TIERS)[tier] - settings.CHURN_HEALTH * h
                + settings.CHURN_DECLINE * np.clip(self.health_lag[2, who] - h, 0, None)
                + settings.CHURN_EARLY * np.exp(-tenure_months / settings.CHURN_EARLY_MONTHS)
                + settings.CHURN_TICKETS * np.log1p(self.tickets_lag[:, who].sum(axis=0))
                + settings.CHURN_URGENT_TICKET * (self.urgent_lag[:, who].sum(axis=0) > 0)
                + settings.CHURN_AFTER_CONTRACTION * (t - self.contracted_month[who] <= 3)
                + np.where(self._at_renewal(who, t), settings.RENEWAL_MONTH_LOGIT,
                           np.where(annual, settings.OFF_RENEWAL_LOGIT, 0.0)))

    def _at_renewal(self, who: np.ndarray, t: int) -> np.ndarray:
        """Annual-contract accounts whose yearly renewal falls in month t."""
        months_in = t - self.active_month[who]
        return np.isin(self.tier[who], settings.ANNUAL_CONTRACT_TIERS) & (months_in > 0) & (months_in % 12 == 0)

    def _decide(self, t: int, lo: int, hi: int) -> None:
        """Leave / contract / grow decisions of accounts active since before month t."""
        current = np.flatnonzero(self.status == settings.ACTIVE)
        if len(current) == 0:
            return
        rng = self.rng
        h = self.health[current]
        paid = self.tier[current] != settings.FREE
        undecided = self.leave_month[current] < 0  # accounts serving notice make no other move
        p_leave = undecided * _sigmoid(np.where(paid, self._churn_logit(current, t, lo),
                                                settings.FREE_LEAVE_LOGIT - settings.FREE_LEAVE_HEALTH * h))
        p_contract = (undecided * paid * _sigmoid(settings.CONTRACT_LOGIT - settings.CONTRACT_HEALTH * h)
                      * np.where(self._at_renewal(current, t), settings.RENEWAL_CONTRACT_FACTOR, 1.0))
        exploring = self.exploring[current]
        p_grow = undecided * np.where(paid, settings.EXPAND_FROM_EXPLORE_RATE * exploring,
                                      np.where(exploring, settings.FREE_CONVERT_FROM_EXPLORE_RATE, settings.FREE_CONVERT_BASE_RATE))
        u = rng.random(len(current))
        decides = u < p_leave
        contracts = ~decides & (u < p_leave + p_contract)
        grows = ~decides & ~contracts & (u < p_leave + p_contract + p_grow)
        notice = rng.choice(len(settings.NOTICE_MONTHS_SHARE), len(current), p=settings.NOTICE_MONTHS_SHARE)
        self.leave_month[current[decides]] = t + notice[decides]
        self.exploring[current[decides]] = False

        who = current[self.leave_month[current] == t]
        day = _change_days(rng, len(who), lo, hi)
        self._close(who, day)
        self.status[who] = settings.CHURNED
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
        self.status[who] = settings.ACTIVE
        self.sub_start[who], self.active_since[who], self.active_month[who] = day, day, t

    def _reactivate(self, t: int, lo: int, hi: int) -> None:
        """Churned accounts returning on their last tier, more likely soon after leaving."""
        away = np.flatnonzero((self.status == settings.CHURNED) & (self.reactivate_from <= t))
        p_back = (settings.REACTIVATE_RATE * np.exp(-(t - self.churn_month[away]) / settings.REACTIVATE_DECAY_MONTHS)
                  * np.exp(settings.REACTIVATE_HEALTH * self.health[away]))
        who = away[self.rng.random(len(away)) < p_back]
        self._activate(who, _change_days(self.rng, len(who), lo, hi), t)
        self.mrr[who] = _sample_mrr(self.rng, self.tier[who])
        self.health[who] = self.mean_health[who] + settings.REACTIVATION_HEALTH_BOOST
        self.health_lag[:, who] = self.health[who]
        self.tickets_lag[:, who] = 0
        self.urgent_lag[:, who] = 0

    def _sign_up(self, t: int) -> None:
        new = np.flatnonzero(self.signup_month == t)
        self._activate(new, self.signup_day[new], t)
        self.mrr[new] = self.first_mrr[new]
        stationary_sd = settings.HEALTH_NOISE_SD / math.sqrt(1 - settings.HEALTH_PERSISTENCE**2)
        self.health[new] = self.mean_health[new] + stationary_sd * self.rng.standard_normal(len(new))
        self.health_lag[:, new] = self.health[new]

    def _step_health(self, t: int) -> None:
        """AR(1) step with shocks for accounts signed up before month t (churned too: they may return)."""
        old = np.flatnonzero((self.status != settings.NOT_SIGNED_UP) & (self.signup_month < t))
        rng = self.rng
        shock = rng.random(len(old)) < settings.HEALTH_SHOCK_RATE
        sign = np.where(rng.random(len(old)) < settings.HEALTH_SHOCK_NEGATIVE_SHARE, -1.0, 1.0)
        jump = shock * sign * settings.HEALTH_SHOCK_SIZE * (0.5 + rng.random(len(old)))
        self.mean_health[old] += settings.HEALTH_SHOCK_MEAN_SHIFT * jump
        self.health_lag[:, old] = np.roll(self.health_lag[:, old], 1, axis=0)
        self.health_lag[0, old] = self.health[old]
        mean = self.mean_health[old]
        self.health[old] = (mean + settings.HEALTH_PERSISTENCE * (self.health[old] - mean)
                            + settings.HEALTH_NOISE_SD * rng.standard_normal(len(old)) + jump)

    def _step_exploring(self) -> None:
        """Healthy accounts start trialling premium features; some give up."""
        active = np.flatnonzero((self.status == settings.ACTIVE) & (self.leave_month < 0))
        p_enter = _sigmoid(settings.EXPLORE_ENTER_LOGIT + settings.EXPLORE_ENTER_HEALTH * self.health[active])
        enter = self.rng.random(len(active)) < p_enter
        give_up = self.rng.random(len(active)) < settings.EXPLORE_EXIT_RATE
        self.exploring[active] = np.where(self.exploring[active], ~give_up, enter)

    def _record_activity(self, t: int, lo: int) -> None:
        """Month t's activity windows (churned this month: until the churn day) and tickets."""
        busy = np.flatnonzero((self.status == settings.ACTIVE) | ((self.churn_month == t) & (self.ends_on > lo)))
        first = np.maximum(lo, self.active_since[busy])
        days = self.ends_on[busy] - first
        tenure = (first - self.active_since[busy]) / settings.DAYS_PER_MONTH
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
            "volume": weights(settings.TIER_USAGE, settings.TIERS)[tier] * days
            * np.exp(settings.USAGE_HEALTH * h - settings.USAGE_RAMP * np.exp(-tenure / 2.0) - settings.WIND_DOWN_USAGE * winding_down),
            "adoption": _sigmoid(settings.ADOPTION_BASE + settings.ADOPTION_HEALTH * h + weights(settings.ADOPTION_TIER, settings.TIERS)[tier]
                                 - settings.ADOPTION_RAMP * np.exp(-tenure / 4.0) - settings.WIND_DOWN_ADOPTION * winding_down),
        }
        self.activity_by_month.append(activity)
        tickets = _simulate_tickets(self.rng, activity, self.cal.end_exclusive)
        self.tickets_by_month.append(tickets)
        urgent = np.isin(tickets["priority"], [settings.PRIORITIES.index(p) for p in settings.URGENT_PRIORITIES])
        for lag, rows in ((self.tickets_lag, tickets["customer"]), (self.urgent_lag, tickets["customer"][urgent])):
            lag[:, busy] = np.roll(lag[:, busy], 1, axis=0)
            lag[0, busy] = np.bincount(rows, minlength=self.n)[busy]


def weights(table: dict, members: tuple, normalise: bool = False) -> np.ndarray:
    """Values of ``table`` in the order of ``members`` (0 when absent)."""
    values = np.array([table.get(m, 0.0) for m in members], dtype=np.float64)
    return values / values.sum() if normalise else values


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _sample_mrr(rng: np.random.Generator, tiers: np.ndarray) -> np.ndarray:
    """List MRR of new subscriptions of the given tiers (0 for free), in cents."""
    median, sigma, low, high = (np.array([settings.TIER_PRICE[t][k] for t in settings.TIERS])[tiers] for k in range(4))
    price = median * np.exp(sigma * rng.standard_normal(len(tiers)))
    return np.round(np.clip(price, low, high), 2)


def _change_days(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    """Effective days of n plan changes in the month window [lo, hi): mostly the 1st."""
    span = min(hi - lo, settings.LAST_MID_MONTH_DAY)
    days = np.full(n, lo, dtype=np.int64)
    if span > 1:
        mid = rng.random(n) >= settings.SHARE_CHANGES_ON_FIRST
        days[mid] += 1 + (rng.random(mid.sum()) * (span - 1)).astype(np.int64)
    return days


def _plan_changes(rng: np.random.Generator, tiers: np.ndarray, mrr: np.ndarray, grows: np.ndarray):
    """New (tier, mrr) after expansions or conversions (``grows``) and contractions (the rest)."""
    n = len(tiers)
    low, high = (np.array([settings.TIER_PRICE[t][k] for t in settings.TIERS]) for k in (2, 3))
    new_tier, new_mrr = tiers.copy(), mrr.copy()
    u = rng.random(n)
    convert = grows & (tiers == settings.FREE)
    new_tier[convert] = np.where(u[convert] < settings.FREE_CONVERT_GROWTH_SHARE, settings.GROWTH, settings.STARTER)
    # Expansions: more seats, or the next tier (also when seats outgrow the tier).
    expand = grows & (tiers != settings.FREE)
    seats = mrr * rng.uniform(*settings.SEAT_EXPANSION, n)
    upgrade = expand & (tiers < settings.CUSTOM) & ((u < settings.UPGRADE_SHARE) | (seats > high[tiers]))
    new_tier[upgrade] += 1
    new_mrr[expand] = seats[expand]
    # Contractions: fewer seats (not below the tier's floor), or the previous paid tier.
    shrink = ~grows
    downgrade = shrink & (tiers > settings.STARTER) & (u < settings.DOWNGRADE_SHARE)
    new_tier[downgrade] -= 1
    seat_cut = shrink & ~downgrade
    floor = np.minimum(low[tiers], mrr)
    new_mrr[seat_cut] = np.maximum(mrr * rng.uniform(*settings.SEAT_CONTRACTION, n), floor)[seat_cut]
    # A tier move takes that tier's price, but never moves MRR the wrong way.
    priced = _sample_mrr(rng, new_tier)
    new_mrr[upgrade] = np.maximum(priced, settings.UPGRADE_MIN_RATIO * mrr)[upgrade]
    new_mrr[convert] = priced[convert]
    new_mrr[downgrade] = np.minimum(priced, settings.SEAT_CONTRACTION[1] * mrr)[downgrade]
    return new_tier, np.round(new_mrr, 2)


def _categorical(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """One draw per row from softmax(row)."""
    cumulative = np.cumsum(np.exp(logits - logits.max(axis=1, keepdims=True)), axis=1)
    u = rng.random(len(logits)) * cumulative[:, -1]
    return (u[:, None] >= cumulative).sum(axis=1).clip(max=logits.shape[1] - 1)


def times_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight: office hours mostly, some at any hour."""
    hours = rng.normal(settings.WORKDAY_PEAK_HOUR, settings.WORKDAY_HOUR_SD, n)
    anytime = rng.random(n) < settings.OFF_HOURS_SHARE
    hours[anytime] = 24 * rng.random(anytime.sum())
    return (np.clip(hours, 0, 23.9997) * 3600).astype(np.int64)


def _simulate_tickets(rng: np.random.Generator, activity: dict, end_exclusive: int) -> dict[str, np.ndarray]:
    """A month's support tickets: more, and more urgent, as health falls."""
    h, tenure, tier = activity["health"], activity["tenure"], activity["tier"]
    rate = (weights(settings.TICKET_RATE, settings.TIERS)[tier] * np.exp(-settings.TICKET_HEALTH * h)
            * (1 + settings.TICKET_ONBOARDING * np.exp(-tenure / 2.0)) * activity["days"] / settings.DAYS_PER_MONTH)
    row = np.repeat(np.arange(len(h)), rng.poisson(rate))
    day = activity["first_day"][row] + (rng.random(len(row)) * activity["days"][row]).astype(np.int64)
    created = day * settings.SECONDS_PER_DAY + times_of_day(rng, len(row))
    unhealthy = np.clip(-h[row], 0, None)[:, None]
    large = np.isin(tier[row], settings.ANNUAL_CONTRACT_TIERS)[:, None]
    priority = _categorical(rng, np.log(weights(settings.PRIORITY_BASE_SHARE, settings.PRIORITIES))
                            + unhealthy * weights(settings.PRIORITY_UNHEALTHY_LOGIT, settings.PRIORITIES)
                            + large * weights(settings.PRIORITY_LARGE_ACCOUNT_LOGIT, settings.PRIORITIES))
    early = np.exp(-tenure[row] / 2.0)[:, None]
    topic = _categorical(rng, np.log(weights(settings.TOPIC_BASE_SHARE, TICKET_TOPICS))
                         + unhealthy * weights(settings.TOPIC_UNHEALTHY_LOGIT, TICKET_TOPICS)
                         + early * weights(settings.TOPIC_EARLY_LOGIT, TICKET_TOPICS)
                         + activity["exploring"][row][:, None] * weights(settings.TOPIC_EXPLORE_LOGIT, TICKET_TOPICS))
    hours = weights(settings.RESOLUTION_MEDIAN_HOURS, settings.PRIORITIES)[priority] * np.exp(
        settings.RESOLUTION_SIGMA * rng.standard_normal(len(row)))
    resolved = created + (hours * 3600).astype(np.int64)
    resolved[resolved >= end_exclusive * settings.SECONDS_PER_DAY] = settings.NONE  # still open when the data ends
    order = np.argsort(created, kind="stable")
    return {"customer": activity["customer"][row][order], "created": created[order],
            "priority": priority[order], "topic": topic[order], "resolved": resolved[order]}
