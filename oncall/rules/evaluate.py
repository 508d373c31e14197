"""Evaluating rules: pure functions of the rule, the alerts (samples) and an explicit ``now``.

Windows are half-open, ``(now - window, now]``: an alert received exactly ``within`` ago has
left a ``within`` window; one received at ``now`` is in it.

Burn rate: every firing alert of the rule's type is one sample of traffic. It carries
``labels.total`` (requests in its interval) and ``labels.errors`` (failed ones), or ``value``,
the error ratio of the interval (errors = value x total). A sample with a ratio and no total
weighs one event. A window's error ratio is sum(errors) / sum(total); its burn rate is that
ratio divided by the error budget (1 - SLO). The condition holds when both windows burn faster
than ``factor`` and the long window saw at least ``min_events`` events (the minimum-traffic
guard: two failures out of three requests at night are not an outage).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from oncall.rules import templates
from oncall.rules.model import (
    BurnRateCondition,
    CountCondition,
    Rule,
    ValueCondition,
)


@dataclass(frozen=True)
class Sample:
    """One stored firing alert, as windowed conditions see it."""

    at: datetime
    labels: Mapping[str, Any] = field(default_factory=dict)
    value: float | None = None
    service: str | None = None
    severity: str | None = None


@dataclass(frozen=True)
class Observation:
    """A windowed condition evaluated for one group at one instant."""

    group: tuple[str, ...]
    over: bool
    values: dict[str, Any]  # for templates and the API: count, burn_long, ...
    latest: Sample | None = None  # the group's most recent sample

    def describe(self) -> str:
        return ", ".join(f"{k} {_short(v)}" for k, v in self.values.items())


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def traffic(sample: Sample) -> tuple[float, float] | None:
    """(errors, events) of a burn-rate sample, or None when it carries neither."""
    total = _number(sample.labels.get("total"))
    errors = _number(sample.labels.get("errors"))
    if total is not None and errors is not None:
        return errors, total
    if sample.value is not None:
        weight = total if total is not None else 1.0
        return sample.value * weight, weight
    return None


def value_holds(rule: Rule, value: float | None) -> bool:
    """Whether an alert crosses the rule's value threshold. A rule never holds back an alert
    it cannot measure: one with no value passes, as if over the threshold."""
    if not isinstance(rule.when, ValueCondition) or value is None:
        return True
    return rule.when.compare.holds(value)


def in_window(at: datetime, now: datetime, seconds: int) -> bool:
    return now - timedelta(seconds=seconds) < at <= now


def groups(rule: Rule, samples: Iterable[Sample]) -> dict[tuple[str, ...], list[Sample]]:
    """The samples the rule matches, by the values of its ``per`` labels."""
    out: dict[tuple[str, ...], list[Sample]] = {}
    for s in samples:
        out.setdefault(rule.group_of(s.labels), []).append(s)
    return out


def observe(rule: Rule, group: tuple[str, ...], samples: list[Sample],
            now: datetime) -> Observation:
    """Evaluate a windowed rule for one group's samples (any order, any age)."""
    latest = max(samples, key=lambda s: s.at, default=None)
    cond = rule.when
    if isinstance(cond, CountCondition):
        count = sum(1 for s in samples if in_window(s.at, now, cond.within))
        return Observation(group, cond.compare.holds(count), {"count": count}, latest)
    if isinstance(cond, BurnRateCondition):
        long_ = _window(samples, now, cond.long)
        short = _window(samples, now, cond.short)
        burn_long, burn_short = long_[0] / cond.budget, short[0] / cond.budget
        over = (long_[1] >= cond.min_events and long_[1] > 0
                and burn_long > cond.factor and burn_short > cond.factor)
        return Observation(group, over, {
            "burn_long": round(burn_long, 4), "burn_short": round(burn_short, 4),
            "ratio_long": long_[0], "ratio_short": short[0],
            "events": long_[1], "events_short": short[1]}, latest)
    raise TypeError(f"rule {rule.name} is not windowed")


def _window(samples: list[Sample], now: datetime, seconds: int) -> tuple[float, float]:
    """(error ratio, events) over the window."""
    errors = events = 0.0
    for s in samples:
        if in_window(s.at, now, seconds):
            t = traffic(s)
            if t is not None:
                errors += t[0]
                events += t[1]
    return (errors / events if events > 0 else 0.0), events


def observe_all(rule: Rule, samples: Iterable[Sample], now: datetime) -> list[Observation]:
    return [observe(rule, g, members, now) for g, members in groups(rule, samples).items()]


def template_values(rule: Rule, labels: Mapping[str, Any], extra: Mapping[str, Any],
                    **fields: Any) -> dict[str, Any]:
    """What templates may name: the alert's labels, then its fields (type, service, value,
    summary), then the rule's own (rule, within, count, burn rates...)."""
    values: dict[str, Any] = {str(k): v for k, v in labels.items()}
    values.update({k: v for k, v in fields.items() if v is not None})
    values["rule"] = rule.name
    cond = rule.when
    if isinstance(cond, CountCondition):
        values["within"] = duration_text(cond.within)
    elif isinstance(cond, BurnRateCondition):
        values.update(long=duration_text(cond.long), short=duration_text(cond.short),
                      slo=cond.slo, factor=cond.factor)
    if isinstance(cond, ValueCondition):
        values["threshold"] = cond.compare.threshold
    values.update(extra)
    if isinstance(cond, CountCondition | BurnRateCondition) and "value" not in extra:
        values["value"] = extra.get("count", extra.get("burn_long"))
    return values


def duration_text(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def summary_for(rule: Rule, values: Mapping[str, Any], fallback: str) -> str:
    return templates.render(rule.summary, values)[:1024] if rule.summary else fallback


def dedup_key_for(rule: Rule, values: Mapping[str, Any], group: tuple[str, ...],
                  fallback: str) -> str:
    """The incident's key: the rule's template; else, for a windowed rule, the rule and the
    group (one incident per merchant); else the alert's own key."""
    if rule.dedup_key:
        return templates.render(rule.dedup_key, values)[:255]
    return rule.default_dedup_key(group)[:255] if rule.windowed else fallback


def default_summary(rule: Rule, obs: Observation) -> str:
    group = ", ".join(f"{k}={v}" for k, v in rule.group_labels(obs.group).items())
    head = f"{rule.name}{f' ({group})' if group else ''}"
    if isinstance(rule.when, CountCondition):
        return (f"{head}: {obs.values['count']} alerts in "
                f"{duration_text(rule.when.within)} ({rule.when.compare})")
    assert isinstance(rule.when, BurnRateCondition)
    return (f"{head}: error budget burning {obs.values['burn_long']:.1f}x over "
            f"{duration_text(rule.when.long)} and {obs.values['burn_short']:.1f}x over "
            f"{duration_text(rule.when.short)} (threshold {rule.when.factor:g}x)")


def first_match(rules: Iterable[Rule], type_: str, service: str | None,
                labels: Mapping[str, Any]) -> Rule | None:
    """Rules are tried in file order; the first that matches decides."""
    for rule in rules:
        if rule.match(type_, service, labels):
            return rule
    return None
