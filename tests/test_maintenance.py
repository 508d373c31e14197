"""Maintenance windows: matching alerts are stored and shown but page nobody; an incident
they opened pages level 1 when the window ends (or is ended early) if still open. The
escalation is driven with explicit times through ``sweeper.sweep``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from oncall import maintenance
from oncall.maintenance.window import Window, WindowError, check_matchers
from oncall.models import Incident, IncidentEvent, utcnow
from oncall.paging import sweeper
from tests.conftest import Cast, alert, pages_for


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    maintenance.invalidate()
    yield
    maintenance.invalidate()  # the rows are deleted after each test: forget them here too


def open_window(client: Any, cast: Cast, minutes: float = 30, **data: Any) -> dict[str, Any]:
    now = utcnow()
    body = {"name": "stripe-upgrade", "matchers": {"service": "billing-api"},
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(minutes=minutes)).isoformat(),
            "reason": "processor migration", **data}
    r = client.post("/api/v1/maintenance", json=body, headers=cast.auth("manager"))
    assert r.status_code == 201, r.json
    return dict(r.json)


def send(client: Any, cast: Cast, **fields: Any) -> dict[str, Any]:
    r = client.post(f"/integrations/{cast.integration_token}", json=alert(**fields))
    assert r.status_code == 202, r.json
    return dict(r.json["incidents"][0])


def sent_levels(factory: Any, incident_id: int) -> list[tuple[int, str]]:
    return [(p.level, p.recipient) for p in pages_for(factory, incident_id)]


def kinds(session: Any, incident_id: int) -> list[str]:
    return list(session.scalars(select(IncidentEvent.kind).where(
        IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.id)))


def ends(window: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(window["ends_at"])


# The pure part


def w(**kw: Any) -> Window:
    t = datetime(2026, 12, 1, tzinfo=UTC)
    return Window(1, "w", t, t + timedelta(hours=1), **kw)


def test_matchers_are_exact_and_all_must_hold() -> None:
    window = w(service="billing-cron", type="heartbeat", labels={"heartbeat": "dunning"})
    assert window.matches("billing-cron", "heartbeat", {"heartbeat": "dunning", "x": 1})
    assert not window.matches("billing-api", "heartbeat", {"heartbeat": "dunning"})
    assert not window.matches("billing-cron", "charge_failure", {"heartbeat": "dunning"})
    assert not window.matches("billing-cron", "heartbeat", {"heartbeat": "invoices"})
    assert not window.matches("billing-cron", "heartbeat", {})
    assert w().matches("anything", "any", {})  # no matchers: every alert


def test_label_values_compare_as_text() -> None:
    stored = check_matchers({"labels": {"shard": 42, "canary": True}})
    window = w(labels=stored["labels"])
    assert window.matches(None, "t", {"shard": "42", "canary": True})


def test_a_window_is_in_force_from_its_start_up_to_its_end() -> None:
    window = w()
    assert window.active_at(window.starts_at) and not window.active_at(window.ends_at)


@pytest.mark.parametrize("raw,field", [
    ("everything", "matchers"), ({"team": "x"}, "matchers.team"),
    ({"labels": {"a": [1]}}, "matchers.labels.a"), ({"service": ""}, "matchers.service")])
def test_bad_matchers_name_the_field(raw: Any, field: str) -> None:
    with pytest.raises(WindowError) as err:
        check_matchers(raw)
    assert err.value.field == field


# Intake, holding and paging at the end


def test_a_matching_alert_is_stored_and_shown_but_pages_nobody(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    window = open_window(client, cast)
    outcome = send(client, cast)
    incident = session.get(Incident, outcome["incident_id"])
    assert incident.status == "triggered" and incident.next_action_at == ends(window)
    assert kinds(session, incident.id) == ["triggered", "suppressed"]
    detail = client.get(f"/api/v1/incidents/{incident.id}", headers=cast.auth()).json
    assert "suppressed by maintenance window stripe-upgrade until" in \
        detail["timeline"][1]["detail"]["note"]
    sweeper.sweep(factory, now=utcnow() + timedelta(minutes=29))
    assert sent_levels(factory, incident.id) == []
    listed = client.get("/api/v1/maintenance", headers=cast.auth("viewer")).json
    assert listed["maintenance"][0]["held_incidents"] == 1
    assert listed["maintenance"][0]["state"] == "active"


def test_the_incident_pages_level_one_when_the_window_ends_if_still_open(
        client: Any, cast: Cast, factory: Any) -> None:
    window = open_window(client, cast)
    incident_id = send(client, cast)["incident_id"]
    send(client, cast, summary="still failing")  # joins, still held
    sweeper.sweep(factory, now=ends(window) - timedelta(seconds=1))
    assert sent_levels(factory, incident_id) == []
    sweeper.sweep(factory, now=ends(window))
    assert sent_levels(factory, incident_id) == [(1, f"user:{cast.alice.id}")]
    sweeper.sweep(factory, now=ends(window) + timedelta(seconds=300))
    assert sent_levels(factory, incident_id)[1] == (2, f"user:{cast.bob.id}")


def test_a_batch_of_alerts_is_held_like_single_ones(client: Any, cast: Cast, factory: Any,
                                                    session: Any) -> None:
    window = open_window(client, cast)
    r = client.post(f"/integrations/{cast.integration_token}",
                    json=[alert(labels={"merchant_id": m}) for m in ("acme", "globex")])
    assert r.status_code == 202
    ids = [o["incident_id"] for o in r.json["incidents"]]
    assert len(set(ids)) == 2
    for incident_id in ids:
        assert kinds(session, incident_id) == ["triggered", "suppressed"]
    sweeper.sweep(factory, now=utcnow())
    assert [sent_levels(factory, i) for i in ids] == [[], []]
    sweeper.sweep(factory, now=ends(window))
    assert [len(sent_levels(factory, i)) for i in ids] == [1, 1]


def test_an_incident_resolved_during_the_window_never_pages(
        client: Any, cast: Cast, factory: Any) -> None:
    window = open_window(client, cast)
    incident_id = send(client, cast)["incident_id"]
    send(client, cast, status="resolved")
    sweeper.sweep(factory, now=ends(window) + timedelta(minutes=1))
    assert sent_levels(factory, incident_id) == []


def test_an_alert_outside_the_windows_matchers_pages_as_before(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    open_window(client, cast, matchers={"labels": {"merchant_id": "globex"}})
    incident_id = send(client, cast)["incident_id"]  # merchant acme
    assert kinds(session, incident_id) == ["triggered"]
    sweeper.sweep(factory, now=utcnow())
    assert sent_levels(factory, incident_id) == [(1, f"user:{cast.alice.id}")]


def test_a_window_that_has_not_started_holds_nothing(client: Any, cast: Cast,
                                                     session: Any) -> None:
    now = utcnow()
    open_window(client, cast, starts_at=(now + timedelta(minutes=2)).isoformat(),
                ends_at=(now + timedelta(minutes=30)).isoformat())
    incident_id = send(client, cast)["incident_id"]
    assert kinds(session, incident_id) == ["triggered"]


def test_ending_a_window_early_pages_what_it_held_now(client: Any, cast: Cast, factory: Any,
                                                      session: Any) -> None:
    window = open_window(client, cast, minutes=120)
    incident_id = send(client, cast)["incident_id"]
    r = client.post(f"/api/v1/maintenance/{window['id']}/end", headers=cast.auth("manager"))
    assert r.status_code == 200 and r.json["state"] == "ended"
    assert r.json["held_incidents"] == 0
    assert kinds(session, incident_id)[-1] == "suppression_lifted"
    sweeper.sweep(factory, now=utcnow())
    assert sent_levels(factory, incident_id) == [(1, f"user:{cast.alice.id}")]
    assert send(client, cast, summary="after")["incident_id"] == incident_id


def test_moving_the_end_moves_the_held_incidents_first_page(client: Any, cast: Cast,
                                                            session: Any) -> None:
    window = open_window(client, cast)
    incident_id = send(client, cast)["incident_id"]
    later = ends(window) + timedelta(hours=1)
    r = client.patch(f"/api/v1/maintenance/{window['id']}", json={"ends_at": later.isoformat()},
                     headers=cast.auth("manager"))
    assert r.status_code == 200
    session.expire_all()
    assert session.get(Incident, incident_id).next_action_at == later


def test_deleting_a_window_pages_what_it_held(client: Any, cast: Cast, factory: Any) -> None:
    window = open_window(client, cast)
    incident_id = send(client, cast)["incident_id"]
    r = client.delete(f"/api/v1/maintenance/{window['id']}", headers=cast.auth("manager"))
    assert r.status_code == 204
    sweeper.sweep(factory, now=utcnow())
    assert sent_levels(factory, incident_id) == [(1, f"user:{cast.alice.id}")]


def test_an_alert_outside_every_window_joining_a_held_incident_releases_it(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    open_window(client, cast, matchers={"labels": {"processor": "stripe"}})
    held = send(client, cast, dedup_key="charges", labels={"processor": "stripe"})
    joined = send(client, cast, dedup_key="charges", labels={"processor": "adyen"})
    assert joined["incident_id"] == held["incident_id"]
    assert kinds(session, held["incident_id"])[-1] == "suppression_lifted"
    sweeper.sweep(factory, now=utcnow())
    assert sent_levels(factory, held["incident_id"]) == [(1, f"user:{cast.alice.id}")]


def test_a_window_deleted_by_another_process_holds_nothing_even_if_cached(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    window = open_window(client, cast)
    maintenance.active(session, utcnow())  # cached in this process
    with factory() as s, s.begin():
        from oncall.models import MaintenanceWindow

        s.delete(s.get(MaintenanceWindow, window["id"]))  # not through the API: no invalidate
    incident_id = send(client, cast)["incident_id"]
    assert kinds(session, incident_id) == ["triggered"]


def test_a_heartbeat_missed_during_maintenance_is_held_too(client: Any, cast: Cast,
                                                           factory: Any) -> None:
    from oncall.heartbeats import service, store

    now = utcnow()
    with factory() as s, s.begin():
        service.create(s, "x", {"name": "dunning", "period": "1h", "grace": "5m",
                                "service": cast.service.name}, now - timedelta(hours=2))
    window = open_window(client, cast, matchers={"service": "billing-api", "type": "heartbeat"})
    [incident_id] = store.run_checks(factory, now)
    sweeper.sweep(factory, now=now)
    assert sent_levels(factory, incident_id) == []
    sweeper.sweep(factory, now=ends(window))
    assert sent_levels(factory, incident_id) == [(1, f"user:{cast.alice.id}")]


@pytest.mark.parametrize("body,field", [
    ({"ends_at": "tomorrow"}, "ends_at"),
    ({"ends_at": "2026-12-01T02:00:00"}, "ends_at"),
    ({"starts_at": "2026-12-01T02:00:00Z", "ends_at": "2026-12-01T01:00:00Z"}, "ends_at"),
    ({"matchers": {"labels": "x"}}, "matchers.labels"),
])
def test_bad_windows_are_a_400_naming_the_field(client: Any, cast: Cast, body: dict[str, Any],
                                                field: str) -> None:
    r = client.post("/api/v1/maintenance", json={"name": "w", "ends_at": "2030-01-01T00:00:00Z",
                                                 **body}, headers=cast.auth("manager"))
    assert r.status_code == 400 and r.json["field"] == field, r.json


def test_only_managers_open_windows(client: Any, cast: Cast) -> None:
    r = client.post("/api/v1/maintenance", json={"name": "w", "duration": 600},
                    headers=cast.auth("alice"))
    assert r.status_code == 403
