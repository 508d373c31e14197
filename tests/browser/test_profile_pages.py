"""The profile, heartbeats and maintenance pages in a real Chromium, at a phone's width: a
responder enters their phone number, reads the code from the message the (fake) Twilio
received, verifies it, and sends themselves a test SMS that reaches Twilio and opens no
incident; a manager reads the heartbeats board (ping URL, crontab line, pause) and creates
and ends a maintenance window. Each page checked by axe and for sideways scrolling."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from oncall import db
from oncall.channels import registry
from oncall.config import Settings
from oncall.heartbeats import service as heartbeats
from oncall.models import (
    EscalationPolicy,
    Incident,
    Page,
    PolicyLevel,
    Service,
    User,
    utcnow,
)
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Live,
    horizontal_overflow,
    serious_violations,
    shot,
    sign_in,
)
from tests.twilio.fakes import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

NUMBER = "+14155550177"


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    yield fake
    fake.close()


@pytest.fixture
def settings(settings: Settings, fake_twilio: FakeTwilio,
             monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The live server with Twilio pointed at the fake (its channels forgotten afterwards)."""
    monkeypatch.setattr(registry, "_CHANNELS", dict(registry._CHANNELS))
    monkeypatch.setattr(registry, "_console_always", registry._console_always)
    return dataclasses.replace(settings, twilio_account_sid=ACCOUNT_SID,
                               twilio_auth_token=AUTH_TOKEN, twilio_from_number=FROM_NUMBER,
                               twilio_api_base_url=fake_twilio.url, twilio_timeout=5.0)


def checked(page: Any, name: str) -> None:
    assert serious_violations(page) == [], name
    assert horizontal_overflow(page) == 0, name
    shot(page, name)


def test_a_responder_verifies_their_phone_and_sends_a_test_page(
        live: Live, context_for: Any, fake_twilio: FakeTwilio) -> None:
    from playwright.sync_api import expect

    live.user("dana@example.com", "responder", name="Dana Diaz")
    page = context_for(PHONE).new_page()
    sign_in(page, live, "dana@example.com")
    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", name="Your profile", level=1)).to_be_visible()
    page.get_by_label("Phone number").fill("555 0100")
    page.get_by_role("button", name="Save contact methods").click()
    expect(page.locator("#phone-error")).to_contain_text("E.164")
    checked(page, "profile-phone-error-375")

    page.get_by_label("Phone number").fill(NUMBER)
    page.get_by_role("button", name="Save contact methods").click()
    expect(page.get_by_text(f"A 6-digit code was sent by SMS to {NUMBER}")).to_be_visible()
    expect(page.get_by_text("not verified: not paged")).to_be_visible()
    [message] = [r for r in fake_twilio.accepted("message") if r.form["To"] == NUMBER]
    code = re.search(r"code is (\d{6})", message.form["Body"])
    assert code, message.form["Body"]
    checked(page, "profile-verify-375")

    page.get_by_label("Code from the SMS").fill("000000" if code.group(1) != "000000"
                                                else "111111")
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.locator("#code-error")).to_contain_text("wrong code: 4 attempts left")
    page.get_by_label("Code from the SMS").fill(code.group(1))
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_text(f"{NUMBER} is verified")).to_be_visible()
    expect(page.locator(".badge.on").first).to_contain_text("verified")

    page.get_by_role("button", name="Test sms").click()
    expect(page.locator("#test-result")).to_contain_text("Test page sent on sms")
    bodies = [r.form["Body"] for r in fake_twilio.accepted("message") if r.form["To"] == NUMBER]
    assert len(bodies) == 2 and bodies[1].startswith("TEST page from oncall — no incident")
    checked(page, "profile-test-sent-375")
    with db.session_scope(live.settings.database_url) as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 0
        assert s.scalar(select(func.count()).select_from(Page)) == 0
        dana = s.scalar(select(User).where(User.email == "dana@example.com"))
        assert dana is not None and dana.phone_verified_at is not None


def test_a_manager_reads_the_heartbeats_board_and_runs_maintenance(
        live: Live, context_for: Any) -> None:
    from playwright.sync_api import expect

    live.user("mia@example.com", "manager", name="Mia Manager")
    with db.session_scope(live.settings.database_url) as s:
        s.add(Service(name="payments", policy=EscalationPolicy(name="payments", levels=[
            PolicyLevel(position=0, escalate_after=300,
                        targets=[{"type": "user", "ref": "mia@example.com"}])])))
        s.flush()
        for name, data in (("nightly-backup", {"cron": "0 2 * * *", "timezone":
                                               "America/New_York"}),
                           ("queue-drain", {"period": "5m"})):
            heartbeats.create(s, "user:mia@example.com", {
                "name": name, "grace": "15m", "service": "payments", **data}, utcnow())
    page = context_for(PHONE).new_page()
    sign_in(page, live, "mia@example.com")
    page.get_by_role("link", name="Heartbeats").click()
    expect(page.get_by_role("heading", name="Heartbeats", level=1)).to_be_visible()
    line = page.get_by_label("Crontab line of nightly-backup").input_value()
    assert line.startswith("0 2 * * * /path/to/job && curl -fsS -m 10 --retry 3 ")
    assert line.endswith(page.get_by_label("Ping URL of nightly-backup").input_value())
    checked(page, "heartbeats-375")
    page.get_by_role("button", name="Pause queue-drain").click()
    expect(page.get_by_role("button", name="Resume queue-drain")).to_be_visible()

    page.get_by_role("link", name="Maintenance windows").click()
    expect(page.get_by_role("heading", name="Maintenance windows")).to_be_visible()
    page.get_by_label("Name").fill("db upgrade")
    ends = (utcnow() + timedelta(hours=3)).astimezone(ZoneInfo("America/New_York"))
    page.get_by_label("To").fill("not a time")
    page.get_by_role("button", name="Create window").click()
    expect(page.locator("#ends_at-error")).to_be_visible()
    page.get_by_label("To").fill(ends.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Reason").fill("Postgres 17")
    page.get_by_role("button", name="Create window").click()
    expect(page.get_by_text("Maintenance window db upgrade created.")).to_be_visible()
    expect(page.get_by_role("heading", name="In force (1)")).to_be_visible()
    expect(page.get_by_text(ends.strftime("%H:%M EST"))).to_be_visible()  # your own time
    checked(page, "maintenance-375")
    page.get_by_role("button", name="End now db upgrade").click()
    expect(page.get_by_role("heading", name="In force (0)")).to_be_visible()
    expect(page.get_by_role("heading", name="Ended in the last 7 days (1)")).to_be_visible()


def test_the_pages_at_desktop_width(live: Live, context_for: Any) -> None:
    from playwright.sync_api import expect

    live.user("mia@example.com", "manager", name="Mia Manager")
    with db.session_scope(live.settings.database_url) as s:
        s.add(Service(name="payments", policy=EscalationPolicy(name="payments", levels=[
            PolicyLevel(position=0, escalate_after=300,
                        targets=[{"type": "user", "ref": "mia@example.com"}])])))
        s.flush()
        heartbeats.create(s, "user:mia@example.com", {
            "name": "nightly-backup", "cron": "30 1 * * *", "grace": "1h",
            "service": "payments"}, utcnow())
    page = context_for(DESKTOP).new_page()
    sign_in(page, live, "mia@example.com")
    for path, heading in (("/profile", "Your profile"), ("/heartbeats", "Heartbeats"),
                          ("/maintenance", "Maintenance windows")):
        page.goto(live.url + path)
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        assert serious_violations(page) == [], path
        assert horizontal_overflow(page) == 0, path
        shot(page, f"{path.strip('/')}-desktop")
    assert page.context.console_errors == []
