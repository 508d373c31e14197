"""Who may do what: the one role rule for acting on incidents (API, SMS, voice, Slack, and
the console and email when they come) and for changing who is on call (overrides, swaps).

Pure: roles, facts about the request and an explicit ``now`` in, a verdict out. Callers
look the facts up (is the person a member of the schedule, did they create the override)
and turn a refusal into their channel's answer: a 403 or 400 naming the field, an SMS reply,
a spoken sentence, a private Slack message. See docs/permissions.md.

Incidents, like PagerDuty's responder and GoAlert's user roles: anyone who can be paged acts
on any incident (a responder covering for a colleague must not first be paged); viewers
(stakeholders) only read, even when a policy names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from oncall.models import ROLES

INCIDENT_ACTIONS = ("acknowledge", "resolve", "escalate", "reassign")

# Role -> what it may do to any incident. Unknown roles may do nothing.
INCIDENT_RULES: dict[str, frozenset[str]] = {
    "viewer": frozenset(),
    "responder": frozenset(INCIDENT_ACTIONS),
    "manager": frozenset(INCIDENT_ACTIONS),
    "admin": frozenset(INCIDENT_ACTIONS),
}

# How the channels name an action: SMS "ack", Slack "ack", voice "acknowledge".
ALIASES = {"ack": "acknowledge", "ack_all": "acknowledge"}


def incident_action(action: str) -> str:
    """The rule's name for ``action`` (``ack`` -> ``acknowledge``); ValueError if unknown."""
    name = ALIASES.get(action, action)
    if name not in INCIDENT_ACTIONS:
        raise ValueError(f"not an incident action: {action!r}")
    return name


def may_act(role: str, action: str) -> bool:
    """Whether someone with ``role`` may ``action`` (acknowledge, resolve, escalate,
    reassign; ``ack`` too) an incident."""
    return incident_action(action) in INCIDENT_RULES.get(role, frozenset())


def least_role_for(action: str) -> str | None:
    """The lowest role allowed ``action``, for telling a refused person what they lack."""
    name = incident_action(action)
    return next((r for r in ROLES if name in INCIDENT_RULES.get(r, frozenset())), None)


def act_refusal(role: str, action: str) -> str | None:
    """None when ``role`` may ``action`` incidents; else the sentence to answer with, the
    same on every channel: "You are not allowed to acknowledge incidents: ..."."""
    if may_act(role, action):
        return None
    name = incident_action(action)
    needed = least_role_for(name)
    article = "an" if role[:1] in ("a", "e", "i", "o", "u") else "a"
    why = f"you are {article} {role}" + (f", and it needs the {needed} role" if needed else "")
    return f"You are not allowed to {name} incidents: {why}."


# Overrides and swaps ------------------------------------------------------------------------


@dataclass(frozen=True)
class OverrideLimits:
    """The longest override each role may create (a swap is as long as the shift it hands
    over, so it is bounded by the layer a manager set up, not by these)."""

    responder: timedelta = timedelta(days=14)
    manager: timedelta = timedelta(days=366)

    @classmethod
    def from_days(cls, responder: float, manager: float) -> OverrideLimits:
        return cls(timedelta(days=responder), timedelta(days=manager))

    def for_role(self, role: str) -> timedelta:
        return self.manager if _at_least(role, "manager") else self.responder


DEFAULT_LIMITS = OverrideLimits()


@dataclass(frozen=True)
class Refusal:
    """Why a schedule change is refused: ``field`` names the input at fault (or None),
    ``status`` is 403 for "not yours to change" and 400 for a window that is not allowed."""

    field: str | None
    message: str
    status: int = 403


def _at_least(role: str, least: str) -> bool:
    return role in ROLES and ROLES.index(role) >= ROLES.index(least)


def _days(span: timedelta) -> str:
    days = span / timedelta(days=1)
    return f"{days:g} day" + ("" if days == 1 else "s")


def override_refusal(role: str, *, for_self: bool, member: bool, start: datetime,
                     end: datetime, now: datetime,
                     limits: OverrideLimits = DEFAULT_LIMITS) -> Refusal | None:
    """May someone with ``role`` put a user on call for [start, end)? ``for_self``: the
    user is the person asking; ``member``: the person asking is in a layer of the schedule.

    Managers and admins: anyone, any window up to ``limits.manager`` (also in the past, to
    correct the record). Responders: themselves only, on schedules they are members of, for
    at most ``limits.responder``, ending after ``now``. Viewers: nothing."""
    if not _at_least(role, "responder"):
        return Refusal(None, f"viewers may not change who is on call (your role is {role})")
    longest = limits.for_role(role)
    if not _at_least(role, "manager"):
        if not for_self:
            return Refusal("user", "responders may create overrides only for themselves")
        if not member:
            return Refusal(None, "responders may override only schedules they are a member "
                                 "of (in one of its layers); ask a manager")
        if end <= now:
            return Refusal("end", "is in the past: an override must end in the future", 400)
    if end - start > longest:
        return Refusal("end", f"an override may last at most {_days(longest)} for a {role}",
                       400)
    return None


def swap_refusal(role: str, *, member: bool, to_self: bool, to_member: bool,
                 holds_shift: bool, shift_end: datetime, now: datetime) -> Refusal | None:
    """May someone with ``role`` hand a layer's shift to a user? ``member``/``to_member``:
    the person asking / the user taking the shift is in a layer of the schedule;
    ``holds_shift``: the person asking holds that shift in that layer.

    Managers and admins: any shift to anyone. Responders, on schedules they are members of:
    take any member's shift, or give away their own to another member; never a shift that
    is already over. Viewers: nothing."""
    if not _at_least(role, "responder"):
        return Refusal(None, f"viewers may not change who is on call (your role is {role})")
    if _at_least(role, "manager"):
        return None
    if not member:
        return Refusal(None, "responders may swap shifts only on schedules they are a member "
                             "of (in one of its layers); ask a manager")
    if not to_self and not holds_shift:
        return Refusal("to", "responders may swap only shifts they hold or take")
    if not to_member:
        return Refusal("to", "must be a member of the schedule (in one of its layers)")
    if shift_end <= now:
        return Refusal("at", "that shift is over: only current and future shifts are swapped",
                       400)
    return None


def delete_override_refusal(role: str, *, created_it: bool) -> Refusal | None:
    """Only the person who created an override, or a manager or admin, deletes it (the user
    it puts on call cannot undo a manager's decision)."""
    if _at_least(role, "manager") or (created_it and _at_least(role, "responder")):
        return None
    return Refusal(None, "only whoever created an override, or a manager, may delete it")
