"""What would happen if an alert came in at a given time: held or paged, by which rule, which
open incident it joins, and the whole escalation as a timeline of who is paged on which
channel when, until the ladder ends. Writes nothing.

Every decision is the real path's own, not a copy: intake's ``judge`` (the first matching
threshold rule, the incident's key, summary, severity and policy) and ``open_incident`` (the
dedup lookup), maintenance's ``holding_window``, and ``oncall.paging.step_plan.plan_step`` (levels,
targets, schedules resolved at each step's time, personal notification rules, skipped
levels, repeats, the admins when nobody is paged), applied step after step to an incident
that is never stored. Callers own the transaction; reads only.

Not simulated: deliveries (a channel failing over to the next), acknowledgements (the
ladder runs as if nobody answers), and alerts arriving meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall import maintenance
from oncall.incidents import intake
from oncall.ingest import FORMATS, NormalizedAlert, PayloadError
from oncall.ingest.generic import parse_one
from oncall.models import Incident, Service
from oncall.paging.step_plan import Lookups
from oncall.rules.route import Verdict
from oncall.simulate.timeline import Entry, Simulated, ladder

__all__ = ["Answer", "Entry", "SimulationError", "simulate"]


class SimulationError(ValueError):
    """Refused input: ``field`` names it (the API answers 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass
class Answer:
    at: datetime
    service: str
    alert: NormalizedAlert
    outcome: str  # "pages", "held" (a rule or a maintenance window) or "joins"
    reason: str
    policy: str | None
    rule: dict[str, Any] | None = None
    window: dict[str, Any] | None = None
    incident: dict[str, Any] | None = None
    timeline: list[Entry] = field(default_factory=list)
    # Held below a rule's threshold: the ladder it would run were the threshold crossed.
    if_crossed: list[Entry] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        a = self.alert
        return {"at": self.at, "service": self.service, "outcome": self.outcome,
                "reason": self.reason, "policy": self.policy, "rule": self.rule,
                "window": self.window, "incident": self.incident,
                "alert": {"type": a.type, "severity": a.severity, "summary": a.summary,
                          "dedup_key": a.dedup_key, "labels": a.labels, "value": a.value},
                "timeline": [e.as_json() for e in self.timeline],
                "if_crossed": [e.as_json() for e in self.if_crossed]}


def simulate(session: Session, service: str, at: datetime, *, type_: str = "generic",
             severity: str = "critical", summary: str | None = None,
             labels: dict[str, Any] | None = None, value: float | None = None,
             dedup_key: str | None = None, payload: Any = None,
             kind: str = "generic") -> Answer:
    """What a firing alert sent to ``service`` at ``at`` (aware) would do: the alert of
    these fields, or the one firing alert of ``payload``, a webhook body of integration
    ``kind`` (read by intake's own adapter; an alert that names another known service goes
    there, as at intake). Times in the answer are UTC."""
    if at.tzinfo is None:
        raise SimulationError("at", "needs a UTC offset or a time zone")
    at = at.astimezone(UTC)
    found = session.scalar(select(Service).where(Service.name == service))
    if found is None:
        raise SimulationError("service", f"no service {service!r}")
    if payload is not None:
        alert = _from_payload(payload, kind)
        named = session.scalar(select(Service).where(Service.name == alert.service))
        found = named or found
    else:
        fields = {"type": type_, "severity": severity, "labels": labels or {}, "value": value,
                  "summary": summary or f"simulated {type_} alert", "dedup_key": dedup_key,
                  "service": service}
        try:
            alert = parse_one({k: v for k, v in fields.items() if v is not None})
        except PayloadError as exc:
            raise SimulationError(exc.field, exc.message) from None
    source = intake.Source(None, "simulation", "generic", found.id, found.name,
                           actor="simulation")
    params, verdict = intake.judge(session, source, alert, found.name, at,
                                   {found.name: found.id})
    incident = Simulated(found, params["inc_severity"], params["inc_summary"],
                         params["policy"])
    policy = params["policy"] or Lookups().policy(session, found.id)
    answer = Answer(at, found.name, alert, "pages", "", policy.name,
                    rule=_rule_json(verdict))
    if verdict is not None and verdict.held:
        answer.outcome = "held"
        answer.reason = (f"held by rule {verdict.rule.name}: below its threshold "
                         f"({_observed(verdict)}); stored, paging nobody")
        answer.if_crossed = ladder(session, incident, at)
        return answer
    joined = intake.open_incident(session, found.id, params["inc_key"])
    window = maintenance.holding_window(maintenance.active(session, at), found.name,
                                        alert.type, alert.labels)
    if joined is not None:
        return _joins(session, answer, joined[0], window is None)
    if window is not None:
        answer.outcome = "held"
        answer.window = {"id": window.id, "name": window.name, "ends_at": window.ends_at}
        answer.reason = (f"held by maintenance window {window.name} until "
                         f"{window.ends_at.isoformat()}; pages then if still open")
        incident.next_action_at = window.ends_at
        answer.timeline = ladder(session, incident, window.ends_at)
        return answer
    answer.reason = ("pages: opens an incident, " + (
        f"routed by rule {verdict.rule.name}" if verdict is not None
        else "to the service's policy (no rule matches)"))
    answer.timeline = ladder(session, incident, at)
    return answer


def _joins(session: Session, answer: Answer, incident_id: int, released: bool) -> Answer:
    """The alert joins an open incident: it pages nobody new; the incident's own ladder goes
    on from where it is (a held incident is released when no window holds this alert)."""
    stored = session.get(Incident, incident_id)
    assert stored is not None
    answer.outcome = "joins"
    answer.incident = {"id": stored.id, "status": stored.status, "level": stored.level,
                       "loop": stored.loop, "summary": stored.summary,
                       "next_action_at": stored.next_action_at}
    if stored.policy is not None:
        answer.policy = stored.policy.name
    if stored.status == "acknowledged" and stored.next_action_at is not None:
        answer.reason = (f"joins incident #{stored.id} (acknowledged): nobody is paged unless "
                         f"the acknowledgement lapses at {stored.next_action_at.isoformat()} "
                         "(the policy's ack_timeout), when its ladder restarts")
        return answer
    if stored.status != "triggered" or stored.next_action_at is None:
        answer.reason = (f"joins incident #{stored.id} ({stored.status}): nobody more is paged "
                         "for it")
        return answer
    due = max(stored.next_action_at, answer.at)
    if released and (stored.level, stored.loop) == (0, 0) and stored.next_action_at > answer.at:
        due = answer.at  # maintenance.release: an alert outside every window joined it
        answer.reason = f"joins incident #{stored.id} and releases it: {maintenance.JOINED_OUTSIDE}"
    else:
        answer.reason = (f"joins incident #{stored.id} (triggered, level {stored.level}); "
                         "its escalation goes on")
    answer.timeline = ladder(session, Simulated(
        stored.service, stored.severity, stored.summary, stored.policy, stored.level,
        stored.loop, due, stored.id), due)
    return answer


def _from_payload(payload: Any, kind: str) -> NormalizedAlert:
    if kind not in FORMATS:
        raise SimulationError("format", f"one of {', '.join(FORMATS)}")
    try:
        firing = [a for a in FORMATS[kind](payload) if a.status != "resolved"]
    except PayloadError as exc:
        raise SimulationError(f"payload.{exc.field}".rstrip("."), exc.message) from None
    if len(firing) != 1:
        raise SimulationError("payload", f"holds {len(firing)} firing alerts; simulate one "
                                         "at a time")
    return firing[0]


def _rule_json(verdict: Verdict | None) -> dict[str, Any] | None:
    if verdict is None:
        return None
    return {"name": verdict.rule.name, "held": verdict.held, "when": verdict.rule.spec.get("when"),
            "observed": verdict.observed, "dedup_key": verdict.dedup_key,
            "severity": verdict.severity, "runbook": verdict.rule.runbook}


def _observed(verdict: Verdict) -> str:
    """The rule's condition and what was seen: ``count >= 10 within 5m per merchant_id;
    seen: count 1``."""
    seen = ", ".join(f"{k} {_text(v)}" for k, v in verdict.observed.items())
    parts = [_text(verdict.rule.spec.get("when") or ""), f"seen: {seen}" if seen else ""]
    return "; ".join(p for p in parts if p) or "its condition"


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k} {_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ",".join(map(_text, value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)

