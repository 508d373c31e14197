"""Every schedule at a glance: who is on call now and until when, who is next, and whether
nobody is (a gap). The console's schedules page reads this; the math is
``oncall.schedules.rotation``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from oncall.models import Schedule, User
from oncall.schedules.rotation import ScheduleSpec, Shift, final_shifts, next_shift
from oncall.schedules.rotation.spec import RotationError
from oncall.schedules.store import spec_for, specs_for

HORIZON = timedelta(days=90)


@dataclass(frozen=True)
class Person:
    email: str
    name: str


@dataclass(frozen=True)
class Summary:
    """``now``: who is on call (None: a gap) until ``until`` (None: beyond the horizon);
    ``next``: who takes over at ``next_at`` (None with a ``next_at``: a gap follows);
    ``error``: the schedule cannot be computed (a broken layer), and why."""

    id: int
    name: str
    timezone: str
    managed_by: str | None
    now: Person | None
    until: datetime | None
    next: Person | None
    next_at: datetime | None
    error: str | None = None

    @property
    def gap(self) -> bool:
        return self.error is None and self.now is None


def _person(email: str | None, names: dict[str, str]) -> Person | None:
    return None if email is None else Person(email, names.get(email, email))


def _current(spec: ScheduleSpec, now: datetime) -> Shift | None:
    """The final shift going on at ``now``, ending where it really ends (cut at the horizon).
    The window grows from two days as needed: most shifts end within days, and expanding 90
    days of every layer was most of the schedules page's time (bench/console.py)."""
    span = min(timedelta(days=2), HORIZON)
    while True:
        shifts = final_shifts(spec, now, now + span)
        if not shifts or shifts[0].end < now + span or span >= HORIZON:
            return shifts[0] if shifts else None
        span = min(span * 4, HORIZON)


def summarize(session: Session, schedule: Schedule, now: datetime,
              names: dict[str, str], spec: ScheduleSpec | None = None) -> Summary:
    """``spec``: the schedule over [now, now + HORIZON], if already loaded."""
    base: dict[str, Any] = {"id": schedule.id, "name": schedule.name,
                            "timezone": schedule.timezone, "managed_by": schedule.managed_by}
    try:
        spec = spec or spec_for(session, schedule, now, now + HORIZON)
        current = _current(spec, now)
        nxt = next_shift(spec, now, horizon=HORIZON)
    except (RotationError, ValueError) as exc:
        return Summary(**base, now=None, until=None, next=None, next_at=None,
                       error=str(exc))
    who = current.user if current else None
    until = current.end if current and current.end < now + HORIZON else None
    return Summary(**base, now=_person(who, names), until=until,
                   next=_person(nxt.user, names) if nxt else None,
                   next_at=nxt.start if nxt else None)


def summaries(session: Session, now: datetime) -> list[Summary]:
    """Every schedule, by name."""
    names = {email: name for email, name in session.execute(select(User.email, User.name))}
    schedules = list(session.scalars(select(Schedule).options(selectinload(Schedule.layers))
                                     .order_by(Schedule.name)))
    specs = specs_for(session, schedules, now, now + HORIZON)
    return [summarize(session, s, now, names, specs.get(s.id)) for s in schedules]
