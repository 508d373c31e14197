"""The simulator page in a real Chromium: a viewer asks who a critical charge failure at 03:00
would wake and sees the ladder worked out by hand in tests/test_simulate.py, on a desktop and
a phone; text an alert sender (or anyone naming things) wrote never runs as markup."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from oncall import db
from oncall.incidents.intake import Source, ingest
from oncall.ingest.generic import parse_one
from oncall.models import Service, User, utcnow
from oncall.schedules import service as schedules
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Live,
    horizontal_overflow,
    serious_violations,
    shot,
    sign_in,
)
from tests.conftest import apply, shipped
from tests.fakes import install
from tests.test_console_simulate import loop
from tests.test_simulate import NIGHT, charge_failures

HOSTILE = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"


@pytest.fixture
def billing(live: Live, factory: Any, config: Path, monkeypatch: pytest.MonkeyPatch) -> Live:
    """The shipped billing example on the live server's database, SMS and voice configured
    (fakes: nothing is sent), and a viewer who signs in, in New York."""
    apply(factory, *shipped(config))
    install(monkeypatch, "sms", "voice")  # after the app's own registry.setup
    live.user("vic@example.com", "viewer", name="Vic Viewer")
    return live


def timeline_rows(page: Any) -> list[list[str]]:
    """The cells of each page line of the first timeline, as the browser shows them."""
    table = page.locator("table.timeline").first
    return [[" ".join(cell.split()) for cell in row.locator("th, td").all_inner_texts()]
            for row in table.locator("tr.page-line").all()]


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_viewer_sees_who_a_critical_charge_failure_at_3am_would_wake(
        billing: Live, factory: Any, context_for: Any, size: str) -> None:
    charge_failures(factory, NIGHT, 9)  # the tenth in five minutes crosses the threshold
    page = context_for(PHONE if size == "phone" else DESKTOP).new_page()
    sign_in(page, billing, "vic@example.com")
    page.get_by_role("link", name="What if…").click()
    page.wait_for_url(f"{billing.url}/simulate")
    assert page.get_by_role("link", name="What if…").get_attribute("aria-current") == "page"
    assert page.get_by_label("Time zone").input_value() == "America/New_York"
    page.get_by_label("Service").select_option("billing-charges")
    page.get_by_label("Alert type").fill("charge_failure")
    page.get_by_label("Severity").select_option("critical")
    page.get_by_label("Labels").fill("merchant_id=acme")
    page.get_by_label("Summary").fill("card declined")
    page.get_by_label("When").fill("2026-12-08T03:00")
    page.get_by_role("button", name="Show what would happen").click()
    page.wait_for_load_state()

    assert page.get_by_role("heading", name="It pages").is_visible()
    assert "routed by rule charge-failure-spike" in page.locator(".outcome").inner_text()
    want = loop(0, 0) + loop(20, 1) + loop(40, 2)
    got = timeline_rows(page)
    assert got == want
    assert "the ladder ends" in page.locator("tr.note").last.inner_text()
    shot(page, f"simulate-{size}")
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []
    assert page.context.console_errors == []


def test_what_alert_senders_and_names_hold_is_shown_as_text_and_never_runs(
        billing: Live, factory: Any, context_for: Any) -> None:
    """A summary, labels, a person's and a schedule's name holding markup: shown literally on
    the simulator page (as the incident the alert joins and the people it pages) and on the
    schedules list; no dialog opens."""
    now = utcnow()
    with db.session_scope(billing.settings.database_url) as s:
        s.execute(update(User).where(User.email == "carol@example.com").values(name=HOSTILE))
        s.add(User(email="mallory@example.com", name=SCRIPT, role="responder",
                   timezone="UTC"))
        s.flush()
        schedules.create_schedule(s, "test", {
            "name": f"night {HOSTILE}", "timezone": "UTC",
            "layers": [{"name": "all", "rotation": "daily", "handoff": "00:00",
                        "start": (now.date() - timedelta(days=2)).isoformat(),
                        "members": ["mallory@example.com"]}]})
        service = s.scalar(select(Service).where(Service.name == "billing-api"))
        assert service is not None
        source = Source(None, "test", "generic", service.id, service.name, "test")
        opened = ingest(s, source, [parse_one({
            "type": "latency", "severity": "critical", "service": "billing-api",
            "summary": HOSTILE, "labels": {"note": SCRIPT}})], NIGHT)[0]
        assert opened.new and opened.incident_id is not None

    page = context_for().new_page()
    dialogs: list[str] = []

    def record(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    sign_in(page, billing, "vic@example.com")
    page.get_by_role("link", name="What if…").click()
    page.get_by_label("Service").select_option("billing-api")
    page.get_by_label("Alert type").fill("latency")
    page.get_by_label("Summary").fill(HOSTILE)
    page.get_by_label("Labels").fill(f"note={SCRIPT}")
    page.get_by_label("When").fill("2026-12-08T03:01")
    page.get_by_role("button", name="Show what would happen").click()
    page.wait_for_load_state()

    assert page.get_by_role("heading", name=f"It joins incident #{opened.incident_id}") \
        .is_visible()
    assert page.locator(".incident-summary").inner_text() == HOSTILE
    assert page.locator(".alert-summary").inner_text() == HOSTILE
    assert page.locator(".labels code").inner_text() == f"note={SCRIPT}"
    assert page.locator("tr.page-line th").first.inner_text().startswith(HOSTILE)  # carol
    assert page.locator("main img").count() == 0 and page.locator("main script").count() == 0
    shot(page, "simulate-hostile-text")

    page.get_by_role("link", name="Schedules").click()
    page.wait_for_load_state()
    row = page.get_by_role("row", name=f"night {HOSTILE}")
    assert row.is_visible()
    assert SCRIPT in row.inner_text()  # mallory, on call now
    assert page.locator("main img").count() == 0 and page.locator("main script").count() == 0
    shot(page, "schedules-hostile-text")
    page.wait_for_timeout(300)  # an onerror would have fired by now
    assert dialogs == []
