"""The beat's re-evaluation of windowed rules (count, burn rate), so that time alone can open
or close an incident: a burn rate crosses as good samples age out of the long window, and a
spike clears as its alerts age out of the count window.

Per rule and group (the ``per`` label values), at each tick:

* over the threshold, no open incident: open one (the crossing), unless this rule already
  opened one during this same spell and a person resolved it; that stays resolved until the
  condition clears (a new alert still opens a new incident, as any alert would);
* over the threshold with a hold-down running: cancel it;
* clear, with an open incident: start the hold-down; once the condition has stayed clear for
  the rule's ``hold_down``, resolve the incident. Each step leaves a timeline entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from oncall import db, maintenance
from oncall.incidents import OPEN, followups, record
from oncall.models import Incident, RuleState
from oncall.rules import evaluate, store
from oncall.rules.evaluate import Observation
from oncall.rules.model import Rule
from oncall.rules.route import upsert

log = logging.getLogger(__name__)
_LOCK_ID = 0x6F6E63616C6C  # one tick at a time (PostgreSQL advisory lock)


@dataclass
class TickReport:
    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)


def tick(session: Session, now: datetime) -> TickReport:
    """Re-evaluate every windowed rule at ``now``. The caller commits, then enqueues the
    escalation of ``opened`` (the sweeper would find them anyway)."""
    report = TickReport()
    if db.is_postgres(session) and not session.execute(
            text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": _LOCK_ID}).scalar():
        return report  # another beat is at it
    compiled = store.compile_rules(session, store.load_rules(session))
    known = store.services(session)
    for c in compiled:
        if not c.rule.windowed:
            continue
        try:
            with session.begin_nested():
                _tick_rule(session, c, known, now, report)
        except Exception:  # one broken rule must not stop the others
            log.exception("rules: %s failed to evaluate", c.rule.name)
    return report


def _tick_rule(session: Session, c: store.Compiled, known: dict[str, int], now: datetime,
               report: TickReport) -> None:
    rule = c.rule
    window = getattr(rule.when, "within")  # noqa: B009  (windowed: count or burn rate)
    observed = {o.group: o for o in evaluate.observe_all(
        rule, store.samples(session, rule, now, window, known=known), now)}
    states = {s.group_key: s for s in session.scalars(
        select(RuleState).where(RuleState.rule == rule.name))}
    for group, obs in observed.items():
        st = states.pop(store.group_key(group), None)
        if obs.over:
            _over(session, c, obs, st, known, now, report)
        elif st is not None:
            _clear(session, rule, group, obs.values, st, now, report)
    for st in states.values():  # groups with no alert left in the window: clear
        group = tuple(str(st.labels.get(k, "")) for k in rule.per)
        _clear(session, rule, group, {}, st, now, report)


def _open_incident(session: Session, st: RuleState | None) -> Incident | None:
    if st is None or st.incident_id is None:
        return None
    incident = session.get(Incident, st.incident_id)
    return incident if incident is not None and incident.status in OPEN else None


def _over(session: Session, c: store.Compiled, obs: Observation, st: RuleState | None,
          known: dict[str, int], now: datetime, report: TickReport) -> None:
    rule = c.rule
    incident = _open_incident(session, st)
    if incident is not None:
        if st is not None and st.clear_since is not None:
            record(session, incident.id, "condition_returned", f"rule:{rule.name}", now,
                   rule=rule.name, observed=obs.values, reason="over the threshold again: "
                   "the hold-down is cancelled")
        upsert(session, rule, obs.group, now, firing=True, clear_since=None,
               observed=obs.values)
        return
    if st is not None and st.firing and st.incident_id is not None:
        # Resolved by a person while still over: leave it until the condition clears.
        upsert(session, rule, obs.group, now, observed=obs.values)
        return
    incident_id, new = _open(session, c, obs, known, now)
    if new:
        report.opened.append(incident_id)
    upsert(session, rule, obs.group, now, firing=True, incident_id=incident_id,
           clear_since=None, observed=obs.values)


def _open(session: Session, c: store.Compiled, obs: Observation, known: dict[str, int],
          now: datetime) -> tuple[int, bool]:
    rule, latest = c.rule, obs.latest
    assert latest is not None
    # The latest alert's service; if its integration is gone, the rule's only service.
    service = latest.service or (rule.match.services[0] if len(rule.match.services) == 1
                                 else None)
    service_id = known.get(service or "")
    if service_id is None:
        raise LookupError(f"rule {rule.name}: no service to open the incident on (the "
                          "alerts' integration was removed; name one in match.service)")
    values = evaluate.template_values(rule, latest.labels, obs.values,
                                      type=rule.match.types[0], service=service)
    dedup_key = evaluate.dedup_key_for(rule, values, obs.group, rule.default_dedup_key(
        obs.group))
    summary = evaluate.summary_for(rule, values, evaluate.default_summary(rule, obs))
    severity = rule.severity or latest.severity or "critical"
    insert = db.insert_for(session)
    where = Incident.status != "resolved"
    incident_id = session.execute(
        insert(Incident).values(
            service_id=service_id, dedup_key=dedup_key, status="triggered", severity=severity,
            summary=summary, policy=c.policy, runbook=rule.runbook, level=0, loop=0,
            next_action_at=now, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["service_id", "dedup_key"], index_where=where)
        .returning(Incident.id)).scalar()
    if incident_id is not None:
        record(session, incident_id, "triggered", f"rule:{rule.name}", now, rule=rule.name,
               summary=summary, severity=severity, observed=obs.values,
               reason="threshold crossed (found by the periodic re-evaluation)")
        maintenance.hold_opened(session, incident_id, service, rule.match.types[0],
                                latest.labels, now)
        return incident_id, True
    found = session.scalar(select(Incident.id).where(
        Incident.service_id == service_id, Incident.dedup_key == dedup_key, where))
    assert found is not None
    return found, False


def _clear(session: Session, rule: Rule, group: tuple[str, ...], values: dict[str, Any],
           st: RuleState, now: datetime, report: TickReport) -> None:
    incident = _open_incident(session, st)
    actor = f"rule:{rule.name}"
    if incident is None:
        if values:
            upsert(session, rule, group, now, firing=False, clear_since=None, observed=values)
        else:
            session.delete(st)  # nothing open, nothing in the window: forget the group
        return
    hold_down = timedelta(seconds=rule.hold_down)
    if st.clear_since is None:
        record(session, incident.id, "condition_cleared", actor, now, rule=rule.name,
               observed=values, reason=f"below the threshold; resolves at "
               f"{(now + hold_down).isoformat()} if it stays there (hold-down "
               f"{evaluate.duration_text(rule.hold_down)})")
        upsert(session, rule, group, now, clear_since=now, observed=values)
        return
    if now - st.clear_since < hold_down:
        upsert(session, rule, group, now, observed=values)
        return
    changed = session.execute(
        update(Incident).where(Incident.id == incident.id, Incident.status.in_(OPEN))
        .values(status="resolved", resolved_at=now, resolved_by=actor, next_action_at=None,
                updated_at=now)).rowcount  # type: ignore[attr-defined]
    if changed:
        record(session, incident.id, "resolved", actor, now, rule=rule.name, observed=values,
               reason=f"below the threshold since {st.clear_since.isoformat()} "
               f"(hold-down {evaluate.duration_text(rule.hold_down)})")
        report.resolved.append(incident.id)
    upsert(session, rule, group, now, firing=False, clear_since=None, observed=values)


def run(factory: Any, now: datetime) -> TickReport:
    """One tick in its own transaction (what the beat task calls); on SQLite it takes the
    write lock first, as it reads rule state and then writes it (``db.claiming``)."""
    with db.claiming(factory) as session:
        report = tick(session, now)
        _note(session, report)
        return report


def _note(session: Session, report: TickReport) -> None:
    """Once the tick commits (``oncall.incidents.followups``): an incident it opened takes
    its first step now, one it resolved has its Slack messages rewritten."""
    for incident_id in report.opened:
        followups.due(session, incident_id)
    for incident_id in report.resolved:
        followups.changed(session, incident_id)
