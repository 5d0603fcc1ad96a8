"""Vocabularies, value objects and entities of the churn domain.

This module is the one source of truth for every vocabulary: the generator,
the warehouse's data tests, ingestion and the model encoders all read the
values from here (the seed system's generator emitted event types its enum
did not know; that cannot happen when both read the same list).

Entities are for single-record access (repositories); bulk work stays in SQL
and DataFrames.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum


class Vocabulary(str, Enum):
    """A closed list of string values; ``values()`` gives them in order."""

    @classmethod
    def values(cls) -> list[str]:
        """All allowed values, in declaration order."""
        return [member.value for member in cls]

    @classmethod
    def parse(cls, value: str) -> "Vocabulary":
        """Return the member for ``value`` or raise ValueError listing the allowed ones."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a valid {cls.__name__}; allowed values: {', '.join(cls.values())}"
            ) from None


class Industry(Vocabulary):
    FINTECH = "FinTech"
    HEALTHTECH = "HealthTech"
    LEGALTECH = "LegalTech"
    HR_TECH = "HR Tech"
    EDTECH = "EdTech"
    INSURTECH = "InsurTech"
    PROPTECH = "PropTech"
    RETAILTECH = "RetailTech"
    OTHER = "Other"


class PlanTier(Vocabulary):
    FREE = "free"
    STARTER = "starter"
    GROWTH = "growth"
    ENTERPRISE = "enterprise"
    CUSTOM = "custom"


class EventType(Vocabulary):
    EVIDENCE_UPLOAD = "evidence_upload"
    MONITORING_RUN = "monitoring_run"
    REPORT_VIEW = "report_view"
    USER_INVITE = "user_invite"
    INTEGRATION_CONNECT = "integration_connect"
    API_CALL = "api_call"
    PREMIUM_FEATURE_TRIAL = "premium_feature_trial"
    FEATURE_LIMIT_HIT = "feature_limit_hit"


class BillingInterval(Vocabulary):
    """How often a subscription is billed; an annual plan can only end at a renewal."""

    MONTH = "month"
    YEAR = "year"


class TicketPriority(Vocabulary):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


# Topics the synthetic generator uses. Ingested tickets may carry any topic:
# it is free text in the warehouse, not a closed vocabulary.
TICKET_TOPICS: tuple[str, ...] = (
    "billing",
    "bug",
    "onboarding",
    "integration",
    "performance",
    "feature_request",
    "account",
)

# Events that signal an account has woven the product into its work; the
# features and the generator both use this list.
RETENTION_SIGNAL_EVENTS: tuple[EventType, ...] = (
    EventType.INTEGRATION_CONNECT,
    EventType.API_CALL,
    EventType.MONITORING_RUN,
)


@dataclass(frozen=True)
class MRR:
    """Monthly recurring revenue: a non-negative exact amount (2 decimals)."""

    amount: Decimal

    def __post_init__(self) -> None:
        try:
            amount = Decimal(str(self.amount)) if not isinstance(self.amount, Decimal) else self.amount
        except (InvalidOperation, ValueError):
            raise ValueError(f"MRR amount {self.amount!r} is not a number") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"MRR amount must be a finite number >= 0, got {self.amount!r}")
        object.__setattr__(self, "amount", amount.quantize(Decimal("0.01")))


@dataclass(frozen=True)
class FeatureAdoptionScore:
    """Share of the product an account uses, in [0, 1]."""

    value: float

    def __post_init__(self) -> None:
        value = float(self.value)
        if math.isnan(value) or not 0.0 <= value <= 1.0:
            raise ValueError(f"feature adoption score must be in [0, 1], got {self.value!r}")
        object.__setattr__(self, "value", value)


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")


def _as_date(name: str, value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise ValueError(f"{name} must be a date, got {value!r}")


@dataclass(frozen=True)
class Customer:
    """A customer account with its current plan and MRR."""

    customer_id: str
    industry: Industry
    plan_tier: PlanTier
    signup_date: dt.date
    mrr: MRR
    churn_date: dt.date | None = None

    def __post_init__(self) -> None:
        _require_text("customer_id", self.customer_id)
        object.__setattr__(self, "industry", Industry.parse(self.industry))
        object.__setattr__(self, "plan_tier", PlanTier.parse(self.plan_tier))
        object.__setattr__(self, "signup_date", _as_date("signup_date", self.signup_date))
        if not isinstance(self.mrr, MRR):
            object.__setattr__(self, "mrr", MRR(self.mrr))
        if self.churn_date is not None:
            churn_date = _as_date("churn_date", self.churn_date)
            if churn_date < self.signup_date:
                raise ValueError(
                    f"customer {self.customer_id}: churn_date {churn_date} is before signup_date {self.signup_date}"
                )
            object.__setattr__(self, "churn_date", churn_date)

    @property
    def is_active(self) -> bool:
        """True while the customer has not churned."""
        return self.churn_date is None


@dataclass(frozen=True)
class UsageEvent:
    """One product usage event of a customer."""

    event_id: str
    customer_id: str
    timestamp: dt.datetime
    event_type: EventType
    feature_adoption_score: FeatureAdoptionScore

    def __post_init__(self) -> None:
        _require_text("event_id", self.event_id)
        _require_text("customer_id", self.customer_id)
        if not isinstance(self.timestamp, dt.datetime):
            raise ValueError(f"timestamp must be a datetime, got {self.timestamp!r}")
        object.__setattr__(self, "event_type", EventType.parse(self.event_type))
        if not isinstance(self.feature_adoption_score, FeatureAdoptionScore):
            object.__setattr__(
                self, "feature_adoption_score", FeatureAdoptionScore(self.feature_adoption_score)
            )
