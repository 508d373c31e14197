"""Authentication and the role check come before anything reads the request: an
unauthenticated caller (or one without the role) learns nothing of a body's or a query's
fields, on every API endpoint."""

from __future__ import annotations

import re
from typing import Any

import pytest

from oncall.models import ROLES
from tests.conftest import Cast

# The endpoints a caller without a token may use, on purpose: trading a password for a token
# (`oncall login`), throttled like the console's sign-in (tests/test_login_api.py).
OPEN = {("POST", "/api/v1/auth/tokens")}
JUNK = {"json": {"no_such_field": [1, {"deep": None}]}, "query_string": {"limit": "abc",
                                                                         "status": "???"}}


def api_endpoints(app: Any, open_too: bool = False) -> list[tuple[str, str, str | None]]:
    """(method, a concrete path, the role it needs) for every /api/v1 route (but ``OPEN``)."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.startswith(("/api/v1/openapi",
                                                                         "/api/v1/docs")):
            continue
        path = re.sub(r"<int:[^>]+>", "1", rule.rule)
        path = re.sub(r"<[^>]+>", "x@example.com", path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (method, path) in OPEN and not open_too:
                continue
            out.append((method, path,
                        getattr(app.view_functions[rule.endpoint], "_auth_role", None)))
    return out


def test_every_api_endpoint_needs_a_role(app: Any) -> None:
    endpoints = api_endpoints(app)
    assert len(endpoints) > 40
    assert [e for e in endpoints if e[2] not in ROLES] == []
    # The open list is exact: each is an endpoint, and really open.
    assert {(m, p) for m, p, role in api_endpoints(app, open_too=True) if role is None} == OPEN


def test_no_token_gets_401_before_any_validation(app: Any, client: Any, cast: Cast) -> None:
    for method, path, _ in api_endpoints(app):
        r = client.open(path, method=method, **JUNK)
        assert r.status_code == 401, (method, path, r.json)
        assert set(r.json) == {"error", "status"}, (method, path, r.json)
        r = client.open(path, method=method, headers={"Authorization": "Bearer nope"}, **JUNK)
        assert r.status_code == 401, (method, path, r.json)


def test_a_role_too_low_gets_403_before_any_validation(app: Any, client: Any,
                                                      cast: Cast) -> None:
    checked = 0
    for method, path, role in api_endpoints(app):
        if role == "viewer":
            continue
        r = client.open(path, method=method, headers=cast.auth("viewer"), **JUNK)
        assert r.status_code == 403, (method, path, r.json)
        assert "field" not in r.json and "detail" not in r.json
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("who,status", [("viewer", 403), ("alice", 400)])
def test_a_bad_body_is_named_only_to_someone_who_may_send_it(
        client: Any, cast: Cast, who: str, status: int) -> None:
    r = client.put(f"/api/v1/users/{cast.alice.id}/notification-rules", json={"nope": 1},
                   headers=cast.auth(who))
    assert r.status_code == status
    assert ("field" in r.json) == (status == 400)
