"""Policies and services in a real Chromium: the ladder as people see it, an admin creating
an integration (its URL shown once, copied by a button), a phone's width and axe."""

from __future__ import annotations

import re
from typing import Any

from oncall import db
from oncall.models import EscalationPolicy, PolicyLevel, Service
from tests.browser.conftest import (
    PHONE,
    Live,
    horizontal_overflow,
    serious_violations,
    shot,
    sign_in,
)


def a_policy_and_a_service(live: Live) -> None:
    live.user("alice@example.com", "responder", name="Alice Archer")
    live.user("bob@example.com", "responder", name="Bob Baker")
    with db.session_scope(live.settings.database_url) as s:
        policy = EscalationPolicy(name="billing-critical", repeat=2, levels=[
            PolicyLevel(position=0, escalate_after=300,
                        targets=[{"type": "user", "ref": "alice@example.com"}]),
            PolicyLevel(position=1, escalate_after=600,
                        targets=[{"type": "user", "ref": "bob@example.com"},
                                 {"type": "slack", "ref": "#billing"}])])
        s.add(Service(name="billing-api", policy=policy))


def test_the_policies_page_shows_the_ladder_and_an_admin_creates_an_integration(
        live: Live, context_for: Any) -> None:
    from playwright.sync_api import expect  # here: without playwright the fixtures skip

    a_policy_and_a_service(live)
    live.user("root@example.com", "admin", name="Ada Admin")
    ctx = context_for(PHONE)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page = ctx.new_page()
    sign_in(page, live, "root@example.com")

    page.goto(f"{live.url}/policies")
    ladder = page.locator("#policy-billing-critical .ladder > li")
    assert ladder.count() == 2
    assert "Alice Archer" in ladder.nth(0).inner_text()
    assert "After 5 min" in ladder.nth(1).inner_text()
    assert "Bob Baker" in ladder.nth(1).inner_text() and "#billing" in ladder.nth(1).inner_text()
    assert "2 more times" in page.text_content("#policy-billing-critical")
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []
    shot(page, "policies-phone")

    page.get_by_role("link", name="Services").click()
    page.get_by_role("link", name="billing-api").click()
    page.get_by_label("Sends").select_option("alertmanager")
    page.get_by_label("Name", exact=True).first.fill("prometheus")
    page.get_by_role("button", name="Create integration").click()
    page.wait_for_load_state()
    url = page.get_by_label("Webhook URL").input_value()
    assert url.startswith(f"{live.url}/integrations/oci_")
    page.get_by_role("button", name="Copy URL").click()
    expect(page.locator(".issued .copied")).to_have_text(  # waits for the clipboard
        re.compile(r"Copied\.|Press Ctrl\+C"))
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []
    shot(page, "service-integration-created-phone")

    page.get_by_role("link", name="← Services").click()  # shown once: a new look at the
    page.get_by_role("link", name="billing-api").click()  # page has the name, not the URL
    assert "prometheus" in page.text_content("main")
    assert url not in page.content()
    assert page.get_by_label("Webhook URL").count() == 0
    assert ctx.console_errors == []


def test_an_opsgenie_integration_shows_its_api_url_and_genie_key_on_a_phone(
        live: Live, context_for: Any) -> None:
    a_policy_and_a_service(live)
    live.user("root@example.com", "admin", name="Ada Admin")
    ctx = context_for(PHONE)
    page = ctx.new_page()
    sign_in(page, live, "root@example.com")
    page.goto(f"{live.url}/policies")
    page.get_by_role("link", name="Services").click()
    page.get_by_role("link", name="billing-api").click()
    page.get_by_label("Sends").select_option("opsgenie")
    page.get_by_role("button", name="Create integration").click()
    page.wait_for_load_state()
    assert page.get_by_label("Alert API URL").input_value() == f"{live.url}/v2/alerts"
    key = page.get_by_label("API key (GenieKey)").input_value()
    assert re.fullmatch(r"[0-9a-f-]{36}", key)
    assert "GenieKey" in page.text_content(".issued")
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []
    shot(page, "service-opsgenie-integration-phone")
    assert ctx.console_errors == []


def test_the_services_list_and_the_policy_editor_fit_a_phone_and_pass_axe(
        live: Live, context_for: Any) -> None:
    a_policy_and_a_service(live)
    live.user("maria@example.com", "manager", name="Maria Manager")
    page = context_for(PHONE).new_page()
    sign_in(page, live, "maria@example.com")
    page.goto(f"{live.url}/services")
    assert "billing-critical" in page.text_content("main")
    assert horizontal_overflow(page) == 0 and serious_violations(page) == []
    shot(page, "services-phone")

    page.goto(f"{live.url}/policies")
    page.get_by_role("link", name="Edit billing-critical").click()
    page.get_by_label("Notify").nth(2).fill("schedule:nobody-here")
    page.get_by_role("button", name="Save policy").click()
    assert "no schedule 'nobody-here'" in page.text_content("main")  # on the field, kept
    assert "Nothing was saved" in page.text_content("main")
    assert page.get_by_label("Notify").nth(2).input_value() == "schedule:nobody-here"
    assert horizontal_overflow(page) == 0 and serious_violations(page) == []
    shot(page, "policy-edit-error-phone")
