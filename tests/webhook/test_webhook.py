"""The webhook channel, added as a package and one line of registration: a page reaches a
local receiver through the real engine, signed; a 503 is retried, a 400 (or a receiver that
refuses the signature) falls back to the user's next channel; the signature's test vector
is the one docs/channels.md gives."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from oncall.channels import DeliveryError, OutgoingPage, Recipient, preferences, registry
from oncall.channels import webhook as webhook_package
from oncall.channels.preferences import Rule
from oncall.channels.webhook import signing
from oncall.channels.webhook.channel import WebhookChannel, classify
from oncall.config import ConfigError
from oncall.models import Page, User, utcnow
from oncall.paging import sweeper
from tests.conftest import Cast
from tests.fakes import FakeChannel, install
from tests.test_engine import timeline, trigger
from tests.test_notification_rules import set_contacts, set_rules
from tests.webhook.receiver import Receiver

SECRET = "whsec-test-secret"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "channels.md"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver(SECRET).start()
    yield started
    started.stop()


def configure(monkeypatch: Any, url: str, secret: str = SECRET) -> None:
    """The webhook as an operator configures it: its own environment, then setup."""
    monkeypatch.setenv("ONCALL_WEBHOOK_URL", url)
    monkeypatch.setenv("ONCALL_WEBHOOK_SECRET", secret)
    monkeypatch.setenv("ONCALL_WEBHOOK_TIMEOUT", "2")
    webhook_package.setup(None)
    monkeypatch.setattr(registry, "_console_always", False)


@pytest.fixture
def alice(factory: Any, cast: Cast, monkeypatch: Any, receiver: Receiver
          ) -> Iterator[FakeChannel]:
    """Alice's rules: the webhook, then SMS two minutes later (a fake SMS channel)."""
    sms = install(monkeypatch, "sms")["sms"]
    configure(monkeypatch, receiver.url)
    set_contacts(factory, "alice@example.com")
    set_rules(factory, cast.alice.id, {"critical": [Rule("webhook"), Rule("sms", 120)]})
    yield sms
    registry.unregister("webhook")


def webhook_page(factory: Any, incident_id: int) -> Page:
    with factory() as s:
        return s.scalars(select(Page).where(Page.incident_id == incident_id,
                                            Page.channel == "webhook")).one()


def test_a_page_reaches_the_receiver_signed_through_the_engine(
        factory: Any, cast: Cast, alice: FakeChannel, receiver: Receiver) -> None:
    incident_id = trigger(factory, summary="Disk full on db-1")
    sweeper.sweep(factory, utcnow())
    page = webhook_page(factory, incident_id)
    assert page.status == "sent" and page.provider_id
    [got] = receiver.got
    assert got.verified
    assert got.headers["Idempotency-Key"] == f"oncall-page-{page.id}"
    assert got.body["page_id"] == page.id and got.body["type"] == "page"
    assert got.body["incident"] == {"id": incident_id, "severity": "critical",
                                    "service": "billing-api", "summary": "Disk full on db-1"}
    assert got.body["recipient"] == {"email": "alice@example.com", "name": "Alice"}
    assert (got.body["level"], got.body["loop"]) == (1, 0)
    assert alice.sent == []  # the SMS waits its two minutes
    assert "paged" in timeline(factory, incident_id)


def test_a_503_is_retried_with_backoff_and_the_retry_carries_the_same_key(
        factory: Any, cast: Cast, alice: FakeChannel, receiver: Receiver) -> None:
    receiver.answers = [503]
    incident_id = trigger(factory)
    sweeper.sweep(factory, utcnow())
    page = webhook_page(factory, incident_id)
    assert (page.status, page.attempts) == ("pending", 1)
    assert "503" in (page.error or "") and "page_retry" in timeline(factory, incident_id)
    sweeper.sweep(factory, page.next_attempt_at)
    assert webhook_page(factory, incident_id).status == "sent"
    first, second = receiver.got
    assert first.verified and second.verified
    assert first.body["page_id"] == second.body["page_id"] == page.id
    assert alice.sent == []  # a transient failure is no reason to fall back


def test_a_400_falls_back_to_the_next_channel_at_once(
        factory: Any, cast: Cast, alice: FakeChannel, receiver: Receiver) -> None:
    receiver.answers = [400]
    incident_id = trigger(factory)
    sweeper.sweep(factory, utcnow())
    page = webhook_page(factory, incident_id)
    assert page.status == "failed" and "400" in (page.error or "")
    assert alice.who() == ["alice@example.com"]  # the SMS planned for +2 min went now
    assert timeline(factory, incident_id)[-4:] == [
        "page_failed", "contact_disabled", "fallback", "paged"]


def test_a_wrong_secret_fails_the_receivers_verification_and_falls_back(
        factory: Any, cast: Cast, alice: FakeChannel, receiver: Receiver,
        monkeypatch: Any) -> None:
    configure(monkeypatch, receiver.url, secret="not-the-receivers-secret")
    incident_id = trigger(factory)
    sweeper.sweep(factory, utcnow())
    [got] = receiver.got
    assert not got.verified  # the receiver refused it (401)
    assert webhook_page(factory, incident_id).status == "failed"
    assert alice.who() == ["alice@example.com"]


def test_only_users_whose_rules_name_it_are_paged_by_webhook(
        factory: Any, cast: Cast, monkeypatch: Any, receiver: Receiver) -> None:
    install(monkeypatch, "sms")
    configure(monkeypatch, receiver.url)
    try:
        with factory() as s:
            bob = s.scalars(select(User).where(User.id == cast.bob.id)).one()
            bob.phone = "+14155550102"
            channels = [r.channel for r in preferences.plan(s, bob, "critical").rules]
        assert channels == ["sms"]  # the built-in rules leave the webhook out
    finally:
        registry.unregister("webhook")


def page_for(page_id: int = 7) -> OutgoingPage:
    return OutgoingPage(page_id=page_id, incident_id=42, channel="webhook",
                        recipient=Recipient("alice@example.com", "Alice"), severity="critical",
                        summary="Disk full", service="db", level=1, text="[CRITICAL] #42")


@pytest.mark.parametrize(("status", "permanent", "retry_after"), [
    (500, False, None), (503, False, None), (408, False, None), (429, False, 30.0),
    (400, True, None), (401, True, None), (404, True, None), (410, True, None)])
def test_failures_are_classed_like_the_other_channels(
        status: int, permanent: bool, retry_after: float | None) -> None:
    error = classify(status, "x", "30" if status == 429 else None)
    assert (error.permanent, error.retry_after) == (permanent, retry_after)


def test_a_timeout_or_a_refused_connection_is_transient(receiver: Receiver) -> None:
    receiver.delay = 1.0
    slow = WebhookChannel(receiver.url, SECRET, timeout=0.2)
    with pytest.raises(DeliveryError) as timed_out:
        slow.send(page_for())
    assert not timed_out.value.permanent
    receiver.stop()
    gone = WebhookChannel(receiver.url, SECRET, timeout=1.0)
    with pytest.raises(DeliveryError) as refused:
        gone.send(page_for())
    assert not refused.value.permanent and "unreachable" in str(refused.value)


def test_the_signature_test_vector_of_the_docs() -> None:
    body = b'{"page_id":7,"type":"page"}'
    header = signing.sign("whsec_example", 1700000000, body)
    assert f"`{header}`" in DOCS.read_text()  # the docs quote exactly this
    assert signing.verify("whsec_example", header, body, now=1700000100)
    assert not signing.verify("whsec_other", header, body, now=1700000100)
    assert not signing.verify("whsec_example", header, body + b" ", now=1700000100)
    assert not signing.verify("whsec_example", header, body, now=1700000000 + 301)
    assert not signing.verify("whsec_example", "v1=" + header.split("v1=")[1], body,
                              now=time.time())


def test_a_url_without_a_secret_is_refused(monkeypatch: Any) -> None:
    monkeypatch.setenv("ONCALL_WEBHOOK_URL", "https://hooks.example.com/oncall")
    monkeypatch.delenv("ONCALL_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigError, match="ONCALL_WEBHOOK_SECRET"):
        webhook_package.setup(None)
    assert not registry.enabled("webhook")
    monkeypatch.delenv("ONCALL_WEBHOOK_URL")
    webhook_package.setup(None)
    assert not registry.enabled("webhook")
