"""The one way a person acknowledges, resolves or escalates an incident, from any channel:
the API, the console, an SMS reply, a voice key press, a Slack button or ``/oncall``, an
email link.

``respond`` applies the one role rule (``oncall.permissions``, docs/permissions.md) and the
one account rule (a deactivated user's access has ended, docs/api.md), takes the incident's
row lock, changes its state, leaves a timeline entry naming the channel (``via``), and says
what happened as a small ``Outcome``. It never words an answer: each channel turns the
outcome into its own (a 403, a flash, an SMS, a spoken sentence, a private Slack message, a
page). Callers own the transaction and the after-commit work; nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from oncall import actions, permissions
from oncall.incidents import lifecycle
from oncall.models import Incident, User


class Verb(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    ESCALATE = "escalate"

    @classmethod
    def named(cls, name: str) -> Verb:
        """The verb a channel calls ``name`` (``ack`` and ``ack_all`` are acknowledge);
        ValueError for anything else (``reassign`` is not answered through ``respond``)."""
        return cls(permissions.incident_action(name))


DONE, ALREADY, REFUSED, NOT_FOUND = "done", "already", "refused", "not_found"
DEACTIVATED = "Your oncall account is deactivated: you can no longer act on incidents."


@dataclass(frozen=True)
class Outcome:
    """What ``respond`` did. ``kind``: ``done`` (the incident changed), ``already`` (it was
    already in that state, or past it: nothing changed, ``incident`` says who got there
    first), ``refused`` (``reason`` is ``role`` or ``deactivated``, ``message`` the
    sentence every channel may show) or ``not_found``. ``incident`` is read after the
    change, except for ``refused`` (never read) and ``not_found``."""

    kind: str
    verb: Verb
    incident: Incident | None = None
    reason: str | None = None
    message: str | None = None

    @property
    def done(self) -> bool:
        return self.kind == DONE


def refusal(actor: User, verb: Verb | str) -> Outcome | None:
    """None when ``actor`` may ``verb`` incidents; else the ``refused`` outcome. Pure, so a
    channel that must refuse before anything else (a voice key press is refused before it
    is recorded as taken) asks it first; ``respond`` asks it again."""
    verb = verb if isinstance(verb, Verb) else Verb.named(verb)
    if actor.deactivated_at is not None:
        return Outcome(REFUSED, verb, reason="deactivated", message=DEACTIVATED)
    refused = permissions.act_refusal(actor.role, verb.value)
    if refused is not None:
        return Outcome(REFUSED, verb, reason="role", message=refused)
    return None


def respond(session: Session, actor: User, incident_id: int, verb: Verb | str,
            now: datetime, *, via: str, escalate_acknowledged: bool = True) -> Outcome:
    """``actor`` acknowledges, resolves or escalates incident ``incident_id`` now.

    Acknowledging an acknowledged incident, or acting on a resolved one, changes nothing
    (two people pressing at once is no error). Escalating an acknowledged incident
    triggers it again (docs/escalation.md) unless ``escalate_acknowledged`` is False: the
    quick replies to a page (SMS, voice, Slack) answer that it is acknowledged instead, so
    that a late key press on an old page does not undo a colleague's acknowledgement."""
    verb = verb if isinstance(verb, Verb) else Verb.named(verb)
    refused = refusal(actor, verb)
    if refused is not None:
        return refused
    try:
        incident = lifecycle.lock(session, incident_id)
    except lifecycle.NotFound:
        return Outcome(NOT_FOUND, verb)
    if _already(incident, verb, escalate_acknowledged):
        return Outcome(ALREADY, verb, incident)
    who = f"user:{actor.email}"
    if verb is Verb.ACKNOWLEDGE:
        incident = lifecycle.acknowledge(session, incident_id, who, now, via=via)
        took = incident.acked_by == who and incident.acked_at == now
    elif verb is Verb.RESOLVE:
        incident = lifecycle.resolve(session, incident_id, who, now, via=via)
        took = incident.resolved_by == who and incident.resolved_at == now
    else:
        incident = actions.escalate_now(session, incident_id, who, now, via=via)
        took = True  # under the row lock, a triggered or acknowledged incident escalates
    return Outcome(DONE if took else ALREADY, verb, incident)


def _already(incident: Incident, verb: Verb, escalate_acknowledged: bool) -> bool:
    """Whether ``verb`` would change nothing: the incident is resolved, or acknowledged and
    ``verb`` is acknowledge (or escalate, when that does not re-trigger)."""
    if incident.status == "resolved":
        return True
    if incident.status == "acknowledged":
        return verb is Verb.ACKNOWLEDGE or (verb is Verb.ESCALATE and not escalate_acknowledged)
    return False
