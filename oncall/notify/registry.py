"""Which channels exist and which a user is paged on."""

from __future__ import annotations

from oncall.config import Settings
from oncall.models import User
from oncall.notify import Channel
from oncall.notify.console import ConsoleChannel

_CHANNELS: dict[str, Channel] = {"console": ConsoleChannel()}


# Channels whose provider may be unconfigured: the console stands in for them.
STAND_IN = ("sms", "voice", "slack")


def channel(name: str) -> Channel:
    if name not in _CHANNELS and name in STAND_IN:
        return _CHANNELS["console"]
    return _CHANNELS[name]


def register(ch: Channel) -> None:
    _CHANNELS[ch.name] = ch


def channels_for(user: User) -> list[str]:
    """The channels a user is paged on, in order. Until personal notification rules exist
    every user is paged on the console channel."""
    return ["console"]


def enabled(name: str) -> bool:
    return name in _CHANNELS


def setup(settings: Settings) -> None:
    """Register the channels whose providers are configured (the web app and the worker
    call this once at start). Without Twilio credentials the console stands in."""
    from oncall.notify import sms, voice

    sms.setup(settings)
    voice.setup(settings)
