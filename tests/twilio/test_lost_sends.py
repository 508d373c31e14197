"""Requests whose answer was lost (issue 15): each is identified exactly at Twilio by the
reference it carries, decided before the throttle, shown truthfully on the timeline; and one
page's failure never aborts the sweep delivering the others. The real twilio SDK talks to
the fake Twilio; the pager drives the sweeper on a virtual clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from oncall import incidents
from oncall.channels import registry
from oncall.channels.sms import outbox, throttle
from oncall.channels.sms import text as sms_text
from oncall.channels.sms.throttle import Rule
from oncall.channels.twilio.api import may_have_left
from oncall.models import IncidentEvent, Page, ProviderSend
from oncall.paging import delivery, runs
from tests.conftest import Cast, make_cast
from tests.twilio.conftest import ALICE, BOB, Pager
from tests.twilio.fakes import FakeTwilio, Phone

FAR = timedelta(hours=2)


@pytest.fixture
def looping_cast(factory: Any) -> Cast:
    """alice (level 1), bob (level 2), then once more: alice is paged for one incident at
    loop 0 and loop 1, with the same text."""
    cast = make_cast(factory, escalate_after=300, repeat=1)
    with factory() as s, s.begin():
        s.execute(update(type(cast.alice)).where(type(cast.alice).id == cast.alice.id)
                  .values(phone=ALICE))
        s.execute(update(type(cast.bob)).where(type(cast.bob).id == cast.bob.id)
                  .values(phone=BOB))
    return cast


def page_of(factory: Any, incident_id: int, loop: int, level: int = 1) -> Page:
    with factory() as s:
        return s.scalars(select(Page).where(Page.incident_id == incident_id,
                                            Page.loop == loop, Page.level == level)).one()


def timeline(factory: Any, incident_id: int) -> list[IncidentEvent]:
    with factory() as s:
        return list(s.scalars(select(IncidentEvent).where(
            IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.id)))


def lease(factory: Any, page_id: int, until: Any) -> None:
    with factory() as s, s.begin():
        s.execute(update(Page).where(Page.id == page_id).values(lease_until=until))


def die_after_the_request(factory: Any, pager: Pager, page_id: int, made: bool) -> None:
    """A worker claims the page, records the request and (if ``made``) makes it, then dies
    before storing the answer. Its claim is held far into the future, until ``lease``."""
    with factory() as s, s.begin():
        outgoing = delivery.prepare_delivery(s, page_id, pager.now)
    assert outgoing is not None
    batch = outbox.prepare(factory, outgoing, pager.now, delivery.claim_page)
    assert batch is not None and batch.send_id is not None
    if made:
        delivery.send(batch.page)
    lease(factory, page_id, pager.now + FAR)


def first_page(factory: Any, pager: Pager, inc: int) -> int:
    result = runs.escalate_incident(factory, inc, now=pager.now)
    assert result is not None
    [page_id] = result.page_ids
    return page_id


def alice_sms(fake: FakeTwilio) -> list[Any]:
    return [r for r in fake.accepted() if r.form["To"] == ALICE]


@pytest.mark.parametrize("made", [True, False])
def test_the_lookup_finds_its_own_message_not_the_next_loops_with_the_same_text(
        made: bool, factory: Any, looping_cast: Cast, pager: Pager,
        fake_twilio: FakeTwilio) -> None:
    inc = pager.trigger()
    first = first_page(factory, pager, inc)
    die_after_the_request(factory, pager, first, made)
    pager.tick(300)  # bob, level 2
    pager.tick(300)  # alice again, loop 1: the same text, sent while loop 0's answer is lost
    second = page_of(factory, inc, loop=1)
    assert second.status == "sent"
    texts = [r.form["Body"] for r in alice_sms(fake_twilio)]
    assert len(texts) == (2 if made else 1)
    assert len({sms_text.ref_of(t) for t in texts}) == len(texts)  # each its own reference
    # The same words either way: only the reference tells the two requests apart.
    assert len({t.rsplit("\n", 1)[0] for t in texts}) == 1

    lease(factory, first, pager.now)  # the dead worker's claim runs out
    report = pager.tick(1)
    assert report.delivered >= 1
    messages = alice_sms(fake_twilio)
    loop0, loop1 = page_of(factory, inc, loop=0), page_of(factory, inc, loop=1)
    assert loop1.provider_id == (messages[1].sid if made else messages[0].sid)
    if made:  # found: its own message, and no new request
        assert (loop0.status, loop0.provider_id) == ("sent", messages[0].sid)
        assert len(messages) == 2
    else:  # never left: not "found" as loop 1's message, but sent now
        assert len(messages) == 2
        assert (loop0.status, loop0.provider_id) == ("sent", messages[1].sid)
    with factory() as s:
        sids = [sid for sid in s.scalars(select(ProviderSend.provider_id)) if sid]
    assert len(sids) == len(set(sids))


def test_a_page_whose_answer_was_lost_is_not_throttled_behind_its_own_phantom(
        factory: Any, cast: Cast, pager: Pager, alice: Phone,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(throttle.THROTTLE, "sms", [Rule(2, timedelta(minutes=1))])
    one = pager.trigger(dedup_key="one")
    pager.tick()
    alice.expect_sms(rf"#{one} ")
    pager.tick(1)
    two = pager.trigger(dedup_key="two")
    page = first_page(factory, pager, two)
    die_after_the_request(factory, pager, page, made=False)  # the request never left
    pager.now += timedelta(seconds=9)
    lease(factory, page, pager.now)
    pager.tick(1)
    # One real SMS in the last minute: the phantom does not count, the page goes now (not
    # ~50 s later, when the minute of a request that never left has passed).
    alice.expect_sms(rf"#{two} ")
    with factory() as s:
        got = s.get(Page, page)
        assert got is not None and got.status == "sent"
        assert s.scalars(select(ProviderSend.status).order_by(ProviderSend.id)).all() == \
            ["accepted", "unsent", "accepted"]


def test_a_lost_request_that_did_leave_still_counts_for_the_throttle(
        factory: Any, cast: Cast, pager: Pager, alice: Phone, fake_twilio: FakeTwilio,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The other side: one that reached Twilio is the page's outcome, and a third page
    within the minute waits for the number's throttle."""
    monkeypatch.setitem(throttle.THROTTLE, "sms", [Rule(2, timedelta(minutes=1))])
    one = pager.trigger(dedup_key="one")
    pager.tick()
    two = pager.trigger(dedup_key="two")
    page = first_page(factory, pager, two)
    die_after_the_request(factory, pager, page, made=True)
    lease(factory, page, pager.now)
    pager.now += timedelta(seconds=1)
    three = pager.trigger(dedup_key="three")
    pager.tick(0)
    alice.expect_sms(rf"#{one} ")
    alice.expect_sms(rf"#{two} ")
    alice.assert_quiet()
    [waiting] = [p for p in _pages(factory) if p.incident_id == three]
    assert waiting.status == "pending"


def _pages(factory: Any) -> list[Page]:
    with factory() as s:
        return list(s.scalars(select(Page).order_by(Page.id)))


@pytest.mark.parametrize("made", [True, False])
def test_an_sms_sent_just_before_the_acknowledgement_shows_as_sent(
        made: bool, factory: Any, cast: Cast, pager: Pager, alice: Phone) -> None:
    inc = pager.trigger()
    page = first_page(factory, pager, inc)
    die_after_the_request(factory, pager, page, made)
    pager.now += timedelta(seconds=5)
    with factory() as s, s.begin():
        incidents.acknowledge(s, inc, "user:alice@example.com", pager.now)
    lease(factory, page, pager.now)
    pager.tick(1)
    with factory() as s:
        got = s.get(Page, page)
        assert got is not None
    events = [(e.kind, e.detail) for e in timeline(factory, inc)]
    if made:  # it did go out: sent, on the timeline, and nothing more is sent
        sms = alice.expect_sms(rf"#{inc} ")
        assert (got.status, got.provider_id) == ("sent", sms.sid)
        [paged] = [d for k, d in events if k == "paged"]
        assert paged["provider_id"] == sms.sid and paged["before"] == "acknowledged"
    else:  # it never left: cancelled, and still nothing is sent after the acknowledgement
        assert got.status == "cancelled"
        assert got.error == "incident acknowledged before sending"
        assert not [k for k, _ in events if k == "paged"]
    alice.assert_quiet()


def test_a_page_whose_answer_clashes_with_another_send_does_not_stop_the_sweep(
        factory: Any, cast: Cast, pager: Pager, alice: Phone, bob: Phone,
        channels: Any) -> None:
    """Twilio's next SID is already on a recorded send (``uq_provider_sends_provider_id``):
    that page is still sent and recorded, and the sweep goes on to the next page."""
    with factory() as s, s.begin():
        s.add(ProviderSend(channel="sms", destination="+15550000000", page_ids=[],
                           status="accepted", provider_id=f"SM{1:032x}"))
    one = pager.trigger(dedup_key="one")
    pager.tick()  # alice: her SMS gets the clashing SID
    pager.tick(300)  # bob
    sms = alice.expect_sms(rf"#{one} ")
    assert sms.sid == f"SM{1:032x}"
    bob.expect_sms(rf"#{one} ")
    statuses = [(p.level, p.status) for p in _pages(factory)]
    assert statuses == [(1, "sent"), (2, "sent")]


def test_a_page_that_breaks_is_retried_and_the_others_in_the_sweep_go_out(
        factory: Any, cast: Cast, pager: Pager, alice: Phone, bob: Phone,
        monkeypatch: pytest.MonkeyPatch) -> None:
    two = pager.trigger(dedup_key="two")
    pager.tick()
    alice.expect_sms(rf"#{two} ")
    pager.tick(299)
    one = pager.trigger(dedup_key="one")
    real_finish = outbox.finish
    broken: list[int] = []

    def finish(session: Any, batch: outbox.Batch, *args: Any) -> None:
        if batch.page.recipient.phone == ALICE and not broken:
            broken.append(batch.page.page_id)
            raise RuntimeError("a bug in storing the answer")
        real_finish(session, batch, *args)

    monkeypatch.setattr(outbox, "finish", finish)
    pager.tick(1)  # one sweep: alice's page for "one" breaks; bob's for "two" still goes
    assert broken
    bob.expect_sms(rf"#{two} ")
    broke = page_by_id(factory, broken[0])
    assert (broke.incident_id, broke.status) == (one, "pending")  # retried, not stuck
    [retry] = [e for e in timeline(factory, one) if e.kind == "page_retry"]
    assert "a bug in storing the answer" in retry.detail["error"]
    # Its request had gone out before the break: the retry finds it at Twilio, no new one.
    sms = alice.expect_sms(rf"#{one} ")
    pager.tick(30)
    broke = page_by_id(factory, broken[0])
    assert (broke.status, broke.provider_id) == ("sent", sms.sid)
    alice.assert_quiet()
    bob.assert_quiet()


def page_by_id(factory: Any, page_id: int) -> Page:
    with factory() as s:
        page = s.get(Page, page_id)
        assert page is not None
        return page


def test_its_own_send_is_recognised_behind_many_newer_messages_to_the_number(
        factory: Any, cast: Cast, pager: Pager, alice: Phone, fake_twilio: FakeTwilio) -> None:
    """A busy number (a stream of alerts, a database outage while answers are lost): the
    lookup reads back to the request's time, not just the latest 20 messages."""
    from tests.twilio.fakes import Received

    inc = pager.trigger()
    page = first_page(factory, pager, inc)
    die_after_the_request(factory, pager, page, made=True)
    for n in range(30):  # sent meanwhile by other pagers sharing the account and number
        other = Received("message", {"To": ALICE, "From": "+12125550147",
                                     "Body": f"other {n}"}, None, "/", 201, f"SMo{n:032x}")
        fake_twilio.requests.append(other)
    lease(factory, page, pager.now)
    pager.tick(1)
    [sms] = [r for r in alice_sms(fake_twilio) if r.form["Body"].startswith("[")]
    got = page_by_id(factory, page)
    assert (got.status, got.provider_id) == ("sent", sms.sid)


def test_a_found_send_later_reported_undelivered_is_sent_again_not_found_again(
        factory: Any, cast: Cast, pager: Pager, alice: Phone) -> None:
    inc = pager.trigger()
    page = first_page(factory, pager, inc)
    die_after_the_request(factory, pager, page, made=True)
    lease(factory, page, pager.now)
    pager.tick(1)
    first = alice.expect_sms(rf"#{inc} ")
    assert page_by_id(factory, page).provider_id == first.sid
    with factory() as s, s.begin():  # Twilio's status callback: undelivered, transient
        delivery.page_failed(s, page, "twilio reported undelivered (error 30003)",
                           permanent=False, now=pager.now)
    pager.tick(120)
    again = alice.expect_sms(rf"#{inc} ")
    assert again.sid != first.sid
    assert page_by_id(factory, page).provider_id == again.sid
    alice.assert_quiet()


def _answer_late(fake: FakeTwilio, requests: int = 1) -> None:
    """Twilio takes the first ``requests`` SMS but answers after the client's timeout."""
    channel = registry.channel("sms")
    channel.api.http.timeout = 0.5  # type: ignore[attr-defined]
    fake.delay_for = lambda got: 1.5 if got.kind == "message" and \
        len(fake.accepted()) <= requests else 0.0


def test_an_sms_whose_answer_timed_out_is_looked_up_not_sent_again(
        factory: Any, cast: Cast, pager: Pager, alice: Phone,
        fake_twilio: FakeTwilio) -> None:
    """Twilio took the SMS, its answer came after our timeout: the request is not refused
    but stays open, and the page's retry finds that message by its reference."""
    _answer_late(fake_twilio)
    inc = pager.trigger()
    pager.tick()
    sms = alice.expect_sms(rf"#{inc} ")
    with factory() as s:
        assert s.scalars(select(ProviderSend.status)).all() == ["requested"]
        assert page_of(factory, inc, loop=0).status == "pending"  # a transient failure
    pager.tick(10)  # the retry, after its backoff
    alice.assert_quiet()  # not texted twice
    page = page_of(factory, inc, loop=0)
    assert (page.status, page.provider_id) == ("sent", sms.sid)
    with factory() as s:
        assert s.scalars(select(ProviderSend.status)).all() == ["found"]


def test_an_sms_whose_answer_timed_out_before_an_acknowledgement_shows_as_sent(
        factory: Any, cast: Cast, pager: Pager, alice: Phone,
        fake_twilio: FakeTwilio) -> None:
    _answer_late(fake_twilio)
    inc = pager.trigger()
    pager.tick()
    sms = alice.expect_sms(rf"#{inc} ")
    pager.now += timedelta(seconds=1)
    with factory() as s, s.begin():
        incidents.acknowledge(s, inc, "user:alice@example.com", pager.now)
    pager.tick(10)
    alice.assert_quiet()
    page = page_of(factory, inc, loop=0)
    assert (page.status, page.provider_id) == ("sent", sms.sid)  # not "cancelled"


def test_a_refused_connection_is_not_a_lost_answer() -> None:
    """Only a request that may have left is looked up; one whose connection was never made
    is an ordinary failure."""
    import requests
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

    refused = requests.ConnectionError(MaxRetryError(
        None, "/", NewConnectionError(None, "Connection refused")))  # type: ignore[arg-type]
    assert not may_have_left(refused)
    assert not may_have_left(requests.ConnectTimeout("connect timed out"))
    assert may_have_left(requests.ReadTimeout(ReadTimeoutError(None, "/", "read timed out")))
    assert may_have_left(requests.ConnectionError("Connection aborted: RemoteDisconnected"))


def test_a_page_whose_answer_was_lost_is_not_bundled_into_another_send(
        factory: Any, cast: Cast, pager: Pager, alice: Phone,
        fake_twilio: FakeTwilio) -> None:
    """Found by the chaos test: a page waiting to be retried after its answer was lost was
    taken into the next SMS to the same person, without its lost request being looked up,
    and so texted twice. It is left out of the bundle and looked up on its own."""
    _answer_late(fake_twilio)
    one = pager.trigger(dedup_key="one")
    pager.tick()
    first = alice.expect_sms(rf"#{one} ")
    two = pager.trigger(dedup_key="two")
    page_two = first_page(factory, pager, two)
    pager.now += timedelta(seconds=10)  # page one's retry is due as well
    runs.deliver_page(factory, page_two, pager.now)
    second = alice.expect_sms(rf"#{two} ")
    assert f"#{one} " not in second.form["Body"]
    pager.tick(1)
    alice.assert_quiet()
    page_one = page_of(factory, one, loop=0)
    assert (page_one.status, page_one.provider_id) == ("sent", first.sid)
