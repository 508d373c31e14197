"""Channels are plugins: one package each (``console``, ``sms``, ``voice``, ``slack``,
``email``, ``webhook``), listed once in ``registry.PACKAGES``. The core names no channel.

What a channel package provides (see docs/channels.md, "Adding a channel"):

- ``INFO``: a :class:`ChannelInfo` per channel it provides (``INFO`` or ``INFOS``): its name,
  the contact it uses for a user (``address``), its place in the built-in notification rules
  (``defaults``; None: only users whose rules name it), whether it pages a phone number (never
  before a self-entered number is verified), and whether its pages are sent one by one
  through the package's own ``prepare``/``finish`` (throttling, bundling: ``outbox``).
- ``setup(settings)``: read its own configuration and ``registry.register`` a :class:`Channel`
  (or ``registry.unregister`` it when not configured).
- optionally ``status(settings)`` (one line for ``/ready``), ``init_web(app)`` (its
  inbound replies and status callbacks: web endpoints registered by the package itself) and
  ``after_change(incident_id)`` (an incident's state changed, committed: rewrite the
  messages the channel keeps about it, as Slack does).

A :class:`Channel` sends one page (``send(page) -> Receipt``), raising
:class:`DeliveryError` (permanent or transient) when the provider says no, and says whether it
``reaches`` a recipient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Recipient:
    email: str | None
    name: str
    phone: str | None = None
    slack_id: str | None = None


@dataclass(frozen=True)
class OutgoingPage:
    """What a channel sends: a page about an incident, or (``kind="notice"``, no incident)
    an informational message such as the start of an on-call shift."""

    page_id: int
    incident_id: int | None
    channel: str
    recipient: Recipient
    severity: str
    summary: str
    service: str
    level: int
    text: str
    kind: str = "page"
    # Set when the incident was closed (its status: acknowledged, resolved) after the page
    # was claimed, while an earlier request for it may have gone out unrecorded: such a page
    # is never sent, only looked up (sent after all, or cancelled).
    closed: str | None = None
    loop: int = 0  # which time round the policy (0: the first)


@dataclass(frozen=True)
class Receipt:
    provider_id: str | None
    detail: str | None = None


class DeliveryError(Exception):
    """The provider did not take the page. ``permanent`` failures are not retried (the
    contact is disabled and the user's next channel is tried); transient ones are, with
    backoff, no sooner than ``retry_after`` seconds when the provider said so (HTTP 429).

    ``answer_lost``: the request may have reached the provider, only its answer never came
    back (a read timeout, a connection dropped after the request was written). Whether the
    page went out is then not known, and is looked up before it is sent again."""

    def __init__(self, message: str, *, permanent: bool,
                 retry_after: float | None = None, answer_lost: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.answer_lost = answer_lost


@dataclass(frozen=True)
class Defaults:
    """A channel's part in the built-in notification rules (users without rules of their
    own). Critical and error page every such channel now, except one that ``follows``
    another usable channel by ``delay`` seconds (a call after an SMS). Warning and info page
    the usable channel with the lowest ``quiet_rank``, else the first usable one."""

    follows: str | None = None
    delay: int = 0
    quiet_rank: int | None = None


@dataclass(frozen=True)
class ChannelInfo:
    """What the core knows of a channel, configured or not (a package's ``INFO``)."""

    name: str
    # The contact this channel uses for a recipient (what a disabled contact is tied to).
    address: Callable[[Recipient], str | None]
    defaults: Defaults | None = None
    phone: bool = False  # pages a phone number: not before a self-entered one is verified
    # Pages go one by one through the package's ``outbox`` (``prepare``/``send``/``finish``).
    outbox: str | None = None
    # A policy level may post to one of its rooms: the target ``{type: <name>, ref: <room>}``
    # pages the recipient ``<name>:<room>`` (a Slack channel).
    rooms: bool = False
    # What the timeline says of such a target while the channel is not configured.
    off_reason: str = ""


class Channel(Protocol):
    name: str

    def send(self, page: OutgoingPage) -> Receipt: ...

    def reaches(self, recipient: Recipient) -> bool:
        """Whether ``recipient`` has a contact for this channel (a phone for sms/voice...)."""
        ...


def page_text(incident_id: int, severity: str, service: str, summary: str) -> str:
    return f"[{severity.upper()}] #{incident_id} {service}: {summary}"
