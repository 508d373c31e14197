"""What happens once a change to incidents is committed: the one after-commit hook.

Code that changes an incident says so on its session (``changed``, ``stepped``, ``paged``,
``opened``, ``due``), inside the transaction; when that transaction commits, the hook below hands
everything noted to ``follow_up``, which enqueues the work (``oncall.jobs``): a new
incident's first step, the pages an escalation queued (out now, not at a sweep), a step
already due, the channels' messages about it rewritten to show the new state (Slack's).
Callers write no follow-up code of their own.

Nothing is enqueued for a transaction that rolls back (what it noted is dropped with it),
and a broker that cannot take a task is logged, never an error for the caller whose data
is committed: the sweeper finds the work in the database anyway (``oncall.jobs``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_NOTED = "oncall.followups"  # the key in Session.info


@dataclass
class Followup:
    """What one incident needs after the commit. ``step``: (level, loop, when due) of a
    step to take now if it is due (a later one is found in the database when it is; None
    for the time: due now)."""

    refresh: bool = False
    deliver: bool = False
    step: tuple[int, int, datetime | None] | None = None
    opened: bool | None = None  # new: whether its commit already woke the dispatcher


def _noted(session: Session, incident_id: int) -> Followup:
    pending: dict[int, Followup] = session.info.setdefault(_NOTED, {})
    return pending.setdefault(incident_id, Followup())


def changed(session: Session, incident_id: int) -> None:
    """The incident's state changed (acknowledged, resolved): the messages channels keep
    about it say so (``registry.after_change``: Slack's)."""
    _noted(session, incident_id).refresh = True


def paged(session: Session, incident_id: int, level: int, loop: int,
          next_action_at: datetime | None) -> None:
    """The incident was escalated or reassigned: the pages that step queued go out now
    rather than at a sweep, its next level is looked at if already due, and its Slack
    messages show the new level."""
    stepped(session, incident_id, level, loop, next_action_at)
    _noted(session, incident_id).deliver = True


def stepped(session: Session, incident_id: int, level: int, loop: int,
            next_action_at: datetime | None) -> None:
    """The incident was stepped up its ladder (``oncall.paging.stepping``, whoever took the
    step): its next level is looked at if already due (a level that named nobody), and its
    Slack messages show the new level. Its pages are delivered by the caller (the sweeper
    in its batches, a task at once) or, after a manual step, as ``paged`` says."""
    followup = _noted(session, incident_id)
    followup.refresh = True
    if next_action_at is not None:  # None: the ladder is exhausted, no step follows
        followup.step = (level, loop, next_action_at)


def opened(session: Session, incident_id: int, woken: bool) -> None:
    """A new incident: its first step is enqueued unless its commit already woke the
    dispatcher (PostgreSQL ``NOTIFY``, see ``oncall.jobs.opened``)."""
    _noted(session, incident_id).opened = woken


def due(session: Session, incident_id: int) -> None:
    """The incident's first step is due now (opened without waking the dispatcher, or let
    go by a maintenance window)."""
    _noted(session, incident_id).step = (0, 0, None)


def follow_up(pending: dict[int, Followup]) -> None:
    """Enqueue what the committed incidents need (see ``Followup``)."""
    from oncall import jobs
    from oncall.channels import registry

    for incident_id, followup in pending.items():
        if followup.opened is not None:
            jobs.opened(incident_id, followup.opened)
        if followup.deliver:
            jobs.deliver(incident_id)
        if followup.step is not None:
            level, loop, at = followup.step
            jobs.escalate(incident_id, level, loop, at=at)
        if followup.refresh:
            registry.after_change(incident_id)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_NOTED, None)
    if not pending:
        return
    try:
        follow_up(pending)
    except Exception:  # committed already: the sweeper does what this could not
        log.exception("follow-ups of incidents %s failed; left to the sweeper", list(pending))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_NOTED, None)
