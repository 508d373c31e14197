"""An email page's Acknowledge link on a phone (375 px, Chromium): the page sent through a
real SMTP server, the link opened (nothing happens), one tap on the button, acknowledged;
the page passes axe and does not scroll sideways. Screenshots: email-link-*.png."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from oncall.channels import registry
from oncall.config import Settings
from oncall.models import Incident
from tests.browser.conftest import PHONE, Live, horizontal_overflow, serious_violations, shot
from tests.conftest import make_cast
from tests.email_pages.conftest import FROM, Mailbox, Pager, SmtpServer, parts
from tests.servers import free_port


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(Mailbox(), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings: Settings, smtp: SmtpServer) -> Iterator[Settings]:
    """The browser tests' live server, with email on."""
    yield dataclasses.replace(settings, smtp_url=smtp.url, smtp_from=FROM)
    registry.setup(settings)


def test_a_responder_acknowledges_from_the_email_link_on_a_phone(
        live: Live, factory: Any, smtp: SmtpServer, context_for: Any) -> None:
    make_cast(factory, escalate_after=300)
    pager = Pager(factory)
    incident = pager.trigger(summary="Charge failures for acme <b>spiking</b>")
    pager.tick()
    [msg] = smtp.mailbox.wait(1)
    text, _ = parts(msg)
    ack = next(line.split(": ", 1)[1] for line in text.splitlines()
               if line.startswith("Acknowledge: "))
    assert ack.startswith(f"{live.url}/email/")

    page = context_for(PHONE).new_page()
    page.goto(ack)
    button = page.get_by_role("button", name=f"Acknowledge incident #{incident}")
    assert button.is_visible()
    assert page.get_by_role("heading").inner_text().endswith(
        "Charge failures for acme <b>spiking</b>")  # shown as text, not markup
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0
    box = button.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 300  # a thumb's target
    shot(page, "email-link-confirm")
    with factory() as s:
        assert s.get(Incident, incident).status == "triggered"  # opening it did nothing

    button.click()
    page.wait_for_load_state()
    assert "Acknowledged by alice@example.com via email" in page.inner_text("main")
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0
    shot(page, "email-link-done")
    with factory() as s:
        found = s.get(Incident, incident)
        assert (found.status, found.acked_by) == ("acknowledged", "user:alice@example.com")
    pager.tick(900)  # the ladder stopped: bob is never paged
    assert len(smtp.mailbox.messages) == 1

    assert page.context.console_errors == []  # no CSP violation, no script error
    page.goto(ack)  # the same link again: 410, and says so
    assert "already used" in page.inner_text("main")
    assert serious_violations(page) == []
    shot(page, "email-link-used")
