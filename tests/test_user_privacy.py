"""A user's phone, Slack id, contact methods and notification plans are theirs: only they and
admins read them; other people (viewers, responders, managers) see name, email and role."""

from __future__ import annotations

from typing import Any

import pytest

from oncall.models import User
from tests.conftest import Cast

PUBLIC = {"id", "email", "name", "role"}


@pytest.fixture
def alice_has_a_phone(factory: Any, cast: Cast) -> None:
    with factory() as s, s.begin():
        alice = s.get(User, cast.alice.id)
        assert alice is not None
        alice.phone, alice.slack_id = "+14155550100", "U0ALICE01"


@pytest.mark.parametrize("who", ["viewer", "bob", "manager"])
def test_others_see_who_a_user_is_but_not_how_to_reach_them(
        client: Any, cast: Cast, alice_has_a_phone: None, who: str) -> None:
    r = client.get(f"/api/v1/users/{cast.alice.id}", headers=cast.auth(who))
    assert r.status_code == 200
    assert r.json == {"id": cast.alice.id, "email": "alice@example.com", "name": "Alice",
                      "role": "responder"}
    assert "+14155550100" not in r.text and "U0ALICE01" not in r.text
    r = client.get(f"/api/v1/users/{cast.alice.id}/notification-rules", headers=cast.auth(who))
    assert r.status_code == 403


def test_the_user_themselves_and_an_admin_see_everything(
        client: Any, cast: Cast, alice_has_a_phone: None,
        admin_auth: dict[str, str]) -> None:
    for headers in (cast.auth("alice"), admin_auth):
        r = client.get(f"/api/v1/users/{cast.alice.id}", headers=headers)
        assert r.status_code == 200 and set(r.json) > PUBLIC
        assert r.json["phone"] == "+14155550100" and r.json["slack_id"] == "U0ALICE01"
        assert {c["channel"] for c in r.json["contact_methods"]} >= {"sms", "slack"}
        assert "notification" in r.json
        r = client.get(f"/api/v1/users/{cast.alice.id}/notification-rules", headers=headers)
        assert r.status_code == 200
