"""Settings of the synthetic generator: sizes, dates, prices, health, hazards, usage and ticket rates.

Every number that shapes the default dataset lives here, named, so a change
of behaviour is a change of one value. Vocabulary members always come from
``helpers.domain``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

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


# Vocabularies as array positions; the values written always come from helpers.domain.
TIERS: tuple[PlanTier, ...] = tuple(PlanTier)
INDUSTRIES: tuple[Industry, ...] = tuple(Industry)
EVENT_TYPES: tuple[EventType, ...] = tuple(EventType)
PRIORITIES: tuple[TicketPriority, ...] = tuple(TicketPriority)
FREE, STARTER, GROWTH, ENTERPRISE, CUSTOM = (
    TIERS.index(t) for t in (PlanTier.FREE, PlanTier.STARTER, PlanTier.GROWTH, PlanTier.ENTERPRISE, PlanTier.CUSTOM)
)
if (FREE, STARTER, GROWTH, ENTERPRISE, CUSTOM) != tuple(range(len(TIERS))):
    raise ImportError("helpers.warehouse.synthetic moves plans one tier position up or down: PlanTier must be ordered by price")

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
    raise ImportError("helpers.warehouse.synthetic topic weights must name exactly helpers.domain.TICKET_TOPICS")

# --- Calendar and output ---
DAYS_PER_MONTH = 30.44
SECONDS_PER_DAY = 86_400
WORKDAY_PEAK_HOUR = 13.5  # activity clusters in office hours
WORKDAY_HOUR_SD = 2.8
OFF_HOURS_SHARE = 0.12  # at any hour: automation, other time zones
WRITE_CHUNK_ROWS = 250_000

NOT_SIGNED_UP, ACTIVE, CHURNED = 0, 1, 2
NONE = np.iinfo(np.int64).min  # a missing day or second: numpy reads it as NaT
