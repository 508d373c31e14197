"""Home and incidents in the console without a browser: what home shows, the list's filters
and its fragment, an incident's page (timeline, pages with their delivery status, alerts,
hostile text escaped), and the actions going through the domain under the one role rule."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from oncall import incident_board, incidents
from oncall.models import (
    EscalationPolicy,
    Heartbeat,
    Incident,
    IncidentEvent,
    MaintenanceWindow,
    Page,
    PolicyLevel,
    User,
    utcnow,
)
from oncall.paging import runs, sweeper
from oncall.schedules import service as schedules
from tests.conftest import Cast
from tests.test_console import csrf
from tests.test_console_manage import signed_in
from tests.test_engine import recipients, timeline, trigger

XSS = "<img src=x onerror=alert(1)>"


def as_user(client: Any, session: Any, email: str) -> Any:
    """Sign in as an existing cast member (giving them a password)."""
    from oncall.accounts import passwords
    from tests.test_console import PASSWORD, sign_in

    user = session.scalar(select(User).where(User.email == email))
    user.password_hash = passwords.hash_password(PASSWORD)
    session.commit()
    client.delete_cookie("oncall_session")  # whoever was signed in before
    assert sign_in(client, email, PASSWORD).status_code == 302
    return client


def test_slash_opens_home_with_open_incidents_triggered_first(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    first = trigger(factory, summary="first", dedup_key="a")
    second = trigger(factory, summary="second", dedup_key="b")
    third = trigger(factory, summary="third", dedup_key="c")
    with factory() as s, s.begin():
        incidents.acknowledge(s, third, "user:bob@example.com", utcnow())
        incidents.resolve(s, first, "user:bob@example.com", utcnow())
    as_user(client, session, "alice@example.com")
    page = client.get("/").get_data(as_text=True)
    assert "Open incidents: 2" in page
    assert page.index(f"#{second}") < page.index(f"#{third}")  # triggered, then acknowledged
    assert f"#{first}<" not in page
    assert 'aria-current="page">Home' in page and ">Incidents</a>" in page


def test_home_shows_who_is_on_call_my_next_shift_late_heartbeats_and_maintenance(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    now = utcnow()
    today = now.date()
    schedules.create_schedule(session, "test", {
        "name": "primary", "timezone": "UTC",
        "layers": [{"name": "daily", "rotation": "daily", "handoff": "00:00",
                    "start": (today - timedelta(days=10)).isoformat(),
                    "members": ["bob@example.com", "alice@example.com"]}]})
    session.add(Heartbeat(name="nightly-backup", uuid="u1", service_id=cast.service.id,
                          period=3600, state="down", down_reason="missed"))
    session.add(Heartbeat(name="fine-job", uuid="u2", service_id=cast.service.id,
                          period=3600, state="up"))
    session.add(MaintenanceWindow(name="db-upgrade", matchers={"service": "billing-api"},
                                  starts_at=now - timedelta(hours=1),
                                  ends_at=now + timedelta(hours=1), created_by="user:x"))
    session.add(MaintenanceWindow(name="later", matchers={}, starts_at=now + timedelta(days=1),
                                  ends_at=now + timedelta(days=2), created_by="user:x"))
    session.commit()
    with factory() as s:
        me = s.scalar(select(User).where(User.email == "alice@example.com"))
        data = incident_board.home(s, me, now)
    on_call = data.on_call[0].now
    assert on_call is not None and on_call.email in ("alice@example.com", "bob@example.com")
    assert data.my_shift is not None and data.my_shift.schedule == "primary"
    if on_call.email == "alice@example.com":
        assert data.my_shift.start <= now < data.my_shift.end
    else:  # alice is next, from the next midnight for one day
        assert data.my_shift.start == data.on_call[0].until
        assert data.my_shift.end - data.my_shift.start == timedelta(days=1)
    page = as_user(client, session, "alice@example.com").get("/").get_data(as_text=True)
    assert "nightly-backup" in page and "fine-job" not in page
    assert "db-upgrade" in page and "later" not in page
    assert "primary" in page and "My next shift" in page


def test_my_next_shift_counts_an_override(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    now = utcnow()
    made = schedules.create_schedule(session, "test", {
        "name": "primary", "timezone": "UTC",
        "layers": [{"name": "daily", "rotation": "daily", "handoff": "00:00",
                    "start": (now.date() - timedelta(days=10)).isoformat(),
                    "members": ["bob@example.com"]}]})
    start = (now + timedelta(days=3)).replace(microsecond=0)
    manager = session.scalar(select(User).where(User.email == "manager@example.com"))
    schedules.add_override(session, "test", made, manager, start, start + timedelta(hours=4),
                           by=manager, now=now)
    session.commit()
    with factory() as s:
        me = s.scalar(select(User).where(User.email == "manager@example.com"))
        mine = incident_board.home(s, me, now).my_shift
    assert mine is not None and mine.override
    assert (mine.start, mine.end) == (start, start + timedelta(hours=4))


def test_the_list_filters_and_its_fragment_is_just_the_list(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    f = factory
    crit = trigger(f, summary="critical one", dedup_key="a")
    warn = trigger(f, summary="warning one", dedup_key="b", severity="warning")
    done = trigger(f, summary="done one", dedup_key="c")
    with f() as s, s.begin():
        incidents.resolve(s, done, "user:bob@example.com", utcnow())
        incidents.acknowledge(s, warn, "user:alice@example.com", utcnow())
    runs.escalate_incident(f, crit, now=utcnow())  # pages alice
    as_user(client, session, "alice@example.com")

    def ids(query: str, hx: bool = False) -> list[int]:
        r = client.get(f"/incidents?{query}", headers={"HX-Request": "true"} if hx else {})
        assert r.status_code == 200
        body = r.get_data(as_text=True)
        return [i for i in (crit, warn, done) if f'href="/incidents/{i}"' in body]

    assert ids("") == [crit, warn]  # open by default, newest first below
    assert ids("status=all") == [crit, warn, done]
    assert ids("status=resolved") == [done]
    assert ids("severity=warning&status=all") == [warn]
    assert ids("service=billing-api&status=all") == [crit, warn, done]
    assert ids("service=nope&status=all") == []
    assert ids("mine=1&status=all") == [crit, warn]  # paged to alice; acknowledged by alice
    as_user(client, session, "bob@example.com")
    assert ids("mine=1&status=all") == []  # bob resolved one, but was neither paged nor acked

    body = client.get("/incidents?status=all").get_data(as_text=True)
    assert body.index(f'href="/incidents/{warn}"') < body.index(f'href="/incidents/{crit}"')
    fragment = client.get("/incidents?status=all", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert text.lstrip().startswith('<div id="incident-list"')
    assert 'hx-trigger="every 1500ms"' in text and "<html" not in text
    assert 'hx-get="/incidents?status=all"' in text
    assert client.get("/incidents?status=bogus").status_code == 400
    assert client.get("/incidents?severity=bogus").status_code == 400


def test_the_list_is_paginated(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    f = factory
    made = [trigger(f, dedup_key=f"k{i}") for i in range(incident_board.PER_PAGE + 3)]
    as_user(client, session, "alice@example.com")
    first = client.get("/incidents").get_data(as_text=True)
    assert f'href="/incidents/{made[-1]}"' in first and f'href="/incidents/{made[0]}"' not in first
    assert "page 1 of 2" in first and "Older" in first
    second = client.get("/incidents?status=open&page=2").get_data(as_text=True)
    assert f'href="/incidents/{made[0]}"' in second and "Newer" in second
    assert 'hx-get="/incidents?status=open&amp;page=2"' in second


def test_the_incident_page_shows_timeline_pages_alerts_and_escapes_hostile_text(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    f = factory
    incident_id = trigger(f, summary=XSS, labels={"merchant": XSS})
    runs.escalate_incident(f, incident_id, now=utcnow())
    as_user(client, session, "viewer@example.com")
    r = client.get(f"/incidents/{incident_id}")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert XSS not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "merchant=&lt;img" in body
    assert "Opened" in body and "Level 1 paged" in body
    assert "Alice" in body  # the page's recipient by name
    # A viewer sees no action and no note form.
    for control in ("Acknowledge</button>", "Resolve</button>", "Escalate</button>",
                    "Reassign and page now", "Add note"):
        assert control not in body
    assert client.get("/incidents/999999").status_code == 404


def test_delivery_status_per_channel_queued_sent_delivered_failed_fell_back(
        cast: Cast, factory: Any, session: Any) -> None:
    f = factory
    incident_id = trigger(f)
    now = utcnow()
    with f() as s, s.begin():
        base = {"incident_id": incident_id, "level": 1, "loop": 0, "message": "m",
                "user_id": cast.alice.id, "recipient": f"user:{cast.alice.id}"}
        s.add_all([
            Page(**base, channel="sms", status="failed", attempts=1, error="invalid number"),
            Page(**base, channel="voice", status="sent", attempts=1, sent_at=now,
                 provider_status="delivered"),
            Page(**base, channel="slack", status="sent", attempts=1, sent_at=now),
            Page(**{**base, "level": 2}, channel="sms", status="pending",
                 next_attempt_at=now - timedelta(seconds=1)),
            Page(**{**base, "level": 2}, channel="voice", status="pending",
                 next_attempt_at=now + timedelta(minutes=2)),
            Page(**{**base, "level": 3}, channel="sms", status="cancelled",
                 error="incident acknowledged before sending")])
        incidents.record(s, incident_id, "fallback", "system", now, to_channel="voice",
                         user="alice@example.com", level=1, loop=0, from_channel="sms")
    with f() as s:
        got = {(d.level, d.channel): d for d in incident_board.deliveries(s, incident_id, now)}
    assert got[(1, "sms")].state == "failed" and got[(1, "sms")].fell_back_to == "voice"
    assert got[(1, "sms")].detail == "invalid number"
    assert got[(1, "voice")].state == "delivered"
    assert got[(1, "slack")].state == "sent"
    assert got[(2, "sms")].state == "queued"
    assert got[(2, "voice")].state == "scheduled"
    assert got[(3, "sms")].state == "cancelled"


def test_acknowledge_in_the_console_stops_the_ladder(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    f = factory
    incident_id = trigger(f)
    now = utcnow()
    runs.escalate_incident(f, incident_id, now=now)
    as_user(client, session, "alice@example.com")
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Acknowledge</button>" in page
    token = csrf(client, f"/incidents/{incident_id}")
    r = client.post(f"/incidents/{incident_id}/ack", data={"csrf_token": token})
    assert r.status_code == 302
    with f() as s:
        incident = s.get(Incident, incident_id)
        assert (incident.status, incident.acked_by) == ("acknowledged",
                                                        "user:alice@example.com")
    sweeper.sweep(f, now + timedelta(seconds=3600))  # level 2's time, long past
    after_sweep = recipients(f, incident_id)
    assert [(lvl, who) for lvl, who, _ in after_sweep] == [(1, f"user:{cast.alice.id}")]
    assert after_sweep[0][2] == "cancelled"  # queued before the ack, never sent; bob never paged
    assert timeline(f, incident_id).count("acknowledged") == 1
    after = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Acknowledged: nobody else will be paged." in after
    assert "Acknowledged by Alice," in after
    assert "Acknowledge</button>" not in after and "Resolve</button>" in after
    r = client.post(f"/incidents/{incident_id}/resolve", data={"csrf_token": token})
    assert r.status_code == 302
    with f() as s:
        assert s.get(Incident, incident_id).status == "resolved"


def test_escalate_and_reassign_in_the_console(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    f = factory
    incident_id = trigger(f)
    runs.escalate_incident(f, incident_id, now=utcnow())
    session.add(EscalationPolicy(name="nights", levels=[PolicyLevel(
        position=0, escalate_after=60, targets=[{"type": "user", "ref": "manager@example.com"}])]))
    session.commit()
    as_user(client, session, "alice@example.com")
    token = csrf(client, f"/incidents/{incident_id}")
    assert client.post(f"/incidents/{incident_id}/escalate",
                       data={"csrf_token": token}).status_code == 302
    with f() as s:
        assert s.get(Incident, incident_id).level == 2
    assert "escalate_requested" in timeline(f, incident_id)

    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert 'value="policy:nights"' in page and 'value="user:bob@example.com"' in page
    assert 'value="user:viewer@example.com"' not in page  # viewers are not paged
    # Nothing is preselected: one tap must not page whoever is first on the list.
    assert '<option selected value=""' in page or '<option value="" selected' in page or \
        re.search(r'<select[^>]*name="to"[^>]*><option value="">Choose who is paged', page)
    r = client.post(f"/incidents/{incident_id}/reassign",
                    data={"csrf_token": token, "to": "user:nobody@example.com"})
    assert r.status_code == 400 and "no user" in r.get_data(as_text=True)
    r = client.post(f"/incidents/{incident_id}/reassign", data={"csrf_token": token, "to": ""})
    assert r.status_code == 400 and "Choose a person" in r.get_data(as_text=True)
    r = client.post(f"/incidents/{incident_id}/reassign",
                    data={"csrf_token": token, "to": "policy:nights"})
    assert r.status_code == 302
    with f() as s:
        incident = s.get(Incident, incident_id)
        assert incident.policy.name == "nights" and incident.level == 1
        paged = s.scalars(select(Page.user_id).where(Page.incident_id == incident_id,
                                                     Page.loop == incident.loop)).all()
    assert cast.manager.id in paged
    assert timeline(f, incident_id).count("reassigned") == 1
    with f() as s, s.begin():
        incidents.resolve(s, incident_id, "user:bob@example.com", utcnow())
    assert client.post(f"/incidents/{incident_id}/escalate",
                       data={"csrf_token": token}).status_code == 409


def test_notes_go_on_the_timeline_and_an_empty_note_is_refused(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    f = factory
    incident_id = trigger(f)
    as_user(client, session, "bob@example.com")
    token = csrf(client, f"/incidents/{incident_id}")
    r = client.post(f"/incidents/{incident_id}/notes", data={"csrf_token": token, "text": "  "})
    assert r.status_code == 400
    body = r.get_data(as_text=True)
    assert "Write something first." in body and 'aria-invalid="true"' in body
    assert "note" not in timeline(f, incident_id)
    r = client.post(f"/incidents/{incident_id}/notes",
                    data={"csrf_token": token, "text": f"Rolled back {XSS}"})
    assert r.status_code == 302
    with f() as s:
        note = s.scalar(select(IncidentEvent).where(IncidentEvent.kind == "note"))
        assert note.actor == "user:bob@example.com"
        assert note.detail == {"text": f"Rolled back {XSS}"}
        assert s.get(Incident, incident_id).status == "triggered"  # nothing else changed
    body = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Note by Bob:" in body and "Rolled back &lt;img" in body
    assert client.post("/incidents/999999/notes",
                       data={"csrf_token": token, "text": "x"}).status_code == 404
    long = "x" * (incidents.NOTE_MAX + 1)
    r = client.post(f"/incidents/{incident_id}/notes", data={"csrf_token": token, "text": long})
    assert r.status_code == 400


def test_viewers_get_403_and_posts_need_csrf(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    f = factory
    incident_id = trigger(f)
    as_user(client, session, "viewer@example.com")
    token = csrf(client, f"/incidents/{incident_id}")
    for action, data in (("ack", {}), ("resolve", {}), ("escalate", {}),
                         ("reassign", {"to": "user:bob@example.com"}), ("notes", {"text": "x"})):
        r = client.post(f"/incidents/{incident_id}/{action}", data={**data, "csrf_token": token})
        assert r.status_code == 403, action
        assert client.post(f"/incidents/{incident_id}/{action}", data=data).status_code == 400
    refusal = client.post(f"/incidents/{incident_id}/ack", data={"csrf_token": token})
    assert "You are not allowed to acknowledge incidents" in refusal.get_data(as_text=True)
    with f() as s:
        assert s.get(Incident, incident_id).status == "triggered"
        assert s.scalar(select(IncidentEvent).where(IncidentEvent.kind.in_(
            ("acknowledged", "note", "reassigned", "escalate_requested")))) is None
    as_user(client, session, "alice@example.com")
    assert client.post("/incidents/999999/ack", data={"csrf_token": csrf(
        client, "/incidents")}).status_code == 404


def test_a_visitor_is_sent_to_sign_in(client: Any, cast: Cast) -> None:
    r = client.get("/incidents")
    assert r.status_code == 302 and r.headers["Location"] == "/signin?next=/incidents"
    r = client.get("/incidents", headers={"HX-Request": "true"})
    assert r.headers["HX-Redirect"] == "/signin"
    assert client.get("/").headers["Location"] == "/signin?next=/"


def test_a_viewer_sees_other_peoples_numbers_hidden_in_page_errors(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    f = factory
    incident_id = trigger(f)
    with f() as s, s.begin():
        s.add(Page(incident_id=incident_id, level=1, loop=0, recipient=f"user:{cast.bob.id}",
                   user_id=cast.bob.id, channel="sms", status="failed", attempts=1,
                   error="The 'To' number +14155550100 is not a valid phone number"))
        s.execute(update(Incident).values(updated_at=utcnow()))
    body = signed_in(client, session, "viewer").get(
        f"/incidents/{incident_id}").get_data(as_text=True)
    assert "+14155550100" not in body and "(hidden)" in body


def test_the_api_adds_notes_through_the_same_domain_function(
        client: Any, cast: Cast, factory: Any) -> None:
    incident_id = trigger(factory)
    r = client.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": " checking "},
                    headers=cast.auth("bob"))
    assert r.status_code == 201 and r.json["text"] == "checking"
    r = client.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": " "},
                    headers=cast.auth("bob"))
    assert r.status_code == 400 and r.json["field"] == "text"
    assert client.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": "x"},
                       headers=cast.auth("viewer")).status_code == 403
    assert client.post("/api/v1/incidents/999999/notes", json={"text": "x"},
                       headers=cast.auth("bob")).status_code == 404
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=cast.auth("viewer")).json
    notes = [e for e in detail["timeline"] if e["kind"] == "note"]
    assert notes == [{"at": notes[0]["at"], "kind": "note", "actor": "user:bob@example.com",
                      "detail": {"text": "checking"}}]


def test_reassign_to_a_schedule_pages_whoever_is_on_call_there_first(
        client: Any, cast: Cast, factory: Any, session: Any) -> None:
    schedules.create_schedule(session, "test", {
        "name": "managers", "timezone": "UTC",
        "layers": [{"name": "always", "rotation": "daily", "handoff": "00:00",
                    "start": (utcnow().date() - timedelta(days=2)).isoformat(),
                    "members": ["manager@example.com"]}]})
    session.commit()
    incident_id = trigger(factory)
    runs.escalate_incident(factory, incident_id, now=utcnow())
    as_user(client, session, "bob@example.com")
    token = csrf(client, f"/incidents/{incident_id}")
    assert 'value="schedule:managers"' in client.get(
        f"/incidents/{incident_id}").get_data(as_text=True)
    r = client.post(f"/incidents/{incident_id}/reassign",
                    data={"csrf_token": token, "to": "schedule:nope"})
    assert r.status_code == 400 and "no schedule" in r.get_data(as_text=True)
    r = client.post(f"/incidents/{incident_id}/reassign",
                    data={"csrf_token": token, "to": "schedule:managers"})
    assert r.status_code == 302
    with factory() as s:
        incident = s.get(Incident, incident_id)
        levels = incident.policy.to_json()["levels"]
        assert levels[0]["targets"] == [{"type": "schedule", "ref": "managers"}]
        assert [lvl["targets"][0]["ref"] for lvl in levels[1:]] == [
            "alice@example.com", "bob@example.com"]  # the old ladder, after them
        assert (incident.level, incident.status) == (1, "triggered")
        newest = s.scalars(select(Page.user_id).where(Page.incident_id == incident_id,
                                                      Page.loop == incident.loop)).all()
    assert set(newest) == {cast.manager.id}
    body = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Reassigned to schedule managers" in body
    # The API takes the same: exactly one of users, schedule, policy.
    r = client.post(f"/api/v1/incidents/{incident_id}/reassign", headers=cast.auth("bob"),
                    json={"schedule": "managers", "policy": "billing"})
    assert r.status_code == 400
    r = client.post(f"/api/v1/incidents/{incident_id}/reassign", headers=cast.auth("bob"),
                    json={"schedule": "managers"})
    assert r.status_code == 200 and r.json["level"] == 1
