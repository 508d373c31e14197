"""The ``slack`` channel: a direct message to the paged user, or a post to a channel for a
``slack:#channel`` escalation target. Every post about an incident is recorded in
``slack_messages`` so that it can be rewritten when the incident changes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from oncall.channels import DeliveryError, OutgoingPage, Receipt, Recipient
from oncall.channels.slack import blocks, store
from oncall.models import User, utcnow

if TYPE_CHECKING:
    from slack_sdk import WebClient

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "slack:"


class SlackChannel:
    name = "slack"

    def __init__(self, client: Callable[[], WebClient],
                 factory: Callable[[], sessionmaker[Session]]) -> None:
        self._client = client
        self._factory = factory

    def reaches(self, recipient: Recipient) -> bool:
        return bool(recipient.slack_id or recipient.email
                    or recipient.name.startswith(CHANNEL_PREFIX))

    def send(self, page: OutgoingPage) -> Receipt:
        client = self._client()
        if page.kind == "notice" or page.incident_id is None:
            target, _, _ = self._destination(client, page.recipient)
            posted = _call("chat.postMessage", client.chat_postMessage, channel=target,
                           **blocks.notice(page.text))
            return Receipt(provider_id=str(posted["ts"]), detail=str(posted["channel"]))
        with self._factory()() as session:
            view = store.incident_view(session, page.incident_id)
        if view is None:
            raise DeliveryError(f"incident {page.incident_id} is gone", permanent=True)
        if view.status != "triggered":  # acknowledged since the outbox re-checked it
            return Receipt(provider_id=None, detail=f"not posted: incident {view.status}")
        target, kind, paged = self._destination(client, page.recipient)
        posted = _call("chat.postMessage", client.chat_postMessage, channel=target,
                       unfurl_links=False, unfurl_media=False, **blocks.message(view, paged))
        channel_id, ts = str(posted["channel"]), str(posted["ts"])
        with self._factory()() as session, session.begin():
            store.record_message(session, page.incident_id, page.page_id, channel_id, ts, kind,
                                 view.version(), utcnow())
        # Acknowledged while we were posting? Its refresh found no message yet: do it now.
        try:
            store.refresh(self._factory(), client, page.incident_id)
        except Exception:  # the page is out; a stale button is answered politely anyway
            log.exception("slack: refresh after posting about incident %s failed",
                          page.incident_id)
        return Receipt(provider_id=ts, detail=channel_id)

    def _destination(self, client: WebClient,
                     recipient: Recipient) -> tuple[str, str, str | None]:
        """(channel to post to, "channel" or "dm", who a DM pages as a mention)."""
        if recipient.email is None and recipient.name.startswith(CHANNEL_PREFIX):
            return recipient.name[len(CHANNEL_PREFIX):], "channel", None
        slack_id = self._slack_id(client, recipient)
        opened = _call("conversations.open", client.conversations_open, users=slack_id)
        return str(opened["channel"]["id"]), "dm", f"<@{slack_id}>"

    def _slack_id(self, client: WebClient, recipient: Recipient) -> str:
        """The recipient's Slack member id; found by email the first time, and then kept
        on the user, which also links their Slack account for the buttons."""
        if recipient.slack_id:
            return recipient.slack_id
        if not recipient.email:
            raise DeliveryError(f"{recipient.name} has no Slack id and no email",
                                permanent=True)
        found = _call("users.lookupByEmail", client.users_lookupByEmail, email=recipient.email)
        slack_id = str(found["user"]["id"])
        with self._factory()() as session, session.begin():
            session.execute(update(User).where(User.email == recipient.email,
                                               User.slack_id.is_(None))
                            .values(slack_id=slack_id))
        return slack_id


def _call(what: str, method: Callable[..., Any], **kwargs: Any) -> Any:
    from oncall.channels.slack.api import NETWORK_ERRORS, delivery_error  # slack_sdk, on use

    try:
        return method(**kwargs)
    except NETWORK_ERRORS as exc:
        raise delivery_error(exc, what) from exc
