"""Delivery: transient failures retried with backoff (and the provider's Retry-After),
permanent ones disable the contact and fall back to the user's next channel at once, and
failures reported later by the provider (``delivery.page_failed``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from oncall import incidents
from oncall.channels import DeliveryError
from oncall.channels.preferences import Rule
from oncall.models import IncidentEvent, Page, utcnow
from oncall.paging import delivery, runs, sweeper
from tests.conftest import Cast
from tests.fakes import install
from tests.test_engine import timeline, trigger
from tests.test_notification_rules import set_contacts, set_rules


def pages(factory: Any, incident_id: int) -> dict[str, Page]:
    with factory() as s:
        return {p.channel: p for p in s.scalars(select(Page).where(
            Page.incident_id == incident_id))}


def setup_alice(factory: Any, cast: Cast, monkeypatch: Any,
                wanted: dict[str, list[Rule]] | None = None) -> Any:
    fakes = install(monkeypatch, "sms", "voice", "slack")
    set_contacts(factory, "alice@example.com")
    set_rules(factory, cast.alice.id, wanted or {
        "critical": [Rule("sms"), Rule("voice", 120)]})
    return fakes


def test_a_permanent_failure_disables_the_contact_and_calls_at_once(
        factory: Any, cast: Cast, client: Any, monkeypatch: Any) -> None:
    fakes = setup_alice(factory, cast, monkeypatch)
    fakes["sms"].errors = [DeliveryError("21211 invalid 'To' number", permanent=True)]
    incident_id = trigger(factory)
    result = runs.escalate_incident(factory, incident_id, now=utcnow())
    assert result is not None
    [sms_page] = result.page_ids
    runs.deliver_page(factory, sms_page)
    # The call planned for +2 min went out now, in the same delivery.
    assert fakes["voice"].who() == ["alice@example.com"]
    found = pages(factory, incident_id)
    assert (found["sms"].status, found["voice"].status) == ("failed", "sent")
    assert timeline(factory, incident_id)[-4:] == [
        "page_failed", "contact_disabled", "fallback", "paged"]
    contacts = {c["channel"]: c for c in client.get(
        f"/api/v1/users/{cast.alice.id}", headers=cast.auth()).json["contact_methods"]}
    assert contacts["sms"]["state"] == "disabled"
    assert contacts["sms"]["disabled_reason"] == "21211 invalid 'To' number"
    assert contacts["voice"]["state"] == "active"


def test_a_disabled_contact_is_skipped_until_it_is_edited(factory: Any, cast: Cast,
                                                          monkeypatch: Any) -> None:
    fakes = setup_alice(factory, cast, monkeypatch)
    fakes["sms"].errors = [DeliveryError("unsubscribed (STOP)", permanent=True)]
    first = trigger(factory, dedup_key="one")
    sweeper.sweep(factory, utcnow())
    second = trigger(factory, dedup_key="two")
    runs.escalate_incident(factory, second, now=utcnow())
    assert set(pages(factory, second)) == {"voice"}
    set_contacts(factory, "alice@example.com", phone="+14155550199")
    third = trigger(factory, dedup_key="three")
    runs.escalate_incident(factory, third, now=utcnow())
    assert set(pages(factory, third)) == {"sms", "voice"}
    assert first != second != third


def test_with_no_further_rule_it_falls_back_to_any_channel_that_reaches_the_user(
        factory: Any, cast: Cast, monkeypatch: Any) -> None:
    fakes = setup_alice(factory, cast, monkeypatch, {"critical": [Rule("sms")]})
    fakes["sms"].errors = [DeliveryError("invalid number", permanent=True)]
    incident_id = trigger(factory)
    sweeper.sweep(factory, utcnow())
    assert fakes["voice"].who() == ["alice@example.com"]  # sms, voice, slack order
    assert fakes["slack"].sent == []
    assert "user_unreachable" not in timeline(factory, incident_id)


def test_when_every_channel_has_failed_the_user_is_unreachable(factory: Any, cast: Cast,
                                                               monkeypatch: Any) -> None:
    fakes = setup_alice(factory, cast, monkeypatch, {"critical": [Rule("sms")]})
    set_contacts(factory, "alice@example.com", slack_id=None)
    for name in ("sms", "voice"):
        fakes[name].errors = [DeliveryError(f"{name} refused", permanent=True)]
    incident_id = trigger(factory)
    sweeper.sweep(factory, utcnow())
    events = timeline(factory, incident_id)
    assert events.count("page_failed") == 2 and events[-1] == "user_unreachable"


def test_a_permanent_failure_after_the_ack_disables_the_contact_but_pages_nobody(
        factory: Any, cast: Cast, monkeypatch: Any) -> None:
    fakes = setup_alice(factory, cast, monkeypatch)
    incident_id = trigger(factory)
    result = runs.escalate_incident(factory, incident_id, now=utcnow())
    assert result is not None
    runs.deliver_page(factory, result.page_ids[0])
    with factory() as s, s.begin():
        incidents.acknowledge(s, incident_id, "user:alice@example.com", utcnow())
        delivery.page_failed(s, result.page_ids[0], "undelivered: unknown handset",
                           permanent=True, now=utcnow())
    assert "contact_disabled" in timeline(factory, incident_id)
    assert "fallback" not in timeline(factory, incident_id)
    assert fakes["voice"].sent == []


def test_a_failure_reported_later_falls_back_once(factory: Any, cast: Cast,
                                                  monkeypatch: Any) -> None:
    fakes = setup_alice(factory, cast, monkeypatch)
    incident_id = trigger(factory)
    now = utcnow()
    result = runs.escalate_incident(factory, incident_id, now=now)
    assert result is not None
    runs.deliver_page(factory, result.page_ids[0])
    assert pages(factory, incident_id)["sms"].status == "sent"
    for _ in range(2):  # the provider's callback, delivered twice
        with factory() as s, s.begin():
            delivery.page_failed(s, result.page_ids[0], "30005 unknown destination",
                               permanent=True, now=now)
    found = pages(factory, incident_id)
    assert found["sms"].status == "failed"
    assert found["voice"].next_attempt_at == now  # brought forward from +2 min
    assert timeline(factory, incident_id).count("fallback") == 1
    sweeper.sweep(factory, now + timedelta(seconds=1))
    assert fakes["voice"].who() == ["alice@example.com"]


def test_a_transient_failure_reported_later_is_retried(factory: Any, cast: Cast,
                                                       monkeypatch: Any) -> None:
    fakes = setup_alice(factory, cast, monkeypatch)
    incident_id = trigger(factory)
    result = runs.escalate_incident(factory, incident_id, now=utcnow())
    assert result is not None
    runs.deliver_page(factory, result.page_ids[0])
    now = utcnow()
    with factory() as s, s.begin():
        delivery.page_failed(s, result.page_ids[0], "30003 unreachable handset",
                           permanent=False, now=now)
    sms = pages(factory, incident_id)["sms"]
    assert sms.status == "pending" and sms.next_attempt_at > now
    sweeper.sweep(factory, now + timedelta(seconds=10))
    assert fakes["sms"].who() == ["alice@example.com", "alice@example.com"]


def test_retry_after_is_honoured(factory: Any, cast: Cast, monkeypatch: Any) -> None:
    fakes = setup_alice(factory, cast, monkeypatch)
    fakes["sms"].errors = [DeliveryError("429 Too Many Requests", permanent=False,
                                         retry_after=45)]
    incident_id = trigger(factory)
    now = utcnow()
    sweeper.sweep(factory, now)
    sms = pages(factory, incident_id)["sms"]
    assert sms.status == "pending"
    assert sms.next_attempt_at >= now + timedelta(seconds=45)
    sweeper.sweep(factory, now + timedelta(seconds=30))
    assert fakes["sms"].sent == []
    sweeper.sweep(factory, sms.next_attempt_at + timedelta(seconds=1))
    assert fakes["sms"].who() == ["alice@example.com"]
    with factory() as s:
        retry = s.scalar(select(IncidentEvent).where(IncidentEvent.kind == "page_retry"))
        assert retry.detail["retry_after"] == 45


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    first = [delivery.retry_delay(1) for _ in range(50)]
    assert all(1.5 <= d <= 2.5 for d in first) and len(set(first)) > 1
    assert all(6.0 <= delivery.retry_delay(3) <= 10.0 for _ in range(20))
    assert all(d <= delivery.MAX_BACKOFF * 1.25 for d in (delivery.retry_delay(30),))
    assert delivery.retry_delay(1, retry_after=10_000) == delivery.MAX_RETRY_AFTER


def test_a_transient_failure_on_the_last_attempt_falls_back(factory: Any, cast: Cast,
                                                            monkeypatch: Any) -> None:
    fakes = setup_alice(factory, cast, monkeypatch)
    fakes["sms"].errors = [DeliveryError("503", permanent=False)] * delivery.MAX_ATTEMPTS
    incident_id = trigger(factory)
    now = utcnow()
    sweeper.sweep(factory, now)
    for i in range(1, delivery.MAX_ATTEMPTS):
        sweeper.sweep(factory, now + timedelta(seconds=400 * i))
    found = pages(factory, incident_id)
    assert (found["sms"].status, found["sms"].attempts) == ("failed", delivery.MAX_ATTEMPTS)
    assert "contact_disabled" not in timeline(factory, incident_id)  # not the contact's fault
    assert fakes["voice"].who() == ["alice@example.com"]


def test_a_channel_that_breaks_is_retried_like_a_transient_failure(
        factory: Any, cast: Cast, monkeypatch: Any) -> None:
    fakes = setup_alice(factory, cast, monkeypatch)

    def broken(page: Any) -> Any:
        raise RuntimeError("bug in the channel")

    monkeypatch.setattr(fakes["sms"], "send", broken)
    incident_id = trigger(factory)
    report = sweeper.sweep(factory, utcnow())
    assert report.delivered == 1
    sms = pages(factory, incident_id)["sms"]
    assert sms.status == "pending" and "bug in the channel" in (sms.error or "")
    assert "page_retry" in timeline(factory, incident_id)
