"""Layer edits through the API take effect from a chosen time (by default the layer's next
handoff) and never rewrite the past, in the shift query, who-is-on-call, and the calendar
feeds; `?dry_run=1` answers the shift-level diff and saves nothing; gaps are listed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from icalendar import Calendar
from sqlalchemy import select

from oncall.models import AuditEntry, EscalationPolicy, PolicyLevel, ScheduleLayer, utcnow
from tests.conftest import Cast

WEEKLY = {"name": "weekly", "rotation": "weekly", "handoff": "Mon 09:00",
          "start": "2026-01-05", "members": ["alice@example.com", "bob@example.com"]}


@pytest.fixture
def schedule(client: Any, cast: Cast) -> dict[str, Any]:
    r = client.post("/api/v1/schedules", headers=cast.auth("manager"), json={
        "name": "billing-primary", "timezone": "America/New_York", "layers": [WEEKLY]})
    assert r.status_code == 201, r.json
    return r.json


def q(at: datetime) -> str:
    return quote(at.isoformat())


def shifts(client: Any, cast: Cast, sid: int, start: datetime, end: datetime) -> Any:
    r = client.get(f"/api/v1/schedules/{sid}/shifts?start={q(start)}&end={q(end)}",
                   headers=cast.auth("viewer"))
    assert r.status_code == 200, r.json
    return r.json["shifts"]


def who(client: Any, cast: Cast, sid: int, at: datetime) -> str | None:
    return client.get(f"/api/v1/schedules/{sid}/oncall?at={q(at)}",
                      headers=cast.auth("viewer")).json["user"]


def members_url(schedule: dict[str, Any]) -> str:
    return f"/api/v1/schedules/{schedule['id']}/layers/{schedule['layers'][0]['id']}/members"


def layer_url(schedule: dict[str, Any]) -> str:
    return f"/api/v1/schedules/{schedule['id']}/layers/{schedule['layers'][0]['id']}"


def length(pieces: list[dict[str, str]]) -> timedelta:
    return sum((datetime.fromisoformat(p["end"]) - datetime.fromisoformat(p["start"])
                for p in pieces), timedelta())


def next_monday_9am_ny(client: Any, cast: Cast, sid: int) -> str:
    now = utcnow()
    return shifts(client, cast, sid, now, now + timedelta(days=8))[0]["end"]


def test_adding_a_member_takes_effect_at_the_next_handoff_and_keeps_the_past(
        client: Any, cast: Cast, schedule: dict[str, Any]) -> None:
    sid, now = schedule["id"], utcnow()
    past = shifts(client, cast, sid, now - timedelta(days=60), now)
    on_call_now = who(client, cast, sid, now)
    handoff = next_monday_9am_ny(client, cast, sid)
    r = client.post(members_url(schedule), headers=cast.auth("manager"),
                    json={"user": "manager@example.com", "position": 0})
    assert r.status_code == 200, r.json
    assert r.json["layers"][0]["members"][0] == "manager@example.com"
    assert r.json["layers"][0]["effective_from"] == handoff
    assert shifts(client, cast, sid, now - timedelta(days=60), now) == past
    assert who(client, cast, sid, now) == on_call_now
    for shift in past:  # every past shift still says who it said
        assert who(client, cast, sid, datetime.fromisoformat(shift["start"])) == shift["user"]
    later = shifts(client, cast, sid, datetime.fromisoformat(handoff),
                   datetime.fromisoformat(handoff) + timedelta(days=21))
    assert "manager@example.com" in {s["user"] for s in later}


def test_a_dry_run_answers_the_diff_and_saves_nothing(
        client: Any, cast: Cast, schedule: dict[str, Any], session: Any) -> None:
    before = client.get(f"/api/v1/schedules/{schedule['id']}", headers=cast.auth("viewer")).json
    r = client.patch(layer_url(schedule) + "?dry_run=1", headers=cast.auth("manager"),
                     json={"members": ["alice@example.com", "bob@example.com",
                                       "manager@example.com"]})
    assert r.status_code == 200, r.json
    body = r.json
    assert body["dry_run"] is True and body["schedule"] == "billing-primary"
    assert body["effective_from"] == next_monday_9am_ny(client, cast, schedule["id"])
    assert body["on_call_now"]["changes"] is False and body["warnings"] == []
    people = {p["user"]: p for p in body["people"]}
    gained = people["manager@example.com"]["gained"]
    assert gained and not people["manager@example.com"]["lost"]
    assert min(p["start"] for p in gained) >= body["effective_from"]
    assert all(p["layer"] == "weekly" for p in gained)
    everyone = body["people"]  # no gap: every hour someone gains, someone else loses
    assert length([p for x in everyone for p in x["gained"]]) == length(
        [p for x in everyone for p in x["lost"]])
    after = client.get(f"/api/v1/schedules/{schedule['id']}", headers=cast.auth("viewer")).json
    assert after == before
    assert session.scalars(select(AuditEntry).where(AuditEntry.object_type == "layer")).all() \
        == []


def test_a_change_effective_now_warns_that_the_person_on_call_changes(
        client: Any, cast: Cast, schedule: dict[str, Any]) -> None:
    now_user = who(client, cast, schedule["id"], utcnow())
    other = ({"alice@example.com", "bob@example.com"} - {now_user}).pop()
    r = client.patch(layer_url(schedule) + "?dry_run=1&effective=now",
                     headers=cast.auth("manager"), json={"members": [other]})
    assert r.json["on_call_now"] == {"before": now_user, "after": other, "changes": True}
    assert any("on call now changes" in w for w in r.json["warnings"])
    r = client.patch(layer_url(schedule) + "?effective=now", headers=cast.auth("manager"),
                     json={"members": [other]})
    assert r.status_code == 200 and who(client, cast, schedule["id"], utcnow()) == other


def test_the_rotation_carries_on_from_whoever_was_next(
        client: Any, cast: Cast, schedule: dict[str, Any]) -> None:
    """Adding a member does not give anyone a second turn in a row: the turn at the
    effective time goes to whoever it was going to, and the new order carries on from
    there. Even a change effective now keeps the person on call."""
    sid = schedule["id"]
    handoff = datetime.fromisoformat(next_monday_9am_ny(client, cast, sid))
    week = timedelta(days=7)
    nxt = who(client, cast, sid, handoff)
    order = ["alice@example.com", "bob@example.com", "manager@example.com"]
    r = client.patch(layer_url(schedule), headers=cast.auth("manager"),
                     json={"members": order})
    assert r.status_code == 200
    turns = [who(client, cast, sid, handoff + week * k) for k in range(4)]
    start = order.index(nxt)
    assert turns == [order[(start + k) % 3] for k in range(4)]
    now_user = who(client, cast, sid, utcnow())
    r = client.patch(layer_url(schedule) + "?effective=now", headers=cast.auth("manager"),
                     json={"members": ["viewer@example.com", *order]})
    assert r.status_code == 200 and who(client, cast, sid, utcnow()) == now_user


def test_an_effective_time_in_the_past_is_refused(
        client: Any, cast: Cast, schedule: dict[str, Any]) -> None:
    yesterday = q(utcnow() - timedelta(days=1))
    r = client.patch(layer_url(schedule) + f"?effective={yesterday}",
                     headers=cast.auth("manager"), json={"members": ["bob@example.com"]})
    assert r.status_code == 400 and r.json["field"] == "effective"
    r = client.patch(layer_url(schedule) + "?effective=soon", headers=cast.auth("manager"),
                     json={"members": ["bob@example.com"]})
    assert r.status_code == 400 and r.json["field"] == "effective"


def test_an_explicit_future_time_is_kept(client: Any, cast: Cast,
                                         schedule: dict[str, Any]) -> None:
    at = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    r = client.patch(layer_url(schedule) + f"?effective={q(at)}", headers=cast.auth("manager"),
                     json={"members": ["viewer@example.com"]})
    assert r.status_code == 200, r.json
    assert datetime.fromisoformat(r.json["layers"][0]["effective_from"]) == at
    assert who(client, cast, schedule["id"], at - timedelta(minutes=1)) != "viewer@example.com"
    assert who(client, cast, schedule["id"], at) == "viewer@example.com"


def test_a_removed_layer_keeps_its_past_shifts(client: Any, cast: Cast,
                                              schedule: dict[str, Any], session: Any) -> None:
    sid, now = schedule["id"], utcnow()
    past = shifts(client, cast, sid, now - timedelta(days=30), now)
    r = client.delete(layer_url(schedule) + "?dry_run=1", headers=cast.auth("manager"))
    assert r.status_code == 200 and r.json["gaps"]  # nobody would be left
    assert any("gap" in w for w in r.json["warnings"])
    assert session.scalar(select(ScheduleLayer.id)) is not None
    assert client.delete(layer_url(schedule), headers=cast.auth("manager")).status_code == 204
    assert shifts(client, cast, sid, now - timedelta(days=30), now) == past
    assert who(client, cast, sid, now) is not None  # until the next handoff
    assert who(client, cast, sid, now + timedelta(days=8)) is None


def test_only_managers_edit_even_in_a_dry_run(client: Any, cast: Cast,
                                              schedule: dict[str, Any]) -> None:
    r = client.patch(layer_url(schedule) + "?dry_run=1", headers=cast.auth("alice"),
                     json={"members": ["alice@example.com"]})
    assert r.status_code == 403


def test_the_calendar_feed_is_unchanged_before_the_effective_time(
        client: Any, cast: Cast, schedule: dict[str, Any]) -> None:
    token = client.post("/api/v1/users/me/feed-token", headers=cast.auth("alice")).json["token"]

    def events() -> list[tuple[str, datetime, datetime]]:
        cal = Calendar.from_ical(client.get(f"/schedules/{schedule['id']}.ics?token={token}")
                                 .data)
        return [(str(e["summary"]), e["dtstart"].dt, e["dtend"].dt) for e in cal.walk("VEVENT")]

    before = events()
    r = client.patch(layer_url(schedule), headers=cast.auth("manager"),
                     json={"members": ["bob@example.com", "manager@example.com"]})
    effective = datetime.fromisoformat(r.json["layers"][0]["effective_from"])
    after = events()


    since = utcnow() - timedelta(days=29)  # the feed's first event is cut at its window

    def until_effective(found: list[tuple[str, datetime, datetime]]) -> list[Any]:
        # A shift running on past the effective time with the same person stays one event.
        return [(summary, start, min(end, effective)) for summary, start, end in found
                if since <= start < effective]

    assert until_effective(after) == until_effective(before)
    assert len(until_effective(before)) >= 3  # 29 days back
    assert after != before


def test_gaps_lists_when_nobody_is_on_call_and_the_policies_paging_it(
        client: Any, cast: Cast, session: Any) -> None:
    r = client.post("/api/v1/schedules", headers=cast.auth("manager"), json={
        "name": "office-hours", "timezone": "Europe/London", "layers": [{
            "name": "days", "rotation": "daily", "handoff": "09:00", "start": "2026-01-01",
            "members": ["alice@example.com"],
            "restrictions": [{"days": "Mon-Fri", "from": "09:00", "to": "17:00"}]}]})
    sid = r.json["id"]
    session.add(EscalationPolicy(name="office", levels=[PolicyLevel(position=0, targets=[
        {"type": "schedule", "ref": "office-hours"}])]))
    session.commit()
    r = client.get(f"/api/v1/schedules/{sid}/gaps?days=7", headers=cast.auth("viewer"))
    assert r.status_code == 200, r.json
    assert r.json["used_by"] == ["office"] and r.json["timezone"] == "Europe/London"
    gaps = r.json["gaps"]
    assert 5 <= len(gaps) <= 7  # the nights and one weekend in a week
    assert any(datetime.fromisoformat(g["end"]) - datetime.fromisoformat(g["start"])
               >= timedelta(hours=64) for g in gaps)  # Friday 17:00 to Monday 09:00
    assert client.get(f"/api/v1/schedules/{sid}/gaps?days=0",
                      headers=cast.auth("viewer")).status_code == 400
    assert client.get("/api/v1/schedules/999/gaps", headers=cast.auth("viewer")
                      ).status_code == 404


def test_the_openapi_document_describes_the_diff_and_the_gaps(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").json
    patch = spec["paths"]["/api/v1/schedules/{schedule_id}/layers/{layer_id}"]["patch"]
    assert {p["name"] for p in patch["parameters"]} >= {"dry_run", "effective"}
    answers = patch["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"]
    names = [ref["$ref"].rsplit("/", 1)[1] for ref in answers]
    assert names == ["ScheduleOut", "ShiftDiffOut"]
    diff = spec["components"]["schemas"]["ShiftDiffOut"]
    assert {"people", "warnings", "on_call_now", "effective_from", "gaps"} <= set(
        diff["properties"])
    layer = spec["components"]["schemas"]["LayerOut"]
    assert "effective_from" in layer["properties"]
    gaps = spec["paths"]["/api/v1/schedules/{schedule_id}/gaps"]["get"]
    ref = gaps["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert "gaps" in spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]


def test_a_new_layer_never_takes_a_removed_layers_history(
        client: Any, cast: Cast, schedule: dict[str, Any]) -> None:
    """SQLite may give a new layer the id of one just removed: the removed layer's remaining
    hour stays its own when the new one is edited."""
    sid, auth = schedule["id"], cast.auth("manager")
    top = {"name": "top", "rotation": "daily", "handoff": "09:00", "start": "2026-01-01",
           "members": ["viewer@example.com"]}
    added = client.post(f"/api/v1/schedules/{sid}/layers?effective=now", headers=auth,
                        json=top).json["layers"][1]
    soon = utcnow() + timedelta(hours=1)
    r = client.delete(f"/api/v1/schedules/{sid}/layers/{added['id']}?effective={q(soon)}",
                      headers=auth)
    assert r.status_code == 204
    again = client.post(f"/api/v1/schedules/{sid}/layers?effective={q(soon)}", headers=auth,
                        json={**top, "name": "again", "members": ["manager@example.com"]})
    new_id = again.json["layers"][1]["id"]
    r = client.patch(f"/api/v1/schedules/{sid}/layers/{new_id}?effective=now", headers=auth,
                     json={"members": ["bob@example.com"]})
    assert r.status_code == 200, r.json
    before = client.get(f"/api/v1/schedules/{sid}/oncall?at={q(soon - timedelta(minutes=5))}",
                        headers=auth).json["by_layer"]
    assert before["top"] == "viewer@example.com"  # its last hour is still its own
    after = client.get(f"/api/v1/schedules/{sid}/oncall?at={q(soon + timedelta(minutes=5))}",
                       headers=auth).json
    assert "top" not in after["by_layer"] and after["user"] == "bob@example.com"


def test_a_timezone_change_can_be_previewed(client: Any, cast: Cast,
                                            schedule: dict[str, Any]) -> None:
    url = f"/api/v1/schedules/{schedule['id']}"
    r = client.patch(url + "?dry_run=1", headers=cast.auth("manager"),
                     json={"timezone": "Asia/Tokyo"})
    assert r.status_code == 200 and r.json["people"]  # every handoff moves by 14 hours
    assert client.get(url, headers=cast.auth("viewer")).json["timezone"] == "America/New_York"


def test_the_first_layer_of_an_empty_schedule_starts_now(client: Any, cast: Cast) -> None:
    sid = client.post("/api/v1/schedules", headers=cast.auth("manager"), json={
        "name": "new", "timezone": "UTC"}).json["id"]
    r = client.post(f"/api/v1/schedules/{sid}/layers", headers=cast.auth("manager"),
                    json=WEEKLY)
    assert r.status_code == 201
    assert who(client, cast, sid, utcnow()) in {"alice@example.com", "bob@example.com"}
    assert who(client, cast, sid, utcnow() - timedelta(days=1)) is None  # the past stays


def test_a_layers_versions_say_what_was_in_force_when(client: Any, cast: Cast,
                                                      schedule: dict[str, Any]) -> None:
    handoff = next_monday_9am_ny(client, cast, schedule["id"])
    client.post(members_url(schedule), headers=cast.auth("manager"),
                json={"user": "manager@example.com"})
    r = client.get(layer_url(schedule) + "/versions", headers=cast.auth("viewer"))
    assert r.status_code == 200, r.json
    first, latest = r.json["versions"]
    assert first["members"] == ["alice@example.com", "bob@example.com"]
    assert first["effective_from"] is None and first["effective_until"] == handoff
    assert latest["members"][-1] == "manager@example.com"
    assert latest["effective_from"] == handoff and latest["effective_until"] is None
    assert client.get(f"/api/v1/schedules/{schedule['id']}/layers/999/versions",
                      headers=cast.auth("viewer")).status_code == 404
