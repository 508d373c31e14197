"""Incidents nobody is paged for must be loud.

An alert for a service with no escalation policy, or whose every level names nobody (empty
schedules, users with no usable channel), opens an incident that would otherwise page no one.
When an incident's first step queues no page, the step itself (claimed exactly once by the
stepping's conditional UPDATE) also queues pages to every admin, through their own notification
rules for the incident's severity, at *level 0*: escalation levels are numbered from 1, so
level 0 is free for "the admins, because nobody else was paged". The outbox's unique key
makes them once-only like any other page; the timeline says ``unpaged`` with the reason; the
worker logs a warning (the console line under ``oncall up``); ``/ready`` and the
``oncall_incidents_unpaged`` gauge count the open incidents nobody was paged for.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from oncall.incidents import Entry, event
from oncall.models import Incident, Page, User
from oncall.paging import page_outbox
from oncall.paging.policy_snapshot import Policy

if TYPE_CHECKING:  # step_plan imports this module
    from oncall.paging.step_plan import Lookups, Stepped

log = logging.getLogger(__name__)

ADMIN_LEVEL = 0


def reason(policy: Policy | None) -> str:
    if policy is None or not policy.levels:
        return "its service has no escalation policy"
    return "no level of its escalation policy named anyone who could be paged"


def notice_text(incident: Stepped, why: str) -> str:
    return (f"Nobody was paged for incident #{incident.id} ({incident.service.name}: "
            f"{incident.summary}): {why}. Acknowledge it, and fix the routing.")


def page_admins(session: Session, incident: Stepped, policy: Policy | None,
                now: datetime, lookups: Lookups) -> tuple[list[Entry],
                                                           list[page_outbox.QueuedPage]]:
    """The timeline entry and the admins' pages for an incident whose first step paged
    nobody. Returns (events, page rows) for the caller's step to write (reads only: the
    stepping logs ``warn`` once it has written them)."""
    why = reason(policy)
    text = notice_text(incident, why)
    admins = list(session.scalars(select(User).where(User.role == "admin").order_by(User.id)))
    pages: list[page_outbox.QueuedPage] = []
    notified: list[str] = []
    for admin in admins:
        rules = lookups.plan(session, admin, incident.severity).rules
        for rule in rules:
            pages.append(page_outbox.QueuedPage(
                incident.id, ADMIN_LEVEL, 0, f"user:{admin.id}", admin.id, rule.channel, text,
                now + timedelta(seconds=rule.delay), now))
        if rules:
            notified.append(admin.email)
    entry = event(incident.id, "unpaged", "system", now, reason=why, admins_notified=notified)
    return [entry], pages


def warn(incident: Stepped, entry: Entry) -> None:
    """Log the ``unpaged`` timeline entry (``page_admins``) once its step is written."""
    detail = entry.detail
    # repr(): the summary is the sender's text; it must not forge log lines.
    log.warning("incident #%s (%s, %r) pages nobody: %s; notifying admins: %s", incident.id,
                incident.service.name, incident.summary, detail["reason"],
                ", ".join(detail["admins_notified"]) or "none")


def open_unpaged(session: Session) -> int:
    """Open (triggered) incidents that have been stepped and paged nobody on any level."""
    paged = exists().where(Page.incident_id == Incident.id, Page.level > ADMIN_LEVEL)
    stepped = or_(Incident.level > 0, Incident.next_action_at.is_(None))
    return int(session.scalar(select(func.count()).select_from(Incident).where(
        Incident.status == "triggered", stepped, ~paged)) or 0)
