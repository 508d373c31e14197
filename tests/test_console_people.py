"""The console's Users and API tokens pages without a browser: roles (viewers and managers
refused, forged posts 403, no CSRF token 400), the edit form re-rendered with the field's
error and nothing saved, file-managed people read-only, deactivation confirmed and refused
as text while a layer names the person, reactivation, and API tokens shown once, working
against the API and refused once revoked."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from oncall.models import ApiToken, AuditEntry, Schedule, ScheduleLayer, User
from tests.conftest import Cast
from tests.test_console import csrf
from tests.test_console_manage import signed_in

TOKEN = re.compile(r'id="new-token" type="text" readonly value="([^"]+)"')


def fresh(session: Any, user_id: int) -> User:
    session.expire_all()
    found = session.get(User, user_id)
    assert found is not None
    return found


def test_viewers_and_managers_cannot_reach_users_and_forged_posts_are_refused(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "viewer")
    assert client.get("/users").status_code == 403
    assert client.get(f"/users/{cast.bob.id}").status_code == 403
    assert client.get(f"/users/{cast.bob.id}/deactivate").status_code == 403
    page = client.get("/account").get_data(as_text=True)
    assert 'href="/users"' not in page and 'href="/account/tokens"' in page

    client.post("/signout", data={"csrf_token": csrf(client, "/account")})
    signed_in(client, session, "manager")
    token = csrf(client, "/account")
    bob = f"/users/{cast.bob.id}"
    for path, data in ((f"{bob}/deactivate", {}), (f"{bob}/reactivate", {}),
                       (bob, {"name": "Mallory", "role": "admin", "timezone": "UTC"})):
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403
        assert client.post(path, data=data).status_code == 400  # no CSRF token
    assert fresh(session, cast.bob.id).deactivated_at is None
    assert fresh(session, cast.bob.id).name == "Bob"
    assert session.scalar(select(AuditEntry).where(AuditEntry.object_type == "user")) is None


def test_an_admin_edits_a_user_and_an_invalid_phone_saves_nothing(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "admin")
    path = f"/users/{cast.bob.id}"
    page = client.get(path).get_data(as_text=True)
    assert 'value="Bob"' in page and "America/New_York" in page
    form = {"csrf_token": csrf(client, path), "name": "Bob Baker", "role": "manager",
            "phone": "555-0100", "slack_id": "U012AB3CD", "timezone": "Europe/Paris"}
    ok = {**form, "phone": " +14155550100 "}
    r = client.post(path, data=form)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert 'id="phone-error"' in page and "E.164, e.g. +14155550100" in page
    assert 'value="555-0100"' in page and 'value="Bob Baker"' in page  # what was typed, kept
    assert "Nothing was saved" in page
    bob = fresh(session, cast.bob.id)
    assert (bob.name, bob.role, bob.phone, bob.slack_id, bob.timezone) == \
        ("Bob", "responder", None, None, "UTC")

    r = client.post(path, data={**form, "timezone": "Mars/Olympus", "slack_id": "nope"})
    page = r.get_data(as_text=True)  # every wrong field at once
    assert r.status_code == 400 and "unknown timezone" in page and 'id="phone-error"' in page
    assert 'id="slack_id-error"' in page
    assert fresh(session, cast.bob.id).name == "Bob"

    r = client.post(path, data=ok)
    assert r.status_code == 302
    bob = fresh(session, cast.bob.id)
    assert (bob.name, bob.role, bob.phone, bob.slack_id, bob.timezone) == \
        ("Bob Baker", "manager", "+14155550100", "U012AB3CD", "Europe/Paris")
    entry = session.scalar(select(AuditEntry).where(AuditEntry.object_type == "user"))
    assert entry.action == "update" and entry.actor == "user:admin-console@example.com"
    assert entry.after["phone"] == "+14155550100"


def test_the_last_admin_keeps_the_role_and_it_is_said_on_the_field(
        client: Any, cast: Cast, session: Any) -> None:
    me = signed_in(client, session, "admin")
    admin = session.scalar(select(User).where(User.email == "admin-console@example.com"))
    path = f"/users/{admin.id}"
    r = me.post(path, data={"csrf_token": csrf(client, path), "name": "Ada", "role": "viewer",
                            "timezone": "UTC"})
    assert r.status_code == 409 and "last admin" in r.get_data(as_text=True)
    assert fresh(session, admin.id).role == "admin"


def test_file_managed_users_are_read_only_with_their_file(
        client: Any, cast: Cast, session: Any) -> None:
    session.get(User, cast.bob.id).managed_by = "people/team.yaml"
    session.commit()
    signed_in(client, session, "admin")
    path = f"/users/{cast.bob.id}"
    page = client.get(path).get_data(as_text=True)
    assert "people/team.yaml" in page and 'name="phone"' not in page
    assert "Deactivate…" not in page
    r = client.post(path, data={"csrf_token": csrf(client, path), "name": "X",
                                "role": "viewer", "timezone": "UTC"})
    assert r.status_code == 409 and "people/team.yaml" in r.get_data(as_text=True)
    r = client.post(f"{path}/deactivate", data={"csrf_token": csrf(client, path)})
    assert r.status_code == 409 and "people/team.yaml" in r.get_data(as_text=True)
    bob = fresh(session, cast.bob.id)
    assert bob.name == "Bob" and bob.deactivated_at is None


def test_deactivation_is_refused_as_text_while_a_layer_names_the_user(
        client: Any, cast: Cast, session: Any) -> None:
    session.add(Schedule(name="primary", timezone="UTC", layers=[ScheduleLayer(
        position=0, name="weekdays", members=[cast.bob.id],
        spec={"rotation": "weekly", "handoff": "09:00", "start": "2026-01-05"})]))
    session.commit()
    signed_in(client, session, "admin")
    path = f"/users/{cast.bob.id}/deactivate"
    page = client.get(path).get_data(as_text=True)
    assert "Not possible yet" in page and "schedule primary (layer weekdays)" in page
    assert "Deactivate bob@example.com</button>" not in page
    r = client.post(path, data={"csrf_token": csrf(client, path)})  # sent anyway
    assert r.status_code == 409
    page = r.get_data(as_text=True)
    assert "Not deactivated: bob@example.com is still named by schedule primary " \
           "(layer weekdays)" in page
    assert fresh(session, cast.bob.id).deactivated_at is None
    assert session.scalar(select(ApiToken).where(ApiToken.user_id == cast.bob.id))
    # alice is on the billing policy: the same, as text
    r = client.post(f"/users/{cast.alice.id}/deactivate", data={"csrf_token": csrf(client, path)})
    assert r.status_code == 409 and "billing" in r.get_data(as_text=True)


def test_an_admin_deactivates_after_a_confirmation_and_reactivates(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "admin")
    vic = cast.viewer.id
    path = f"/users/{vic}/deactivate"
    page = client.get(path).get_data(as_text=True)
    assert "Revokes 1 API token" in page and "Deactivate viewer@example.com</button>" in page
    assert fresh(session, vic).deactivated_at is None  # the confirmation changes nothing
    assert client.get("/api/v1/tokens", headers=cast.auth("viewer")).status_code == 200
    r = client.post(path, data={"csrf_token": csrf(client, path)}, follow_redirects=True)
    assert r.status_code == 200 and r.request.path == "/users"
    page = r.get_data(as_text=True)
    assert "Deactivated viewer@example.com: console sessions ended, 1 API token revoked" in page
    assert "Deactivated</span> since" in page and f"/users/{vic}/reactivate" in page
    assert fresh(session, vic).deactivated_at is not None
    assert client.get("/api/v1/tokens", headers=cast.auth("viewer")).status_code == 401
    twice = client.post(path, data={"csrf_token": csrf(client, "/users")},
                        follow_redirects=True)  # a second tab: said, not done again
    assert "was already deactivated" in twice.get_data(as_text=True)

    r = client.post(f"/users/{vic}/reactivate", data={"csrf_token": csrf(client, "/users")},
                    follow_redirects=True)
    assert r.status_code == 200 and r.request.path == f"/users/{vic}"
    page = r.get_data(as_text=True)
    assert "Reactivated viewer@example.com" in page and "new invitation link" in page
    assert fresh(session, vic).deactivated_at is None
    assert fresh(session, vic).password_hash is None
    r = client.post(f"/users/{vic}/link", data={"csrf_token": csrf(client, f"/users/{vic}")})
    assert r.status_code == 200 and "/welcome/" in r.get_data(as_text=True)
    actions = [e.action for e in session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "user", AuditEntry.object_id == vic).order_by(AuditEntry.id))]
    assert actions == ["deactivate", "reactivate", "invite"]


def test_a_token_is_shown_once_works_against_the_api_and_not_once_revoked(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "viewer")
    path = "/account/tokens"
    assert client.get(path).status_code == 200
    token = csrf(client, path)
    once = re.search(r'name="once" type="hidden" value="([^"]+)"',
                     client.get(path).get_data(as_text=True)).group(1)
    r = client.post(path, data={"csrf_token": token, "label": "deploy script", "once": once})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    value = TOKEN.search(page).group(1)
    assert value.startswith("oct_") and 'data-copy="new-token"' in page
    bearer = {"Authorization": f"Bearer {value}"}
    me = client.get("/api/v1/tokens", headers=bearer)
    assert me.status_code == 200
    assert [t["label"] for t in me.json["tokens"]] == ["deploy script"]

    # shown once: neither a second look nor the same form sent again shows it
    again = client.get(path).get_data(as_text=True)
    made = session.scalar(select(ApiToken).where(ApiToken.label == "deploy script"))
    assert value not in again and made.token_hash not in again
    assert "deploy script" in again and f"{made.prefix}…" in again
    assert "Last used" in again and "never" not in again.split("deploy script")[1][:400]
    r = client.post(path, data={"csrf_token": token, "label": "deploy script", "once": once})
    assert r.status_code == 409 and TOKEN.search(r.get_data(as_text=True)) is None
    assert len(session.scalars(select(ApiToken).where(
        ApiToken.label == "deploy script")).all()) == 1

    # a viewer sees only their own; someone else's token is not found
    assert "alice@example.com" not in again
    alices = session.scalar(select(ApiToken).where(ApiToken.user_id == cast.alice.id))
    assert client.post(f"{path}/{alices.id}/revoke", data={"csrf_token": token}).status_code \
        == 404
    assert client.post(f"{path}/{made.id}/revoke", data={}).status_code == 400
    r = client.post(f"{path}/{made.id}/revoke", data={"csrf_token": token},
                    follow_redirects=True)
    assert r.status_code == 200 and "Revoked the API token deploy script" in \
        r.get_data(as_text=True)
    assert client.get("/api/v1/tokens", headers=bearer).status_code == 401
    assert client.get("/api/v1/tokens", headers=cast.auth("alice")).status_code == 200
    actions = [e.action for e in session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "api_token").order_by(AuditEntry.id))]
    assert actions == ["create", "revoke"]


def test_admins_see_everyones_tokens_with_the_owner_and_revoke_any(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "admin")
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "Everyone else&#39;s tokens (4)" in page or "Everyone else's tokens (4)" in page
    for who in ("alice", "bob", "manager", "viewer"):
        assert f"{who}@example.com" in page
    for row in session.scalars(select(ApiToken)):
        assert row.token_hash not in page
    alices = session.scalar(select(ApiToken).where(ApiToken.user_id == cast.alice.id))
    r = client.post(f"/account/tokens/{alices.id}/revoke",
                    data={"csrf_token": csrf(client, "/account/tokens")}, follow_redirects=True)
    assert "of alice@example.com" in r.get_data(as_text=True)
    assert client.get("/api/v1/tokens", headers=cast.auth("alice")).status_code == 401
    assert client.get("/api/v1/tokens", headers=cast.auth("bob")).status_code == 200


def test_a_too_long_label_is_shown_on_the_field_and_nothing_is_made(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "responder")
    before = session.scalar(select(ApiToken.id).order_by(ApiToken.id.desc()))
    r = client.post("/account/tokens", data={"csrf_token": csrf(client, "/account/tokens"),
                                             "label": "x" * 201, "once": "abc"})
    assert r.status_code == 400 and 'id="label-error"' in r.get_data(as_text=True)
    assert session.scalar(select(ApiToken.id).order_by(ApiToken.id.desc())) == before


def test_an_admin_who_demotes_themselves_lands_on_their_account(
        client: Any, cast: Cast, session: Any) -> None:
    session.add(User(email="other-admin@example.com", name="Other", role="admin"))
    session.commit()
    signed_in(client, session, "admin")
    me = session.scalar(select(User).where(User.email == "admin-console@example.com"))
    path = f"/users/{me.id}"
    r = client.post(path, data={"csrf_token": csrf(client, path), "name": "Ada",
                                "role": "manager", "timezone": "UTC"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/account")
    assert fresh(session, me.id).role == "manager"
    assert client.get("/users").status_code == 403
