"""Channels are plugins behind one small contract: ``send(page) -> Receipt``, raising
:class:`DeliveryError` (permanent or transient) when the provider says no.

Each channel lives in its own package (``console``, later ``sms``, ``voice``, ``slack``) with
its own failure classification beside it.
"""

from __future__ import annotations

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


class Channel(Protocol):
    name: str

    def send(self, page: OutgoingPage) -> Receipt: ...

    def reaches(self, recipient: Recipient) -> bool:
        """Whether ``recipient`` has a contact for this channel (a phone for sms/voice...)."""
        ...


def page_text(incident_id: int, severity: str, service: str, summary: str) -> str:
    return f"[{severity.upper()}] #{incident_id} {service}: {summary}"
