"""SMS pages through Twilio, with short reply codes ("reply 4a to ack") in GoAlert's style.

The channel only makes the request; throttling, bundling and reply codes are decided before
it is called (``outbox``), replies are read by ``replies``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from oncall.config import Settings
from oncall.notify import OutgoingPage, Receipt
from oncall.notify.twilio_api import TwilioChannel, setup_channel

LOOKUP_LIMIT = 20  # the most recent messages to a number that a lookup reads
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

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """The SID of a message with this body that Twilio took for ``to`` since ``since``,
        if any: after a crash between our request and storing its answer, this tells
        whether the page already went out (so it is not sent twice)."""
        messages = self.api.client.api.v2010.account.messages
        recent = self.api.call(lambda: messages.list(to=to, limit=LOOKUP_LIMIT))
        for message in recent:
            created = message.date_created
            if message.body == body and (not isinstance(created, datetime)
                                         or created >= since - CLOCK_SKEW):
                return str(message.sid)
        return None


def setup(settings: Settings) -> SmsChannel | None:
    """Register the SMS channel when Twilio credentials are configured."""
    return setup_channel(settings, SmsChannel)
