"""Which channels exist, which reach a user, and starting the configured ones.

``PACKAGES`` is the one line of registration per channel: each package says what it is
(``INFO``) and registers its channel from its own ``setup(settings)`` when its provider is
configured; :func:`setup` calls those, at web and worker start. ``console`` is always
registered; it is part of everyone's default notification rules in the embedded setup and
whenever no provider is configured, so ``oncall up`` keeps printing pages.
"""

from __future__ import annotations

import functools
import importlib
import logging
from types import ModuleType
from typing import Any

from oncall.channels import Channel, ChannelInfo, Recipient
from oncall.channels.console import ConsoleChannel
from oncall.models import User

log = logging.getLogger(__name__)

# The channel packages, in the order a user's reachable channels are listed (the built-in
# defaults follow it). Adding a channel: its package, and its line here.
PACKAGES = (
    "oncall.channels.console",
    "oncall.channels.sms",
    "oncall.channels.voice",
    "oncall.channels.slack",
    "oncall.channels.email",
    "oncall.channels.webhook",
)
CONSOLE = "console"
# Channels that make no network call: sent in batches right where incidents are stepped.
# Every other channel is sent by tasks, in parallel, so one slow provider holds up no one.
LOCAL = (CONSOLE,)

_CHANNELS: dict[str, Channel] = {CONSOLE: ConsoleChannel()}
_console_always = False


@functools.cache
def packages() -> tuple[ModuleType, ...]:
    """The channel packages, imported (each is light: its provider's SDK loads on first use)."""
    return tuple(importlib.import_module(name) for name in PACKAGES)


@functools.cache
def known() -> dict[str, ChannelInfo]:
    """Every channel a package provides, configured or not, in the order of ``PACKAGES``."""
    infos: dict[str, ChannelInfo] = {}
    for package in packages():
        for info in getattr(package, "INFOS", None) or (package.INFO,):
            infos[info.name] = info
    return infos


def providers() -> tuple[str, ...]:
    """The channels that page through a provider (every one but the console)."""
    return tuple(name for name in known() if name != CONSOLE)


def names() -> tuple[str, ...]:
    """Every channel a package provides, the console last (as rules and forms list them)."""
    return (*providers(), CONSOLE)


def phone_channels() -> tuple[str, ...]:
    return tuple(name for name, info in known().items() if info.phone)


def one_by_one() -> tuple[str, ...]:
    """Channels whose pages are claimed and sent one at a time through their package's
    ``outbox`` (throttling, bundling): the sweeper leaves them out of its batches."""
    return tuple(name for name, info in known().items() if info.outbox)


def room_channels() -> tuple[str, ...]:
    """Channels a policy level may post to a room of (``slack:#room``)."""
    return tuple(name for name, info in known().items() if info.rooms)


def off_reason(name: str) -> str:
    info = known().get(name)
    return (info.off_reason if info else "") or f"{name} is not configured"


def outbox(name: str) -> Any | None:
    """The module that prepares and finishes this channel's sends, if it has one."""
    info = known().get(name)
    return importlib.import_module(info.outbox) if info and info.outbox else None


def channel(name: str) -> Channel:
    """The channel; the console stands in for a provider no longer configured (a page queued
    before a restart without its credentials still reaches someone's terminal, not a crash)."""
    if name not in _CHANNELS and name in known():
        return _CHANNELS[CONSOLE]
    return _CHANNELS[name]


def register(ch: Channel) -> None:
    _CHANNELS[ch.name] = ch


def unregister(name: str) -> None:
    """Forget a channel (tests; ``console`` stays)."""
    if name != CONSOLE:
        _CHANNELS.pop(name, None)


def enabled(name: str) -> bool:
    return name in _CHANNELS


def registered() -> tuple[str, ...]:
    """Every registered channel (a test's own among them), in the order registered."""
    return tuple(_CHANNELS)


NO_PROVIDER = ("no paging provider is configured (TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN/"
               "TWILIO_FROM_NUMBER, SLACK_BOT_TOKEN, ONCALL_SMTP_URL, ONCALL_WEBHOOK_URL): "
               "pages only reach the worker's log")


def providers_configured() -> bool:
    """Whether a real provider (Twilio, Slack, SMTP, a webhook) is configured: then the
    console, which only prints to the server's log, is nobody's personal channel."""
    return any(enabled(p) for p in providers())


def console_pages() -> bool:
    """Whether the console is one of everyone's channels: embedded, or no provider at all."""
    return _console_always or not providers_configured()


def recipient_of(user: User) -> Recipient:
    return Recipient(user.email, user.name, user.phone, user.slack_id)


def address(name: str, recipient: Recipient) -> str | None:
    """The contact channel ``name`` uses for ``recipient`` (None: no such contact)."""
    info = known().get(name)
    return info.address(recipient) if info else None


def reaches(name: str, recipient: Recipient) -> bool:
    """Whether channel ``name`` is enabled and has a contact for ``recipient``. A channel
    without a ``reaches`` method reaches everyone."""
    ch = _CHANNELS.get(name)
    if ch is None:
        return False
    check = getattr(ch, "reaches", None)
    return True if check is None else bool(check(recipient))


def in_defaults(name: str) -> bool:
    """Whether the channel takes part in the built-in rules and fallbacks (a channel no
    package declares, such as a test's, does)."""
    info = known().get(name)
    return info is None or info.defaults is not None


def channels_for(user: User) -> list[str]:
    """The enabled channels that reach ``user`` and take part in the built-in rules, in the
    order of ``PACKAGES`` (then any other registered channel, then the console where it
    pages). Contacts disabled after a permanent failure are filtered out by the caller
    (``oncall.channels.preferences``)."""
    who = recipient_of(user)
    named = [n for n in known() if n in _CHANNELS and n != CONSOLE]
    named += [n for n in _CHANNELS if n not in known()]
    found = [n for n in named if in_defaults(n) and reaches(n, who)]
    if console_pages():
        found.append(CONSOLE)
    return found


def setup(settings: Any) -> None:
    """Register the channels whose providers are configured (called once per process by the
    web app factory and the worker): every package's ``setup``, in order."""
    global _console_always
    _console_always = bool(getattr(settings, "embedded", False))
    for package in packages():
        configure = getattr(package, "setup", None)
        if configure is not None:
            configure(settings)
    if not providers_configured() and not _console_always:
        # Said at every start: pages that reach nobody must not look like a healthy pager.
        # (``oncall up`` says it once itself, rather than once per process it starts.)
        log.warning("%s", NO_PROVIDER)


def statuses(settings: Any) -> dict[str, str]:
    """One line per channel package that reports one (for ``/ready``)."""
    out: dict[str, str] = {}
    for package in packages():
        status = getattr(package, "status", None)
        if status is not None:
            out[package.__name__.rsplit(".", 1)[-1]] = status(settings)
    return out


def after_change(incident_id: int) -> None:
    """An incident's state changed (committed): every package that keeps messages about
    incidents rewrites them (its ``after_change``: Slack's buttons and status line)."""
    for package in packages():
        hook = getattr(package, "after_change", None)
        if hook is not None:
            hook(incident_id)


def init_web(app: Any) -> None:
    """Let each package register its web endpoints (inbound replies, status callbacks)."""
    for package in packages():
        hook = getattr(package, "init_web", None)
        if hook is not None:
            hook(app)
