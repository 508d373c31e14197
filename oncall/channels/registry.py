"""Which channels exist, which reach a user, and starting the configured ones.

Provider channels (``sms``, ``voice``, ``slack``, ``email``) register themselves from their
package's ``setup(settings)`` when their credentials are configured; :func:`setup` is the one place
that calls those, at web and worker start. ``console`` is always registered; it is part of
everyone's default notification rules in the embedded setup and whenever no provider is
configured, so ``oncall up`` keeps printing pages.
"""

from __future__ import annotations

import logging
from typing import Any

from oncall.channels import Channel, Recipient
from oncall.channels.console import ConsoleChannel
from oncall.models import User

log = logging.getLogger(__name__)

PROVIDERS = ("sms", "voice", "slack", "email")
# Channels that make no network call: sent in batches right where incidents are stepped.
# Every other channel is sent by tasks, in parallel, so one slow provider holds up no one.
LOCAL = ("console",)
# The order a user's reachable channels are listed in (the built-in defaults follow it).
PREFERENCE = ("sms", "voice", "slack", "email")

_CHANNELS: dict[str, Channel] = {"console": ConsoleChannel()}
_console_always = False


def channel(name: str) -> Channel:
    """The channel; the console stands in for a provider no longer configured (a page queued
    before a restart without its credentials still reaches someone's terminal, not a crash)."""
    if name not in _CHANNELS and name in PROVIDERS:
        return _CHANNELS["console"]
    return _CHANNELS[name]


def register(ch: Channel) -> None:
    _CHANNELS[ch.name] = ch


def unregister(name: str) -> None:
    """Forget a channel (tests; ``console`` stays)."""
    if name != "console":
        _CHANNELS.pop(name, None)


def enabled(name: str) -> bool:
    return name in _CHANNELS


NO_PROVIDER = ("no paging provider is configured (TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN/"
               "TWILIO_FROM_NUMBER, SLACK_BOT_TOKEN, ONCALL_SMTP_URL): pages only reach the "
               "worker's log")


def providers_configured() -> bool:
    """Whether a real provider (Twilio, Slack, SMTP) is configured: then the console, which only
    prints to the server's log, is nobody's personal channel."""
    return any(enabled(p) for p in PROVIDERS)


def console_pages() -> bool:
    """Whether the console is one of everyone's channels: embedded, or no provider at all."""
    return _console_always or not providers_configured()


def recipient_of(user: User) -> Recipient:
    return Recipient(user.email, user.name, user.phone, user.slack_id)


def reaches(name: str, recipient: Recipient) -> bool:
    """Whether channel ``name`` is enabled and has a contact for ``recipient``. A channel
    without a ``reaches`` method reaches everyone."""
    ch = _CHANNELS.get(name)
    if ch is None:
        return False
    check = getattr(ch, "reaches", None)
    return True if check is None else bool(check(recipient))


def channels_for(user: User) -> list[str]:
    """The enabled channels that reach ``user``, in order of preference (providers first,
    then any other channel, then the console where it pages). Contacts disabled after a
    permanent failure are filtered out by the caller (``oncall.channels.preferences``)."""
    who = recipient_of(user)
    named = [n for n in PREFERENCE if n in _CHANNELS]
    named += [n for n in _CHANNELS if n not in PREFERENCE and n != "console"]
    found = [n for n in named if reaches(n, who)]
    if console_pages():
        found.append("console")
    return found


def setup(settings: Any) -> None:
    """Register the channels whose providers are configured (called once per process by the
    web app factory and the worker). Each provider package adds its line here."""
    global _console_always
    _console_always = bool(getattr(settings, "embedded", False))
    from oncall.channels import email, slack, sms, voice

    sms.setup(settings)
    voice.setup(settings)
    slack.setup(settings)
    email.setup(settings)
    if not providers_configured() and not _console_always:
        # Said at every start: pages that reach nobody must not look like a healthy pager.
        # (``oncall up`` says it once itself, rather than once per process it starts.)
        log.warning("%s", NO_PROVIDER)
