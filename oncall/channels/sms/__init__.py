"""SMS pages through Twilio, with short reply codes ("reply 4a to ack") in GoAlert's style.

The channel only makes the request; throttling, bundling and reply codes are decided before
it is called (``outbox``), replies are read by ``replies``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from oncall.channels import ChannelInfo, Defaults, OutgoingPage, Receipt
from oncall.channels.sms import text as sms_text
from oncall.channels.twilio import init_web
from oncall.channels.twilio.api import TwilioChannel, setup_channel
from oncall.config import Settings

__all__ = ["INFO", "SmsChannel", "init_web", "setup"]

# Throttled and bundled per number by ``outbox`` (shared with voice); in the built-in rules
# for warning and info after Slack.
INFO = ChannelInfo("sms", address=lambda recipient: recipient.phone,
                   defaults=Defaults(quiet_rank=2), phone=True,
                   outbox="oncall.channels.sms.outbox")

# The most messages to one number a lookup reads (newest first, 50 a page), and how far
# before the request's own time it reads (clocks differ).
LOOKUP_LIMIT = 500
LOOKUP_PAGE = 50
CLOCK_SKEW = timedelta(minutes=2)


class SmsChannel(TwilioChannel):
    name = "sms"

    def send(self, page: OutgoingPage) -> Receipt:
        to = self.destination(page)
        messages = self.api.client.api.v2010.account.messages
        message = self.api.call(lambda: messages.create(
            to=to, from_=self.api.from_number, body=page.text,
            status_callback=self.api.status_callback))
        return Receipt(provider_id=message.sid, detail=message.status)

    def find_sent(self, to: str, ref: str, since: datetime) -> str | None:
        """The SID of the message Twilio took for ``to`` whose body carries the reference
        ``ref`` (unique to one request, see ``text.with_ref``), if any: after a crash
        between our request and storing its answer, this tells exactly whether that request
        went out. Reads the number's messages from us newest first, back to ``since``
        (less the clock skew)."""
        messages = self.api.client.api.v2010.account.messages
        oldest = since - CLOCK_SKEW

        def look() -> str | None:
            page = messages.page(to=to, from_=self.api.from_number, page_size=LOOKUP_PAGE)
            read = 0
            while True:
                records = list(page)
                for message in records:
                    if sms_text.ref_of(message.body or "") == ref:
                        return str(message.sid)
                    created = message.date_created
                    if isinstance(created, datetime) and created < oldest:
                        return None  # older than the request: it is not there
                read += len(records)
                if len(records) < LOOKUP_PAGE or read >= LOOKUP_LIMIT:
                    return None  # the last page, or as far back as a lookup reads
                following = page.next_page()
                if following is None:
                    return None
                page = following

        return self.api.call(look)


def setup(settings: Settings) -> SmsChannel | None:
    """Register the SMS channel when Twilio credentials are configured."""
    return setup_channel(settings, SmsChannel)
