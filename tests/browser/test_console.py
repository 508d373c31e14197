"""The console in a real Chromium: sign-in by an invitation link, refusals, roles, sessions,
phone widths and accessibility."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from oncall import db
from oncall.cli import admin, cli, config, run  # noqa: F401 - attach the commands
from oncall.models import User, utcnow
from oncall.schedules import service as schedules
from tests.browser.conftest import (
    DESKTOP,
    PASSWORD,
    PHONE,
    Live,
    page_problems,
    shot,
    sign_in,
)


def invite_on_the_command_line(*args: str) -> str:
    result = CliRunner().invoke(cli, ["user", "invite", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    found = re.search(r"https?://\S+/welcome/\S+", result.output)
    assert found, result.output
    return found.group(0)


def two_schedules(live: Live) -> None:
    """billing-primary: alice then bob, daily; payments-gap: only tomorrow (UTC), so now a
    gap; both are on the list."""
    live.user("alice@example.com", "responder", name="Alice Archer")
    live.user("bob@example.com", "responder", name="Bob Baker")
    today = utcnow().date()
    tomorrow = (today + timedelta(days=1)).strftime("%a")
    with db.session_scope(live.settings.database_url) as s:
        schedules.create_schedule(s, "test", {
            "name": "billing-primary", "timezone": "America/New_York",
            "layers": [{"name": "daily", "rotation": "daily", "handoff": "09:00",
                        "start": (today - timedelta(days=3)).isoformat(),
                        "members": ["alice@example.com", "bob@example.com"]}]})
        schedules.create_schedule(s, "test", {
            "name": "payments-gap", "timezone": "UTC",
            "layers": [{"name": "tomorrow", "rotation": "daily", "handoff": "00:00",
                        "start": today.isoformat(), "members": ["bob@example.com"],
                        "restrictions": [{"days": [tomorrow], "from": "00:00",
                                          "to": "24:00"}]}]})


def test_an_admin_invited_on_the_command_line_sets_a_password_and_signs_in(
        live: Live, page: Any) -> None:
    link = invite_on_the_command_line("boss@example.com", "--role", "admin")
    assert link.startswith(live.url)
    page.goto(link)
    assert page.get_by_role("heading", name="Welcome, boss").is_visible()
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    shot(page, "welcome")
    page.get_by_role("button", name="Set password and sign in").click()
    page.wait_for_url(f"{live.url}/")  # home
    assert page.get_by_role("heading", name="Home").is_visible()
    assert page.get_by_role("link", name="Users").is_visible()  # an admin's navigation

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/signin"))
    page.goto(link)  # single use
    assert "already used" in page.text_content("main")
    sign_in(page, live, "boss@example.com")
    assert page.url == f"{live.url}/"


def test_an_admin_invites_someone_in_the_console_and_the_link_works(
        live: Live, context_for: Any) -> None:
    live.user("boss@example.com", "admin")
    page = context_for().new_page()
    sign_in(page, live, "boss@example.com")
    page.get_by_role("link", name="Users").click()
    page.get_by_label("Email").fill("new@example.com")
    page.get_by_label("Name").fill("Nia New")
    page.get_by_label("Role").select_option("manager")
    page.get_by_role("button", name="Create invitation link").click()
    link = page.get_by_label("Sign-in link").input_value()
    assert link.startswith(f"{live.url}/welcome/")
    assert page.get_by_role("button", name="Copy link").is_visible()
    shot(page, "users")

    other = context_for().new_page()
    other.goto(link)
    other.get_by_label("New password", exact=True).fill(PASSWORD)
    other.get_by_label("Repeat the password").fill(PASSWORD)
    other.get_by_role("button", name="Set password and sign in").click()
    other.wait_for_url(f"{live.url}/")
    assert "Nia New" in other.text_content("header")
    assert "manager" in other.text_content("header")


def test_a_wrong_password_shows_an_error_and_repeated_failures_are_refused(
        live: Live, page: Any) -> None:
    live.user("alice@example.com", "responder")
    sign_in(page, live, "alice@example.com", "not the password")
    assert page.get_by_role("alert").text_content() == "Wrong email or password."
    assert page.get_by_label("Email").input_value() == "alice@example.com"
    shot(page, "signin-wrong-password")
    for _ in range(2):
        sign_in(page, live, "alice@example.com", "still not it")
    sign_in(page, live, "alice@example.com")  # the right one, too late
    alert = page.get_by_role("alert").text_content() or ""
    assert alert.startswith("Too many failed sign-ins. Wait"), alert
    assert "/signin" in page.url
    shot(page, "signin-rate-limited")


def test_a_viewer_sees_the_schedules_without_edit_controls_and_forged_posts_are_refused(
        live: Live, page: Any) -> None:
    two_schedules(live)
    live.user("vera@example.com", "viewer")
    sign_in(page, live, "vera@example.com")
    page.goto(f"{live.url}/schedules")
    main = page.locator("main")
    rows = main.locator("tbody tr")
    assert rows.count() == 2
    billing = rows.filter(has_text="billing-primary")
    assert re.search(r"(Alice Archer|Bob Baker)", billing.text_content() or "")
    assert "Gap" not in (billing.text_content() or "")
    assert "Gap: nobody on call" in (rows.filter(has_text="payments-gap").text_content() or "")
    assert "1 with nobody on call now" in (main.text_content() or "")
    assert main.locator("button, form").count() == 0  # no edit control of any kind
    assert page.get_by_role("link", name="Users").count() == 0
    shot(page, "schedules-viewer")
    # The minute's refresh (htmx, under the strict CSP) swaps in the list alone.
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true") as hx:
        page.evaluate("() => htmx.ajax('GET', '/schedules', "
                      "{target: '#schedule-list', swap: 'outerHTML'})")
    assert hx.value.status == 200
    page.wait_for_load_state("networkidle")
    assert page.locator("#schedule-list").count() == 1 and rows.count() == 2

    forged = {"email": "mallory@example.com", "role": "admin"}
    without_token = page.request.post(f"{live.url}/users/invite", form=forged)
    assert without_token.status == 400
    token = page.locator("input[name=csrf_token]").first.input_value()
    with_token = page.request.post(f"{live.url}/users/invite",
                                   form={**forged, "csrf_token": token})
    assert with_token.status == 403
    assert page.request.get(f"{live.url}/users").status == 403
    with db.session_scope(live.settings.database_url) as s:
        assert s.scalar(select(User).where(User.email == "mallory@example.com")) is None


def test_sign_out_everywhere_ends_the_other_sessions(live: Live, context_for: Any) -> None:
    live.user("alice@example.com", "responder")
    laptop, phone = context_for().new_page(), context_for(PHONE).new_page()
    sign_in(laptop, live, "alice@example.com")
    sign_in(phone, live, "alice@example.com")
    phone.goto(f"{live.url}/account")
    shot(phone, "account-phone")
    phone.get_by_role("button", name="Sign out everywhere").click()
    phone.wait_for_url(re.compile(r"/signin"))
    laptop.goto(f"{live.url}/schedules")
    assert "/signin" in laptop.url
    assert "Your session ended" in laptop.text_content("main")
    sign_in(laptop, live, "alice@example.com")  # a new session is fine
    assert laptop.url == f"{live.url}/"


PAGES = ["signin", "schedules", "users", "account", "welcome"]


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_every_page_fits_a_phone_and_has_no_serious_accessibility_violation(
        live: Live, context_for: Any, size: str) -> None:
    two_schedules(live)
    live.user("boss@example.com", "admin", name="Bo Boss")
    link = invite_on_the_command_line("new@example.com")
    viewport = PHONE if size == "phone" else DESKTOP
    contexts = context_for(viewport), context_for(viewport)
    visitor, admin_page = (ctx.new_page() for ctx in contexts)
    sign_in(admin_page, live, "boss@example.com")
    problems = {}
    for name in PAGES:
        page = visitor if name in ("signin", "welcome") else admin_page
        page.goto(link if name == "welcome" else f"{live.url}/{name}")
        shot(page, f"{name}-{size}")
        found = page_problems(page, size == "phone")
        if found:
            problems[name] = found
    assert problems == {}
    assert [e for ctx in contexts for e in ctx.console_errors] == []  # no CSP violation


def test_the_api_docs_work_without_internet(live: Live, context_for: Any) -> None:
    ctx = context_for()
    outside: list[str] = []
    ctx.route(re.compile(r"^https?://(?!127\.0\.0\.1)"),
              lambda route: (outside.append(route.request.url), route.abort()))
    page = ctx.new_page()
    page.goto(f"{live.url}/api/v1/docs")
    # A 1.5 MB bundle to parse: slow on a loaded machine.
    page.get_by_role("heading", name=re.compile("oncall API")).wait_for(timeout=60_000)
    assert page.locator(".opblock").count() > 10  # the operations are listed
    shot(page, "api-docs", full_page=False)
    assert outside == []
