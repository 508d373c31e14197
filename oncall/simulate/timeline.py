"""The simulator's escalation: the engine's own ``plan_step``, step after step, on an
incident that is never stored, as timeline lines. Reads only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from oncall.models import Service, User
from oncall.paging import step_plan, unpaged
from oncall.paging.policy_snapshot import Policy
from oncall.schedules import store
from oncall.schedules.rotation import ScheduleSpec, on_call

MAX_STEPS = 100  # a ladder of 10 levels repeated 9 times; longer ones are cut, and say so
SPAN = timedelta(days=1)  # how far ahead a schedule is loaded at once for a ladder


@dataclass
class Simulated:
    """The incident the alert would open (``step_plan.Stepped``), never stored: id 0."""

    service: Service
    severity: str
    summary: str
    policy: Policy | None
    level: int = 0
    loop: int = 0
    next_action_at: datetime | None = None
    id: int = 0

    @property
    def service_id(self) -> int:
        return self.service.id


@dataclass(frozen=True)
class Entry:
    """A line of the timeline: a recipient paged at a level (``channels``: each channel and
    when it goes out, their notification rules applied), or a ``note``."""

    at: datetime
    level: int
    loop: int
    recipient: str | None = None  # an email, or slack:#room
    name: str | None = None
    channels: tuple[tuple[str, datetime], ...] = ()
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at, "level": self.level, "loop": self.loop,
                "recipient": self.recipient, "name": self.name,
                "channels": [{"channel": ch, "at": at} for ch, at in self.channels],
                "note": self.note}


@dataclass
class _LadderLookups(step_plan.Lookups):
    """The engine's lookups for one simulated ladder: who is on call is asked at each step's
    own time, as ``store.who_is_on_call`` answers it (``on_call`` of ``spec_for``), from each
    schedule loaded once for a day ahead rather than once per step (bench/console.py)."""

    specs: dict[str, tuple[datetime, datetime, ScheduleSpec | None]] = field(
        default_factory=dict)

    def who_is_on_call(self, session: Session, schedule: str, now: datetime) -> str | None:
        held = self.specs.get(schedule)
        if held is None or not held[0] <= now < held[1]:
            found = store.by_name(session, schedule)
            spec = store.spec_for(session, found, now, now + SPAN) if found else None
            held = self.specs[schedule] = (now, now + SPAN, spec)
        return on_call(held[2], now) if held[2] is not None else None


def ladder(session: Session, incident: Simulated, start: datetime) -> list[Entry]:
    """Step ``incident`` from ``start`` as the engine would, each step at its due time (who
    is on call is looked up at that time), until nothing more is due."""
    shared = _LadderLookups()
    entries: list[Entry] = []
    now: datetime | None = start
    incident.next_action_at = start
    for _ in range(MAX_STEPS):
        if now is None:
            last = entries[-1] if entries else None
            entries.append(Entry(last.at if last else start, incident.level, incident.loop,
                                 note="the ladder ends: nobody more is paged; the incident "
                                      "stays open until someone acknowledges or resolves it"))
            return entries
        plan = step_plan.plan_step(session, incident, now, "system", shared)
        entries += _entries(session, plan, now)
        incident.policy = plan.policy
        incident.level, incident.loop = plan.result.level, plan.result.loop
        incident.next_action_at = now = plan.result.next_action_at
    entries.append(Entry(now or start, incident.level, incident.loop,
                         note=f"cut after {MAX_STEPS} steps; the ladder goes on"))
    return entries


_NOTES = {
    "nobody_on_call": lambda d: f"nobody is on call on schedule {d['schedule']}",
    "target_missing": lambda d: f"no such target: {d['target'].get('type')}:"
                                f"{d['target'].get('ref')}",
    "target_unsupported": lambda d: f"target {d['target'].get('type')}:"
                                    f"{d['target'].get('ref')} skipped: {d['reason']}",
    "user_unreachable": lambda d: f"{d['user']} has no usable channel ("
                                  + "; ".join(f"{k}: {v}" for k, v in d["reasons"].items())
                                  + ")",
    "channel_skipped": lambda d: f"{d['user']}: no {d['channel']} ({d['reason']}): "
                                 "the next channel is used",
    "level_skipped": lambda d: f"level {d['level']} names nobody to page: on to the next",
    "unpaged": lambda d: f"nobody was paged ({d['reason']}): the admins are paged: "
                         f"{', '.join(d['admins_notified']) or 'none'}",
    "escalation_stopped": lambda d: f"escalation stops: {d['reason']}",
}


def _entries(session: Session, plan: step_plan.Plan, now: datetime) -> list[Entry]:
    """A planned step as timeline lines: its notes, then each recipient's channels."""
    out: list[Entry] = []
    waiting: list[str] = []  # a level's target entries come before its ``escalated``
    for event in plan.events:
        kind, d = event.kind, event.detail
        if kind == "escalated":
            out += [Entry(now, d["level"], d["loop"], note=text) for text in waiting]
            waiting = []
        elif kind == "unpaged":
            out.append(Entry(now, unpaged.ADMIN_LEVEL, 0, note=_NOTES[kind](d)))
        elif kind in _NOTES and "loop" in d:
            out.append(Entry(now, d["level"], d["loop"], note=_NOTES[kind](d)))
        elif kind in _NOTES:
            waiting.append(_NOTES[kind](d))
    out += [Entry(now, plan.result.level, plan.result.loop, note=t) for t in waiting]
    grouped: dict[tuple[int, int, str], list[tuple[str, datetime]]] = {}
    for page in plan.pages:
        key = (page.level, page.loop, page.recipient)
        grouped.setdefault(key, []).append((page.channel, page.at))
    for (lvl, lp, recipient), channels in grouped.items():
        name = None
        if recipient.startswith("user:"):
            user = session.get(User, int(recipient.removeprefix("user:")))
            recipient, name = (user.email, user.name) if user else (recipient, None)
        out.append(Entry(now, lvl, lp, recipient, name, tuple(channels)))
    return out
