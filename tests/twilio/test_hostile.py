"""Hostile Twilio webhooks, validly signed: text the database cannot hold, numbers no row can
have, digits that are not ASCII. Each is a 4xx or a harmless answer; nothing changes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.twilio import test_webhooks
from tests.twilio.fakes import post_signed
from tests.twilio.test_webhooks import call_form, incident_state, page_row, reply_form

paged = test_webhooks.paged  # fixtures: an SMS page, a voice page
called = test_webhooks.called


def test_an_sms_reply_with_a_nul_is_a_400_and_changes_nothing(factory: Any, tclient: Any,
                                                              paged: int) -> None:
    before = incident_state(factory, paged)
    r = post_signed(tclient, "/twilio/sms", reply_form("1a\x00"))
    assert r.status_code == 400 and r.json["field"] == "form.Body"
    assert incident_state(factory, paged) == before


@pytest.mark.parametrize("code", ["²", "9" * 5000, str(2**40)])
def test_a_status_callback_with_an_odd_error_code_is_taken(factory: Any, tclient: Any,
                                                           paged: int, code: str) -> None:
    page = page_row(factory, paged)
    r = post_signed(tclient, "/twilio/status", {
        "MessageSid": page.provider_id or "SMx", "MessageStatus": "delivered",
        "ErrorCode": code, "To": "+14155550101"})
    assert r.status_code == 200


@pytest.mark.parametrize("page", [str(2**31), str(2**63), "9" * 5000, "\u0661", "²"])
def test_a_voice_webhook_for_a_page_no_row_can_be_is_not_about_a_page(
        factory: Any, tclient: Any, called: tuple[int, Any], page: str) -> None:
    inc, call = called
    before = incident_state(factory, inc)
    for path in ("/twilio/voice", "/twilio/voice/gather"):
        r = post_signed(tclient, f"{path}?page={page}", call_form(call, Digits="1"))
        assert r.status_code == 200 and b"Goodbye" in r.data
    assert incident_state(factory, inc) == before
