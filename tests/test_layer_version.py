"""Two managers editing one layer: the second save, made from what the layer was when they
opened it, is refused with 409 ("changed since you opened it") and nothing of it is kept. A
file-managed schedule can be handed to the console (detach): it becomes editable, keeps its
history, and `oncall apply` leaves it alone from then on, saying so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from oncall.models import AuditEntry, Schedule, ScheduleLayer
from tests.conftest import Cast, apply, shipped

WEEKLY = {"name": "weekly", "rotation": "weekly", "handoff": "Mon 09:00",
          "start": "2026-01-05", "members": ["alice@example.com", "bob@example.com"]}


def make(client: Any, cast: Cast) -> tuple[dict[str, Any], str]:
    r = client.post("/api/v1/schedules", headers=cast.auth("manager"), json={
        "name": "billing-primary", "timezone": "America/New_York", "layers": [WEEKLY]})
    assert r.status_code == 201, r.json
    sched = r.json
    return sched, f"/api/v1/schedules/{sched['id']}/layers/{sched['layers'][0]['id']}"


def test_the_second_of_two_edits_from_the_same_version_is_refused(client: Any,
                                                                   cast: Cast) -> None:
    sched, url = make(client, cast)
    opened = sched["layers"][0]["version"]
    first = client.patch(f"{url}?version={opened}", headers=cast.auth("manager"),
                         json={"members": ["alice@example.com", "bob@example.com",
                                           "viewer@example.com"]})
    assert first.status_code == 200, first.json
    assert first.json["layers"][0]["version"] > opened
    second = client.patch(f"{url}?version={opened}", headers=cast.auth("manager"),
                          json={"members": ["bob@example.com"], "name": "renamed"})
    assert second.status_code == 409, second.json
    assert "changed since you opened it" in str(second.json)
    layer = client.get(f"/api/v1/schedules/{sched['id']}", headers=cast.auth("viewer")).json
    assert layer["layers"][0]["name"] == "weekly"
    assert layer["layers"][0]["members"] == ["alice@example.com", "bob@example.com",
                                             "viewer@example.com"]
    # The current version is accepted; so is an edit that does not say (plain API use).
    now = layer["layers"][0]["version"]
    ok = client.patch(f"{url}?version={now}", headers=cast.auth("manager"),
                      json={"name": "renamed"})
    assert ok.status_code == 200, ok.json
    assert client.patch(url, headers=cast.auth("manager"),
                        json={"name": "again"}).status_code == 200


def test_a_stale_delete_and_a_stale_dry_run_are_refused_too(client: Any, cast: Cast) -> None:
    sched, url = make(client, cast)
    opened = sched["layers"][0]["version"]
    assert client.patch(url, headers=cast.auth("manager"),
                        json={"name": "renamed"}).status_code == 200
    assert client.patch(f"{url}?version={opened}&dry_run=1", headers=cast.auth("manager"),
                        json={"name": "x"}).status_code == 409
    gone = client.delete(f"{url}?version={opened}", headers=cast.auth("manager"))
    assert gone.status_code == 409
    again = client.get(f"/api/v1/schedules/{sched['id']}", headers=cast.auth("viewer")).json
    assert [x["name"] for x in again["layers"]] == ["renamed"]


def test_a_save_racing_another_is_refused_by_the_row_version(factory: Any, client: Any,
                                                             cast: Cast) -> None:
    """Both read version 1; the first writes version 2; the second's UPDATE ... WHERE
    version = 1 finds nothing and fails, whatever the check before it saw."""
    from sqlalchemy.orm.exc import StaleDataError

    make(client, cast)
    with factory() as a, factory() as b:
        la = a.scalars(select(ScheduleLayer)).one()
        lb = b.scalars(select(ScheduleLayer)).one()
        la.name = "first"
        a.commit()
        lb.name = "second"
        try:
            b.commit()
        except StaleDataError:
            b.rollback()
        else:
            raise AssertionError("the second write was not refused")
    with factory() as s:
        assert s.scalars(select(ScheduleLayer.name)).one() == "first"


def test_detach_hands_a_file_schedule_to_the_console(factory: Any, client: Any, cast: Cast,
                                                     config: Path) -> None:
    apply(factory, *shipped(config))
    with factory() as s:
        sched = s.scalars(select(Schedule).where(Schedule.name == "billing-primary")).one()
        sid, lid, file = sched.id, sched.layers[0].id, sched.managed_by
    assert file
    url = f"/api/v1/schedules/{sid}/layers/{lid}"
    refused = client.patch(url, headers=cast.auth("manager"), json={"name": "x"})
    assert refused.status_code == 409 and "detach" in str(refused.json)
    assert client.post(f"/api/v1/schedules/{sid}/detach",
                       headers=cast.auth("alice")).status_code == 403
    r = client.post(f"/api/v1/schedules/{sid}/detach", headers=cast.auth("manager"))
    assert r.status_code == 200, r.json
    assert r.json["managed_by"] is None and r.json["detached_from"] == file
    assert client.post(f"/api/v1/schedules/{sid}/detach",
                       headers=cast.auth("manager")).status_code == 409
    assert client.patch(url, headers=cast.auth("manager"),
                        json={"name": "console"}).status_code == 200
    # oncall apply leaves it alone, says so, and does not delete or take it back.
    printed = "\n".join(apply(factory, *shipped(config)))
    assert "= schedule billing-primary (left alone: managed in the console)" in printed
    assert "remove it from the file" in printed
    with factory() as s:
        sched = s.get(Schedule, sid)
        assert sched is not None and sched.managed_by is None
        assert sched.layers[0].name == "console"
        acts = s.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "schedule",
                                                         AuditEntry.object_id == sid)).all()
        assert acts.count("update") == 1  # the detach; apply's skip is not a change
