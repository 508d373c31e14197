"""Which channels exist and which a user is paged on."""

from __future__ import annotations

from oncall.config import Settings
from oncall.models import User
from oncall.notify import Channel
from oncall.notify.console import ConsoleChannel

_CHANNELS: dict[str, Channel] = {"console": ConsoleChannel()}


def channel(name: str) -> Channel:
    return _CHANNELS[name]


def register(ch: Channel) -> None:
    _CHANNELS[ch.name] = ch


def unregister(name: str) -> None:
    _CHANNELS.pop(name, None)


def enabled(name: str) -> bool:
    """Whether the channel is registered (its provider is configured in this process)."""
    return name in _CHANNELS


def setup(settings: Settings) -> None:
    """Register the channels whose providers are configured. The web app factory and the
    worker call this once at start."""
    from oncall.notify import slack

    slack.setup(settings)


def channels_for(user: User) -> list[str]:
    """The channels a user is paged on, in order. Until personal notification rules exist
    every user is paged on the console channel."""
    return ["console"]
