"""Coverage gaps: stretches ahead when a schedule that an escalation policy pages has nobody
on call (the final schedule, overrides included). A page to such a schedule finds no one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.models import EscalationPolicy, PolicyLevel, Schedule
from oncall.schedules.rotation import gaps
from oncall.schedules.store import spec_for

HORIZON_DAYS = 28


@dataclass(frozen=True)
class Gap:
    schedule: str
    timezone: str
    start: datetime
    end: datetime
    policies: tuple[str, ...]


def policies_using(session: Session) -> dict[str, list[str]]:
    """Schedule name -> the names of the policies with a level that pages it."""
    found: dict[str, list[str]] = {}
    rows = session.execute(select(EscalationPolicy.name, PolicyLevel.targets)
                           .join(PolicyLevel, PolicyLevel.policy_id == EscalationPolicy.id)
                           .order_by(EscalationPolicy.name))
    for policy, targets in rows:
        for target in targets or []:
            if target.get("type") == "schedule":
                names = found.setdefault(str(target.get("ref")), [])
                if policy not in names:
                    names.append(policy)
    return found


def schedule_gaps(session: Session, schedule: Schedule, now: datetime,
                  days: int = HORIZON_DAYS) -> list[tuple[datetime, datetime]]:
    """When nobody is on call on ``schedule`` within the next ``days`` from ``now``."""
    end = now + timedelta(days=days)
    return gaps(spec_for(session, schedule, now, end), now, end)


def coverage_gaps(session: Session, now: datetime, days: int = HORIZON_DAYS) -> list[Gap]:
    """Every gap in the next ``days`` on a schedule that some policy pages, by schedule."""
    used = policies_using(session)
    out: list[Gap] = []
    for schedule in session.scalars(select(Schedule).where(Schedule.name.in_(list(used)))
                                    .order_by(Schedule.name)):
        out += [Gap(schedule.name, schedule.timezone, s, e, tuple(used[schedule.name]))
                for s, e in schedule_gaps(session, schedule, now, days)]
    return out
