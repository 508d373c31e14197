"""The schedule page in a real Chromium: a manager clicks a shift on the final row and puts
a colleague on call, and the final row and ``oncall who --at`` agree; a viewer sees no edit
control; a phone's width; axe."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from oncall.cli import cli, config  # noqa: F401 - attach the commands
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Live,
    page_problems,
    shot,
    sign_in,
)
from tests.browser.test_console import two_schedules

NEW_YORK = ZoneInfo("America/New_York")


def open_billing(page: Any, live: Live) -> None:
    page.goto(f"{live.url}/schedules")
    page.get_by_role("link", name="billing-primary").click()
    page.wait_for_load_state()
    assert page.locator("h1").text_content() == "billing-primary"


def oncall_who(schedule: str, at: datetime) -> str:
    result = CliRunner().invoke(cli, ["who", schedule, "--at", at.isoformat(), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    found = re.search(r'"on_call": "([^"]+)"', result.output)
    assert found, result.output
    return found.group(1)


def test_a_manager_clicks_a_final_shift_and_puts_a_colleague_on_call(
        live: Live, page: Any) -> None:
    two_schedules(live)
    live.user("max@example.com", "manager", name="Max Manager")
    live.user("carol@example.com", "responder", name="Carol Chen")
    sign_in(page, live, "max@example.com")
    open_billing(page, live)
    final = page.locator(".lane-final a.shift")
    assert final.count() >= 14  # a daily rotation over two weeks
    shot(page, "schedule-manager")

    target = final.nth(final.count() - 3)  # a shift some days ahead
    label = target.get_attribute("aria-label") or ""
    assert re.match(r"Override: (Alice Archer|Bob Baker), ", label), label
    target.focus()
    page.keyboard.press("Enter")  # a link: the keyboard opens it as a click would
    page.wait_for_url(re.compile(r"/override\?"))
    shot(page, "schedule-override-form")
    start = page.get_by_label("From", exact=True).input_value()
    end = page.get_by_label("To", exact=True).input_value()
    assert start.endswith("T09:00") and end.endswith("T09:00")  # snapped to the shift
    page.get_by_label("Who takes over").select_option(label="Carol Chen")
    page.get_by_role("button", name="Create override").click()
    page.wait_for_url(re.compile(r"/schedules/\d+\?"))
    assert "Override saved: Carol Chen is on call" in (page.locator(".flash").text_content()
                                                      or "")
    carol = page.locator(".lane-final a.shift", has_text="Carol Chen")
    assert carol.count() == 1
    assert "(override)" in (carol.get_attribute("aria-label") or "")
    assert page.locator(".lane-overrides svg", has_text="Carol Chen").count() >= 1
    shot(page, "schedule-after-override")
    shot(page, "schedule-after-override-top", full_page=False)  # docs/img/console-schedule.png

    middle = datetime.fromisoformat(start).replace(hour=21, tzinfo=NEW_YORK)
    assert oncall_who("billing-primary", middle) == "carol@example.com"
    before = datetime.fromisoformat(start).replace(hour=8, tzinfo=NEW_YORK)
    assert oncall_who("billing-primary", before) != "carol@example.com"

    # Deleting asks first: "Cancel" keeps the override, "OK" deletes it.
    delete = page.locator("table.overrides").get_by_role("button", name=re.compile("Delete"))
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    delete.click()
    assert asked and asked[0].startswith("Delete the override for Carol Chen")
    assert oncall_who("billing-primary", middle) == "carol@example.com"
    page.once("dialog", lambda d: d.accept())
    delete.click()
    page.wait_for_selector(".flash")
    assert "Override deleted" in (page.locator(".flash").text_content() or "")
    assert oncall_who("billing-primary", middle) != "carol@example.com"


def test_a_viewer_sees_the_schedule_without_edit_controls(live: Live, page: Any) -> None:
    two_schedules(live)
    live.user("vera@example.com", "viewer")
    sign_in(page, live, "vera@example.com")
    open_billing(page, live)
    main = page.locator("main")
    assert main.locator(".lane-final svg title").count() >= 14
    assert main.locator("a.shift").count() == 0
    assert main.get_by_role("link", name=re.compile("Override")).count() == 0
    assert main.locator("form[method=post], button.danger").count() == 0
    shot(page, "schedule-viewer")
    schedule_url = page.url.split("?")[0]
    forged = page.request.post(f"{schedule_url}/override", form={
        "csrf_token": page.locator("input[name=csrf_token]").first.input_value(),
        "user": "vera@example.com", "zone": "UTC", "start": "2030-01-01T00:00",
        "end": "2030-01-02T00:00"})
    assert forged.status == 403


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_schedule_pages_fit_a_phone_and_pass_axe(
        live: Live, context_for: Any, size: str) -> None:
    two_schedules(live)
    live.user("max@example.com", "manager", name="Max Manager")
    ctx = context_for(PHONE if size == "phone" else DESKTOP)
    page = ctx.new_page()
    sign_in(page, live, "max@example.com")
    problems = {}
    for name in ("billing-primary", "payments-gap"):
        page.goto(f"{live.url}/schedules")
        page.get_by_role("link", name=name).click()
        page.wait_for_load_state()
        for view in ("schedule", "override"):
            if view == "override":
                # on a phone the bars are narrow: the list under the timeline has the links
                page.locator("table.shifts").get_by_role("link", name="Override").first.click()
                page.wait_for_url(re.compile(r"/override\?"))
            shot(page, f"{view}-{name}-{size}")
            shot(page, f"{view}-{name}-{size}-top", full_page=False)
            found = page_problems(page, size == "phone")
            if found:
                problems[f"{view} {name}"] = found
    assert problems == {}
    assert ctx.console_errors == []  # no CSP violation
