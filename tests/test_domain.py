"""Vocabularies (exactly as README lists them), value objects and entities."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from helpers.domain import (
    MRR,
    Customer,
    EventType,
    FeatureAdoptionScore,
    Industry,
    PlanTier,
    TicketPriority,
    UsageEvent,
)


def test_vocabularies_hold_exactly_the_documented_values():
    assert Industry.values() == ["FinTech", "HealthTech", "LegalTech", "HR Tech", "EdTech",
                                 "InsurTech", "PropTech", "RetailTech", "Other"]
    assert PlanTier.values() == ["free", "starter", "growth", "enterprise", "custom"]
    assert EventType.values() == ["evidence_upload", "monitoring_run", "report_view", "user_invite",
                                  "integration_connect", "api_call", "premium_feature_trial", "feature_limit_hit"]
    assert TicketPriority.values() == ["low", "medium", "high", "critical"]


def test_parse_names_the_allowed_values():
    assert PlanTier.parse("growth") is PlanTier.GROWTH
    with pytest.raises(ValueError, match="allowed values: free, starter"):
        PlanTier.parse("Growth")


@pytest.mark.parametrize("amount", [-0.01, "abc", float("nan"), float("inf")])
def test_mrr_rejects_negative_and_non_numbers(amount):
    with pytest.raises(ValueError, match="MRR"):
        MRR(amount)


def test_mrr_is_an_exact_decimal_with_cents():
    assert MRR(99.9).amount == Decimal("99.90")
    assert MRR(Decimal("0")).amount == Decimal("0.00")


@pytest.mark.parametrize("value", [-0.1, 1.01, float("nan")])
def test_adoption_score_must_lie_in_the_unit_interval(value):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        FeatureAdoptionScore(value)


def test_customer_validates_its_fields():
    customer = Customer("C1", "HR Tech", "custom", dt.date(2024, 1, 1), 12000, None)
    assert customer.industry is Industry.HR_TECH
    assert customer.mrr == MRR(Decimal("12000"))
    assert customer.is_active
    with pytest.raises(ValueError, match="before signup_date"):
        Customer("C1", "Other", "free", dt.date(2024, 1, 1), 0, dt.date(2023, 12, 31))
    with pytest.raises(ValueError, match="Industry"):
        Customer("C1", "Crypto", "free", dt.date(2024, 1, 1), 0)
    with pytest.raises(ValueError, match="customer_id"):
        Customer("", "Other", "free", dt.date(2024, 1, 1), 0)


def test_usage_event_validates_its_type_and_score():
    event = UsageEvent("E1", "C1", dt.datetime(2024, 1, 1, 9), "api_call", 0.3)
    assert event.event_type is EventType.API_CALL
    assert event.feature_adoption_score.value == 0.3
    with pytest.raises(ValueError, match="EventType"):
        UsageEvent("E1", "C1", dt.datetime(2024, 1, 1), "login", 0.3)
    with pytest.raises(ValueError, match="datetime"):
        UsageEvent("E1", "C1", "2024-01-01", "api_call", 0.3)
