"""A layer edit's preview, before it is saved: the edit is run in the request's session and
rolled back, and what it does to the next four weeks is told per person (shifts gained and
lost), with the gaps it leaves and who is on call now before and after."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from oncall.models import Schedule, User, utcnow
from oncall.schedules import coverage, layer_edits
from oncall.schedules.rotation import ShiftDiff
from oncall.web import session as db_session
from oncall.web.roster import warnings

Work = Callable[[str | datetime, datetime], Any]
DataWork = Callable[[str | datetime, datetime, dict[str, Any]], Any]


@dataclass
class PersonChange:
    name: str | None  # None: nobody (a gap)
    gained: list[tuple[datetime, datetime, str | None]]
    lost: list[tuple[datetime, datetime, str | None]]

    @staticmethod
    def hours(pieces: list[tuple[datetime, datetime, str | None]]) -> float:
        return sum(((e - s) for s, e, _ in pieces), timedelta()).total_seconds() / 3600


@dataclass
class Preview:
    effective_from: datetime | None
    warnings: list[str]
    people: list[PersonChange]
    gaps: list[tuple[datetime, datetime]]
    window: tuple[datetime, datetime]
    now_before: str | None
    now_after: str | None
    unchanged: bool  # the edit changes nothing from now on


def preview_edit(sched: Schedule, work: Work, effective: str | datetime) -> Preview:
    """Run ``work`` in the request's session, measure what it does to the final schedule
    over the next four weeks, and roll it all back."""
    s = db_session()
    now = utcnow()
    done: list[Any] = []
    try:
        diff: ShiftDiff = layer_edits.preview(
            s, sched, lambda: done.append(work(effective, now)), now)
        gaps = [(a, b) for a, b in coverage.schedule_gaps(s, sched, now,
                                                          layer_edits.PREVIEW_DAYS)]
        at = done[0] if isinstance(done[0], datetime) else done[0].effective_from
    finally:
        s.rollback()
    names = dict(s.execute(select(User.email, User.name)).all())
    people: dict[str | None, PersonChange] = {}
    for kind, pieces in (("gained", diff.gained), ("lost", diff.lost)):
        for p in pieces:
            entry = people.setdefault(p.user, PersonChange(
                names.get(p.user, p.user) if p.user else None, [], []))
            getattr(entry, kind).append((p.start, p.end, p.source))
    ordered = sorted(people.values(), key=lambda c: (c.name is None, (c.name or "").lower()))
    return Preview(at, warnings(diff), ordered, gaps, (diff.start, diff.end),
                   names.get(diff.now_before or "", diff.now_before),
                   names.get(diff.now_after or "", diff.now_after),
                   unchanged=not ordered and (at is None or at <= now))
