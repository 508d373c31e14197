"""A user's phone, Slack id, contact methods and notification plans are theirs: only they and
admins read them; other people (viewers, responders, managers) see name, email and role, and
an incident's record of a refused number shows it hidden to them."""

from __future__ import annotations

from typing import Any

import pytest

from oncall.models import User
from tests.conftest import Cast, alert

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


@pytest.fixture
def refused_number(factory: Any, client: Any, cast: Cast) -> int:
    """An incident whose timeline and page record Twilio refusing alice's number."""
    from oncall.incidents import record
    from oncall.models import Page, utcnow

    r = client.post(f"/integrations/{cast.integration_token}", json=alert())
    incident_id = r.json["incidents"][0]["incident_id"]
    error = "twilio 400 error 21211: The 'To' number +14155550100 is not a valid phone number."
    with factory() as s, s.begin():
        s.add(Page(incident_id=incident_id, level=0, loop=0, recipient=f"user:{cast.alice.id}",
                   user_id=cast.alice.id, channel="sms", status="failed", error=error,
                   message="[CRITICAL] #1", next_attempt_at=utcnow()))
        record(s, incident_id, "contact_disabled", "system", utcnow(),
               user="alice@example.com", channel="sms", address="+14155550100", reason=error)
    return int(incident_id)


@pytest.mark.parametrize("who", ["viewer", "bob", "manager"])
def test_an_incident_hides_other_peoples_numbers(client: Any, cast: Cast, refused_number: int,
                                                 who: str) -> None:
    r = client.get(f"/api/v1/incidents/{refused_number}", headers=cast.auth(who))
    assert r.status_code == 200
    assert "4155550100" not in r.text
    [event] = [e for e in r.json["timeline"] if e["kind"] == "contact_disabled"]
    assert event["detail"]["address"] == "(hidden)"
    assert "The 'To' number (hidden) is not" in event["detail"]["reason"]


def test_an_incident_shows_the_number_to_its_owner_and_admins(
        client: Any, cast: Cast, refused_number: int, admin_auth: dict[str, str]) -> None:
    for headers in (cast.auth("alice"), admin_auth):
        r = client.get(f"/api/v1/incidents/{refused_number}", headers=headers)
        [event] = [e for e in r.json["timeline"] if e["kind"] == "contact_disabled"]
        assert event["detail"]["address"] == "+14155550100"
        [page] = [p for p in r.json["pages"] if p["channel"] == "sms"]
        assert "+14155550100" in page["error"]


def test_the_audit_log_hides_other_peoples_numbers_and_slack_ids_but_not_from_admins(
        client: Any, cast: Cast, factory: Any, admin_auth: dict[str, str]) -> None:
    from oncall.audit import audit

    with factory() as s, s.begin():
        audit(s, "cli", "update", "user", cast.alice.id, "alice@example.com",
              {"slack": None}, {"slack": "U0ALICE01"})
        audit(s, "file:rules/team.yaml", "update", "user", cast.alice.id, "alice@example.com",
              {"change": "~ user alice@example.com phone +14155550100"},
              {"change": "~ user alice@example.com phone +14155550199"})
    manager = client.get("/api/v1/audit", headers=cast.auth("manager"))
    assert manager.status_code == 200 and len(manager.json["entries"]) == 2
    assert "U0ALICE01" not in manager.text and "41555501" not in manager.text
    admin = client.get("/api/v1/audit", headers=admin_auth)
    assert "U0ALICE01" in admin.text and "+14155550199" in admin.text
