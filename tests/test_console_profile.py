"""The console's profile, heartbeats and maintenance pages without a browser: every view,
the role rules (forged posts 403, no CSRF token 400), bad input re-rendered with the field's
error and nothing saved, notification rules saved through the API's own code with its
preview, file-managed rules read-only, upcoming shifts and the calendar feed URL."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from oncall.channels import preferences
from oncall.heartbeats import service as heartbeats
from oncall.maintenance import service as maintenance
from oncall.models import (
    AuditEntry,
    Heartbeat,
    MaintenanceWindow,
    NotificationRule,
    Override,
    Schedule,
    User,
    utcnow,
)
from oncall.web.console.ops_board import crontab_line
from tests.conftest import Cast
from tests.test_console import csrf
from tests.test_console_manage import signed_in


def user(session: Any, email: str) -> User:
    session.expire_all()
    found = session.scalar(select(User).where(User.email == email))
    assert found is not None
    return found


def test_the_profile_shows_contacts_preview_and_links(client: Any, cast: Cast,
                                                      session: Any) -> None:
    signed_in(client, session, "responder")
    page = client.get("/profile").get_data(as_text=True)
    assert "Your profile" in page and 'aria-current="page">Profile<' in page
    assert "responder-console@example.com" in page
    assert "What would be sent now" in page and "built-in defaults" in page
    assert 'href="/account/tokens"' in page and "Make my feed URL" in page
    assert "Save notification rules" in page and "Test console" in page
    assert "You are not on call on any schedule in the next 14 days." in page
    # The nav: a Profile line beside Account, and Heartbeats.
    assert page.count('href="/profile"') == 1 and 'href="/heartbeats"' in page


def test_an_invalid_phone_is_refused_on_its_field_and_nothing_is_saved(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "responder")
    token = csrf(client, "/profile")
    r = client.post("/profile/contacts", data={"csrf_token": token, "phone": "555-0100",
                                               "slack_id": "nope"})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert 'id="phone-error"' in page and "E.164, e.g. +14155550100" in page
    assert 'id="slack_id-error"' in page and 'value="555-0100"' in page
    assert "Nothing was saved" in page
    me = user(session, "responder-console@example.com")
    assert (me.phone, me.slack_id, me.phone_source) == (None, None, None)
    # Without a CSRF token: 400 and nothing saved.
    assert client.post("/profile/contacts", data={"phone": "+14155550100"}).status_code == 400
    assert user(session, "responder-console@example.com").phone is None


def test_a_self_entered_phone_without_sms_configured_is_kept_unverified(
        client: Any, cast: Cast, session: Any) -> None:
    """No Twilio here: the number is stored as the person's own, unverified, and the page
    says that no code can be sent (an admin sets it instead)."""
    signed_in(client, session, "responder")
    token = csrf(client, "/profile")
    r = client.post("/profile/contacts", data={"csrf_token": token,
                                               "phone": " +14155550100 ", "slack_id": ""})
    assert r.status_code == 302
    me = user(session, "responder-console@example.com")
    assert (me.phone, me.phone_source, me.phone_verified_at) == ("+14155550100", "self", None)
    page = client.get("/profile").get_data(as_text=True)
    assert "SMS is not configured" in page and "not verified: not paged" in page
    assert "/profile/phone/verify" not in page  # no code can come: no code form offered
    r = client.post("/profile/phone/verify", data={"csrf_token": token, "code": "123456"})
    assert r.status_code == 400 and "no code is waiting" in r.get_data(as_text=True)
    assert session.scalar(select(AuditEntry).where(AuditEntry.object_type == "user")) is not None


def test_an_admin_set_phone_is_trusted_and_a_file_set_one_too(
        client: Any, cast: Cast, session: Any, admin_auth: dict[str, str]) -> None:
    r = client.patch(f"/api/v1/users/{cast.bob.id}", json={"phone": "+14155550111"},
                     headers=admin_auth)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["phone_source"] == "admin" and r.get_json()["phone_verified"]
    bob = user(session, "bob@example.com")
    assert bob.phone_source == "admin" and preferences.phone_verified(bob)


def test_notification_rules_are_saved_through_the_api_code_with_field_errors(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "responder")
    token = csrf(client, "/profile")
    me = user(session, "responder-console@example.com")
    bad = {"csrf_token": token, "critical-0-channel": "console", "critical-0-delay": "soon"}
    r = client.post("/profile/rules", data=bad)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert 'id="critical-0-delay-error"' in page and 'value="soon"' in page
    assert session.scalar(select(func.count()).select_from(NotificationRule)) == 0

    # The same channel twice: refused by the API's own validation, on the second slot.
    dup = {"csrf_token": token, "warning-0-channel": "console", "warning-0-delay": "0",
           "warning-2-channel": "console", "warning-2-delay": "5"}
    r = client.post("/profile/rules", data=dup)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert 'id="warning-2-channel-error"' in page and "already listed" in page
    assert session.scalar(select(func.count()).select_from(NotificationRule)) == 0

    ok = {"csrf_token": token, "critical-0-channel": "console", "critical-0-delay": "2"}
    assert client.post("/profile/rules", data=ok).status_code == 302
    assert preferences.load(session, me.id) == {"critical": [preferences.Rule("console", 120)]}
    page = client.get("/profile").get_data(as_text=True)
    assert "console after 2 min" in page and "your rules" in page
    audit = session.scalar(select(AuditEntry).where(
        AuditEntry.object_type == "notification_rules"))
    assert audit is not None and audit.actor == "user:responder-console@example.com"

    r = client.post("/profile/rules", data={"csrf_token": token, "defaults": "1"})
    assert r.status_code == 302 and preferences.load(session, me.id) == {}


def test_viewers_cannot_save_rules_and_file_rules_are_read_only(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "viewer")
    token = csrf(client, "/profile")
    assert "Save notification rules" not in client.get("/profile").get_data(as_text=True)
    r = client.post("/profile/rules", data={"csrf_token": token,
                                            "critical-0-channel": "console"})
    assert r.status_code == 403
    assert session.scalar(select(func.count()).select_from(NotificationRule)) == 0

    client.post("/signout", data={"csrf_token": token})
    signed_in(client, session, "responder")
    me = user(session, "responder-console@example.com")
    preferences.replace(session, me.id, {"critical": [preferences.Rule("console")]},
                  managed="rules/people.yaml")
    session.commit()
    page = client.get("/profile").get_data(as_text=True)
    assert "managed by <code>rules/people.yaml</code>" in page
    assert "Save notification rules" not in page
    r = client.post("/profile/rules", data={"csrf_token": csrf(client, "/profile")})
    assert r.status_code == 409 and "rules/people.yaml" in r.get_data(as_text=True)


def test_upcoming_shifts_include_overrides_and_the_feed_url_works(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "responder")
    me = user(session, "responder-console@example.com")
    now = utcnow()
    schedule = Schedule(name="primary", timezone="UTC")
    session.add(schedule)
    session.flush()
    session.add(Override(schedule_id=schedule.id, user_id=me.id,
                         start=now + timedelta(days=2), end=now + timedelta(days=3),
                         created_by="user:test"))
    session.commit()
    page = client.get("/profile").get_data(as_text=True)
    assert f'href="/schedules/{schedule.id}"' in page
    assert "not on call on any schedule" not in page

    r = client.post("/profile/feed", data={"csrf_token": csrf(client, "/profile")})
    assert r.status_code == 200
    found = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"',
                      r.get_data(as_text=True))
    assert found
    path = found.group(1).split("://", 1)[1].split("/", 1)[1]
    feed = client.get("/" + path.replace("&amp;", "&"))
    assert feed.status_code == 200 and b"BEGIN:VCALENDAR" in feed.data
    assert b"primary" in feed.data


def _heartbeat(session: Any, cast: Cast, **data: Any) -> Heartbeat:
    hb = heartbeats.create(session, "user:manager@example.com",
                           {"name": "nightly-charge-run", "cron": "0 2 * * *",
                            "timezone": "Europe/Paris", "grace": "30m",
                            "service": cast.service.name, **data}, utcnow())
    session.commit()
    return hb


def test_the_heartbeats_board_and_pause_resume_by_managers_only(
        client: Any, cast: Cast, session: Any) -> None:
    hb = _heartbeat(session, cast)
    signed_in(client, session, "responder")
    page = client.get("/heartbeats").get_data(as_text=True)
    assert "nightly-charge-run" in page and "waiting for the first ping" in page
    # A ping URL is a secret (it can make a broken job look healthy): managers only.
    assert f"/ping/{hb.uuid}" not in page and "Shown to managers" in page
    assert "Pause" not in page
    token = csrf(client, "/profile")
    assert client.post(f"/heartbeats/{hb.id}/pause",
                       data={"csrf_token": token}).status_code == 403
    session.expire_all()
    assert session.get(Heartbeat, hb.id).state == "new"

    client.post("/signout", data={"csrf_token": token})
    signed_in(client, session, "manager")
    token = csrf(client, "/heartbeats")
    assert client.post(f"/heartbeats/{hb.id}/pause", data={}).status_code == 400  # no CSRF
    r = client.post(f"/heartbeats/{hb.id}/pause", data={"csrf_token": token})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Heartbeat, hb.id).state == "paused"
    page = client.get("/heartbeats").get_data(as_text=True)
    assert "paused" in page and "Resume" in page and "not checked" in page
    assert f"/ping/{hb.uuid}" in page
    assert "0 2 * * * /path/to/job &amp;&amp; curl -fsS -m 10 --retry 3 " in page
    assert client.post(f"/heartbeats/{hb.id}/resume",
                       data={"csrf_token": token}).status_code == 302
    session.expire_all()
    assert session.get(Heartbeat, hb.id).state == "new"
    assert client.post("/heartbeats/999/pause", data={"csrf_token": token}).status_code == 404


def test_crontab_lines_follow_the_heartbeat_schedule(cast: Cast, session: Any) -> None:
    url = "https://oncall.example.com/ping/x"
    for period, fields in ((3600, "0 * * * *"), (300, "*/5 * * * *"), (86400, "0 2 * * *"),
                           (21600, "0 */6 * * *")):
        hb = Heartbeat(name="x", uuid="x", period=period, grace=60)
        assert crontab_line(hb, url) == \
            f"{fields} /path/to/job && curl -fsS -m 10 --retry 3 {url}"


def test_maintenance_windows_are_listed_created_and_ended_by_managers(
        client: Any, cast: Cast, session: Any) -> None:
    now = utcnow()
    maintenance.create(session, "user:x", {"name": "old work", "starts_at": now - timedelta(
        days=2), "ends_at": now - timedelta(days=1)}, now - timedelta(days=3))
    maintenance.create(session, "user:x", {"name": "next week", "starts_at": now + timedelta(
        days=7), "ends_at": now + timedelta(days=8)}, now)
    session.commit()
    signed_in(client, session, "viewer")
    page = client.get("/maintenance").get_data(as_text=True)
    assert "In force (0)" in page and "Upcoming (1)" in page and "Ended in the last 7 days (1)" \
        in page
    assert "New maintenance window" not in page and "Cancel" not in page
    token = csrf(client, "/profile")
    form = {"csrf_token": token, "name": "db upgrade", "service": cast.service.name,
            "ends_at": (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}
    assert client.post("/maintenance", data=form).status_code == 403
    assert session.scalar(select(func.count()).select_from(MaintenanceWindow)) == 2

    client.post("/signout", data={"csrf_token": token})
    signed_in(client, session, "manager")
    token = csrf(client, "/maintenance")
    form["csrf_token"] = token
    r = client.post("/maintenance", data={**form, "ends_at": "tomorrow"})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert 'id="ends_at-error"' in page and "is not a date and time" in page
    assert 'value="db upgrade"' in page
    r = client.post("/maintenance", data={**form, "starts_at": form["ends_at"],
                                          "ends_at": form["ends_at"]})
    assert r.status_code == 400 and "must be after starts_at" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(MaintenanceWindow)) == 2

    assert client.post("/maintenance", data=form).status_code == 302
    made = session.scalar(select(MaintenanceWindow).where(MaintenanceWindow.name ==
                                                          "db upgrade"))
    assert made is not None and made.matchers == {"service": cast.service.name}
    assert made.created_by == "user:manager-console@example.com"
    page = client.get("/maintenance").get_data(as_text=True)
    assert "In force (1)" in page and f"service={cast.service.name}" in page
    assert client.post(f"/maintenance/{made.id}/end", data={}).status_code == 400
    assert client.post(f"/maintenance/{made.id}/end",
                       data={"csrf_token": token}).status_code == 302
    session.expire_all()
    assert session.get(MaintenanceWindow, made.id).ends_at <= utcnow()
    assert "In force (0)" in client.get("/maintenance").get_data(as_text=True)


def test_a_file_managed_window_cannot_be_ended_here(client: Any, cast: Cast,
                                                    session: Any) -> None:
    now = utcnow()
    w = maintenance.create(session, "file", {"name": "filed", "ends_at": now + timedelta(
        hours=1)}, now, managed_by="rules/maint.yaml")
    session.commit()
    signed_in(client, session, "manager")
    assert "change its file" in client.get("/maintenance").get_data(as_text=True)
    r = client.post(f"/maintenance/{w.id}/end", data={"csrf_token": csrf(client,
                                                                        "/maintenance")})
    assert r.status_code == 409 and "rules/maint.yaml" in r.get_data(as_text=True)


def test_a_config_file_phone_is_trusted(factory: Any, session: Any, config: Any) -> None:
    from tests.conftest import apply, shipped

    apply(factory, *shipped(config))
    with_phone = session.scalars(select(User).where(User.phone.is_not(None))).all()
    assert with_phone, "the shipped config sets phones"
    assert all(u.phone_source == "file" and preferences.phone_verified(u) for u in with_phone)
    session.execute(update(User).values(phone_source="self"))
    session.commit()
    apply(factory, *shipped(config))  # the file sets them again: trusted again
    session.expire_all()
    assert all(u.phone_source == "file" for u in
               session.scalars(select(User).where(User.phone.is_not(None))))


def test_everyone_sets_their_own_timezone_and_the_console_uses_it(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "viewer")
    token = csrf(client, "/profile")
    bad = client.post("/profile/timezone", data={"csrf_token": token,
                                                 "timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and 'id="timezone-error"' in bad.get_data(as_text=True)
    me = session.scalar(select(User).where(User.role == "viewer",
                                           User.email.like("%console%")))
    assert me is not None and me.timezone != "Mars/Olympus"
    ok = client.post("/profile/timezone", data={"csrf_token": token,
                                                "timezone": "Europe/Berlin"})
    assert ok.status_code == 302
    session.expire_all()
    assert me.timezone == "Europe/Berlin"
    assert "Times are now shown in Europe/Berlin" in client.get("/profile").get_data(
        as_text=True)
    assert session.scalar(select(AuditEntry).where(AuditEntry.object_type == "user",
                                                   AuditEntry.object_id == me.id))
    assert client.post("/profile/timezone", data={"timezone": "UTC"}).status_code == 400
