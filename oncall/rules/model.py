"""Threshold rules as values: parsed once from their YAML form (as stored), then matched and
evaluated by pure functions. :func:`parse` raises :class:`RuleError` naming the field, so
``oncall apply`` can point at the file and line."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from oncall.rules import templates

_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_COMPARISON = re.compile(r"^\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
DEFAULT_HOLD_DOWN = 300  # seconds a windowed condition must stay clear before auto-resolve
SEVERITIES = ("critical", "error", "warning", "info")


class RuleError(ValueError):
    """A rule that cannot work; ``field`` is its path inside the rule, e.g. ``when.count``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def seconds(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value and _DURATION.sub("", value) == "":
        return sum(int(n) * _UNIT[u] for n, u in _DURATION.findall(value))
    raise RuleError(where, f"{value!r} is not a duration (seconds, or 30s, 5m, 1h30m)")


@dataclass(frozen=True)
class Comparison:
    op: str
    threshold: float

    def holds(self, value: float) -> bool:
        return OPERATORS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.op} {self.threshold:g}"


def comparison(value: Any, where: str, default_op: str = ">=") -> Comparison:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Comparison(default_op, float(value))
    match = _COMPARISON.match(value) if isinstance(value, str) else None
    if match is None:
        raise RuleError(where, f"{value!r} is not a comparison such as \"> 0.5\" or \">= 10\"")
    return Comparison(match.group(1), float(match.group(2)))


@dataclass(frozen=True)
class ValueCondition:
    """The alert's own ``value`` compared with a threshold."""

    compare: Comparison


@dataclass(frozen=True)
class CountCondition:
    """At least N matching firing alerts within a window, per group of label values."""

    compare: Comparison
    within: int


@dataclass(frozen=True)
class BurnRateCondition:
    """Error-budget burn over two windows (Google SRE workbook, multiwindow multi-burn-rate):
    both the long and the short window must burn faster than ``factor``."""

    slo: float  # percent, e.g. 99.9
    long: int
    short: int
    factor: float
    min_events: float

    @property
    def budget(self) -> float:
        return 1.0 - self.slo / 100.0

    @property
    def within(self) -> int:
        return self.long


Condition = ValueCondition | CountCondition | BurnRateCondition


@dataclass(frozen=True)
class Match:
    """Which alerts a rule is about. Each value may be one string or a list (any of them);
    every key given must match."""

    types: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    labels: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __call__(self, type_: str, service: str | None, labels: Mapping[str, Any]) -> bool:
        if self.types and type_ not in self.types:
            return False
        if self.services and service not in self.services:
            return False
        for key, wanted in self.labels:
            have = labels.get(key)
            if have is None or str(have) not in wanted:
                return False
        return True


@dataclass(frozen=True)
class Rule:
    name: str
    match: Match
    when: Condition | None = None
    per: tuple[str, ...] = ()
    severity: str | None = None
    policy: str | None = None
    dedup_key: str | None = None
    summary: str | None = None
    runbook: str | None = None
    hold_down: int = DEFAULT_HOLD_DOWN
    spec: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def windowed(self) -> bool:
        return isinstance(self.when, CountCondition | BurnRateCondition)

    def group_of(self, labels: Mapping[str, Any]) -> tuple[str, ...]:
        """The values of the ``per`` labels ("" where one is missing: never dropped)."""
        return tuple("" if labels.get(k) is None else str(labels[k]) for k in self.per)

    def group_labels(self, group: tuple[str, ...]) -> dict[str, str]:
        return dict(zip(self.per, group, strict=True))

    def default_dedup_key(self, group: tuple[str, ...]) -> str:
        return ":".join(["rule", self.name, *(f"{k}={v}" for k, v in zip(self.per, group,
                                                                          strict=True))])


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str | int | float | bool) for v in items):
        raise RuleError(where, "expected a value or a list of values")
    return tuple(str(v) for v in items)


def _match(raw: Any) -> Match:
    if not isinstance(raw, dict):
        raise RuleError("match", "expected a mapping such as {type: charge_failure}")
    labels = raw.get("labels") or {}
    if not isinstance(labels, dict):
        raise RuleError("match.labels", "expected a mapping of label: value")
    return Match(
        types=_strings(raw["type"], "match.type") if "type" in raw else (),
        services=_strings(raw["service"], "match.service") if "service" in raw else (),
        labels=tuple((str(k), _strings(v, f"match.labels.{k}")) for k, v in labels.items()))


def _condition(raw: dict[str, Any]) -> tuple[Condition, tuple[str, ...]]:
    per = tuple(raw.get("per") or ())
    kinds = [k for k in ("value", "count", "burn_rate") if k in raw]
    if len(kinds) != 1:
        raise RuleError("when", "give exactly one of value, count or burn_rate")
    if "value" in raw:
        if per or "within" in raw:
            raise RuleError("when", "a value condition is about one alert: no within or per")
        return ValueCondition(comparison(raw["value"], "when.value")), ()
    if "count" in raw:
        compare = comparison(raw["count"], "when.count")
        if compare.op not in (">", ">=") or compare.threshold < 1:
            raise RuleError("when.count", "a count condition is \">= N\" or \"> N\" (N >= 1): "
                                          "an absence of alerts is what heartbeats watch")
        if "within" not in raw:
            raise RuleError("when.within", "a count needs a window, e.g. within: 5m")
        within = seconds(raw["within"], "when.within")
        if within <= 0:
            raise RuleError("when.within", "the window must be longer than 0s")
        return CountCondition(compare, within), per
    if "within" in raw:
        raise RuleError("when.within", "a burn rate has its own windows (long, short)")
    b = raw["burn_rate"]
    slo = float(b["slo"])
    if not 0 < slo < 100:
        raise RuleError("when.burn_rate.slo", "an SLO is a percentage between 0 and 100")
    long_, short = seconds(b["long"], "when.burn_rate.long"), seconds(b["short"],
                                                                      "when.burn_rate.short")
    if not 0 < short < long_:
        raise RuleError("when.burn_rate.short", "the short window must be shorter than the "
                                                "long one (the workbook uses 1/12)")
    return BurnRateCondition(slo=slo, long=long_, short=short, factor=float(b["factor"]),
                             min_events=float(b.get("min_events", 0))), per


def parse(raw: dict[str, Any]) -> Rule:
    """A rule from its YAML form (already schema-checked, but checked again here: the stored
    form must never compile into something that misbehaves)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("rule"), str):
        raise RuleError("rule", "every rule needs a name")
    when: Condition | None = None
    per: tuple[str, ...] = ()
    if raw.get("when") is not None:
        if not isinstance(raw["when"], dict):
            raise RuleError("when", "expected a mapping")
        when, per = _condition(raw["when"])
    severity = raw.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise RuleError("severity", f"one of {', '.join(SEVERITIES)}")
    for key in ("dedup_key", "summary"):
        if raw.get(key) is not None:
            try:
                templates.check(raw[key])
            except ValueError as exc:
                raise RuleError(key, str(exc)) from None
    hold_down = seconds(raw.get("hold_down", DEFAULT_HOLD_DOWN), "hold_down")
    if "hold_down" in raw and not isinstance(when, CountCondition | BurnRateCondition):
        raise RuleError("hold_down", "only windowed rules (count, burn_rate) resolve by "
                                     "themselves, so only they have a hold-down")
    match = _match(raw.get("match", {}))
    if isinstance(when, CountCondition | BurnRateCondition) and not match.types:
        raise RuleError("match.type", "a windowed rule counts alerts of a type: name it")
    return Rule(name=raw["rule"], match=match, when=when, per=per,
                severity=severity, policy=raw.get("policy"), dedup_key=raw.get("dedup_key"),
                summary=raw.get("summary"), runbook=raw.get("runbook"), hold_down=hold_down,
                spec=raw)
