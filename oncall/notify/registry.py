"""Which channels exist and which a user is paged on."""

from __future__ import annotations

from oncall.models import User
from oncall.notify import Channel
from oncall.notify.console import ConsoleChannel

_CHANNELS: dict[str, Channel] = {"console": ConsoleChannel()}


def channel(name: str) -> Channel:
    return _CHANNELS[name]


def register(ch: Channel) -> None:
    _CHANNELS[ch.name] = ch


def channels_for(user: User) -> list[str]:
    """The channels a user is paged on, in order. Until personal notification rules exist
    every user is paged on the console channel."""
    return ["console"]
