"""The API behind ``oncall login`` and the responders' CLI: a token for an email and password
(``POST /api/v1/auth/tokens``, throttled like the console's sign-in), ``/auth/me``, revoking
the current token, incidents ``?mine=true`` and ``GET /api/v1/shifts``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from oncall.accounts import passwords
from oncall.config import Settings
from oncall.manage import users
from oncall.models import ApiToken, AuditEntry, User, utcnow
from oncall.paging import stepping
from tests.conftest import Cast, alert, web_app

PASSWORD = "a long enough passphrase"


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    """Sign-in counters of this app only (memory), 3 failures per 15 minutes."""
    yield from web_app(replace(settings, signin_rate_limit="3/15minutes",
                               ratelimit_storage_url="memory://"))


@pytest.fixture
def people(cast: Cast, factory: Any) -> Cast:
    with factory() as s, s.begin():
        for user in s.scalars(select(User)):
            user.password_hash = passwords.hash_password(PASSWORD)
    return cast


def login(client: Any, email: str = "alice@example.com", password: str = PASSWORD,
          **extra: Any) -> Any:
    return client.post("/api/v1/auth/tokens",
                       json={"email": email, "password": password, **extra})


def test_a_password_gets_a_token_that_works_and_is_audited(client: Any, people: Cast,
                                                           factory: Any) -> None:
    r = login(client, "Alice@Example.com", label="oncall CLI on laptop")
    assert r.status_code == 201, r.json
    body = r.json
    assert body["user"] == "alice@example.com" and body["role"] == "responder"
    assert body["label"] == "oncall CLI on laptop" and body["token"].startswith("oct_")
    auth = {"Authorization": f"Bearer {body['token']}"}
    me = client.get("/api/v1/auth/me", headers=auth).json
    assert me["email"] == "alice@example.com" and me["token"]["id"] == body["id"]
    assert "token" not in me["token"]  # the secret is never answered again
    with factory() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.object_type == "api_token",
                                                  AuditEntry.object_id == body["id"]))
        assert entry is not None and entry.actor == "user:alice@example.com"
        assert entry.action == "create"
    # Revoking the current token: it stops at once; other tokens of alice keep working.
    assert client.delete("/api/v1/auth/tokens/current", headers=auth).status_code == 204
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 401
    assert client.get("/api/v1/auth/me", headers=people.auth("alice")).status_code == 200
    with factory() as s:
        assert s.get(ApiToken, body["id"]) is None


@pytest.mark.parametrize(("email", "password"), [
    ("alice@example.com", "not her password"),
    ("nobody@example.com", PASSWORD),
    ("alice@example.com", ""),
])
def test_a_wrong_email_or_password_is_401_and_no_token(client: Any, people: Cast,
                                                       factory: Any, email: str,
                                                       password: str) -> None:
    r = login(client, email, password)
    assert r.status_code == (400 if password == "" else 401)
    if r.status_code == 401:
        assert r.json["error"] == "wrong email or password"
    with factory() as s:
        assert len(list(s.scalars(select(ApiToken)))) == 4  # the cast's, no more


def test_a_user_without_a_password_gets_no_token(client: Any, cast: Cast) -> None:
    assert login(client, "bob@example.com", "").status_code == 400
    assert login(client, "bob@example.com", "anything at all").status_code == 401


def test_failures_are_throttled_per_account_like_the_console(client: Any,
                                                             people: Cast) -> None:
    for _ in range(3):
        assert login(client, "bob@example.com", "guess guess guess").status_code == 401
    r = login(client, "bob@example.com")  # right, but too late
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert r.json["error"].startswith("too many failed sign-ins; wait ")
    assert login(client, "alice@example.com").status_code == 201  # another account is fine
    # The same counter as the console's sign-in form: bob is throttled there too.
    page = client.post("/signin", data={"email": "bob@example.com", "password": PASSWORD})
    assert page.status_code in (400, 429)  # 400 only when CSRF is enforced (no token here)


def test_a_deactivated_user_gets_no_token(client: Any, people: Cast, factory: Any) -> None:
    with factory() as s, s.begin():
        vic = s.scalar(select(User).where(User.email == "viewer@example.com"))
        users.deactivate(s, "user:root@example.com", vic, utcnow())  # password dropped too
        # Deactivated by hand in the database, the password hash left behind: still no.
        bob = s.scalar(select(User).where(User.email == "bob@example.com"))
        bob.deactivated_at = utcnow()
    assert login(client, "viewer@example.com").status_code == 401
    r = login(client, "bob@example.com")
    assert r.status_code == 403 and r.json["error"] == ("bob@example.com is deactivated; "
                                                        "ask an admin")
    with factory() as s:
        # Only the token the cast gave bob before; none was made.
        assert len(s.scalars(select(ApiToken).where(ApiToken.user_id == bob.id)).all()) == 1


def test_the_endpoint_is_documented_with_its_answer(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").json
    op = spec["paths"]["/api/v1/auth/tokens"]["post"]
    assert "security" not in op
    assert set(op["responses"]) >= {"201", "400", "401", "403", "429"}
    schema = op["responses"]["201"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/NewToken"}
    assert "token" in spec["components"]["schemas"]["NewToken"]["allOf"][1]["required"]
    assert "/api/v1/shifts" in spec["paths"]
    params = {p["name"] for p in spec["paths"]["/api/v1/incidents"]["get"]["parameters"]}
    assert "mine" in params


def _incident(client: Any, cast: Cast, **fields: Any) -> int:
    r = client.post(f"/integrations/{cast.integration_token}", json=alert(**fields))
    return int(r.json["incidents"][0]["incident_id"])


def test_mine_is_what_paged_me_or_what_i_acknowledged(client: Any, cast: Cast,
                                                      factory: Any) -> None:
    paged = _incident(client, cast, summary="paged alice")
    acked = _incident(client, cast, type="other", summary="acked by bob")
    neither = _incident(client, cast, type="third", summary="nobody yet")
    with factory() as s, s.begin():
        stepping.escalate(s, paged, utcnow() + timedelta(seconds=1))  # level 1: alice
    assert client.post(f"/api/v1/incidents/{acked}/ack",
                       headers=cast.auth("bob")).status_code == 200

    def mine(who: str, **query: str) -> list[int]:
        r = client.get("/api/v1/incidents", query_string={"mine": "true", **query},
                       headers=cast.auth(who))
        assert r.status_code == 200, r.json
        return [i["id"] for i in r.json["incidents"]]

    assert mine("alice") == [paged]
    assert mine("bob") == [acked]
    assert mine("viewer") == []
    assert mine("bob", status="triggered") == []
    everyone = client.get("/api/v1/incidents", headers=cast.auth("viewer")).json["incidents"]
    assert {i["id"] for i in everyone} == {paged, acked, neither}


def _schedule(client: Any, cast: Cast, name: str, members: list[str]) -> int:
    r = client.post("/api/v1/schedules", headers=cast.auth("manager"), json={
        "name": name, "timezone": "UTC", "layers": [{
            "name": "daily", "rotation": "daily", "handoff": "09:00", "start": "2026-01-01",
            "members": members}]})
    assert r.status_code == 201, r.json
    return int(r.json["id"])


def test_shifts_across_schedules_for_one_person(client: Any, cast: Cast) -> None:
    _schedule(client, cast, "primary", ["alice@example.com", "bob@example.com"])
    _schedule(client, cast, "secondary", ["bob@example.com"])
    start = (utcnow() + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    window = {"start": start.isoformat(), "end": (start + timedelta(days=4)).isoformat()}

    def shifts(who: str = "viewer", **query: str) -> Any:
        return client.get("/api/v1/shifts", query_string={**window, **query},
                          headers=cast.auth(who))

    everyone = shifts().json["shifts"]
    assert {x["schedule"] for x in everyone} == {"primary", "secondary"}
    assert [x["start"] for x in everyone] == sorted(x["start"] for x in everyone)
    bob = shifts(user="bob@example.com").json
    assert bob["user"] == "bob@example.com"
    assert {x["user"] for x in bob["shifts"]} == {"bob@example.com"}
    assert {x["schedule"] for x in bob["shifts"]} == {"primary", "secondary"}
    me = shifts("alice", user="me").json
    assert me["user"] == "alice@example.com" and me["shifts"]
    assert {x["schedule"] for x in me["shifts"]} == {"primary"}
    assert {x["schedule"] for x in shifts(schedule="secondary").json["shifts"]} == \
        {"secondary"}
    # Alice's days on primary and bob's alternate: 4 days, about 2 shifts each.
    assert 1 <= len(me["shifts"]) <= 3

    assert shifts(schedule="nope").status_code == 404
    r = shifts(user="ghost@example.com")
    assert r.status_code == 400 and r.json["field"] == "user"
    r = client.get("/api/v1/shifts", headers=cast.auth("viewer"), query_string={
        "start": window["start"], "end": (start + timedelta(days=93)).isoformat()})
    assert r.status_code == 400 and "92 days" in r.json["error"]
    r = client.get("/api/v1/shifts", headers=cast.auth("viewer"),
                   query_string={"start": "2026-12-01T09:00:00"})
    assert r.status_code == 400 and r.json["field"] == "start"
    assert client.get("/api/v1/shifts").status_code == 401
