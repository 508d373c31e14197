"""Pure parts of the Twilio channels: reply parsing, the throttle table, error classes,
message text, and the settings."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oncall.channels import registry
from oncall.channels.sms import throttle
from oncall.channels.sms.replies import Command, parse
from oncall.channels.sms.text import MAX_SMS, Item, bundle, single
from oncall.channels.twilio.api import is_permanent_code, retry_after
from oncall.config import Settings, load_settings


@pytest.mark.parametrize(("body", "expected"), [
    ("1a", Command("ack", 1)), ("  12 R ", Command("resolve", 12)), ("a3", Command("ack", 3)),
    ("ACK 4821", Command("ack", 4821)), ("4 esc", Command("escalate", 4)),
    ("e", Command("escalate")), ("A", Command("ack")), ("aa", Command("ack_all")),
    ("Ack All", Command("ack_all")), ("HELP", Command("help")), ("?", Command("help")),
    ("1x", Command("unknown")), ("stop it", Command("unknown")), ("", Command("unknown")),
    ("1a2", Command("unknown")),
])
def test_parse(body: str, expected: Command) -> None:
    assert parse(body) == expected


T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_throttle_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(throttle.THROTTLE, "sms", [throttle.Rule(5, timedelta(minutes=15)),
                                                   throttle.Rule(2, timedelta(minutes=1))])
    at = [T0 + timedelta(seconds=s) for s in (0, 10)]
    assert throttle.next_allowed("sms", [], T0) is None
    assert throttle.next_allowed("sms", at[:1], T0 + timedelta(seconds=5)) is None
    assert throttle.next_allowed("sms", at, T0 + timedelta(seconds=20)) == T0 + timedelta(
        minutes=1)
    five = [T0 + timedelta(minutes=m) for m in (0, 2, 4, 6, 8)]
    assert throttle.next_allowed("sms", five, T0 + timedelta(minutes=9)) == T0 + timedelta(
        minutes=15)
    assert throttle.next_allowed("sms", five, T0 + timedelta(minutes=15)) is None
    assert throttle.next_allowed("console", five, T0) is None


@pytest.mark.parametrize(("code", "status", "permanent"), [
    (21211, 400, True), (21610, 400, True), (20429, 429, False), (20500, 500, False),
    (None, 503, False), (None, 404, True), (30003, None, False), (30006, None, True),
    (99999, None, False), (20003, 401, True),
])
def test_error_classes(code: int | None, status: int | None, permanent: bool) -> None:
    assert is_permanent_code(code, status) is permanent


def test_retry_after() -> None:
    assert retry_after({"retry-after": "30"}) == 30.0
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None


def test_text_fits_one_twilio_message() -> None:
    long = Item(7, 42, "critical", "billing-api", "x" * 3000)
    assert len(single(long)) == MAX_SMS and single(long).endswith("7e to escalate.")
    many = [Item(i, 100 + i, "warning", f"svc{i % 3}", "y" * 200) for i in range(1, 40)]
    text = bundle(many)
    assert len(text) <= MAX_SMS and text.startswith("39 open incidents:")
    assert "\n..." in text and text.endswith("1a to ack, 1r to resolve #101.")


def test_every_sms_carries_its_own_reference_and_still_fits() -> None:
    from oncall.channels.sms.text import REF_ROOM, new_ref, ref_of, with_ref

    refs = {new_ref() for _ in range(1000)}
    assert len(refs) == 1000
    long = Item(7, 42, "critical", "billing-api", "x" * 3000)
    ref = new_ref()
    body = with_ref(single(long, reserve=REF_ROOM), ref)
    assert len(body) == MAX_SMS and ref_of(body) == ref
    assert body.endswith(f"7e to escalate.\n(ref {ref})")  # the reply hint is kept
    many = [Item(i, 100 + i, "warning", f"svc{i % 3}", "y" * 200) for i in range(1, 40)]
    assert len(with_ref(bundle(many, reserve=REF_ROOM), ref)) <= MAX_SMS
    assert ref_of("[CRITICAL] #4 api: down\nReply 1a to ack") is None
    assert ref_of(f"quoted (ref {ref}) in the middle") is None
    assert ref_of(f"x\n(ref {ref.lower()})") is None


def test_twilio_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_FILE", str(secret))
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+12125550147")
    monkeypatch.setenv("TWILIO_API_BASE_URL", "http://127.0.0.1:4010")
    s = load_settings(tmp_path)
    assert (s.twilio_account_sid, s.twilio_auth_token, s.twilio_from_number,
            s.twilio_api_base_url) == ("AC123", "s3cret", "+12125550147", "http://127.0.0.1:4010")
    assert s.twilio_enabled
    monkeypatch.delenv("TWILIO_AUTH_TOKEN_FILE")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    assert not load_settings(tmp_path).twilio_enabled


def test_without_credentials_the_console_stands_in(settings: Settings,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_CHANNELS", dict(registry._CHANNELS))
    registry.setup(settings)
    assert not registry.enabled("sms") and not registry.enabled("voice")
    assert registry.channel("sms").name == registry.channel("voice").name == "console"
    registry.setup(dataclasses.replace(settings, twilio_account_sid="AC1",
                                       twilio_auth_token="t"))
    assert registry.enabled("sms") and registry.enabled("voice")
    assert registry.channel("sms").name == "sms"


def test_a_single_page_links_to_its_incident_and_a_bundle_does_not() -> None:
    from oncall.channels.sms import text as sms_text

    one = sms_text.Item(1, 42, "critical", "billing-api", "Charge failures")
    two = sms_text.Item(2, 43, "error", "billing-api", "Cron missed")
    body = sms_text.bundle([one], base_url="https://oncall.example.com")
    assert body.splitlines()[1] == "https://oncall.example.com/incidents/42"
    assert "/incidents/" not in sms_text.bundle([one])
    assert "/incidents/" not in sms_text.bundle([one, two], base_url="https://x.example")
    long = sms_text.Item(1, 42, "critical", "svc", "x" * 3000)
    cut = sms_text.single(long, sms_text.REF_ROOM, "https://oncall.example.com")
    assert len(cut) <= sms_text.MAX_SMS - sms_text.REF_ROOM and "/incidents/42" in cut
