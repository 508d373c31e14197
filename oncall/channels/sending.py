"""How the core hands a claimed page to its channel: straight to the channel's ``send``, or
through the channel's own outbox (``ChannelInfo.outbox``: throttling, bundling, a log of
requests made) that prepares a batch before the request and finishes it in the transaction
that stores the outcome. The core calls these three steps and names no channel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from oncall.channels import DeliveryError, OutgoingPage, registry

SendPage = Callable[[OutgoingPage], tuple[str | None, DeliveryError | None]]
# The core's claim on another due page, lent to an outbox that bundles pages into one send
# (``claim(session, page_id, now)``: whether it was taken, with a lease, for this send).
ClaimPage = Callable[[Session, int, datetime], bool]


@dataclass(frozen=True)
class Batch:
    """What to send, and every page row the one provider request delivers."""

    page: OutgoingPage
    page_ids: list[int]
    # An earlier request found at the provider (its send id and provider id): it is this
    # batch's outcome, and no new request is made.
    found: tuple[int, str] | None = None


class Outbox(Protocol):
    """A channel package's outbox module (see ``oncall.channels.sms.outbox``)."""

    def prepare(self, factory: sessionmaker[Session], outgoing: OutgoingPage,
                now: datetime, claim: ClaimPage) -> Batch | None: ...

    def send(self, batch: Any, send_page: SendPage) -> tuple[str | None, DeliveryError | None]:
        ...

    def finish(self, session: Session, batch: Any, provider_id: str | None,
               error: DeliveryError | None, now: datetime) -> None: ...


class Direct:
    """The outbox of a channel without one: the page alone, sent as it is, nothing stored."""

    @staticmethod
    def prepare(factory: sessionmaker[Session], outgoing: OutgoingPage,
                now: datetime, claim: ClaimPage) -> Batch | None:
        return Batch(outgoing, [outgoing.page_id])

    @staticmethod
    def send(batch: Batch, send_page: SendPage) -> tuple[str | None, DeliveryError | None]:
        return send_page(batch.page)

    @staticmethod
    def finish(session: Session, batch: Batch, provider_id: str | None,
               error: DeliveryError | None, now: datetime) -> None:
        return None


def outbox_for(channel: str) -> Outbox:
    """The channel's outbox, or :class:`Direct`."""
    found: Outbox | None = registry.outbox(channel)
    return found if found is not None else Direct()
