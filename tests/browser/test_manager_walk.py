"""Issue 16's "done when", walked in a real Chromium with no terminal: on the shipped billing
example, the first admin opens the one-time link `oncall up` prints, chooses a password,
invites Erin, adds her to the billing-primary rotation from next Monday (handing the
file-managed schedule to the console first) after seeing the shifts it moves, puts a
colleague on call for Tuesday night, and asks who a critical charge failure at 03:00 that
night would wake. `oncall who --at` agrees with every step."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from oncall import db
from oncall.cli.bootstrap import admin_sign_in
from oncall.models import utcnow
from tests.browser.conftest import PASSWORD, Live, shot
from tests.browser.test_schedule_page import oncall_who
from tests.conftest import apply, shipped
from tests.fakes import install

NEW_YORK = ZoneInfo("America/New_York")
NAMES = {"alice@example.com": "Alice Moreau", "bob@example.com": "Bob Okafor",
         "carol@example.com": "Carol Ng"}


@pytest.fixture
def billing(live: Live, factory: Any, config: Path, monkeypatch: pytest.MonkeyPatch) -> Live:
    apply(factory, *shipped(config))
    install(monkeypatch, "sms", "voice")  # fakes: nothing is sent
    return live


def test_a_new_manager_does_it_all_in_the_browser(billing: Live, context_for: Any) -> None:
    live = billing
    today = utcnow().astimezone(NEW_YORK).date()
    monday = today + timedelta(days=7 - today.weekday())  # next Monday, never today
    monday_9 = datetime.combine(monday, time(9), NEW_YORK)
    tuesday_night = datetime.combine(monday + timedelta(days=1), time(21), NEW_YORK)
    three_am = datetime.combine(monday + timedelta(days=2), time(3), NEW_YORK)
    before = [oncall_who("billing-primary", monday_9 - timedelta(days=d)) for d in range(1, 8)]
    that_week = oncall_who("billing-primary", three_am)

    # 1. The link `oncall up` prints; a password; signed in.
    with db.session_scope(live.settings.database_url) as s:
        printed = admin_sign_in(s, live.settings)
    link = next(line.strip() for line in printed if "/welcome/" in line)
    page = context_for().new_page()
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Set password and sign in").click()
    page.wait_for_url(re.compile(r"/$"))  # home

    # 2. Invite Erin (she needs an account to be in a rotation).
    page.get_by_role("link", name="Users").click()
    page.get_by_label("Email").fill("erin@example.com")
    page.get_by_label("Name").fill("Erin Ito")
    page.get_by_role("button", name="Create invitation link").click()
    assert "/welcome/" in page.get_by_label("Sign-in link").input_value()

    # 3. Add her to billing-primary's weekly rotation from next Monday 09:00.
    page.get_by_role("link", name="Schedules").click()
    page.get_by_role("link", name="billing-primary").click()
    page.get_by_role("link", name="Edit it in the console instead…").click()
    page.get_by_role("button", name="Edit it in the console from now on").click()
    page.get_by_role("link", name="Edit layer weekly").click()
    page.get_by_label("Add a person at the end").select_option(
        label="Erin Ito (erin@example.com)")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_label("At a time I choose").check()
    page.get_by_label("Takes effect at").fill(monday_9.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Preview the change").click()
    preview = page.locator("#preview").inner_text()
    assert f"It takes effect Mon {monday.day} {monday:%b} 09:00" in preview
    assert "Erin Ito" in preview and "Gains" in preview
    shot(page, "walk-preview")
    page.get_by_role("button", name="Save this change").click()
    page.wait_for_url(re.compile(r"/schedules/\d+\?"))
    assert "Saved" in (page.locator(".flash").text_content() or "")
    assert [oncall_who("billing-primary", monday_9 - timedelta(days=d))
            for d in range(1, 8)] == before  # the week before is as it was
    assert oncall_who("billing-primary", three_am) == that_week  # carried on, not re-dealt

    # 4. A colleague covers Tuesday night (21:00 to 07:00, New York).
    colleague = next(e for e in NAMES if e != that_week)
    page.get_by_role("link", name=re.compile("Show in the schedule's timezone")).click()
    page.goto(page.url + f"&start={monday.isoformat()}")
    row = page.locator("table.shifts tr", has_text=f"Mon {monday.day} {monday:%b} 09:00")
    row.get_by_role("link", name=re.compile("Override")).first.click()
    page.wait_for_url(re.compile(r"/override\?"))
    page.get_by_label("From", exact=True).fill(tuesday_night.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("To", exact=True).fill(
        (tuesday_night + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Who takes over").select_option(label=NAMES[colleague])
    page.get_by_role("button", name="Create override").click()
    page.wait_for_url(re.compile(r"/schedules/\d+\?"))
    assert f"Override saved: {NAMES[colleague]}" in (page.locator(".flash").text_content()
                                                     or "")
    shot(page, "walk-schedule", full_page=False)
    assert oncall_who("billing-primary", three_am) == colleague

    # 5. Who would a critical charge failure at 03:00 that night wake?
    page.get_by_role("link", name="What if…").click()
    page.get_by_label("Service").select_option("billing-charges")
    page.get_by_label("Alert type").fill("charge_failure")
    page.get_by_label("Severity").select_option("critical")
    page.get_by_label("Labels").fill("merchant_id=acme")
    page.get_by_label("Time zone").fill("America/New_York")
    page.get_by_label("When").fill(three_am.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Show what would happen").click()
    page.wait_for_load_state()
    first = page.locator("table.timeline tr.page-line").first.inner_text()
    assert "03:00" in first and "Level 1" in first and NAMES[colleague] in first
    shot(page, "walk-simulate")
