"""Users and API tokens in a real Chromium: an admin creates an API token (shown once in a
readonly field, copied by a button), it works against the API, and revoking it ends it;
the Users page, a user's edit page and the deactivation confirmation at a phone's width,
each checked by axe."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from typing import Any

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Live,
    horizontal_overflow,
    serious_violations,
    shot,
    sign_in,
)


def api_status(live: Live, token: str) -> int:
    request = urllib.request.Request(f"{live.url}/api/v1/tokens",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_an_admin_creates_copies_and_revokes_an_api_token(
        live: Live, context_for: Any) -> None:
    from playwright.sync_api import expect  # here: without playwright the fixtures skip

    live.user("root@example.com", "admin", name="Ada Admin")
    live.user("dana@example.com", "responder", name="Dana Diaz")
    ctx = context_for(DESKTOP)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page = ctx.new_page()
    sign_in(page, live, "root@example.com")

    page.get_by_role("link", name="Account").click()
    page.get_by_role("link", name="Manage your API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", level=1)).to_be_visible()
    page.get_by_label("Label").fill("deploy script")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_load_state()
    field = page.get_by_label("API token")
    assert field.get_attribute("readonly") is not None
    value = field.input_value()
    assert re.fullmatch(r"oct_\S{20,}", value)
    page.get_by_role("button", name="Copy token").click()
    expect(page.locator(".issued .copied")).to_have_text(  # waits for the clipboard
        re.compile(r"Copied\.|Press Ctrl\+C"))
    if page.locator(".issued .copied").inner_text() == "Copied.":
        assert page.evaluate("() => navigator.clipboard.readText()") == value
    assert serious_violations(page) == []
    shot(page, "tokens-created")
    assert api_status(live, value) == 200

    page.goto(f"{live.url}/account/tokens")  # shown once: the page now has the prefix only
    assert value not in page.content()
    row = page.get_by_role("row").filter(has_text="deploy script")
    assert value[:8] in row.inner_text()
    assert "never" not in row.inner_text()  # the call above is its last use
    row.get_by_role("button", name=re.compile("Revoke")).click()
    page.wait_for_load_state()
    assert "Revoked the API token deploy script" in page.text_content("main")
    assert page.get_by_role("row").filter(has_text="deploy script").count() == 0
    assert api_status(live, value) == 401

    page.get_by_role("link", name="Users").click()
    row = page.get_by_role("row").filter(has_text="dana@example.com")
    assert "Reset link" in row.inner_text() and "Deactivate…" in row.inner_text()
    assert serious_violations(page) == []
    shot(page, "users")
    assert ctx.console_errors == []


def test_the_users_and_tokens_pages_fit_a_phone_and_pass_axe(
        live: Live, context_for: Any) -> None:
    from playwright.sync_api import expect

    live.user("root@example.com", "admin", name="Ada Admin")
    live.user("dana@example.com", "responder", name="Dana Diaz")
    live.user("gone@example.com", "viewer", name="Gus Gone")
    ctx = context_for(PHONE)
    page = ctx.new_page()
    sign_in(page, live, "root@example.com")

    page.goto(f"{live.url}/users")
    page.get_by_role("link", name="Deactivate… gone@example.com").click()
    assert "can no longer sign in" in page.text_content("main")
    assert horizontal_overflow(page) == 0 and serious_violations(page) == []
    shot(page, "user-deactivate-phone")
    page.get_by_role("button", name="Deactivate gone@example.com").click()
    page.wait_for_load_state()
    expect(page.locator(".flash")).to_contain_text("Deactivated gone@example.com")
    assert horizontal_overflow(page) == 0 and serious_violations(page) == []
    shot(page, "users-phone")

    page.get_by_role("link", name="Edit dana@example.com").click()
    page.get_by_label("Phone").fill("0800 123")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    expect(page.locator("#phone-error")).to_contain_text("E.164")
    assert page.get_by_label("Phone").input_value() == "0800 123"
    assert horizontal_overflow(page) == 0 and serious_violations(page) == []
    shot(page, "user-edit-error-phone")
    page.get_by_label("Phone").fill("+14155550100")
    page.get_by_label("Timezone").select_option("Europe/Berlin")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    expect(page.locator(".flash")).to_contain_text("Saved dana@example.com")
    assert page.get_by_label("Phone").input_value() == "+14155550100"

    page.goto(f"{live.url}/account/tokens")
    page.get_by_label("Label").fill("a label long enough to wrap on a narrow phone screen")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_load_state()
    assert page.get_by_label("API token").input_value().startswith("oct_")
    assert horizontal_overflow(page) == 0 and serious_violations(page) == []
    shot(page, "tokens-phone")
    # the one complaint: the invalid form's answer, 400 on purpose (no CSP violation)
    assert [e for e in ctx.console_errors if "status of 400" not in e] == []
