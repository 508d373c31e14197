"""``/api/v1/rules`` (threshold rules and their live state) and ``/api/v1/alerts`` (stored
alerts, e.g. the ones a rule held below its threshold). Rules are file-managed: they change
through ``oncall apply``, so this API only reads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import Boolean, Integer, String
from apiflask.validators import Range
from flask import Flask
from sqlalchemy import func, select

from oncall import incidents
from oncall.models import Alert, Incident, RuleState, ThresholdRule, utcnow
from oncall.rules import RuleError, evaluate, parse, store
from oncall.rules.model import BurnRateCondition, CountCondition, Rule, ValueCondition
from oncall.web import session
from oncall.web.auth import require

bp = APIBlueprint("rules", __name__, url_prefix="/api/v1", tag="Rules")


def _kind(rule: Rule) -> str:
    return {ValueCondition: "value", CountCondition: "count",
            BurnRateCondition: "burn_rate"}.get(type(rule.when), "pass")


def rule_json(row: ThresholdRule) -> dict[str, Any]:
    try:
        kind = _kind(parse(row.spec))
    except (RuleError, KeyError, TypeError, ValueError) as exc:
        kind = f"invalid: {exc}"
    return {"name": row.name, "position": row.position, "kind": kind,
            "managed_by": row.managed_by, "updated_at": row.updated_at.isoformat(),
            "spec": row.spec}


def alert_json(a: Alert) -> dict[str, Any]:
    return {"id": a.id, "received_at": a.received_at.isoformat(), "status": a.status,
            "type": a.type, "severity": a.severity, "summary": a.summary,
            "dedup_key": a.dedup_key, "service": a.service, "labels": a.labels,
            "value": a.value, "rule": a.rule, "held": a.held, "incident_id": a.incident_id,
            **incidents.sanitized(a)}


@bp.get("/rules")
@bp.doc(security="ApiToken")
@require("viewer")
def list_rules() -> dict[str, Any]:
    """Threshold rules in evaluation order (the first that matches an alert decides), with
    the file each comes from and how many groups are over their threshold now."""
    rows = list(session().scalars(select(ThresholdRule).order_by(ThresholdRule.position)))
    firing = dict(session().execute(select(RuleState.rule, func.count())
                                    .where(RuleState.firing.is_(True))
                                    .group_by(RuleState.rule)).all())
    return {"rules": [{**rule_json(r), "firing_groups": int(firing.get(r.name, 0))}
                      for r in rows]}


@bp.get("/rules/<name>")
@bp.doc(security="ApiToken", responses={404: "No such rule"})
@require("viewer")
def get_rule(name: str) -> dict[str, Any]:
    """A rule with its current state: for a windowed rule, every group's evaluation now
    (count or burn rates, over or not), its incident and hold-down; for any rule, the alerts
    it held below its threshold in the last 24 hours."""
    s = session()
    row = s.scalar(select(ThresholdRule).where(ThresholdRule.name == name))
    if row is None:
        raise HTTPError(404, f"rule {name!r} not found")
    now = utcnow()
    out = rule_json(row)
    try:
        rule = parse(row.spec)
    except (RuleError, KeyError, TypeError, ValueError):
        return out
    states = {st.group_key: st for st in s.scalars(select(RuleState)
                                                    .where(RuleState.rule == name))}
    groups = []
    if rule.windowed:
        window = getattr(rule.when, "within")  # noqa: B009
        for obs in evaluate.observe_all(rule, store.samples(s, rule, now, window), now):
            st = states.pop(store.group_key(obs.group), None)
            groups.append(_group_json(s, rule.group_labels(obs.group), obs.over, obs.values,
                                      st))
        groups += [_group_json(s, st.labels, False, {}, st) for st in states.values()]
    since = now - timedelta(hours=24)
    held = s.scalar(select(func.count()).select_from(Alert).where(
        Alert.rule == name, Alert.held.is_(True), Alert.received_at > since))
    recent = s.scalars(select(Alert).where(Alert.rule == name, Alert.held.is_(True))
                       .order_by(Alert.id.desc()).limit(20))
    return {**out, "evaluated_at": now.isoformat(), "groups": groups,
            "held_last_24h": int(held or 0), "recent_held": [alert_json(a) for a in recent]}


def _group_json(s: Any, labels: dict[str, Any], over: bool, values: dict[str, Any],
                st: RuleState | None) -> dict[str, Any]:
    incident = s.get(Incident, st.incident_id) if st and st.incident_id else None
    return {"labels": labels, "over": over, "observed": values,
            "incident": ({"id": incident.id, "status": incident.status} if incident else None),
            "clear_since": st.clear_since.isoformat() if st and st.clear_since else None}


class AlertQuery(Schema):
    held = Boolean(metadata={"description": "only alerts a rule held below its threshold "
                                            "(true), or only the others (false)"})
    rule = String(metadata={"description": "only alerts this rule matched"})
    type = String()
    limit = Integer(load_default=100, validate=Range(min=1, max=1000))


@bp.get("/alerts")
@bp.doc(security="ApiToken", tags=["Alerts"])
@bp.input(AlertQuery, location="query", arg_name="query")
@require("viewer")
def list_alerts(query: dict[str, Any]) -> dict[str, Any]:
    """Stored alerts, newest first. `held=true` lists the ones a threshold rule kept below
    its threshold: stored and visible, paging nobody."""
    stmt = select(Alert).order_by(Alert.id.desc()).limit(query["limit"])
    if "held" in query:
        stmt = stmt.where(Alert.held.is_(query["held"]))
    if "rule" in query:
        stmt = stmt.where(Alert.rule == query["rule"])
    if "type" in query:
        stmt = stmt.where(Alert.type == query["type"])
    return {"alerts": [alert_json(a) for a in session().scalars(stmt)]}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
