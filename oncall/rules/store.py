"""Rules in the database: the per-process cache of compiled rules (checked against a version
row at most every few seconds, so an alert that matches no rule costs no query), and the
queries windowed conditions run over stored alerts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from oncall import db
from oncall.models import (
    Alert,
    EscalationPolicy,
    Incident,
    Integration,
    RuleState,
    Service,
    SystemState,
    ThresholdRule,
)
from oncall.paging.policy_snapshot import Policy
from oncall.rules.evaluate import Sample
from oncall.rules.model import Rule, RuleError, parse

VERSION_KEY = "rules"
REFRESH_SECONDS = 5.0  # a rule change or a policy edit reaches intake within this


@dataclass(frozen=True)
class Compiled:
    """A rule ready for intake, with a snapshot of its policy (None: the service's own)."""

    rule: Rule
    policy: Policy | None


def load_rules(session: Session) -> list[Rule]:
    """Every stored rule, in evaluation order. One that no longer parses (it never should:
    apply checks it) is skipped rather than stopping intake."""
    rules = []
    for row in session.scalars(select(ThresholdRule).order_by(ThresholdRule.position,
                                                              ThresholdRule.id)):
        try:
            rules.append(parse(row.spec))
        except (RuleError, KeyError, TypeError, ValueError):
            continue
    return rules


def compile_rules(session: Session, rules: list[Rule]) -> list[Compiled]:
    names = {r.policy for r in rules if r.policy}
    policies: dict[str, Policy] = {}
    if names:
        for p in session.scalars(select(EscalationPolicy).where(EscalationPolicy.name.in_(names))
                                 .options(selectinload(EscalationPolicy.levels))):
            policies[p.name] = Policy.of(p)
    return [Compiled(r, policies.get(r.policy) if r.policy else None) for r in rules]


class RuleCache:
    """Compiled rules per process. ``get`` costs nothing until REFRESH_SECONDS have passed;
    then one primary-key read of the version row, and a reload only if it changed (policy
    snapshots are re-read on every refresh while some rule names a policy)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self._rules: list[Compiled] = []
        self._version: Any = None
        self._checked = float("-inf")

    def get(self, session: Session) -> list[Compiled]:
        if time.monotonic() - self._checked < REFRESH_SECONDS:
            return self._rules
        with self._lock:
            if time.monotonic() - self._checked < REFRESH_SECONDS:
                return self._rules
            version = session.scalar(select(SystemState.updated_at)
                                     .where(SystemState.key == VERSION_KEY))
            if version is None:
                self._rules = []
            elif version != self._version or any(c.rule.policy for c in self._rules):
                rules = (load_rules(session) if version != self._version
                         else [c.rule for c in self._rules])
                self._rules = compile_rules(session, rules)
            self._version = version
            self._checked = time.monotonic()
            return self._rules


CACHE = RuleCache()


def bump_version(session: Session, now: datetime, count: int) -> None:
    """Tell every process's cache that the rules changed."""
    insert = db.insert_for(session)
    session.execute(insert(SystemState).values(key=VERSION_KEY, value={"rules": count},
                                               updated_at=now)
                    .on_conflict_do_update(index_elements=["key"],
                                           set_={"updated_at": now, "value": {"rules": count}}))
    CACHE.clear()


def services(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Service.name, Service.id)).all())


def samples(session: Session, rule: Rule, now: datetime, seconds: int,
            group: Mapping[str, Any] | None = None, known: Mapping[str, int] | None = None,
            enough: int | None = None) -> list[Sample]:
    """The firing alerts the rule matches in ``(now - seconds, now]``, newest first (on the
    type index), optionally only one group's. String label conditions are filtered in SQL,
    the rest in Python. ``enough``: stop after that many (a count only needs to know that it
    reached its threshold, however many alerts a storm brought). ``group`` holds the label
    values as the alert sent them."""
    if enough == 0:
        return []
    stmt = (select(Alert.received_at, Alert.labels, Alert.value, Alert.service,
                   Alert.severity, Service.name)
            .outerjoin(Integration, Integration.id == Alert.integration_id)
            .outerjoin(Service, Service.id == Integration.service_id)
            .where(Alert.type.in_(rule.match.types), Alert.status == "firing",
                   Alert.received_at > now - timedelta(seconds=seconds),
                   Alert.received_at <= now)
            .order_by(Alert.received_at.desc()))
    for key, value in (group or {}).items():
        if isinstance(value, str) and value:
            stmt = stmt.where(Alert.labels[key].as_string() == value)
    for key, wanted in rule.match.labels:
        # Values from YAML are strings here; a label sent as a number is matched in Python.
        if all(not _numeric(v) for v in wanted):
            stmt = stmt.where(Alert.labels[key].as_string().in_(wanted))
    if known is None:  # service names matter only to a rule that matches on them
        known = services(session) if rule.match.services else {}
    wanted_group = rule.group_of(group) if group is not None else None
    out: list[Sample] = []
    result = session.execute(stmt.execution_options(yield_per=500))
    try:
        for at, labels, value, named, severity, via in result:
            service = named if named in known else via
            labels = labels or {}
            if not rule.match(_type_of(rule), service, labels):
                continue
            if wanted_group is not None and rule.group_of(labels) != wanted_group:
                continue
            out.append(Sample(at, labels, value, service, severity))
            if enough is not None and len(out) >= enough:
                break
    finally:
        result.close()
    return out


def _numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return value.lower() in ("true", "false")
    return True


def _type_of(rule: Rule) -> str:
    return rule.match.types[0]  # the query already kept only the rule's types


def open_incident_of(session: Session, rule: Rule, group: tuple[str, ...]) -> int | None:
    """The open incident a windowed rule opened for this group, while its condition holds and
    no hold-down runs: one indexed lookup, so a storm of alerts for a group already paged
    joins its incident without counting the window again for every alert."""
    return session.scalar(
        select(RuleState.incident_id)
        .join(Incident, Incident.id == RuleState.incident_id)
        .where(RuleState.rule == rule.name, RuleState.group_key == group_key(group),
               RuleState.firing.is_(True), RuleState.clear_since.is_(None),
               Incident.status != "resolved"))


def open_groups(session: Session, wanted: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """``open_incident_of`` for many (rule name, group key) pairs in one query: those whose
    incident is open and whose condition holds with no hold-down running."""
    if not wanted:
        return set()
    rows = session.execute(
        select(RuleState.rule, RuleState.group_key)
        .join(Incident, Incident.id == RuleState.incident_id)
        .where(RuleState.rule.in_({r for r, _ in wanted}),
               RuleState.group_key.in_({g for _, g in wanted}),
               RuleState.firing.is_(True), RuleState.clear_since.is_(None),
               Incident.status != "resolved"))
    return {(r, g) for r, g in rows} & wanted


def group_key(group: tuple[str, ...]) -> str:
    return json.dumps(list(group))[:255]
