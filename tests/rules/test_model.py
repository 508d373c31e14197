"""Parsing rules: what the grammar accepts, and errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from oncall.rules import RuleError, parse
from oncall.rules.model import BurnRateCondition, Comparison, CountCondition, ValueCondition
from oncall.rules.templates import check, render


def rule(**fields: Any) -> dict[str, Any]:
    return {"rule": "r", "match": {"type": "charge_failure"}, **fields}


def test_a_value_rule_compares_the_alerts_value() -> None:
    r = parse(rule(when={"value": "> 0.0144"}))
    assert r.when == ValueCondition(Comparison(">", 0.0144))
    assert not r.windowed and r.when.compare.holds(0.02) and not r.when.compare.holds(0.0144)


def test_a_count_rule_has_a_window_and_groups() -> None:
    r = parse(rule(when={"count": ">= 10", "within": "5m", "per": ["merchant_id"]}))
    assert r.when == CountCondition(Comparison(">=", 10), 300)
    assert r.per == ("merchant_id",) and r.windowed and r.hold_down == 300
    assert r.group_of({"merchant_id": "acme", "x": 1}) == ("acme",)
    assert r.group_of({}) == ("",)  # a missing label is a group of its own, never dropped
    assert r.default_dedup_key(("acme",)) == "rule:r:merchant_id=acme"


def test_a_bare_number_count_means_at_least() -> None:
    assert parse(rule(when={"count": 3, "within": 60})).when == CountCondition(
        Comparison(">=", 3), 60)


def test_a_burn_rate_rule_has_two_windows() -> None:
    r = parse(rule(when={"burn_rate": {"slo": 99.9, "long": "1h", "short": "5m",
                                       "factor": 14.4, "min_events": 100}}, hold_down="10m"))
    assert r.when == BurnRateCondition(99.9, 3600, 300, 14.4, 100)
    assert r.when.budget == pytest.approx(0.001) and r.hold_down == 600


@pytest.mark.parametrize(("fields", "where"), [
    ({"when": {"count": "< 5", "within": "5m"}}, "when.count"),
    ({"when": {"count": ">= 10"}}, "when.within"),
    ({"when": {"value": "> 1", "count": 3, "within": "1m"}}, "when"),
    ({"when": {"value": "> 1", "per": ["a"]}}, "when"),
    ({"when": {"value": "about 5"}}, "when.value"),
    ({"when": {"burn_rate": {"slo": 99.9, "long": "5m", "short": "1h", "factor": 2}}},
     "when.burn_rate.short"),
    ({"summary": "{count failures"}, "summary"),
    ({"dedup_key": "{labels.merchant}"}, "dedup_key"),
    ({"hold_down": "10m"}, "hold_down"),
    ({"severity": "urgent"}, "severity"),
    ({"match": {}, "when": {"count": 2, "within": "1m"}}, "match.type"),
])
def test_a_rule_that_cannot_work_is_refused_naming_the_field(fields: dict[str, Any],
                                                             where: str) -> None:
    with pytest.raises(RuleError) as err:
        parse(rule(**fields))
    assert err.value.field == where


def test_matching_needs_every_key_given_and_any_listed_value() -> None:
    r = parse({"rule": "r", "match": {"type": ["a", "b"], "service": "billing-api",
                                      "labels": {"region": ["eu", "us"], "tier": 1}}})
    assert r.match("b", "billing-api", {"region": "eu", "tier": "1"})
    assert r.match("a", "billing-api", {"region": "us", "tier": 1})
    assert not r.match("c", "billing-api", {"region": "eu", "tier": 1})
    assert not r.match("a", "billing-cron", {"region": "eu", "tier": 1})
    assert not r.match("a", "billing-api", {"region": "ap", "tier": 1})
    assert not r.match("a", "billing-api", {"region": "eu"})
    assert parse({"rule": "all"}).match("anything", None, {})


def test_templates_fill_labels_and_keep_unknown_names_visible() -> None:
    assert check("{count} for {merchant_id}") == ["count", "merchant_id"]
    text = render("{count} failures for {merchant_id} ({region})",
                  {"count": 12, "merchant_id": "acme"})
    assert text == "12 failures for acme ({region})"
    assert render("{value:.1%}", {"value": 0.0213}) == "2.1%"
    assert render("{value:.1%}", {"value": "n/a"}) == "n/a"  # a spec that does not fit
    assert render("{{literal}} {x}", {"x": 1}) == "{literal} 1"
