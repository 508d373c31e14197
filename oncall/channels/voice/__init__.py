"""Voice pages through Twilio: a call that reads the incident and waits for one key
(1 acknowledge, 2 resolve, 3 escalate). No key: the page did not acknowledge anything.

Twilio fetches what to say from ``/twilio/voice?page=<id>`` when the call is answered, and
posts the key to ``/twilio/voice/gather?page=<id>`` (see ``oncall.web.twilio``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oncall.channels import ChannelInfo, Defaults, OutgoingPage, Receipt
from oncall.channels.twilio import init_web
from oncall.channels.twilio.api import TwilioChannel, setup_channel

__all__ = ["INFO", "KEYS", "VoiceChannel", "init_web", "setup"]
from oncall.config import Settings

if TYPE_CHECKING:
    from twilio.twiml.voice_response import VoiceResponse

KEYS = {"1": "acknowledge", "2": "resolve", "3": "escalate"}
# In the built-in rules for critical and error, two minutes after the SMS when both reach
# the user; its requests are logged per number like the SMS's (``sms.outbox``).
INFO = ChannelInfo("voice", address=lambda recipient: recipient.phone,
                   defaults=Defaults(follows="sms", delay=120), phone=True,
                   outbox="oncall.channels.sms.outbox")


class VoiceChannel(TwilioChannel):
    name = "voice"

    def send(self, page: OutgoingPage) -> Receipt:
        to = self.destination(page)
        calls = self.api.client.api.v2010.account.calls
        # A notice (a test page) is no incident: its call only says so.
        url = f"{self.api.public_url}/twilio/voice/test" if page.kind == "notice" else \
            f"{self.api.public_url}/twilio/voice?page={page.page_id}"
        call = self.api.call(lambda: calls.create(
            to=to, from_=self.api.from_number, url=url, method="POST",
            # Only the default "completed" event: its CallStatus (completed, busy, no-answer,
            # failed) is all the escalation needs.
            status_callback=self.api.status_callback, status_callback_method="POST",
            timeout=30))
        return Receipt(provider_id=call.sid, detail=call.status)


def speakable(severity: str, incident_id: int, service: str, summary: str) -> str:
    return (f"This is on call. {severity} incident {incident_id} for {service}: {summary}. ")


def _twiml() -> VoiceResponse:
    """An empty TwiML voice response (the ``twilio`` SDK is imported on first use)."""
    from twilio.twiml.voice_response import VoiceResponse

    return VoiceResponse()


def gather_twiml(action: str, script: str) -> str:
    """Read the incident, take one key; with no key, say so and hang up."""
    response = _twiml()
    gather = response.gather(num_digits=1, action=action, method="POST", timeout=10,
                             input="dtmf", action_on_empty_result=False)
    gather.say(script + "Press 1 to acknowledge. Press 2 to resolve. Press 3 to escalate.")
    response.say("No key pressed. The incident is not acknowledged. Goodbye.")
    response.hangup()
    return str(response)


TEST_CALL = ("This is a test page from on call. There is no incident, and nothing to "
             "acknowledge. Your phone calls reach you. Goodbye.")


def say_twiml(text: str) -> str:
    response = _twiml()
    response.say(text)
    response.hangup()
    return str(response)


def setup(settings: Settings) -> VoiceChannel | None:
    """Register the voice channel when Twilio credentials are configured."""
    return setup_channel(settings, VoiceChannel)
