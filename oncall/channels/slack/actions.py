"""What a Slack user may do to an incident (buttons and ``/oncall ack|resolve``): who they
are here, whether their role allows it (``oncall.incidents.respond``), and a polite answer when
nothing changes.
Callers own the transaction; its follow-ups are enqueued when it commits
(``oncall.incidents.followups``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.channels.slack import blocks
from oncall.channels.slack.store import actor_label
from oncall.incidents import respond
from oncall.incidents.respond import Verb
from oncall.models import ROLES, Incident, User

VERBS = {"ack": "acknowledge", "resolve": "resolve", "escalate": "escalate"}
_REF = re.compile(r"^(?:INC-|#)?(\d{1,18})$", re.IGNORECASE)


@dataclass(frozen=True)
class Outcome:
    """``text`` answers the user; ``changed`` says the incident moved (its follow-ups,
    Slack messages refreshed and an escalation's pages sent, are the after-commit hook's:
    ``oncall.incidents.followups``); else ``text`` says why not."""

    text: str
    changed: bool = False
    incident_id: int | None = None


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
    """Acknowledge, resolve or escalate on behalf of a linked Slack user, through
    ``oncall.incidents.respond`` (the rule and the state change of every channel)."""
    outcome = respond.respond(session, user, incident_id, action, now, via="slack",
                              escalate_acknowledged=False)
    incident = outcome.incident
    if outcome.kind == respond.REFUSED:
        return Outcome(outcome.message or "")
    if incident is None:
        return Outcome(f"There is no incident #{incident_id}.")
    label = f"#{incident.id} ({blocks.escape(incident.summary)})"
    if outcome.done:
        return _done(outcome.verb, incident, label)
    if incident.status == "resolved":
        by = actor_label(session, incident.resolved_by) or "someone"
        return Outcome(f"Incident {label} was already resolved by {by}; nothing changed.",
                       incident_id=incident.id)
    if outcome.verb is Verb.ACKNOWLEDGE:
        by = actor_label(session, incident.acked_by) or "someone"
        return Outcome(f"Incident {label} is already acknowledged by {by}.",
                       incident_id=incident.id)
    return Outcome(f"Incident {label} is acknowledged, so it is not escalating; "
                   "resolve it when it is fixed.", incident_id=incident.id)


def _done(verb: Verb, incident: Incident, label: str) -> Outcome:
    """What the person who changed the incident is told."""
    if verb is Verb.ACKNOWLEDGE:
        return Outcome(f"You acknowledged incident {label}.", True, incident.id)
    if verb is Verb.RESOLVE:
        return Outcome(f"You resolved incident {label}.", True, incident.id)
    return Outcome(f"Escalating incident {label}: the next level is being paged.", True,
                   incident.id)
