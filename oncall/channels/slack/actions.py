"""What a Slack user may do to an incident (buttons and ``/oncall ack|resolve``): who they
are here, whether their role allows it (``oncall.permissions``), and a polite answer when
nothing changes.
Callers own the transaction and enqueue the follow-ups after commit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall import actions, incidents, permissions
from oncall.channels.slack import blocks
from oncall.channels.slack.store import actor_label
from oncall.models import ROLES, Incident, User

VERBS = {"ack": "acknowledge", "resolve": "resolve", "escalate": "escalate"}
_REF = re.compile(r"^(?:INC-|#)?(\d{1,18})$", re.IGNORECASE)


@dataclass(frozen=True)
class Outcome:
    """``text`` answers the user; ``changed`` says the incident moved (refresh messages);
    ``escalate`` carries (level, loop) when the next level should be paged now."""

    text: str
    changed: bool = False
    incident_id: int | None = None
    escalate: tuple[int, int] | None = None


def incident_ref(value: object) -> int | None:
    """``123``, ``#123`` or ``INC-123``; None for anything else."""
    match = _REF.match(str(value).strip()) if isinstance(value, str | int) else None
    return int(match.group(1)) if match else None


def user_for(session: Session, slack_id: str) -> User | None:
    return session.scalar(select(User).where(User.slack_id == slack_id))


def link_help(slack_id: str) -> str:
    return (f"Your Slack account (`{slack_id}`) is not linked to an oncall user, so I can't "
            "tell who you are. Type `/oncall link` to link it by your Slack email. If your "
            "oncall email differs, ask an admin to run "
            f"`oncall user slack you@example.com {slack_id}` (or to add `slack: {slack_id}` "
            "to your user in the config files and run `oncall apply`).")


def allowed(user: User, role: str) -> bool:
    return ROLES.index(user.role) >= ROLES.index(role)


def perform(session: Session, user: User, action: str, incident_id: int,
            now: datetime) -> Outcome:
    """Acknowledge, resolve or escalate on behalf of a linked Slack user, if their role
    allows it (``oncall.permissions``: the rule the API, SMS and voice apply)."""
    refusal = permissions.act_refusal(user.role, action)
    if refusal is not None:
        return Outcome(refusal)
    incident = session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        return Outcome(f"There is no incident #{incident_id}.")
    label = f"#{incident.id} ({blocks.escape(incident.summary)})"
    if incident.status == "resolved":
        by = actor_label(session, incident.resolved_by) or "someone"
        return Outcome(f"Incident {label} was already resolved by {by}; nothing changed.",
                       incident_id=incident.id)
    actor = f"user:{user.email}"
    if action == "ack":
        if incident.status == "acknowledged":
            by = actor_label(session, incident.acked_by) or "someone"
            return Outcome(f"Incident {label} is already acknowledged by {by}.",
                           incident_id=incident.id)
        incidents.acknowledge(session, incident.id, actor, now)
        return Outcome(f"You acknowledged incident {label}.", True, incident.id)
    if action == "resolve":
        incidents.resolve(session, incident.id, actor, now)
        return Outcome(f"You resolved incident {label}.", True, incident.id)
    if incident.status != "triggered":
        return Outcome(f"Incident {label} is acknowledged, so it is not escalating; "
                       "resolve it when it is fixed.", incident_id=incident.id)
    moved = actions.escalate_now(session, incident.id, actor, now)
    return Outcome(f"Escalating incident {label}: the next level is being paged.", True,
                   incident.id, escalate=(moved.level, moved.loop))
