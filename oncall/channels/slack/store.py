"""Slack messages about incidents: what to show (read from the database), which messages
exist (``slack_messages``), and rewriting them all when an incident changes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from oncall.channels import DeliveryError
from oncall.channels.slack import blocks
from oncall.incidents import alert_counts
from oncall.models import Alert, Incident, SlackMessage, User

if TYPE_CHECKING:
    from slack_sdk import WebClient

log = logging.getLogger(__name__)

RUNBOOK_KEYS = ("runbook_url", "runbook")


def actor_label(session: Session, actor: str | None) -> str | None:
    """How a timeline actor is shown: a Slack mention for a linked user, else a name."""
    if not actor:
        return None
    kind, _, ref = actor.partition(":")
    email = ref if kind == "user" else (actor if "@" in actor and not ref else None)
    if email:
        user = session.scalar(select(User).where(User.email == email))
        if user is not None:
            return f"<@{user.slack_id}>" if user.slack_id else blocks.escape(user.name)
        return blocks.escape(email)
    if kind == "integration":
        return f"{blocks.escape(ref)} (integration)"
    return blocks.escape(actor)


def runbook(session: Session, incident: Incident) -> str | None:
    """The incident's runbook (from its rule), else a link from the latest alert: a
    ``runbook_url``/``runbook`` label, or the Alertmanager/Grafana annotation of that name
    kept in the raw alert."""
    if incident.runbook:
        return incident.runbook
    incident_id = incident.id
    alert = session.scalar(select(Alert).where(Alert.incident_id == incident_id)
                           .order_by(Alert.id.desc()).limit(1))
    if alert is None:
        return None
    sources = [alert.labels or {}]
    if isinstance(alert.raw, dict) and isinstance(alert.raw.get("annotations"), dict):
        sources.append(alert.raw["annotations"])
    for source in sources:
        for key in RUNBOOK_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value.startswith(("https://", "http://")):
                return value
    return None


def incident_view(session: Session, incident_id: int) -> blocks.IncidentView | None:
    incident = session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        return None
    if incident.policy is not None:
        levels = len(incident.policy.levels)
    else:  # not stepped yet: the service's policy is the one it will take
        levels = len(incident.service.policy.levels) if incident.service.policy else 0
    return blocks.IncidentView(
        id=incident.id, status=incident.status, severity=incident.severity,
        summary=incident.summary, service=incident.service.name,
        alert_count=alert_counts(session, [incident.id]).get(incident.id, 0),
        level=incident.level, levels=levels,
        created_at=incident.created_at, runbook=runbook(session, incident),
        acked_by=actor_label(session, incident.acked_by), acked_at=incident.acked_at,
        resolved_by=actor_label(session, incident.resolved_by),
        resolved_at=incident.resolved_at)


def record_message(session: Session, incident_id: int, page_id: int | None, channel_id: str,
                   ts: str, kind: str, rendered: str, now: datetime) -> None:
    session.add(SlackMessage(incident_id=incident_id, page_id=page_id, channel_id=channel_id,
                             ts=ts, kind=kind, rendered=rendered, created_at=now))


@dataclass
class RefreshReport:
    updated: int = 0
    failed: list[str] = field(default_factory=list)  # permanent: given up on these messages
    retry: DeliveryError | None = None  # transient: run again later


ROUNDS = 3


def _claim(factory: sessionmaker[Session], message_id: int, version: str) -> bool:
    with factory() as session, session.begin():
        return bool(session.execute(
            update(SlackMessage).where(SlackMessage.id == message_id,
                                       SlackMessage.rendered.is_distinct_from(version))
            .values(rendered=version)).rowcount)  # type: ignore[attr-defined]


def _unclaim(factory: sessionmaker[Session], message_id: int, version: str,
             previous: str | None) -> None:
    """Give the claim back after a transient failure, so that the retry writes it."""
    with factory() as session, session.begin():
        session.execute(update(SlackMessage).where(SlackMessage.id == message_id,
                                                   SlackMessage.rendered == version)
                        .values(rendered=previous))


def refresh(factory: sessionmaker[Session], client: WebClient,
            incident_id: int) -> RefreshReport:
    """Rewrite every message about the incident that does not show its current state.

    Idempotent: a message already showing the current state is left alone, so a duplicate
    task costs a query. Two refreshes racing can finish out of order; each re-reads the state
    after its updates and goes round again if it moved, so the last word is the newest state.
    """
    from oncall.channels.slack.api import NETWORK_ERRORS, delivery_error  # slack_sdk, on use

    report = RefreshReport()
    for _ in range(ROUNDS):
        with factory() as session:
            view = incident_view(session, incident_id)
            stale = [] if view is None else list(session.scalars(
                select(SlackMessage).where(SlackMessage.incident_id == incident_id,
                                           SlackMessage.error.is_(None),
                                           SlackMessage.rendered.is_distinct_from(
                                               view.version()))
                .order_by(SlackMessage.id)))
        if view is None or not stale:
            return report
        content = blocks.message(view)
        version = view.version()
        for msg in stale:
            # Claim the message for this state first: of two refreshes racing (two tasks for
            # one change), only one calls Slack. A crash after the claim leaves the message
            # one state behind until the incident's next change.
            if not _claim(factory, msg.id, version):
                continue
            error: str | None = None
            try:
                client.chat_update(channel=msg.channel_id, ts=msg.ts, **content)
            except NETWORK_ERRORS as exc:
                err = delivery_error(exc, "chat.update")
                if not err.permanent:
                    _unclaim(factory, msg.id, version, msg.rendered)
                    report.retry = err
                    continue
                error = str(err)
                report.failed.append(f"{msg.channel_id}/{msg.ts}: {err}")
                log.warning("slack: cannot update %s/%s for incident %s: %s",
                            msg.channel_id, msg.ts, incident_id, err)
                with factory() as session, session.begin():
                    session.execute(update(SlackMessage).where(SlackMessage.id == msg.id)
                                    .values(error=error))
            report.updated += error is None
        if report.retry is not None:
            return report
    return report
