"""Replies to page SMS: "4a" acknowledges the incident behind the user's code 4, "4r"
resolves, "4e" escalates; "a", "r" or "e" alone act on the user's latest page; "aa" acks all
of the user's open incidents; "help" explains. Only a registered user's number can act, and
only on codes that user was sent, and only if their role allows it
(``oncall.incidents.respond``, the rule of every channel: a viewer is told so and nothing
changes). Each answer is the text of the SMS reply."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.channels.sms import codes
from oncall.channels.sms.text import help_text
from oncall.incidents import respond
from oncall.incidents.respond import Verb
from oncall.models import Page, User

ACTIONS = {"a": "ack", "ack": "ack", "acknowledge": "ack",
           "r": "resolve", "res": "resolve", "resolve": "resolve", "c": "resolve",
           "e": "escalate", "esc": "escalate", "escalate": "escalate"}
_REPLY = re.compile(r"^(?:(\d{1,6})\s*([a-z]+)|([a-z]+)\s*(\d{1,6})?)$")
REFUSED = "This number is not registered with oncall; it cannot act on pages."


@dataclass(frozen=True)
class Command:
    action: str  # ack | resolve | escalate | ack_all | help | unknown
    code: int | None = None


def parse(body: str) -> Command:
    """Pure: what a reply asks for. Accepts "4a", "4 a", "a4", "ack 4", "A", "aa", "help"."""
    words = " ".join(body.strip().lower().split()).rstrip(".!")
    if words in ("aa", "ack all", "ackall"):
        return Command("ack_all")
    if words in ("help", "h", "?", "info"):
        return Command("help")
    found = _REPLY.match(words)
    if found is None:
        return Command("unknown")
    number, word = found.group(1), found.group(2)
    if number is None:
        word, number = found.group(3), found.group(4)
    action = ACTIONS.get(word)
    if action is None:
        return Command("unknown")
    return Command(action, int(number) if number is not None else None)


def handle(session: Session, from_number: str, body: str, now: datetime) -> str:
    """Act on a reply from ``from_number`` (the caller owns the transaction)."""
    user = session.scalar(select(User).where(User.phone == from_number).order_by(User.id))
    if user is None:
        return REFUSED
    command = parse(body)
    if command.action == "help":
        return _help(session, user)
    if command.action == "unknown":
        return "Sorry, I did not understand that.\n" + _help(session, user)
    refused = respond.refusal(user, command.action)
    if refused is not None:  # before the codes are looked up: nothing else happens
        return refused.message or ""
    if command.action == "ack_all":
        return _ack_all(session, user, now)
    if command.code is None:
        incident_id = _latest(session, user)
        if incident_id is None:
            return "You have no pages to act on.\n" + _help(session, user)
    else:
        found = codes.incident_for(session, user.id, command.code)
        if found is None:
            return f"Unknown code {command.code}.\n" + _help(session, user)
        incident_id = found
    return _act(session, user, command.action, incident_id, now)


def _act(session: Session, user: User, action: str, incident_id: int, now: datetime) -> str:
    outcome = respond.respond(session, user, incident_id, action, now, via="sms",
                              escalate_acknowledged=False)
    incident = outcome.incident
    if outcome.kind == respond.REFUSED:
        return outcome.message or ""
    if incident is None:
        return f"Incident #{incident_id} no longer exists."
    name = f"#{incident.id} ({incident.service.name}: {incident.summary[:60]})"
    if outcome.done:
        done = {"acknowledge": "Acknowledged", "resolve": "Resolved"}.get(outcome.verb,
                                                                         "Escalated")
        return f"{done} incident {name}."
    if incident.status == "resolved":
        return f"Incident {name} is already resolved by {_shown(incident.resolved_by)}."
    if outcome.verb is Verb.ACKNOWLEDGE:
        return f"Incident {name} was already acknowledged by {_shown(incident.acked_by)}."
    return (f"Incident {name} is acknowledged by {_shown(incident.acked_by)}; "
            "nothing to escalate.")


def _ack_all(session: Session, user: User, now: datetime) -> str:
    acked = []
    for _code, incident in codes.open_codes(session, user.id):
        if incident.status == "triggered" and respond.respond(
                session, user, incident.id, Verb.ACKNOWLEDGE, now, via="sms").done:
            acked.append(f"#{incident.id}")
    if not acked:
        return "You have no unacknowledged incidents."
    return f"Acknowledged {len(acked)} incident{'s' if len(acked) > 1 else ''}: " \
        + ", ".join(acked) + "."


def _latest(session: Session, user: User) -> int | None:
    """The incident of the user's most recent page."""
    return session.scalar(select(Page.incident_id).where(
        Page.user_id == user.id, Page.status == "sent").order_by(Page.id.desc()).limit(1))


def _help(session: Session, user: User) -> str:
    return help_text([(code, i.id, i.summary) for code, i in codes.open_codes(session, user.id)])


def _shown(actor: str | None) -> str:
    """A timeline actor as an SMS shows it: the email of ``user:<email>``."""
    return (actor or "someone").removeprefix("user:")
