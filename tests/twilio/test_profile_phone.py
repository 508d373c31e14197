"""The profile's phone rules against the fake Twilio, through the real SMS and voice channels:
a number a person enters themselves is sent a 6-digit code and is never paged (SMS or voice)
until that code is entered, with a timeline entry saying why and the next channel used;
wrong, expired and reused codes are refused and counted; and "send me a test page" reaches
the provider, marked as a test, with no incident and no escalation."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from oncall.accounts import passwords, profile
from oncall.channels import preferences
from oncall.models import (
    Incident,
    IncidentEvent,
    Page,
    PhoneVerification,
    TestPage,
    User,
    utcnow,
)
from tests.conftest import Cast
from tests.fakes import FakeChannel, install
from tests.test_console import PASSWORD, csrf, sign_in
from tests.twilio.conftest import ALICE, Pager
from tests.twilio.fakes import FakeTwilio, post_signed

NEW = "+14155550199"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch, channels: Any) -> FakeChannel:
    """SMS, voice (the real channels, at the fake Twilio) and a fake Slack."""
    fake = install(monkeypatch, "slack")["slack"]
    channels("sms", "voice", "slack")
    return fake


def alice_signed_in(tclient: Any, factory: Any, cast: Cast) -> Any:
    with factory() as s, s.begin():
        s.execute(update(User).where(User.id == cast.alice.id).values(
            password_hash=passwords.hash_password(PASSWORD), slack_id="U0ALICE"))
    assert sign_in(tclient, cast.alice.email).status_code == 302
    return tclient


def alice(factory: Any, cast: Cast) -> User:
    with factory() as s:
        found = s.get(User, cast.alice.id)
        assert found is not None
        s.expunge(found)
        return found


def code_sent_to(twilio: FakeTwilio, number: str) -> str:
    bodies = [r.form["Body"] for r in twilio.accepted("message") if r.form["To"] == number]
    assert bodies, f"no SMS to {number}"
    found = re.search(r"code is (\d{6})", bodies[-1])
    assert found, bodies[-1]
    return found.group(1)


def timeline(factory: Any, incident_id: int) -> list[tuple[str, dict[str, Any]]]:
    with factory() as s:
        return [(e.kind, e.detail) for e in s.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.id))]


def sms_to(twilio: FakeTwilio, number: str) -> list[str]:
    return [r.form["Body"] for r in twilio.accepted("message") if r.form["To"] == number]


def test_a_self_entered_phone_is_verified_by_the_code_sent_to_it(
        tclient: Any, factory: Any, cast: Cast, fake_twilio: FakeTwilio,
        slack: FakeChannel) -> None:
    client = alice_signed_in(tclient, factory, cast)
    token = csrf(client, "/profile")
    r = client.post("/profile/contacts", data={"csrf_token": token, "phone": NEW,
                                               "slack_id": "U0ALICE"})
    assert r.status_code == 302
    me = alice(factory, cast)
    assert (me.phone, me.phone_source, me.phone_verified_at) == (NEW, "self", None)
    assert not preferences.phone_verified(me)
    code = code_sent_to(fake_twilio, NEW)
    page = client.get("/profile").get_data(as_text=True)
    assert "not verified: not paged" in page and "Verify +14155550199" in page

    # Another code within the minute is refused (and nothing is sent).
    r = client.post("/profile/phone/code", data={"csrf_token": token})
    assert r.status_code == 429 and "wait" in r.get_data(as_text=True)
    assert len(sms_to(fake_twilio, NEW)) == 1

    wrong = "000000" if code != "000000" else "111111"
    r = client.post("/profile/phone/verify", data={"csrf_token": token, "code": wrong})
    assert r.status_code == 400
    assert "wrong code: 4 attempts left" in r.get_data(as_text=True)
    with factory() as s:
        assert s.scalar(select(PhoneVerification.attempts)) == 1  # the attempt was counted
    assert not preferences.phone_verified(alice(factory, cast))

    r = client.post("/profile/phone/verify", data={"csrf_token": token, "code": code})
    assert r.status_code == 302
    me = alice(factory, cast)
    assert me.phone_verified_at is not None and preferences.phone_verified(me)
    # The code is used once.
    r = client.post("/profile/phone/verify", data={"csrf_token": token, "code": code})
    assert r.status_code == 400 and "already verified" in r.get_data(as_text=True)
    with factory() as s:
        row = s.scalar(select(PhoneVerification))
        assert row is not None and row.used_at is not None
        assert code not in row.code_hash  # only a keyed hash is kept


def test_wrong_codes_run_out_and_an_expired_code_is_refused(
        tclient: Any, factory: Any, cast: Cast, fake_twilio: FakeTwilio,
        slack: FakeChannel) -> None:
    client = alice_signed_in(tclient, factory, cast)
    token = csrf(client, "/profile")
    client.post("/profile/contacts", data={"csrf_token": token, "phone": NEW})
    code = code_sent_to(fake_twilio, NEW)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(profile.MAX_ATTEMPTS):
        assert client.post("/profile/phone/verify",
                           data={"csrf_token": token, "code": wrong}).status_code == 400
    r = client.post("/profile/phone/verify", data={"csrf_token": token, "code": code})
    assert r.status_code == 400 and "too many wrong codes" in r.get_data(as_text=True)
    assert not preferences.phone_verified(alice(factory, cast))

    # A new code (after the minute), then left to expire.
    with factory() as s, s.begin():
        s.execute(update(PhoneVerification).values(
            created_at=utcnow() - timedelta(minutes=2)))
    assert client.post("/profile/phone/code", data={"csrf_token": token}).status_code == 302
    code = code_sent_to(fake_twilio, NEW)
    with factory() as s, s.begin():
        s.execute(update(PhoneVerification).where(PhoneVerification.used_at.is_(None),
                                                  PhoneVerification.superseded_at.is_(None))
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
    r = client.post("/profile/phone/verify", data={"csrf_token": token, "code": code})
    assert r.status_code == 400 and "expired" in r.get_data(as_text=True)
    assert not preferences.phone_verified(alice(factory, cast))


def test_an_unverified_phone_is_never_paged_and_the_timeline_says_why(
        factory: Any, cast: Cast, pager: Pager, fake_twilio: FakeTwilio,
        slack: FakeChannel) -> None:
    with factory() as s, s.begin():
        s.execute(update(User).where(User.id == cast.alice.id).values(
            phone=NEW, phone_source="self", phone_verified_at=None, slack_id="U0ALICE"))
    first = pager.trigger()
    pager.tick()
    assert sms_to(fake_twilio, NEW) == [] and fake_twilio.accepted("call") == []
    assert slack.who() == ["alice@example.com"]  # the next channel was used
    skipped = [d for kind, d in timeline(factory, first) if kind == "channel_skipped"]
    assert {(d["channel"], d["reason"]) for d in skipped} == \
        {("sms", "phone not verified"), ("voice", "phone not verified")}
    with factory() as s:
        assert set(s.scalars(select(Page.channel).where(Page.incident_id == first))) == \
            {"slack"}

    # Verified: paged by SMS from then on.
    with factory() as s, s.begin():
        s.execute(update(User).where(User.id == cast.alice.id).values(
            phone_verified_at=utcnow()))
    second = pager.trigger(labels={"merchant_id": "globex"}, summary="Globex failures")
    assert second != first
    pager.tick()
    assert len(sms_to(fake_twilio, NEW)) == 1
    assert "channel_skipped" not in [kind for kind, _ in timeline(factory, second)]


def test_a_page_queued_before_the_number_changed_is_not_sent_to_the_new_one(
        factory: Any, cast: Cast, pager: Pager, fake_twilio: FakeTwilio,
        slack: FakeChannel) -> None:
    """SMS now and a call in two minutes, to an admin-set number; the person then enters a
    new number themselves: the queued call is not made to it, and Slack is used."""
    with factory() as s, s.begin():
        s.execute(update(User).where(User.id == cast.alice.id).values(slack_id="U0ALICE"))
        preferences.replace(s, cast.alice.id, {"critical": [preferences.Rule("sms"),
                                                      preferences.Rule("voice", 120)]})
    incident_id = pager.trigger()
    pager.tick()
    assert len(sms_to(fake_twilio, ALICE)) == 1
    with factory() as s, s.begin():
        s.execute(update(User).where(User.id == cast.alice.id).values(
            phone=NEW, phone_source="self", phone_verified_at=None))
    pager.tick(121)
    pager.tick(1)
    assert fake_twilio.accepted("call") == []
    assert slack.who() == ["alice@example.com"]
    kinds = timeline(factory, incident_id)
    assert ("channel_skipped", "voice") in [(k, d.get("channel")) for k, d in kinds]
    with factory() as s:
        voice = s.scalar(select(Page).where(Page.incident_id == incident_id,
                                            Page.channel == "voice"))
        assert voice is not None and (voice.status, voice.error) == \
            ("cancelled", "phone not verified")


def test_a_test_page_reaches_the_provider_and_opens_nothing(
        tclient: Any, factory: Any, cast: Cast, fake_twilio: FakeTwilio,
        slack: FakeChannel) -> None:
    client = alice_signed_in(tclient, factory, cast)  # ALICE: set by an admin, trusted
    token = csrf(client, "/profile")
    page = client.get("/profile").get_data(as_text=True)
    for ch in ("sms", "voice", "slack"):
        assert f'value="{ch}"' in page
    r = client.post("/profile/test", data={"csrf_token": token, "channel": "sms"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert "Test page sent on sms" in r.get_data(as_text=True)
    [body] = sms_to(fake_twilio, ALICE)
    assert body.startswith("TEST page from oncall — no incident")

    r = client.post("/profile/test", data={"csrf_token": token, "channel": "voice"})
    assert r.status_code == 200
    [call] = fake_twilio.accepted("call")
    assert call.form["To"] == ALICE and call.form["Url"].endswith("/twilio/voice/test")
    said = post_signed(client, "/twilio/voice/test", {"CallSid": call.sid or ""})
    assert "test page" in said.get_data(as_text=True) and "<Gather" not in \
        said.get_data(as_text=True)

    assert client.post("/profile/test", data={"csrf_token": token,
                                              "channel": "slack"}).status_code == 200
    assert slack.sent[0].kind == "notice" and slack.sent[0].incident_id is None

    # One a minute per channel.
    r = client.post("/profile/test", data={"csrf_token": token, "channel": "sms"})
    assert r.status_code == 429 and "wait" in r.get_data(as_text=True)
    assert len(sms_to(fake_twilio, ALICE)) == 1
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 0
        assert s.scalar(select(func.count()).select_from(Page)) == 0
        assert sorted(s.scalars(select(TestPage.channel).where(TestPage.status == "sent"))) \
            == ["slack", "sms", "voice"]


def test_a_failed_test_page_shows_the_providers_reason(
        tclient: Any, factory: Any, cast: Cast, fake_twilio: FakeTwilio,
        slack: FakeChannel) -> None:
    client = alice_signed_in(tclient, factory, cast)
    token = csrf(client, "/profile")
    fake_twilio.fail(400, 21211)
    r = client.post("/profile/test", data={"csrf_token": token, "channel": "sms"})
    assert r.status_code == 502
    text = r.get_data(as_text=True)
    assert "Test page on sms failed" in text and "21211" in text
    with factory() as s:
        assert s.scalar(select(TestPage.status)) == "failed"
        assert s.scalar(select(func.count()).select_from(Incident)) == 0


def test_no_test_page_to_an_unverified_number(
        tclient: Any, factory: Any, cast: Cast, fake_twilio: FakeTwilio,
        slack: FakeChannel) -> None:
    client = alice_signed_in(tclient, factory, cast)
    with factory() as s, s.begin():
        s.execute(update(User).where(User.id == cast.alice.id).values(
            phone=NEW, phone_source="self", phone_verified_at=None))
    token = csrf(client, "/profile")
    r = client.post("/profile/test", data={"csrf_token": token, "channel": "sms"})
    assert r.status_code == 400 and "verify your phone number first" in r.get_data(as_text=True)
    assert sms_to(fake_twilio, NEW) == []


def test_the_simulator_says_an_unverified_phone_is_skipped(
        tclient: Any, factory: Any, cast: Cast, fake_twilio: FakeTwilio,
        slack: FakeChannel) -> None:
    with factory() as s, s.begin():
        s.execute(update(User).where(User.id == cast.alice.id).values(
            phone=NEW, phone_source="self", phone_verified_at=None, slack_id="U0ALICE"))
    r = tclient.post("/api/v1/simulate", headers=cast.auth("alice"), json={
        "service": cast.service.name, "type": "charge_failure", "severity": "critical"})
    assert r.status_code == 200, r.json
    text = str(r.json["timeline"])
    assert "alice@example.com: no sms (phone not verified)" in text
    first = next(e for e in r.json["timeline"] if e.get("recipient") == "alice@example.com")
    assert [c["channel"] for c in first["channels"]] == ["slack"]
    assert fake_twilio.requests == []
