"""The layer editor in a real Chromium: a manager adds a member effective at the next
handoff, sees the shifts it moves before saving, saves, and yesterday's shifts are unchanged
(``oncall who --at``) while the person on call now keeps their shift; a second manager's
stale save is refused with "changed since you opened it"; a phone's width; axe."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from oncall.models import utcnow
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Live,
    page_problems,
    shot,
    sign_in,
)
from tests.browser.test_console import two_schedules
from tests.browser.test_schedule_page import oncall_who, open_billing


def open_editor(page: Any, live: Live) -> None:
    open_billing(page, live)
    page.get_by_role("link", name="Edit layer daily").click()
    page.wait_for_url(re.compile(r"/layers/\d+/edit"))


def test_a_manager_adds_a_member_from_the_next_handoff_and_the_past_stays(
        live: Live, page: Any) -> None:
    two_schedules(live)
    live.user("max@example.com", "manager", name="Max Manager")
    live.user("carol@example.com", "responder", name="Carol Chen")
    now = utcnow()
    past = [now - timedelta(hours=h) for h in range(2, 24 * 3, 5)]  # yesterday and before
    before = [oncall_who("billing-primary", at) for at in past]
    on_call_now = oncall_who("billing-primary", now)

    sign_in(page, live, "max@example.com")
    open_editor(page, live)
    shot(page, "layer-editor")
    page.get_by_label("Add a person at the end").select_option(
        label="Carol Chen (carol@example.com)")
    page.get_by_role("button", name="Add", exact=True).click()
    page.wait_for_load_state()
    assert page.locator("select[name=member]").count() == 3
    assert page.get_by_label("At the next handoff").is_checked()
    # Nothing can be saved before the preview.
    assert page.get_by_role("button", name="Save this change").count() == 0
    page.get_by_role("button", name="Preview the change").click()
    page.wait_for_load_state()
    preview = page.locator("#preview")
    assert preview.is_visible()
    text = preview.text_content() or ""
    assert "Carol Chen" in text and "Gains" in text
    assert "It takes effect" in text and "at once" not in text  # at the next handoff
    assert "person on call now changes" not in text  # the next handoff keeps the shift
    shot(page, "layer-editor-preview")
    page.get_by_role("button", name="Save this change").click()
    page.wait_for_url(re.compile(r"/schedules/\d+\?"))
    flash = page.locator(".flash").text_content() or ""
    assert "Saved" in flash and "shifts before then are unchanged" in flash
    assert page.locator(".lane-final svg title", has_text="Carol Chen").count() >= 1
    shot(page, "layer-editor-saved")

    assert [oncall_who("billing-primary", at) for at in past] == before
    assert oncall_who("billing-primary", now) == on_call_now
    later = [oncall_who("billing-primary", now + timedelta(days=d)) for d in range(1, 8)]
    assert "carol@example.com" in later


def test_a_stale_save_is_refused_and_the_typed_values_are_kept(
        live: Live, context_for: Any) -> None:
    two_schedules(live)
    live.user("max@example.com", "manager", name="Max Manager")
    live.user("mia@example.com", "manager", name="Mia Moss")
    first, second = context_for().new_page(), context_for().new_page()
    sign_in(first, live, "max@example.com")
    sign_in(second, live, "mia@example.com")
    open_editor(first, live)
    open_editor(second, live)
    second.get_by_label("Layer name").fill("mia-daily")
    second.get_by_role("button", name="Preview the change").click()
    second.get_by_role("button", name="Save this change").click()
    second.wait_for_url(re.compile(r"/schedules/\d+\?"))
    first.get_by_label("Layer name").fill("max-daily")
    first.get_by_role("button", name="Preview the change").click()
    first.wait_for_load_state()
    alert = first.get_by_role("alert").first.text_content() or ""
    assert "changed since you opened it" in alert and "mia@example.com" in alert
    assert first.get_by_label("Layer name").input_value() == "max-daily"
    assert first.get_by_role("button", name="Save this change").count() == 0
    shot(first, "layer-editor-stale")


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_layer_editor_fits_a_phone_and_passes_axe(
        live: Live, context_for: Any, size: str) -> None:
    two_schedules(live)
    live.user("max@example.com", "manager", name="Max Manager")
    ctx = context_for(PHONE if size == "phone" else DESKTOP)
    page = ctx.new_page()
    sign_in(page, live, "max@example.com")
    open_editor(page, live)
    page.get_by_role("button", name="Add a window").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Preview the change").click()
    page.wait_for_load_state()
    shot(page, f"layer-editor-{size}")
    assert page_problems(page, size == "phone") == []
    assert ctx.console_errors == []  # no CSP violation
