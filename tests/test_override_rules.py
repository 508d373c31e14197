"""Who may change who is on call through the API: responders only on schedules they are
members of, for a bounded window that does not lie wholly in the past; only the creator of
an override or a manager deletes it. Managers: anyone, within a larger bound."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from oncall.config import ConfigError, Settings, load_settings
from oncall.models import Override, User
from tests.conftest import Cast, web_app
from tests.test_schedules_api import create, future, next_shift_of, oncall

OUTSIDER = "carol@example.com"


@pytest.fixture
def schedule(client: Any, cast: Cast) -> dict[str, Any]:
    """A weekly rotation of alice and bob (see tests.test_schedules_api)."""
    r = create(client, cast)
    assert r.status_code == 201, r.json
    return dict(r.json)


@pytest.fixture
def carol(factory: Any, cast: Cast) -> dict[str, str]:
    """A responder who is in no layer of the schedule."""
    from oncall.cli.admin import create_token

    with factory() as s, s.begin():
        s.add(User(email=OUTSIDER, name="Carol", role="responder"))
        s.flush()
        token = create_token(s, OUTSIDER)
    return {"Authorization": f"Bearer {token}"}


def overrides(factory: Any) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(Override)) or 0)


def post_override(client: Any, headers: dict[str, str], sid: int, **body: Any) -> Any:
    return client.post(f"/api/v1/schedules/{sid}/overrides", headers=headers, json=body)


def test_a_responder_outside_the_schedule_cannot_take_its_on_call(
        client: Any, cast: Cast, schedule: dict[str, Any], carol: dict[str, str],
        factory: Any) -> None:
    sid = schedule["id"]
    now = future(days=0)["start"].replace("T00:00:00", "T12:00:00")
    before = oncall(client, cast, sid, now).json["user"]
    r = post_override(client, carol, sid, start=future(days=0)["start"],
                      end="2036-01-01T00:00:00Z")
    assert r.status_code == 403 and "member" in r.json["error"]
    r = post_override(client, carol, sid, **future(days=1))
    assert r.status_code == 403 and "member" in r.json["error"]
    r = client.post(f"/api/v1/schedules/{sid}/swaps", headers=carol,
                    json={"layer": "weekly", "at": now, "to": OUTSIDER})
    assert r.status_code == 403 and "member" in r.json["error"]
    assert overrides(factory) == 0
    assert oncall(client, cast, sid, now).json["user"] == before


def test_a_members_override_is_bounded_and_not_in_the_past(
        client: Any, cast: Cast, schedule: dict[str, Any], factory: Any) -> None:
    sid, alice = schedule["id"], cast.auth("alice")
    r = post_override(client, alice, sid, start=future(days=0)["start"],
                      end="2036-01-01T00:00:00Z")
    assert r.status_code == 400 and r.json["field"] == "end"
    assert "at most 14 days" in r.json["error"]
    r = post_override(client, alice, sid, **future(days=1, length=15))
    assert r.status_code == 400 and r.json["field"] == "end"
    r = post_override(client, alice, sid, **future(days=-3, length=2))
    assert r.status_code == 400 and r.json["field"] == "end" and "past" in r.json["error"]
    assert overrides(factory) == 0
    assert post_override(client, alice, sid, **future(days=1, length=14)).status_code == 201
    # One that started yesterday and is still running is fine: it is not wholly past.
    assert post_override(client, alice, sid, **future(days=-1, length=2)).status_code == 201


@pytest.fixture
def short_limits(settings: Settings) -> Iterator[Any]:
    tight = dataclasses.replace(settings, max_override_days=2, manager_max_override_days=30)
    yield from web_app(tight)


def test_the_limits_are_configurable_and_a_manager_has_the_larger_one(
        short_limits: Any, cast: Cast, schedule: dict[str, Any]) -> None:
    client, sid = short_limits.test_client(), schedule["id"]
    r = post_override(client, cast.auth("alice"), sid, **future(days=1, length=3))
    assert r.status_code == 400 and "at most 2 days" in r.json["error"]
    manager = cast.auth("manager")
    r = post_override(client, manager, sid, user="bob@example.com", **future(days=1, length=30))
    assert r.status_code == 201, r.json
    r = post_override(client, manager, sid, user="bob@example.com", **future(days=1, length=31))
    assert r.status_code == 400 and "at most 30 days for a manager" in r.json["error"]


def test_the_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCALL_MAX_OVERRIDE_DAYS", "7")
    monkeypatch.setenv("ONCALL_MANAGER_MAX_OVERRIDE_DAYS", "90")
    loaded = load_settings()
    assert (loaded.max_override_days, loaded.manager_max_override_days) == (7, 90)
    for bad in ("0", "-1", "abc", "inf"):
        monkeypatch.setenv("ONCALL_MAX_OVERRIDE_DAYS", bad)
        with pytest.raises(ConfigError, match="ONCALL_MAX_OVERRIDE_DAYS"):
            load_settings()


def test_only_the_creator_or_a_manager_deletes_an_override(
        client: Any, cast: Cast, schedule: dict[str, Any], factory: Any) -> None:
    sid = schedule["id"]
    url = f"/api/v1/schedules/{sid}/overrides"
    by_manager = post_override(client, cast.auth("manager"), sid, user="alice@example.com",
                               **future(days=1)).json
    r = client.delete(f"{url}/{by_manager['id']}", headers=cast.auth("alice"))
    assert r.status_code == 403 and "created" in r.json["error"]
    by_alice = post_override(client, cast.auth("alice"), sid, **future(days=3)).json
    assert client.delete(f"{url}/{by_alice['id']}", headers=cast.auth("bob")).status_code == 403
    assert overrides(factory) == 2
    assert client.delete(f"{url}/{by_alice['id']}", headers=cast.auth("alice")).status_code \
        == 204
    assert client.delete(f"{url}/{by_manager['id']}", headers=cast.auth("manager")
                         ).status_code == 204
    assert overrides(factory) == 0


def test_members_swap_among_members_and_only_shifts_not_over(
        client: Any, cast: Cast, schedule: dict[str, Any], carol: dict[str, str],
        factory: Any) -> None:
    sid, url = schedule["id"], f"/api/v1/schedules/{schedule['id']}/swaps"
    shift = next_shift_of(client, cast, sid, "alice@example.com")
    r = client.post(url, headers=cast.auth("alice"),
                    json={"layer": "weekly", "at": shift["start"], "to": OUTSIDER})
    assert r.status_code == 403 and r.json["field"] == "to"
    r = client.post(url, headers=cast.auth("alice"),  # a past shift: the rotation's first
                    json={"layer": "weekly", "at": "2026-11-03T12:00:00Z",
                          "to": "alice@example.com"})
    assert r.status_code == 400 and r.json["field"] == "at"
    assert overrides(factory) == 0
    r = client.post(url, headers=cast.auth("bob"),  # a member covers a colleague's shift
                    json={"layer": "weekly", "at": shift["start"], "to": "bob@example.com"})
    assert r.status_code == 201
    r = client.post(url, headers=cast.auth("manager"),  # managers: anyone, anything
                    json={"layer": "weekly", "at": shift["start"], "to": OUTSIDER})
    assert r.status_code == 201
