"""Scenarios in the style of GoAlert's smoke tests: the real twilio SDK talks to a fake
Twilio; each user has a fake phone that expects exact messages and fails on any message
nobody expected (a duplicate page shows up here)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from oncall.channels.sms import outbox, throttle
from oncall.models import Incident, IncidentEvent, Page, ProviderSend, User
from oncall.paging import delivery, runs
from tests.conftest import Cast
from tests.twilio.conftest import Pager
from tests.twilio.fakes import FakeTwilio, Phone


def incident(factory: Any, incident_id: int) -> Incident:
    with factory() as s:
        found = s.get(Incident, incident_id)
        assert found is not None
        return found


def events(factory: Any, incident_id: int) -> list[tuple[str, str]]:
    with factory() as s:
        return [(e.kind, e.actor) for e in s.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.id))]


def pages(factory: Any, incident_id: int) -> list[Page]:
    with factory() as s:
        return list(s.scalars(select(Page).where(Page.incident_id == incident_id)
                              .order_by(Page.id)))


def test_page_reply_1a_acknowledges_and_nothing_else_is_sent(
        factory: Any, pager: Pager, alice: Phone, bob: Phone, cast: Cast) -> None:
    inc = pager.trigger()
    pager.tick()
    sms = alice.expect_sms(
        rf"^\[CRITICAL\] #{inc} billing-api: Charge failures for acme\n"
        rf"https://oncall\.example\.com/incidents/{inc}\n"
        r"Reply 1a to ack, 1r to resolve, 1e to escalate\.\n\(ref [A-Z2-9]{8}\)$")
    assert sms.form["From"] == "+12125550147"
    assert sms.form["StatusCallback"] == "https://oncall.example.com/twilio/status"
    assert sms.auth and sms.auth.startswith("Basic ")
    [page] = pages(factory, inc)
    assert (page.status, page.provider_id) == ("sent", sms.sid)

    status, text = alice.reply("1a")
    assert status == 200
    assert text.startswith(f"Acknowledged incident #{inc} (billing-api:")
    assert incident(factory, inc).acked_by == "user:alice@example.com"
    assert ("acknowledged", "user:alice@example.com") in events(factory, inc)

    pager.tick(600)  # level 2 would have paged bob by now
    alice.assert_quiet()
    bob.assert_quiet()


def test_no_reply_escalates_to_the_next_level_by_sms(factory: Any, pager: Pager, alice: Phone,
                                                      bob: Phone) -> None:
    inc = pager.trigger()
    pager.tick()
    alice.expect_sms(r"Reply 1a to ack")
    pager.tick(301)
    bob.expect_sms(rf"#{inc} .*Reply 1a to ack")
    _, text = bob.reply("1r")
    assert text.startswith(f"Resolved incident #{inc}")
    assert incident(factory, inc).resolved_by == "user:bob@example.com"
    _, text = alice.reply("1a")  # alice is late: polite, and nothing changes
    assert text.startswith(f"Incident #{inc} (billing-api: Charge failures for acme) is "
                           "already resolved by bob@example.com")
    assert incident(factory, inc).acked_by is None
    alice.assert_quiet()
    bob.assert_quiet()


def test_codes_are_per_user_and_a_bare_letter_acts_on_the_latest_page(
        factory: Any, pager: Pager, alice: Phone, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(throttle.THROTTLE, "sms", [])
    first = pager.trigger(dedup_key="one", summary="first")
    pager.tick()
    alice.expect_sms(rf"#{first} billing-api: first\n.*/incidents/{first}\nReply 1a")
    second = pager.trigger(dedup_key="two", summary="second")
    pager.tick(1)
    alice.expect_sms(rf"#{second} billing-api: second\n.*/incidents/{second}\nReply 2a")
    _, text = alice.reply("a")
    assert text.startswith(f"Acknowledged incident #{second}")
    assert incident(factory, first).status == "triggered"
    _, text = alice.reply("1 ACK")
    assert text.startswith(f"Acknowledged incident #{first}")
    _, text = alice.reply("1a")
    assert text.startswith(f"Incident #{first} (billing-api: first) was already acknowledged")
    _, text = alice.reply("2r")
    assert text.startswith(f"Resolved incident #{second}")
    third = pager.trigger(dedup_key="three", summary="third")
    pager.tick(1)
    # 2 is free again
    alice.expect_sms(rf"#{third} billing-api: third\n.*/incidents/{third}\nReply 2a")
    alice.assert_quiet()


def test_aa_acknowledges_all_help_explains_and_nonsense_gets_help(
        factory: Any, pager: Pager, alice: Phone, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(throttle.THROTTLE, "sms", [])
    one, two = pager.trigger(dedup_key="one"), pager.trigger(dedup_key="two")
    pager.tick()
    alice.expect_sms("2 open incidents for billing-api:")
    _, text = alice.reply("help")
    assert "aa acks all" in text and f"1 = #{one}" in text and f"2 = #{two}" in text
    _, text = alice.reply("please stop")
    assert text.startswith("Sorry, I did not understand that.") and "<n>a ack" in text
    _, text = alice.reply("9a")
    assert text.startswith("Unknown code 9.")
    assert incident(factory, one).status == incident(factory, two).status == "triggered"
    _, text = alice.reply("aa")
    assert text == f"Acknowledged 2 incidents: #{one}, #{two}."
    assert incident(factory, one).acked_by == incident(factory, two).acked_by \
        == "user:alice@example.com"
    alice.assert_quiet()


def test_an_unknown_number_is_refused_and_changes_nothing(factory: Any, pager: Pager,
                                                          alice: Phone, fake_twilio: FakeTwilio,
                                                          tclient: Any) -> None:
    inc = pager.trigger()
    pager.tick()
    alice.expect_sms("Reply 1a")
    stranger = Phone("+14155559999", fake_twilio, tclient)
    status, text = stranger.reply("1a")
    assert status == 200 and "not registered" in text
    _, text = stranger.reply("aa")
    assert "not registered" in text
    assert incident(factory, inc).status == "triggered"


def test_a_viewer_paged_by_sms_is_refused_and_the_incident_stays_unacknowledged(
        factory: Any, pager: Pager, alice: Phone, cast: Cast) -> None:
    inc = pager.trigger()
    pager.tick()
    alice.expect_sms("Reply 1a")
    with factory() as s, s.begin():  # a stakeholder on the policy: reads, does not act
        s.execute(update(User).where(User.id == cast.alice.id).values(role="viewer"))
    before = events(factory, inc)
    for body, verb in [("1a", "acknowledge"), ("a", "acknowledge"), ("aa", "acknowledge"),
                       ("1r", "resolve"), ("1e", "escalate")]:
        status, text = alice.reply(body)
        assert status == 200
        assert text == (f"You are not allowed to {verb} incidents: you are a viewer, and it "
                        "needs the responder role.")
    found = incident(factory, inc)
    assert (found.status, found.acked_by, found.level) == ("triggered", None, 1)
    assert events(factory, inc) == before
    _, text = alice.reply("help")  # still told what the codes are
    assert f"1 = #{inc}" in text
    alice.assert_quiet()


def test_a_deactivated_person_replying_is_refused_and_nothing_changes(
        factory: Any, pager: Pager, alice: Phone, cast: Cast) -> None:
    """Deactivation ends access on every channel (``oncall.incidents.respond``), not only
    the API and the console: their phone keeps its number, but a reply acts no more."""
    inc = pager.trigger()
    pager.tick()
    alice.expect_sms("Reply 1a")
    with factory() as s, s.begin():
        s.execute(update(User).where(User.id == cast.alice.id).values(
            deactivated_at=incident(factory, inc).created_at))
    before = events(factory, inc)
    for body in ("1a", "aa", "1r", "1e"):
        status, text = alice.reply(body)
        assert status == 200
        assert text == "Your oncall account is deactivated: you can no longer act on incidents."
    found = incident(factory, inc)
    assert (found.status, found.acked_by, found.level) == ("triggered", None, 1)
    assert events(factory, inc) == before
    alice.assert_quiet()


def test_several_waiting_pages_for_one_person_go_as_one_sms(
        factory: Any, pager: Pager, alice: Phone) -> None:
    ids = [pager.trigger(dedup_key=f"k{i}", summary=f"problem {i}") for i in range(3)]
    pager.tick()
    sms = alice.expect_sms(
        r"^3 open incidents for billing-api:\n"
        rf"1: \[CRITICAL\] #{ids[0]} problem 0\n2: \[CRITICAL\] #{ids[1]} problem 1\n"
        rf"3: \[CRITICAL\] #{ids[2]} problem 2\nReply aa to ack all")
    alice.assert_quiet()
    for i in ids:
        [page] = pages(factory, i)
        assert (page.status, page.provider_id) == ("sent", sms.sid)
    _, text = alice.reply("aa")
    assert text.startswith("Acknowledged 3 incidents")


def test_the_throttle_delays_pages_and_then_bundles_them_none_is_dropped(
        factory: Any, pager: Pager, alice: Phone, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(throttle.THROTTLE, "sms", [throttle.Rule(2, timedelta(minutes=1))])
    first = pager.trigger(dedup_key="a", summary="first")
    pager.tick()
    alice.expect_sms("#.* first")
    second = pager.trigger(dedup_key="b", summary="second")
    pager.tick(5)
    alice.expect_sms("#.* second")
    later = [pager.trigger(dedup_key=f"c{i}", summary=f"later {i}") for i in range(3)]
    pager.tick(5)
    pager.tick(20)
    alice.assert_quiet()  # 2 per minute: the third message waits
    [waiting] = pages(factory, later[0])
    assert waiting.status == "pending" and waiting.attempts == 0
    assert ("page_throttled", "system") in events(factory, later[0])
    pager.tick(31)  # a minute after the first SMS
    alice.expect_sms(r"^3 open incidents for billing-api:.*later 0.*later 1.*later 2")
    alice.assert_quiet()
    for i in [first, second, *later]:
        assert [p.status for p in pages(factory, i)] == ["sent"]


def test_a_twilio_outage_then_recovery_loses_no_page_and_sends_it_once(
        factory: Any, pager: Pager, alice: Phone, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail(500, 20500, times=3)
    inc = pager.trigger()
    pager.tick()
    [page] = pages(factory, inc)
    assert (page.status, page.attempts) == ("pending", 1)
    assert "twilio 500" in (page.error or "")
    for _ in range(4):
        pager.tick(60)
    alice.expect_sms(rf"#{inc} billing-api")
    alice.assert_quiet()
    [page] = pages(factory, inc)
    assert (page.status, page.attempts) == ("sent", 4)
    assert len([r for r in fake_twilio.requests if r.kind == "message"]) == 4


def test_a_429_is_retried_no_sooner_than_twilio_asks(factory: Any, pager: Pager, alice: Phone,
                                                     fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail(429, 20429, headers={"Retry-After": "120"})
    inc = pager.trigger()
    pager.tick()
    [page] = pages(factory, inc)
    assert page.status == "pending"
    assert page.next_attempt_at >= pager.now + timedelta(seconds=119)
    pager.tick(60)
    alice.assert_quiet()
    pager.tick(61)
    alice.expect_sms(rf"#{inc}")


def test_a_permanent_failure_is_not_retried_and_the_next_level_is_paged(
        factory: Any, pager: Pager, alice: Phone, bob: Phone, fake_twilio: FakeTwilio) -> None:
    fake_twilio.error_for[alice.number] = (400, 21211)
    inc = pager.trigger()
    pager.tick()
    [page] = pages(factory, inc)
    assert page.status == "failed" and "21211" in (page.error or "")
    pager.tick(120)
    assert len([r for r in fake_twilio.requests if r.form.get("To") == alice.number]) == 1
    assert ("page_failed", "system") in events(factory, inc)
    pager.tick(300)
    bob.expect_sms(rf"#{inc}")
    bob.assert_quiet()
    with factory() as s:
        rejected = s.scalars(select(ProviderSend.status)
                             .where(ProviderSend.destination == alice.number)).all()
    assert rejected == ["rejected"]


def _die_after_the_request(factory: Any, pager: Pager, inc: int, make_request: bool) -> None:
    """A worker claims the page, records the request and (maybe) makes it, then dies before
    storing the answer."""
    result = runs.escalate_incident(factory, inc, now=pager.now)
    assert result is not None
    [page_id] = result.page_ids
    with factory() as s, s.begin():
        outgoing = delivery.prepare_delivery(s, page_id, pager.now)
    assert outgoing is not None
    batch = outbox.prepare(factory, outgoing, pager.now, delivery.claim_page)
    assert batch is not None
    if make_request:
        delivery.send(batch.page)


@pytest.mark.parametrize("made", [True, False])
def test_a_request_whose_answer_was_lost_is_looked_up_not_repeated(
        made: bool, factory: Any, pager: Pager, alice: Phone, fake_twilio: FakeTwilio) -> None:
    inc = pager.trigger()
    _die_after_the_request(factory, pager, inc, make_request=made)
    pager.tick(61)  # the claim's lease has run out: the sweeper takes the page again
    sms = alice.expect_sms(rf"#{inc} billing-api")
    alice.assert_quiet()
    [page] = pages(factory, inc)
    assert (page.status, page.provider_id) == ("sent", sms.sid)
    assert fake_twilio.lookups == 1
    assert len([r for r in fake_twilio.requests if r.kind == "message"]) == 1
    with factory() as s:
        states = s.scalars(select(ProviderSend.status).order_by(ProviderSend.id)).all()
    # Made: found at Twilio by its reference, no new request. Not made: Twilio never got it
    # ("unsent", not counted by the throttle), and the page is sent now.
    assert states == (["found"] if made else ["unsent", "accepted"])


def test_1e_escalates_now_to_the_next_level(factory: Any, pager: Pager, alice: Phone,
                                            bob: Phone) -> None:
    inc = pager.trigger()
    pager.tick()
    alice.expect_sms("Reply 1a")
    _, text = alice.reply("1e")
    assert text.startswith(f"Escalated incident #{inc}")
    assert ("escalate_requested", "user:alice@example.com") in events(factory, inc)
    pager.tick(1)  # not the 300 s the level would wait
    bob.expect_sms(rf"#{inc} .*Reply 1a to ack")
    _, text = bob.reply("1a")
    assert text.startswith(f"Acknowledged incident #{inc}")
    _, text = alice.reply("1e")
    assert text.endswith("is acknowledged by bob@example.com; nothing to escalate.")
    alice.assert_quiet()
    bob.assert_quiet()


def test_a_status_callback_that_overtakes_the_answer_finds_its_request(
        factory: Any, pager: Pager, alice: Phone, tclient: Any) -> None:
    from tests.twilio.fakes import post_signed

    inc = pager.trigger()
    _die_after_the_request(factory, pager, inc, make_request=False)
    form = {"MessageSid": "SM" + "7" * 32, "MessageStatus": "undelivered", "ErrorCode": "30005",
            "To": alice.number, "From": "+12125550147"}
    assert post_signed(tclient, "/twilio/status", form).status_code == 200
    with factory() as s:
        send = s.scalars(select(ProviderSend)).one()
    assert (send.provider_id, send.provider_status) == ("SM" + "7" * 32, "undelivered")
    [page] = pages(factory, inc)
    assert page.status == "failed" and "30005" in (page.error or "")


def test_calls_are_throttled_per_number_too(factory: Any, pager: Pager, alice: Phone,
                                            channels: Any, fake_twilio: FakeTwilio) -> None:
    channels("voice")
    first = pager.trigger(dedup_key="one")
    pager.tick()
    second = pager.trigger(dedup_key="two")
    pager.tick(10)  # voice: at most 1 call a minute to one number
    assert [c.form["To"] for c in fake_twilio.accepted("call")] == [alice.number]
    [waiting] = pages(factory, second)
    assert waiting.status == "pending"
    pager.tick(51)
    calls = fake_twilio.accepted("call")
    assert len(calls) == 2
    assert [p.provider_id for i in (first, second) for p in pages(factory, i)] == \
        [c.sid for c in calls]
    alice.assert_quiet()  # no SMS at all
