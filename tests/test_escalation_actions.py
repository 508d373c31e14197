"""Running escalations: acknowledgements that time out, manual escalate and reassign through
the API, the frozen policy, and Slack channel targets."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from oncall import actions, incidents
from oncall.apply import apply_config, load_tree
from oncall.models import EscalationPolicy, Incident, IncidentEvent, PolicyLevel, utcnow
from oncall.paging import runs, sweeper
from tests.conftest import ROOT, Cast
from tests.fakes import install
from tests.test_engine import recipients, timeline, trigger


def set_ack_timeout(factory: Any, seconds: int | None) -> None:
    with factory() as s, s.begin():
        s.scalar(select(EscalationPolicy)).ack_timeout = seconds


def state(factory: Any, incident_id: int) -> tuple[str, int, int]:
    with factory() as s:
        incident = s.get(Incident, incident_id)
        return incident.status, incident.level, incident.loop


def test_an_acknowledgement_times_out_and_paging_starts_again_from_level_one(
        factory: Any, cast: Cast) -> None:
    set_ack_timeout(factory, 1800)
    incident_id = trigger(factory)
    now = utcnow()
    runs.escalate_incident(factory, incident_id, now=now)
    with factory() as s, s.begin():
        incidents.acknowledge(s, incident_id, "user:alice@example.com", now)
    sweeper.sweep(factory, now + timedelta(seconds=1799))
    assert state(factory, incident_id)[0] == "acknowledged"
    sweeper.sweep(factory, now + timedelta(seconds=1801))
    assert state(factory, incident_id) == ("triggered", 1, 1)
    alice = f"user:{cast.alice.id}"
    assert [(lvl, who) for lvl, who, _ in recipients(factory, incident_id)] == [
        (1, alice), (1, alice)]
    assert timeline(factory, incident_id)[-3:] == ["ack_timed_out", "escalated", "paged"]
    # The restarted ladder runs its full course: level 2 after escalate_after.
    sweeper.sweep(factory, now + timedelta(seconds=1801 + 300))
    assert state(factory, incident_id) == ("triggered", 2, 1)


def test_without_an_ack_timeout_an_acknowledgement_holds(factory: Any, cast: Cast) -> None:
    incident_id = trigger(factory)
    now = utcnow()
    runs.escalate_incident(factory, incident_id, now=now)
    with factory() as s, s.begin():
        incidents.acknowledge(s, incident_id, "user:alice@example.com", now)
    sweeper.sweep(factory, now + timedelta(days=3))
    assert state(factory, incident_id)[0] == "acknowledged"


def test_a_resolved_incident_never_times_out(factory: Any, cast: Cast) -> None:
    set_ack_timeout(factory, 60)
    incident_id = trigger(factory)
    now = utcnow()
    runs.escalate_incident(factory, incident_id, now=now)
    with factory() as s, s.begin():
        incidents.acknowledge(s, incident_id, "user:alice@example.com", now)
        incidents.resolve(s, incident_id, "user:alice@example.com", now)
    sweeper.sweep(factory, now + timedelta(seconds=120))
    assert state(factory, incident_id)[0] == "resolved"
    assert "ack_timed_out" not in timeline(factory, incident_id)


def test_escalate_pages_the_next_level_now(factory: Any, cast: Cast, client: Any) -> None:
    incident_id = trigger(factory)
    runs.escalate_incident(factory, incident_id, now=utcnow())
    r = client.post(f"/api/v1/incidents/{incident_id}/escalate", headers=cast.auth("alice"))
    assert r.status_code == 200 and r.json["level"] == 2
    assert [who for _, who, _ in recipients(factory, incident_id)] == [
        f"user:{cast.alice.id}", f"user:{cast.bob.id}"]
    with factory() as s:
        events = s.scalars(select(IncidentEvent).where(
            IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.id)).all()
        assert [(e.kind, e.actor) for e in events][-2:] == [
            ("escalate_requested", "user:alice@example.com"),
            ("escalated", "user:alice@example.com")]


def test_escalating_an_acknowledged_incident_triggers_it_again(factory: Any, cast: Cast,
                                                                client: Any) -> None:
    incident_id = trigger(factory)
    now = utcnow()
    runs.escalate_incident(factory, incident_id, now=now)
    with factory() as s, s.begin():
        incidents.acknowledge(s, incident_id, "user:alice@example.com", now)
        actions.escalate_now(s, incident_id, "user:alice@example.com", now)
    assert state(factory, incident_id) == ("triggered", 2, 0)


def test_escalate_refuses_resolved_unknown_and_viewers(factory: Any, cast: Cast,
                                                       client: Any) -> None:
    incident_id = trigger(factory)
    assert client.post(f"/api/v1/incidents/{incident_id}/escalate",
                       headers=cast.auth("viewer")).status_code == 403
    assert client.post("/api/v1/incidents/999999/escalate",
                       headers=cast.auth()).status_code == 404
    with factory() as s, s.begin():
        incidents.resolve(s, incident_id, "user:alice@example.com", utcnow())
    r = client.post(f"/api/v1/incidents/{incident_id}/escalate", headers=cast.auth())
    assert r.status_code == 409 and recipients(factory, incident_id) == []


def test_reassign_to_users_pages_them_now_then_the_original_ladder(
        factory: Any, cast: Cast, client: Any) -> None:
    incident_id = trigger(factory)
    now = utcnow()
    runs.escalate_incident(factory, incident_id, now=now)
    r = client.post(f"/api/v1/incidents/{incident_id}/reassign",
                    json={"users": ["manager@example.com"]}, headers=cast.auth("bob"))
    assert r.status_code == 200 and (r.json["level"], r.json["loop"]) == (1, 1)
    assert recipients(factory, incident_id)[-1][1] == f"user:{cast.manager.id}"
    with factory() as s:
        incident = s.get(Incident, incident_id)
        assert [t.ref for lvl in incident.policy.levels for t in lvl.targets] == [
            "manager@example.com", "alice@example.com", "bob@example.com"]
        assert incident.next_action_at is not None
        reassigned = s.scalar(select(IncidentEvent).where(IncidentEvent.kind == "reassigned"))
        assert (reassigned.actor, reassigned.detail["users"]) == (
            "user:bob@example.com", ["manager@example.com"])


def test_reassign_to_a_policy_replaces_the_frozen_one(factory: Any, cast: Cast,
                                                      client: Any) -> None:
    with factory() as s, s.begin():
        s.add(EscalationPolicy(name="managers", levels=[PolicyLevel(
            position=0, escalate_after=60,
            targets=[{"type": "user", "ref": "manager@example.com"}])]))
    incident_id = trigger(factory)
    runs.escalate_incident(factory, incident_id, now=utcnow())
    r = client.post(f"/api/v1/incidents/{incident_id}/reassign", json={"policy": "managers"},
                    headers=cast.auth())
    assert r.status_code == 200
    with factory() as s:
        assert s.get(Incident, incident_id).policy.name == "managers"
    assert recipients(factory, incident_id)[-1][1] == f"user:{cast.manager.id}"


def test_reassign_refuses_bad_requests_naming_the_field(factory: Any, cast: Cast,
                                                        client: Any) -> None:
    incident_id = trigger(factory)
    url = f"/api/v1/incidents/{incident_id}/reassign"
    cases = [({"policy": "nope"}, "policy"), ({"users": ["ghost@example.com"]}, "users"),
             ({}, "users"), ({"users": ["bob@example.com"], "policy": "billing"}, "users")]
    for body, field in cases:
        r = client.post(url, json=body, headers=cast.auth())
        assert (r.status_code, r.json["field"]) == (400, field), body
    assert recipients(factory, incident_id) == []


def test_a_policy_edited_mid_escalation_does_not_change_the_running_incident(
        factory: Any, tmp_path: Path) -> None:
    for name in ("rules", "schedules"):
        shutil.copytree(ROOT / name, tmp_path / name)
    rules_file = tmp_path / "rules" / "billing.yaml"

    def apply() -> None:
        with factory() as s, s.begin():
            apply_config(s, load_tree([tmp_path / "rules", tmp_path / "schedules"],
                                      base=tmp_path))

    apply()
    from oncall.models import Integration, Service
    from oncall.security import hash_token

    with factory() as s, s.begin():
        service = s.scalar(select(Service).where(Service.name == "billing-api"))
        s.add(Integration(service_id=service.id, kind="generic", name="g",
                          token_hash=hash_token("t"), prefix="t"))
    incident_id = trigger(factory)
    now = utcnow()
    runs.escalate_incident(factory, incident_id, now=now)
    rules_file.write_text(rules_file.read_text()
                          .replace("escalate_after: 10m", "escalate_after: 1m")
                          .replace("notify: [user:manager@example.com]",
                                   "notify: [user:dave@example.com]"))
    apply()
    with factory() as s:
        frozen = s.get(Incident, incident_id).policy.to_json()
        assert frozen["levels"][2]["targets"] == [{"type": "user",
                                                   "ref": "manager@example.com"}]
        assert frozen["levels"][1]["escalate_after"] == 600
        assert frozen["ack_timeout"] == 1800
        assert s.scalar(select(PolicyLevel.escalate_after).where(
            PolicyLevel.position == 1)) == 60


def test_a_slack_channel_target_is_paged_in_the_channel(factory: Any, cast: Cast,
                                                        monkeypatch: Any) -> None:
    with factory() as s, s.begin():
        s.scalar(select(EscalationPolicy)).levels[0].targets = [
            {"type": "slack", "ref": "#billing-incidents"}]
    incident_id = trigger(factory, dedup_key="no-slack")
    runs.escalate_incident(factory, incident_id, now=utcnow())
    assert "target_unsupported" in timeline(factory, incident_id)
    fakes = install(monkeypatch, "slack")
    incident_id = trigger(factory, dedup_key="slack")
    sweeper.sweep(factory, utcnow())
    assert recipients(factory, incident_id) == [(1, "slack:#billing-incidents", "sent")]
    assert fakes["slack"].who() == ["slack:#billing-incidents"]
