"""Windowed conditions across their edges, with time passed in explicitly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oncall.rules import parse
from oncall.rules.evaluate import (
    Sample,
    dedup_key_for,
    first_match,
    observe,
    observe_all,
    template_values,
    traffic,
    value_holds,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SPIKE = parse({"rule": "spike", "match": {"type": "charge_failure"},
               "when": {"count": ">= 3", "within": "5m", "per": ["merchant_id"]},
               "summary": "{count} failures in {within} for {merchant_id}"})
BURN = parse({"rule": "burn", "match": {"type": "api_error_rate"},
              "when": {"burn_rate": {"slo": 99.9, "long": "1h", "short": "5m",
                                     "factor": 14.4, "min_events": 100}}})


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def failure(minutes: float, merchant: str = "acme") -> Sample:
    return Sample(at(minutes), {"merchant_id": merchant})


def traffic_sample(minutes: float, errors: float, total: float) -> Sample:
    return Sample(at(minutes), {"errors": errors, "total": total})


def counts(samples: list[Sample], now: datetime) -> dict[tuple[str, ...], Any]:
    return {o.group: (o.values["count"], o.over) for o in observe_all(SPIKE, samples, now)}


def test_a_count_window_counts_per_group() -> None:
    samples = [failure(0), failure(1), failure(2), failure(2, "globex")]
    assert counts(samples, at(2)) == {("acme",): (3, True), ("globex",): (1, False)}


def test_an_alert_leaves_the_window_exactly_when_it_is_within_old() -> None:
    samples = [failure(0), failure(1), failure(2)]
    just_before = at(5) - timedelta(microseconds=1)
    assert counts(samples, just_before)[("acme",)] == (3, True)
    assert counts(samples, at(5))[("acme",)] == (2, False)  # (now - 5m, now]: 12:00 is out


def test_an_alert_from_the_future_is_not_counted_yet() -> None:
    assert counts([failure(0), failure(1), failure(3)], at(2))[("acme",)] == (2, False)


def test_the_threshold_is_crossed_on_the_nth_alert_not_before() -> None:
    samples = [failure(0), failure(4)]
    assert observe(SPIKE, ("acme",), samples, at(4)).over is False
    assert observe(SPIKE, ("acme",), [*samples, failure(4.5)], at(4.5)).over is True


def test_burn_rate_fires_only_when_both_windows_burn() -> None:
    # An hour of steady 2% errors (20x burn): both windows over 14.4x.
    steady = [traffic_sample(m, 2, 100) for m in range(0, 60)]
    assert observe(BURN, (), steady, at(59.5)).over is True
    # The same hour, but the last five minutes clean: the long window burns, the short does
    # not (the burn has stopped): no page.
    stopped = [traffic_sample(m, 2 if m < 55 else 0, 100) for m in range(0, 60)]
    obs = observe(BURN, (), stopped, at(59.5))
    assert obs.values["burn_long"] > 14.4 and obs.values["burn_short"] == 0
    assert obs.over is False
    # A short spike of 10% errors in an otherwise clean hour: short burns, long does not.
    spike = [traffic_sample(m, 10 if m >= 57 else 0, 100) for m in range(0, 60)]
    obs = observe(BURN, (), spike, at(59.5))
    assert obs.values["burn_short"] > 14.4 and obs.values["burn_long"] < 14.4
    assert obs.over is False


def test_burn_rate_has_a_minimum_traffic_guard() -> None:
    tiny = [traffic_sample(58, 1, 2), traffic_sample(59, 1, 2)]  # 50% errors of 4 requests
    obs = observe(BURN, (), tiny, at(59.5))
    assert obs.values["burn_short"] > 14.4 and obs.values["events"] == 4
    assert obs.over is False
    enough = [traffic_sample(58, 50, 100), traffic_sample(59, 50, 100)]
    assert observe(BURN, (), enough, at(59.5)).over is True


def test_burn_rate_crosses_as_good_samples_age_out_of_the_long_window() -> None:
    # Clean traffic an hour ago, then 1.6% errors (16x): while the clean samples are in the
    # long window it stays under 14.4x; once they leave it crosses, with no new alert.
    samples = [traffic_sample(m, 0, 1000) for m in range(0, 10)]
    samples += [traffic_sample(m, 1.6, 100) for m in range(10, 70)]
    assert observe(BURN, (), samples, at(65)).over is False
    assert observe(BURN, (), samples, at(70)).over is True


def test_a_ratio_value_counts_as_a_sample_weighted_by_its_total() -> None:
    assert traffic(Sample(T0, {"total": "200"}, value=0.05)) == (10.0, 200.0)
    assert traffic(Sample(T0, {}, value=0.05)) == (0.05, 1.0)
    assert traffic(Sample(T0, {"errors": 3, "total": 50})) == (3.0, 50.0)
    assert traffic(Sample(T0, {"note": "x"})) is None


def test_a_value_rule_never_holds_an_alert_it_cannot_measure() -> None:
    r = parse({"rule": "v", "when": {"value": ">= 5"}})
    assert value_holds(r, 5) and not value_holds(r, 4.99) and value_holds(r, None)


def test_templates_see_labels_fields_and_the_observation() -> None:
    obs = observe(SPIKE, ("acme",), [failure(0), failure(1), failure(2)], at(2))
    values = template_values(SPIKE, {"merchant_id": "acme"}, obs.values, type="charge_failure")
    assert values["count"] == 3 and values["within"] == "5m" and values["value"] == 3
    assert dedup_key_for(SPIKE, values, ("acme",), "x") == "rule:spike:merchant_id=acme"
    keyed = parse({"rule": "k", "dedup_key": "charge:{merchant_id}"})
    assert dedup_key_for(keyed, values, (), "x") == "charge:acme"
    assert dedup_key_for(parse({"rule": "plain"}), values, (), "alert-key") == "alert-key"


def test_the_first_matching_rule_decides() -> None:
    rules = [parse({"rule": "a", "match": {"type": "x", "labels": {"env": "prod"}}}),
             parse({"rule": "b", "match": {"type": "x"}})]
    assert first_match(rules, "x", None, {"env": "prod"}).name == "a"  # type: ignore[union-attr]
    assert first_match(rules, "x", None, {"env": "dev"}).name == "b"  # type: ignore[union-attr]
    assert first_match(rules, "y", None, {}) is None


@pytest.mark.parametrize("minutes", [0.01, 2.5, 4.99])
def test_failures_anywhere_inside_the_window_count(minutes: float) -> None:
    samples = [failure(minutes), failure(minutes), failure(minutes)]
    assert counts(samples, at(5))[("acme",)] == (3, True)
