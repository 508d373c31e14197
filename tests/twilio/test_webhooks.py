"""Inbound Twilio webhooks: signatures (FORMATS.md §4.2 test vector), forged and replayed
requests, status callbacks that never move backwards, and the voice key press."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree

import pytest
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from oncall.channels.twilio.status import moves_forward
from oncall.models import Incident, IncidentEvent, Page, ProviderSend, TwilioInbound, User
from tests.conftest import Cast
from tests.twilio.conftest import Pager
from tests.twilio.fakes import AUTH_TOKEN, FakeTwilio, Phone, post_signed, sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
VECTOR_URL = "https://oncall.example.com/webhooks/twilio/sms"
VECTOR_SIGNATURE = "h1rLRE5R/aZP1QxVBSXxZhvH8PY="


def fixture_form(name: str) -> dict[str, str]:
    return dict(parse_qsl((FIXTURES / name).read_text().strip(), keep_blank_values=True))


def test_the_signing_in_these_tests_matches_the_published_test_vector() -> None:
    form = fixture_form("twilio_inbound_sms.form")
    assert sign(VECTOR_URL, form) == VECTOR_SIGNATURE
    validator = RequestValidator(AUTH_TOKEN)
    assert validator.validate(VECTOR_URL, form, VECTOR_SIGNATURE)
    assert validator.validate(VECTOR_URL.replace(".com/", ".com:443/"), form, VECTOR_SIGNATURE)
    assert not validator.validate(VECTOR_URL, {**form, "Body": "ACK 9999"}, VECTOR_SIGNATURE)


def incident_state(factory: Any, incident_id: int) -> tuple[str, int]:
    with factory() as s:
        inc = s.get(Incident, incident_id)
        assert inc is not None
        n = len(s.scalars(select(IncidentEvent.id)
                          .where(IncidentEvent.incident_id == incident_id)).all())
        return inc.status, n


@pytest.fixture
def paged(pager: Pager, alice: Phone) -> int:
    inc = pager.trigger()
    pager.tick()
    alice.expect_sms("Reply 1a")
    return inc


def reply_form(body: str, sid: str = "SM" + "1" * 32) -> dict[str, str]:
    form = fixture_form("twilio_inbound_sms.form")
    form.update(From="+14155550101", Body=body, MessageSid=sid, SmsSid=sid,
                SmsMessageSid=sid)
    return form


@pytest.mark.parametrize("how", ["unsigned", "wrong token", "body changed", "other url",
                                 "garbage"])
def test_a_forged_sms_reply_gets_403_and_changes_nothing(how: str, factory: Any, tclient: Any,
                                                         paged: int) -> None:
    before = incident_state(factory, paged)
    form = reply_form("1a")
    signature = {
        "unsigned": "",
        "wrong token": sign("https://oncall.example.com/twilio/sms", form, "f" * 32),
        "body changed": sign("https://oncall.example.com/twilio/sms", reply_form("1r")),
        "other url": sign("https://evil.example.com/twilio/sms", form),
        "garbage": "not-a-signature",
    }[how]
    headers = {"X-Twilio-Signature": signature} if signature else {}
    r = tclient.post("/twilio/sms", data=form, headers=headers)
    assert r.status_code == 403
    assert incident_state(factory, paged) == before


def test_a_replayed_sms_reply_is_refused(factory: Any, tclient: Any, paged: int) -> None:
    form = reply_form("1a")
    assert post_signed(tclient, "/twilio/sms", form).status_code == 200
    after_first = incident_state(factory, paged)
    assert after_first[0] == "acknowledged"
    again = post_signed(tclient, "/twilio/sms", form)
    assert again.status_code == 409
    assert incident_state(factory, paged) == after_first


def test_the_fixture_reply_from_an_unknown_number_is_refused(tclient: Any) -> None:
    r = post_signed(tclient, "/twilio/sms", fixture_form("twilio_inbound_sms.form"))
    assert r.status_code == 200 and r.mimetype == "text/xml"
    message = ElementTree.fromstring(r.get_data()).find("Message")
    assert message is not None and "not registered" in (message.text or "")


def status(tclient: Any, sid: str, state: str, code: str = "", to: str = "+14155550101",
           kind: str = "Message") -> Any:
    form = {f"{kind}Sid": sid, f"{kind}Status": state, "To": to, "From": "+12125550147",
            "AccountSid": "AC5e0f2a4c6b8d0e1f3a5c7b9d1e3f5a7c", "ApiVersion": "2010-04-01"}
    if code:
        form["ErrorCode"] = code
    return post_signed(tclient, "/twilio/status", form)


def page_row(factory: Any, incident_id: int) -> Page:
    with factory() as s:
        return s.scalars(select(Page).where(Page.incident_id == incident_id)).one()


def test_status_callbacks_move_forward_only(factory: Any, tclient: Any, paged: int) -> None:
    sid = page_row(factory, paged).provider_id
    assert sid
    for state in ("queued", "sent", "delivered", "sent", "queued", "undelivered"):
        assert status(tclient, sid, state).status_code == 200
    page = page_row(factory, paged)
    assert (page.status, page.provider_status) == ("sent", "delivered")
    with factory() as s:
        assert s.scalar(select(ProviderSend.provider_status)
                        .where(ProviderSend.provider_id == sid)) == "delivered"


@pytest.mark.parametrize(("state", "code", "permanent"), [
    ("failed", "21610", True), ("undelivered", "30006", True)])
def test_an_async_permanent_failure_reaches_page_failed(
        state: str, code: str, permanent: bool, factory: Any, tclient: Any, paged: int) -> None:
    sid = page_row(factory, paged).provider_id
    assert sid
    assert status(tclient, sid, "sent").status_code == 200
    assert status(tclient, sid, state, code).status_code == 200
    page = page_row(factory, paged)
    assert page.status == "failed" and page.provider_status == state and code in page.error
    with factory() as s:
        [detail] = s.scalars(select(IncidentEvent.detail).where(
            IncidentEvent.incident_id == paged, IncidentEvent.kind == "page_failed")).all()
    assert detail["permanent"] is permanent


def test_an_async_transient_failure_is_retried(factory: Any, tclient: Any, paged: int) -> None:
    """30003 (handset unreachable) may pass: the page is sent again after a backoff."""
    sid = page_row(factory, paged).provider_id
    assert sid
    assert status(tclient, sid, "sent").status_code == 200
    assert status(tclient, sid, "undelivered", "30003").status_code == 200
    page = page_row(factory, paged)
    assert page.status == "pending" and page.provider_status == "undelivered"
    assert "30003" in page.error
    with factory() as s:
        kinds = s.scalars(select(IncidentEvent.kind).where(
            IncidentEvent.incident_id == paged)).all()
    assert "page_retry" in kinds and "page_failed" not in kinds


def test_a_callback_for_the_fixture_status_and_unknown_sids_changes_nothing(
        factory: Any, tclient: Any, paged: int) -> None:
    r = post_signed(tclient, "/twilio/status", fixture_form("twilio_message_status_callback.form"))
    assert r.status_code == 200
    assert page_row(factory, paged).provider_status is None
    unsigned = tclient.post("/twilio/status", data={"MessageSid": "SMx", "MessageStatus": "sent"})
    assert unsigned.status_code == 403


def test_status_order() -> None:
    assert moves_forward(None, "queued") and moves_forward("queued", "delivered")
    assert not moves_forward("delivered", "sent")
    assert not moves_forward("failed", "delivered")
    assert not moves_forward("delivered", "undelivered")
    assert not moves_forward("sent", "made-up")


# Voice ------------------------------------------------------------------------------------


@pytest.fixture
def called(pager: Pager, channels: Any, fake_twilio: FakeTwilio, cast: Cast) -> tuple[int, Any]:
    channels("voice")
    inc = pager.trigger()
    pager.tick()
    [call] = fake_twilio.accepted("call")
    return inc, call


def call_form(call: Any, **extra: str) -> dict[str, str]:
    form = dict(parse_qsl((FIXTURES / "twilio_voice_gather_action.form").read_text().strip(),
                          keep_blank_values=True))
    form.update(CallSid=call.sid, To=call.form["To"], Called=call.form["To"])
    form.pop("Digits", None)
    form.update(extra)
    return form


def test_a_voice_page_reads_the_incident_and_key_1_acknowledges(
        factory: Any, tclient: Any, called: tuple[int, Any]) -> None:
    inc, call = called
    page = page_row(factory, inc)
    assert call.form["Url"] == f"https://oncall.example.com/twilio/voice?page={page.id}"
    assert call.form["StatusCallback"] == "https://oncall.example.com/twilio/status"
    answer = post_signed(tclient, f"/twilio/voice?page={page.id}", call_form(call))
    assert answer.status_code == 200 and answer.mimetype == "text/xml"
    xml = ElementTree.fromstring(answer.get_data())
    gather = xml.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    assert gather.get("action") == \
        f"https://oncall.example.com/twilio/voice/gather?page={page.id}"
    said = gather.findtext("Say") or ""
    assert f"critical incident {inc} for billing-api: Charge failures for acme" in said
    assert "not acknowledged" in (xml.findtext("Say") or "")  # after the Gather: no key

    pressed = post_signed(tclient, f"/twilio/voice/gather?page={page.id}",
                          call_form(call, Digits="1"))
    assert "acknowledged" in pressed.get_data(as_text=True)
    with factory() as s:
        incident = s.get(Incident, inc)
        assert incident is not None and incident.acked_by == "user:alice@example.com"
    replay = post_signed(tclient, f"/twilio/voice/gather?page={page.id}",
                         call_form(call, Digits="2"))
    assert replay.status_code == 409
    assert incident_state(factory, inc)[0] == "acknowledged"


@pytest.mark.parametrize(("digits", "expect"), [("2", "resolved"), ("3", "triggered"),
                                                ("9", "triggered")])
def test_other_keys(digits: str, expect: str, factory: Any, tclient: Any,
                    called: tuple[int, Any]) -> None:
    inc, call = called
    page = page_row(factory, inc)
    r = post_signed(tclient, f"/twilio/voice/gather?page={page.id}",
                    call_form(call, Digits=digits))
    assert r.status_code == 200
    with factory() as s:
        incident = s.get(Incident, inc)
        assert incident is not None and incident.status == expect
        kinds = s.scalars(select(IncidentEvent.kind)
                          .where(IncidentEvent.incident_id == inc)).all()
    if digits == "3":
        assert "escalate_requested" in kinds and incident.level == 2
    if digits == "9":
        assert "not acknowledged" in r.get_data(as_text=True)


@pytest.mark.parametrize(("digits", "verb"), [("1", "acknowledge"), ("2", "resolve"),
                                             ("3", "escalate")])
def test_a_viewers_key_press_is_refused_and_changes_nothing(
        digits: str, verb: str, factory: Any, tclient: Any, called: tuple[int, Any],
        cast: Cast) -> None:
    inc, call = called
    page = page_row(factory, inc)
    with factory() as s, s.begin():
        s.execute(update(User).where(User.id == cast.alice.id).values(role="viewer"))
    before = incident_state(factory, inc)
    r = post_signed(tclient, f"/twilio/voice/gather?page={page.id}",
                    call_form(call, Digits=digits))
    assert r.status_code == 200
    said = ElementTree.fromstring(r.get_data()).findtext("Say") or ""
    assert said.startswith(f"You are not allowed to {verb} incidents: you are a viewer")
    assert incident_state(factory, inc) == before == ("triggered", before[1])
    with factory() as s:
        assert s.scalars(select(TwilioInbound)).all() == []  # nothing recorded at all
    answer = post_signed(tclient, f"/twilio/voice?page={page.id}", call_form(call))
    xml = ElementTree.fromstring(answer.get_data())
    assert xml.find("Gather") is None  # a viewer's call reads the incident, offers no keys
    assert f"incident {inc} for billing-api" in (xml.findtext("Say") or "")
    assert "You are not allowed to acknowledge incidents" in (xml.findtext("Say") or "")


def test_a_deactivated_persons_call_offers_no_keys_and_a_key_press_changes_nothing(
        factory: Any, tclient: Any, called: tuple[int, Any], cast: Cast) -> None:
    """Deactivation ends access on every channel (``oncall.incidents.respond``)."""
    inc, call = called
    page = page_row(factory, inc)
    with factory() as s, s.begin():
        s.execute(update(User).where(User.id == cast.alice.id).values(
            deactivated_at=s.get(Incident, inc).created_at))
    before = incident_state(factory, inc)
    r = post_signed(tclient, f"/twilio/voice/gather?page={page.id}",
                    call_form(call, Digits="1"))
    said = ElementTree.fromstring(r.get_data()).findtext("Say") or ""
    assert said == ("Your oncall account is deactivated: you can no longer act on "
                    "incidents. Goodbye.")
    assert incident_state(factory, inc) == before
    answer = post_signed(tclient, f"/twilio/voice?page={page.id}", call_form(call))
    assert ElementTree.fromstring(answer.get_data()).find("Gather") is None


def test_a_key_from_another_call_or_number_cannot_act(factory: Any, tclient: Any,
                                                      called: tuple[int, Any]) -> None:
    inc, call = called
    page = page_row(factory, inc)
    for form in (call_form(call, Digits="1", CallSid="CA" + "9" * 32),
                 call_form(call, Digits="1", To="+14155559999")):
        r = post_signed(tclient, f"/twilio/voice/gather?page={page.id}", form)
        assert "cannot act" in r.get_data(as_text=True)
    forged = tclient.post(f"/twilio/voice/gather?page={page.id}", data=call_form(call, Digits="1"),
                          headers={"X-Twilio-Signature": sign(
                              "https://oncall.example.com/twilio/voice/gather?page=999",
                              call_form(call, Digits="1"))})
    assert forged.status_code == 403
    assert incident_state(factory, inc)[0] == "triggered"
