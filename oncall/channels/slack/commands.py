"""The ``/oncall`` slash command: ``who``, ``ack``, ``resolve``, ``override``, ``help``.

Answers are ephemeral (only the caller sees them) unless the text ends with ``public``.
Callers own the transaction; what it changed is followed up when it commits
(``oncall.incidents.followups``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.audit import audit
from oncall.channels.slack import actions
from oncall.channels.slack.blocks import escape
from oncall.models import Schedule, User
from oncall.permissions import DEFAULT_LIMITS, OverrideLimits
from oncall.schedules import service
from oncall.schedules.rotation import final_shifts
from oncall.schedules.store import by_name, spec_for

HELP = """*/oncall* - the on-call pager from Slack
• `/oncall who [schedule]` - who is on call now (every schedule, or one)
• `/oncall ack <incident>` - acknowledge an incident (e.g. `/oncall ack 42`)
• `/oncall resolve <incident>` - resolve an incident
• `/oncall override <schedule> @user <duration>` - put someone on call from now, \
e.g. `/oncall override billing-primary @bob 2h` (managers)
• `/oncall link` - link your Slack account to your oncall user (by your Slack email)
• `/oncall help` - this message
Add `public` at the end to answer in the channel instead of only to you."""

MAX_OVERRIDE = timedelta(days=31)
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
LOOKAHEAD = timedelta(days=14)


@dataclass
class Reply:
    text: str
    public: bool = False

    def body(self) -> dict[str, Any]:
        return {"response_type": "in_channel" if self.public else "ephemeral",
                "text": self.text}


def parse_duration(text: str) -> timedelta | None:
    match = _DURATION.match(text.strip().lower())
    if not match or not any(match.groups()):
        return None
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def run(session: Session, slack_user_id: str, text: str, now: datetime,
        email_of: Callable[[str], str | None] | None = None,
        limits: OverrideLimits = DEFAULT_LIMITS) -> Reply:
    """Answer ``/oncall <text>``. ``email_of`` asks Slack for a member's email (for
    ``link``); without it, linking is left to an admin. ``limits``: the longest overrides
    (``ONCALL_*MAX_OVERRIDE_DAYS``)."""
    words = text.split()
    public = bool(words) and words[-1].lower() in ("public", "in_channel")
    if public:
        words = words[:-1]
    verb = words[0].lower() if words else "help"
    if verb == "link":
        return link(session, slack_user_id, email_of)
    if verb not in ("who", "ack", "resolve", "override"):
        prefix = "" if verb == "help" else f"I don't know `{escape(verb)}`.\n"
        return Reply(prefix + HELP)
    user = actions.user_for(session, slack_user_id)
    if user is None:
        return Reply(actions.link_help(slack_user_id))
    if verb == "who":
        reply = who(session, words[1] if len(words) > 1 else None, now)
    elif verb == "override":
        reply = override(session, user, words[1:], now, limits)
    else:
        reply = act(session, user, verb, words[1:], now)
    reply.public = public
    return reply


def _mention(session: Session, email: str | None) -> str:
    if email is None:
        return "nobody (a gap in the schedule)"
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        return escape(email)
    return f"<@{user.slack_id}> ({escape(user.name)})" if user.slack_id else escape(user.name)


def _local(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M")


def who(session: Session, name: str | None, now: datetime) -> Reply:
    if name is None:
        schedules = list(session.scalars(select(Schedule).order_by(Schedule.name)))
        if not schedules:
            return Reply("There are no schedules yet.")
    else:
        found = by_name(session, name)
        if found is None:
            names = ", ".join(escape(n) for n in session.scalars(
                select(Schedule.name).order_by(Schedule.name)))
            return Reply(f"There is no schedule `{escape(name)}`. Schedules: {names or 'none'}.")
        schedules = [found]
    lines = []
    for schedule in schedules:
        shifts = final_shifts(spec_for(session, schedule, now, now + LOOKAHEAD), now,
                              now + LOOKAHEAD)
        current = shifts[0] if shifts else None
        who_now = _mention(session, current.user if current else None)
        until = ""
        if current is not None and current.end < now + LOOKAHEAD:
            until = f" until {_local(current.end, schedule.timezone)} ({schedule.timezone})"
        lines.append(f"*{escape(schedule.name)}*: {who_now}{until}")
    return Reply("\n".join(lines))


def act(session: Session, user: User, verb: str, args: list[str], now: datetime) -> Reply:
    incident_id = actions.incident_ref(args[0]) if args else None
    if incident_id is None:
        return Reply(f"Usage: `/oncall {verb} <incident>`, e.g. `/oncall {verb} 42`.")
    return Reply(actions.perform(session, user, verb, incident_id, now).text)


def override(session: Session, user: User, args: list[str], now: datetime,
             limits: OverrideLimits = DEFAULT_LIMITS) -> Reply:
    usage = ("Usage: `/oncall override <schedule> @user <duration>`, e.g. "
             "`/oncall override billing-primary @bob 12h` (durations like 30m, 2h, 1d12h).")
    if not actions.allowed(user, "manager"):
        return Reply(f"Overrides from Slack need the manager role; you are a {user.role}.")
    if len(args) != 3:
        return Reply(usage)
    schedule = by_name(session, args[0])
    if schedule is None:
        return Reply(f"There is no schedule `{escape(args[0])}`.")
    target = _user_from(session, args[1])
    if target is None:
        return Reply(f"I don't know who {escape(args[1])} is here: mention a linked Slack "
                     "user (@name) or give their email.")
    duration = parse_duration(args[2])
    if duration is None or duration <= timedelta(0) or duration > MAX_OVERRIDE:
        return Reply(f"`{escape(args[2])}` is not a duration up to 31 days. {usage}")
    try:
        made = service.add_override(session, f"user:{user.email}", schedule, target, now,
                                    now + duration, "from Slack: /oncall override", by=user,
                                    now=now, limits=limits)
    except service.ScheduleError as exc:
        return Reply(f"Refused: {escape(str(exc))}")
    return Reply(f"{_mention(session, target.email)} is on call for *{escape(schedule.name)}* "
                 f"until {_local(made.end, schedule.timezone)} ({schedule.timezone}).")


def _user_from(session: Session, text: str) -> User | None:
    match = _MENTION.match(text)
    if match:
        return actions.user_for(session, match.group(1))
    if "@" in text.strip("@"):
        return session.scalar(select(User).where(User.email == text.strip("<>").split("|")[0]
                                                 .removeprefix("mailto:")))
    return None


def link(session: Session, slack_user_id: str,
         email_of: Callable[[str], str | None] | None) -> Reply:
    """Link the caller's Slack account to the oncall user with the same email."""
    linked = actions.user_for(session, slack_user_id)
    if linked is not None:
        return Reply(f"You are linked to {escape(linked.email)}.")
    if email_of is None:
        return Reply(actions.link_help(slack_user_id))
    try:
        email = email_of(slack_user_id)
    except Exception as exc:  # Slack's trouble: say so, change nothing
        return Reply(f"I could not ask Slack for your email ({escape(str(exc))}); try again.")
    if not email:
        return Reply("Slack did not tell me your email (the app needs the users:read.email "
                     "scope). " + actions.link_help(slack_user_id))
    matches = same_email(session, email)
    if not matches:
        return Reply(f"No oncall user has the email {escape(email)}. "
                     + actions.link_help(slack_user_id))
    if len(matches) > 1:
        return Reply(f"{len(matches)} oncall users have the email {escape(email)} (differing "
                     "only in case); ask an admin to link you.")
    [user] = matches
    if user.slack_id:
        return Reply(f"{escape(user.email)} is already linked to another Slack account "
                     f"(`{user.slack_id}`); ask an admin to change it.")
    before = {"slack": None}
    user.slack_id = slack_user_id
    session.flush()
    audit(session, f"slack:{slack_user_id}", "update", "user", user.id, user.email, before,
          {"slack": slack_user_id})
    return Reply(f"Linked: you are {escape(user.email)} ({user.role}) here now.")


def same_email(session: Session, email: str) -> list[User]:
    """Users whose email is ``email``, ignoring case: the whole address, compared as a value,
    never as a pattern (with ``LIKE``, the ``_`` of ``adm_n@`` matched ``admin@``). The
    database narrows by ``lower()``; the exact comparison is made here, so that a database
    whose ``lower()`` folds differently cannot widen the match."""
    wanted = email.strip().lower()
    found = session.scalars(select(User).where(func.lower(User.email) == wanted))
    return [u for u in found if u.email.lower() == wanted]
