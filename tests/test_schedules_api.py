"""/api/v1/schedules: editing with roles and an audit trail, file-managed schedules, overrides,
swaps, who is on call, shifts, and calendar feeds."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from oncall.models import Schedule, utcnow
from tests.conftest import Cast

WEEKLY = {"name": "weekly", "rotation": "weekly", "handoff": "Mon 09:00",
          "start": "2026-11-02", "members": ["alice@example.com", "bob@example.com"]}


def create(client: Any, cast: Cast, **fields: Any) -> Any:
    body = {"name": "billing-primary", "timezone": "America/New_York", "layers": [WEEKLY]}
    body.update(fields)
    return client.post("/api/v1/schedules", json=body, headers=cast.auth("manager"))


@pytest.fixture
def schedule(client: Any, cast: Cast) -> dict[str, Any]:
    r = create(client, cast)
    assert r.status_code == 201, r.json
    return r.json


def future(days: int, length: int = 1) -> dict[str, str]:
    """A window of ``length`` days starting at midnight UTC ``days`` from today."""
    start = datetime.combine(utcnow().date() + timedelta(days=days), time(), UTC)
    return {"start": start.isoformat().replace("+00:00", "Z"),
            "end": (start + timedelta(days=length)).isoformat().replace("+00:00", "Z")}


def oncall(client: Any, cast: Cast, sid: int, at: str) -> Any:
    return client.get(f"/api/v1/schedules/{sid}/oncall?at={at}", headers=cast.auth("viewer"))


def test_a_manager_creates_a_schedule_and_anyone_reads_who_is_on_call(
        client: Any, cast: Cast, schedule: dict[str, Any]) -> None:
    assert schedule["layers"][0]["members"] == ["alice@example.com", "bob@example.com"]
    r = oncall(client, cast, schedule["id"], "2026-11-10T15:00:00Z")
    assert r.status_code == 200
    assert r.json["user"] == "bob@example.com" and r.json["layer"] == "weekly"
    assert r.json["by_layer"] == {"weekly": "bob@example.com"}
    assert r.json["next"]["user"] == "alice@example.com"
    assert r.json["next"]["start"] == "2026-11-16T14:00:00+00:00"  # Mon 09:00 EST


@pytest.mark.parametrize(("who", "status"), [("viewer", 403), ("alice", 403), ("manager", 201)])
def test_only_managers_create_schedules(client: Any, cast: Cast, who: str, status: int) -> None:
    r = client.post("/api/v1/schedules", headers=cast.auth(who),
                    json={"name": "s", "timezone": "UTC", "layers": [WEEKLY]})
    assert r.status_code == status


@pytest.mark.parametrize(("body", "field"), [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"layers": [{**WEEKLY, "handoff": "Mon 9am"}]}, "layers[0].handoff"),
    ({"layers": [{**WEEKLY, "members": []}]}, "layers[0].members"),
    ({"layers": [{**WEEKLY, "members": ["ghost@example.com"]}]}, "layers[0].members[0]"),
    ({"layers": [{**WEEKLY, "restrictions": [{"from": "25:00", "to": "06:00"}]}]},
     "layers[0].restrictions[0].from"),
    ({"layers": [{**WEEKLY, "start": "2026-11-02", "end": "2026-11-01"}]}, "layers[0].end"),
])
def test_bad_input_names_the_field_and_changes_nothing(client: Any, cast: Cast, session: Any,
                                                      body: dict[str, Any], field: str) -> None:
    r = create(client, cast, **body)
    assert r.status_code == 400, r.json
    assert r.json["field"] == field
    assert session.query(Schedule).count() == 0


def test_a_duplicate_name_is_a_conflict(client: Any, cast: Cast,
                                        schedule: dict[str, Any]) -> None:
    assert create(client, cast).status_code == 409


def test_layers_members_and_restrictions_are_edited_and_audited(
        client: Any, cast: Cast, schedule: dict[str, Any]) -> None:
    sid, lid = schedule["id"], schedule["layers"][0]["id"]
    auth = cast.auth("manager")
    r = client.post(f"/api/v1/schedules/{sid}/layers/{lid}/members", headers=auth,
                    json={"user": "manager@example.com"})
    assert r.status_code == 200
    assert r.json["layers"][0]["members"][-1] == "manager@example.com"
    r = client.delete(f"/api/v1/schedules/{sid}/layers/{lid}/members/bob@example.com",
                      headers=auth)
    assert r.json["layers"][0]["members"] == ["alice@example.com", "manager@example.com"]
    weekend = {"name": "weekend", "rotation": "daily", "handoff": "09:00", "start": "2026-11-01",
               "members": ["bob@example.com"],
               "restrictions": [{"days": ["Sat", "Sun"], "from": "09:00", "to": "21:00"}]}
    r = client.post(f"/api/v1/schedules/{sid}/layers", headers=auth, json=weekend)
    assert r.status_code == 201 and [x["name"] for x in r.json["layers"]] == ["weekly", "weekend"]
    # A new layer is in force from its first handoff: look at a Saturday after that.
    saturday = utcnow().date() + timedelta(days=8 + (5 - utcnow().weekday()) % 7)
    ny = ZoneInfo("America/New_York")
    sat_noon = oncall(client, cast, sid, datetime.combine(saturday, time(12), ny)
                      .isoformat().replace("+", "%2B")).json
    sat_night = oncall(client, cast, sid, datetime.combine(saturday, time(22), ny)
                       .isoformat().replace("+", "%2B")).json
    assert sat_noon["user"] == "bob@example.com" and sat_noon["layer"] == "weekend"
    assert sat_night["layer"] == "weekly" and sat_night["by_layer"]["weekend"] is None
    audit = client.get("/api/v1/audit?object_type=layer", headers=auth).json["entries"]
    assert [e["action"] for e in audit] == ["create", "update", "update"]
    assert audit[-1]["before"]["members"] == ["alice@example.com", "bob@example.com"]
    assert audit[-1]["actor"] == "user:manager@example.com"
    assert client.get("/api/v1/audit", headers=cast.auth("alice")).status_code == 403


def test_responders_override_themselves_only(client: Any, cast: Cast,
                                             schedule: dict[str, Any]) -> None:
    sid = schedule["id"]
    window = future(days=1)
    r = client.post(f"/api/v1/schedules/{sid}/overrides", headers=cast.auth("alice"),
                    json=window)
    assert r.status_code == 201 and r.json["user"] == "alice@example.com"
    inside = window["start"].replace("T00:00:00", "T15:00:00")
    assert oncall(client, cast, sid, inside).json["user"] == "alice@example.com"
    r = client.post(f"/api/v1/schedules/{sid}/overrides", headers=cast.auth("alice"),
                    json={**window, "user": "bob@example.com"})
    assert r.status_code == 403
    r = client.post(f"/api/v1/schedules/{sid}/overrides", headers=cast.auth("viewer"),
                    json=window)
    assert r.status_code == 403


def test_the_newest_override_wins_and_deleting_it_restores_the_older(
        client: Any, cast: Cast, schedule: dict[str, Any]) -> None:
    sid, auth = schedule["id"], cast.auth("manager")
    first = client.post(f"/api/v1/schedules/{sid}/overrides", headers=auth, json={
        "user": "alice@example.com", "start": "2026-11-10T00:00:00Z",
        "end": "2026-11-12T00:00:00Z"}).json
    second = client.post(f"/api/v1/schedules/{sid}/overrides", headers=auth, json={
        "user": "manager@example.com", "start": "2026-11-10T12:00:00Z",
        "end": "2026-11-10T18:00:00Z"}).json
    at = "2026-11-10T15:00:00Z"
    assert oncall(client, cast, sid, at).json["override_id"] == second["id"]
    assert client.delete(f"/api/v1/schedules/{sid}/overrides/{second['id']}",
                         headers=auth).status_code == 204
    assert oncall(client, cast, sid, at).json["override_id"] == first["id"]


@pytest.mark.parametrize(("body", "field"), [
    ({"start": "2026-11-10T00:00:00Z", "end": "2026-11-09T00:00:00Z"}, "end"),
    ({"start": "2026-11-10T00:00:00", "end": "2026-11-11T00:00:00Z"}, "start"),
    ({"start": "tomorrow", "end": "2026-11-11T00:00:00Z"}, "start"),
    ({"end": "2026-11-11T00:00:00Z"}, "start"),
    ({"user": "ghost@example.com", "start": "2026-11-10T00:00:00Z",
      "end": "2026-11-11T00:00:00Z"}, "user"),
])
def test_a_bad_override_names_the_field(client: Any, cast: Cast, schedule: dict[str, Any],
                                        body: dict[str, Any], field: str) -> None:
    r = client.post(f"/api/v1/schedules/{schedule['id']}/overrides",
                    headers=cast.auth("manager"), json=body)
    assert r.status_code == 400 and r.json["field"] == field, r.json


def next_shift_of(client: Any, cast: Cast, sid: int, email: str) -> dict[str, Any]:
    """``email``'s next shift on the weekly layer that starts in the future."""
    window = future(days=1, length=21)
    r = client.get(f"/api/v1/schedules/{sid}/shifts?layer=weekly&start={window['start']}"
                   f"&end={window['end']}", headers=cast.auth("viewer"))
    return next(x for x in r.json["shifts"] if x["user"] == email
                and x["start"] > window["start"].replace("Z", "+00:00"))


def test_a_swap_hands_exactly_one_shift_over(client: Any, cast: Cast,
                                             schedule: dict[str, Any]) -> None:
    sid = schedule["id"]
    shift = next_shift_of(client, cast, sid, "alice@example.com")
    r = client.post(f"/api/v1/schedules/{sid}/swaps", headers=cast.auth("bob"),
                    json={"layer": "weekly", "at": shift["start"], "to": "bob@example.com"})
    assert r.status_code == 201, r.json
    assert (r.json["start"], r.json["end"]) == (shift["start"], shift["end"])
    assert r.json["kind"] == "swap"
    assert oncall(client, cast, sid, shift["start"].replace("+00:00", "Z")).json["user"] \
        == "bob@example.com"
    week_after = datetime.fromisoformat(shift["end"]) + timedelta(days=8)
    assert oncall(client, cast, sid, week_after.isoformat().replace("+00:00", "Z")
                  ).json["user"] == "alice@example.com"


def test_shifts_tile_the_range_with_gaps_shown(client: Any, cast: Cast,
                                               schedule: dict[str, Any]) -> None:
    r = client.get(f"/api/v1/schedules/{schedule['id']}/shifts?start=2026-11-01T00:00:00Z"
                   "&end=2026-11-17T00:00:00Z", headers=cast.auth("viewer"))
    shifts = r.json["shifts"]
    assert shifts[0]["user"] is None  # before the rotation starts
    assert [s["user"] for s in shifts[1:]] == ["alice@example.com", "bob@example.com",
                                               "alice@example.com"]
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(shifts))
    r = client.get(f"/api/v1/schedules/{schedule['id']}/shifts?start=2026-01-01T00:00:00Z"
                   "&end=2027-06-01T00:00:00Z", headers=cast.auth("viewer"))
    assert r.status_code == 400 and r.json["field"] == "end"


def test_a_file_managed_schedule_is_read_only_except_overrides(
        client: Any, cast: Cast, schedule: dict[str, Any], factory: Any) -> None:
    with factory() as s, s.begin():
        s.get(Schedule, schedule["id"]).managed_by = "schedules/billing.yaml"
    sid, auth = schedule["id"], cast.auth("manager")
    r = client.patch(f"/api/v1/schedules/{sid}", headers=auth, json={"timezone": "UTC"})
    assert r.status_code == 409 and "schedules/billing.yaml" in r.json["error"]
    assert client.delete(f"/api/v1/schedules/{sid}", headers=auth).status_code == 409
    r = client.post(f"/api/v1/schedules/{sid}/overrides", headers=auth, json={
        "user": "alice@example.com", "start": "2026-11-10T00:00:00Z",
        "end": "2026-11-11T00:00:00Z"})
    assert r.status_code == 201


def test_calendar_feeds_need_a_feed_token_and_list_shifts(client: Any, cast: Cast,
                                                          schedule: dict[str, Any]) -> None:
    sid = schedule["id"]
    assert client.get(f"/schedules/{sid}.ics?token=nope").status_code == 404
    assert client.get(f"/schedules/{sid}.ics").status_code == 400
    me = client.post("/api/v1/users/me/feed-token", headers=cast.auth("alice")).json
    token = me["token"]
    r = client.get(f"/schedules/{sid}.ics?token={token}")
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    events = [c for c in Calendar.from_ical(r.data).walk("VEVENT")]
    assert events and all(str(e["summary"]).startswith("On call: billing-primary") for e in events)
    mine = client.get(me["my_shifts"].replace("http://oncall.test", ""))
    assert mine.status_code == 200
    assert all("alice@example.com" in str(e["summary"])
               for e in Calendar.from_ical(mine.data).walk("VEVENT"))
    rotated = client.post("/api/v1/users/me/feed-token", headers=cast.auth("alice")).json
    assert client.get(f"/schedules/{sid}.ics?token={token}").status_code == 404
    assert client.get(f"/schedules/{sid}.ics?token={rotated['token']}").status_code == 200
