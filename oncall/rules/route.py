"""Intake's hook: what the first matching rule says about one alert, before it is stored.

No rule matches: None, and intake carries on exactly as without rules (the alert goes to its
service's default policy; nothing is dropped for want of a rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall import db
from oncall.ingest import NormalizedAlert
from oncall.models import RuleState
from oncall.paging.policy_snapshot import Policy
from oncall.rules import evaluate, store
from oncall.rules.evaluate import Sample
from oncall.rules.model import CountCondition, Rule


@dataclass(frozen=True)
class Verdict:
    rule: Rule
    held: bool
    dedup_key: str
    summary: str
    severity: str
    policy: Policy | None
    group: tuple[str, ...] = ()
    observed: dict[str, Any] = field(default_factory=dict)

    @property
    def manages_resolution(self) -> bool:
        """Windowed rules resolve their incidents themselves (after the hold-down); a
        sender's "resolved" for one sample of them changes nothing."""
        return self.rule.windowed

    def params(self) -> dict[str, Any]:
        """Intake's statement parameters for the incident (the alert keeps its own)."""
        return {"inc_key": self.dedup_key, "inc_summary": self.summary,
                "inc_severity": self.severity, "policy": self.policy,
                "runbook": self.rule.runbook, "rule": self.rule.name, "held": self.held}


def any_match(session: Session, alerts: list[tuple[NormalizedAlert, str]]) -> bool:
    """Whether any rule matches any of these (alert, service name) pairs: a batch no rule
    matches takes intake's one-statement path."""
    compiled = store.CACHE.get(session)
    return bool(compiled) and any(c.rule.match(a.type, service, a.labels)
                                  for a, service in alerts for c in compiled)


class Batch:
    """What judging a batch of alerts before storing any of them must remember: the rules
    each alert matches, which groups' incidents are open (one query for the whole batch
    instead of one per alert), and the batch's earlier alerts, which a window counts as if
    they were already stored."""

    def __init__(self, session: Session, compiled: list[store.Compiled],
                 alerts: list[tuple[NormalizedAlert, str]]) -> None:
        self.matches = [[c for c in compiled if c.rule.match(a.type, service, a.labels)]
                        for a, service in alerts]
        self.earlier: dict[tuple[str, tuple[str, ...]], list[Sample]] = {}
        self.open = store.open_groups(session, {
            (m[0].rule.name, store.group_key(m[0].rule.group_of(a.labels)))
            for (a, _), m in zip(alerts, self.matches, strict=True)
            if m and _may_join(m[0].rule, a)})

    def is_open(self, rule: Rule, group: tuple[str, ...]) -> bool:
        return (rule.name, store.group_key(group)) in self.open

    def add(self, alert: NormalizedAlert, service: str, matches: list[store.Compiled],
            verdict: Verdict | None, now: datetime) -> None:
        """After judging ``alert``: every windowed rule that matches it will count it (held
        or not, as the stored alert would be), and a group it pages for is open from now."""
        if alert.status != "firing":
            return
        for c in matches:
            if c.rule.windowed:
                self.earlier.setdefault((c.rule.name, c.rule.group_of(alert.labels)), []).append(
                    Sample(now, alert.labels, alert.value, service, alert.severity))
        if verdict is not None and not verdict.held and verdict.rule.windowed:
            self.open.add((verdict.rule.name, store.group_key(verdict.group)))


def _may_join(rule: Rule, alert: NormalizedAlert) -> bool:
    """Whether an open incident of the alert's group would spare counting its window."""
    return alert.status == "firing" and rule.windowed and rule.dedup_key is None


def route_many(session: Session, alerts: list[tuple[NormalizedAlert, str]],
               now: datetime) -> list[Verdict | None]:
    """``route`` for each of a batch, in order, judged as if each were stored before the
    next: one query for the open groups of the whole batch, then a count only for the
    alerts of groups not already paged."""
    compiled = store.CACHE.get(session)
    if not compiled:
        return [None] * len(alerts)
    batch = Batch(session, compiled, alerts)
    verdicts = []
    for (alert, service), matches in zip(alerts, batch.matches, strict=True):
        verdict = _judge(session, alert, service, now, matches[0], batch) if matches else None
        batch.add(alert, service, matches, verdict, now)
        verdicts.append(verdict)
    return verdicts


def route(session: Session, alert: NormalizedAlert, service: str,
          now: datetime) -> Verdict | None:
    compiled = store.CACHE.get(session)
    found = next((c for c in compiled if c.rule.match(alert.type, service, alert.labels)),
                 None)
    return None if found is None else _judge(session, alert, service, now, found, None)


def _judge(session: Session, alert: NormalizedAlert, service: str, now: datetime,
           found: store.Compiled, batch: Batch | None) -> Verdict:
    """What the first matching rule (``found``) says about the alert."""
    rule = found.rule
    group = rule.group_of(alert.labels)
    observed: dict[str, Any] = {}
    summary = alert.summary
    held = False
    if _may_join(rule, alert) and (
            batch.is_open(rule, group) if batch is not None
            else store.open_incident_of(session, rule, group) is not None):
        pass  # the group's incident is open and over: this alert joins it, nothing to count
    elif alert.status == "firing" and rule.windowed:
        assert rule.when is not None and hasattr(rule.when, "within")
        past = store.samples(session, rule, now, rule.when.within,
                             {k: alert.labels.get(k) for k in rule.per}, enough=_enough(rule))
        earlier = batch.earlier.get((rule.name, group), []) if batch is not None else []
        obs = evaluate.observe(rule, group, [*past, *earlier, Sample(
            now, alert.labels, alert.value, service, alert.severity)], now)
        held, observed, summary = not obs.over, obs.values, evaluate.default_summary(rule, obs)
    elif alert.status == "firing":
        held = not evaluate.value_holds(rule, alert.value)
    values = evaluate.template_values(rule, alert.labels, observed, type=alert.type,
                                      service=service, value=alert.value,
                                      summary=alert.summary, severity=alert.severity)
    return Verdict(rule=rule, held=held,
                   dedup_key=evaluate.dedup_key_for(rule, values, group, alert.dedup_key),
                   summary=evaluate.summary_for(rule, values, summary),
                   severity=rule.severity or alert.severity, policy=found.policy,
                   group=group, observed=observed)


def _enough(rule: Rule) -> int | None:
    """How many earlier alerts a count needs to see (this alert makes one more)."""
    if not isinstance(rule.when, CountCondition):
        return None
    t = rule.when.compare.threshold
    return max(0, (math.floor(t) + 1 if rule.when.compare.op == ">" else math.ceil(t)) - 1)


def remember(session: Session, verdict: Verdict, incident_id: int | None, new: bool,
             now: datetime) -> None:
    """A windowed rule opened an incident at intake: note it, so the beat can resolve it
    when the condition clears."""
    if not (verdict.rule.windowed and new and incident_id is not None):
        return
    upsert(session, verdict.rule, verdict.group, now, firing=True, incident_id=incident_id,
           clear_since=None, observed=verdict.observed)


def upsert(session: Session, rule: Rule, group: tuple[str, ...], now: datetime,
           **values: Any) -> None:
    insert = db.insert_for(session)
    row = {"rule": rule.name, "group_key": store.group_key(group),
           "labels": rule.group_labels(group), "updated_at": now, **values}
    session.execute(insert(RuleState).values(**row).on_conflict_do_update(
        index_elements=["rule", "group_key"],
        set_={k: v for k, v in row.items() if k not in ("rule", "group_key")}))


def state(session: Session, rule: str) -> list[RuleState]:
    return list(session.scalars(select(RuleState).where(RuleState.rule == rule)
                                .order_by(RuleState.id)))
