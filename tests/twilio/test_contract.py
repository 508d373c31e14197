"""Contract: what the real twilio SDK sends for our pages is valid for Twilio's own OpenAPI
document, as checked by Prism (any request Prism rejects leaves the page unsent and fails
the test). A deliberately malformed request proves Prism does reject."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from oncall.channels import DeliveryError
from oncall.channels.twilio.api import TwilioAPI
from oncall.config import Settings
from oncall.models import Page, ProviderSend
from tests.conftest import Cast
from tests.twilio.conftest import Pager, twilio_settings_for


@pytest.fixture
def twilio_settings(settings: Settings, prism: str) -> Settings:
    return twilio_settings_for(settings, prism)


def sent(factory: Any) -> list[tuple[str, str | None, str | None]]:
    with factory() as s:
        return [(p.status, p.provider_id, p.error) for p in s.scalars(select(Page))]


@pytest.mark.parametrize(("channel", "prefix"), [("sms", ("SM", "MM")), ("voice", ("CA",))])
def test_pages_through_the_sdk_are_valid_twilio_requests(channel: str, prefix: tuple[str, ...],
                                                         factory: Any, pager: Pager,
                                                         channels: Any, cast: Cast) -> None:
    channels(channel)
    pager.trigger()
    pager.tick()
    [(status, sid, error)] = sent(factory)
    assert (status, error) == ("sent", None), error
    assert sid is not None and sid.startswith(prefix)
    with factory() as s:
        [send] = s.scalars(select(ProviderSend)).all()
    assert (send.channel, send.status, send.provider_id) == (channel, "accepted", sid)


def test_a_bundled_sms_is_a_valid_twilio_request(factory: Any, pager: Pager, cast: Cast) -> None:
    for i in range(3):
        pager.trigger(dedup_key=f"k{i}")
    pager.tick()
    rows = sent(factory)
    assert [r[0] for r in rows] == ["sent"] * 3 and len({r[1] for r in rows}) == 1


def test_prism_rejects_a_malformed_request_and_the_sdk_raises(twilio_settings: Settings) -> None:
    api = TwilioAPI(twilio_settings)
    messages = api.client.api.v2010.account.messages
    with pytest.raises(DeliveryError) as bad_url:
        api.call(lambda: messages.create(to="+14155550101", from_="+12125550147", body="x",
                                         status_callback="not a url"))
    assert "422" in str(bad_url.value) and bad_url.value.permanent
    assert "StatusCallback must match format" in str(bad_url.value)
    ok = api.call(lambda: messages.create(to="+14155550101", from_="+12125550147", body="x",
                                          status_callback=api.status_callback))
    assert ok.sid


def test_prism_rejects_a_request_without_credentials(twilio_settings: Settings) -> None:
    import requests

    r = requests.post(f"{twilio_settings.twilio_api_base_url}/2010-04-01/Accounts/"
                      f"{twilio_settings.twilio_account_sid}/Messages.json",
                      data={"To": "+14155550101", "From": "+12125550147", "Body": "x"},
                      timeout=10)
    assert r.status_code == 401


def test_the_lookup_of_a_lost_send_is_a_valid_twilio_request(twilio_settings: Settings) -> None:
    """``find_sent`` lists the number's messages from us (To, From, PageSize): Prism checks
    the request against Twilio's document and answers with generated messages, none of
    which carries our reference."""
    from datetime import timedelta

    from oncall.channels.sms import SmsChannel
    from oncall.channels.sms import text as sms_text
    from oncall.models import utcnow

    channel = SmsChannel(TwilioAPI(twilio_settings))
    ref = sms_text.new_ref()
    assert channel.find_sent("+14155550101", ref, utcnow() - timedelta(minutes=5)) is None
