"""A file-managed schedule's layers, made to match the file without rewriting the past: each
layer is matched to the file's layer of the same name (in order) and revised, added or
removed from its effective time (by default its next handoff after now), so shifts before
that are unchanged; the schedule's shift-level diff for the next four weeks is shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from oncall.models import Schedule, ScheduleLayer
from oncall.schedules import history
from oncall.schedules.layer_edits import PREVIEW_DAYS
from oncall.schedules.rotation import ScheduleSpec, ShiftDiff, shift_diff
from oncall.schedules.store import spec_for


def _short(at: datetime, tz: ZoneInfo | None = None) -> str:
    """``Mon 2026-12-07 09:00 EST`` in ``tz`` (UTC without one)."""
    return at.astimezone(tz or UTC).strftime("%a %Y-%m-%d %H:%M %Z")


def sync_layers(session: Session, sched: Schedule, wanted: list[dict[str, Any]],
                effective: str | datetime, now: datetime, *, created: bool = False
                ) -> list[str]:
    """Make ``sched``'s layers ``wanted`` (dicts of name, spec, members, restrictions); the
    lines saying what changed from when. A schedule created now has its layers since
    forever (there are no past shifts to keep)."""
    if created:
        sched.layers = [ScheduleLayer(position=i, **w) for i, w in enumerate(wanted)]
        return []
    tz = ZoneInfo(sched.timezone)
    # On a schedule without layers nobody's shift can be cut: new layers start now.
    fresh = history.NOW if not sched.layers and effective == history.NEXT_HANDOFF else effective
    pool: dict[str, list[ScheduleLayer]] = {}
    for layer in sched.layers:
        pool.setdefault(layer.name, []).append(layer)
    lines: list[str] = []
    order: list[ScheduleLayer] = []
    for i, w in enumerate(wanted):
        same = pool.get(w["name"])
        if same:
            layer = same.pop(0)
            at = history.resolve(session, effective, layer, w, sched.timezone, now)
            if history.revise(session, layer, {**w, "position": i}, at,
                              sched.timezone):
                lines.append(f"layer {w['name']}: changed from {_short(at, tz)}")
        else:
            at = history.resolve(session, fresh, None, w, sched.timezone, now)
            layer = ScheduleLayer(position=i, effective_from=at, **w)
            lines.append(f"layer {w['name']}: added from {_short(at, tz)}")
        order.append(layer)
    for left in (x for same in pool.values() for x in same):
        at = history.resolve(session, effective, left, {}, sched.timezone, now)
        history.retire(session, left, at)
        lines.append(f"layer {left.name}: removed from {_short(at, tz)}")
    sched.layers = order
    return lines


def window(now: datetime) -> tuple[datetime, datetime]:
    return now, now + timedelta(days=PREVIEW_DAYS)


def before(session: Session, sched: Schedule, now: datetime) -> ScheduleSpec | None:
    """The schedule's final schedule as it is, to diff against (None for a new schedule)."""
    return None if sched.id is None else spec_for(session, sched, *window(now))


def diff_lines(session: Session, sched: Schedule, old: ScheduleSpec, now: datetime
               ) -> list[str]:
    """The shift-level diff of ``sched`` against ``old`` over the next four weeks, as
    lines for ``oncall apply``: who gains and loses which shifts, and a warning first when
    the person on call right now changes."""
    session.flush()
    diff = shift_diff(old, spec_for(session, sched, *window(now)), *window(now))
    return format_diff(diff, ZoneInfo(sched.timezone))


NO_CHANGE = ["shifts: no change in the next 4 weeks"]


def format_diff(diff: ShiftDiff, tz: ZoneInfo | None = None) -> list[str]:
    if diff.empty:
        return list(NO_CHANGE)
    out = []
    if diff.changes_now:
        out.append(f"WARNING: the person on call now changes at once: "
                   f"{diff.now_before or 'nobody'} -> {diff.now_after or 'nobody'}")
    out.append("shifts, next 4 weeks (+ gained, - lost):")
    rows = sorted([(p.user or "~", p.start, sign, p) for sign, pieces in
                   (("+", diff.gained), ("-", diff.lost)) for p in pieces],
                  key=lambda r: (r[0], r[1], r[2]))
    for _, _, sign, p in rows:
        out.append(f"  {p.user or '(nobody)'}: {sign} {_short(p.start, tz)} -> "
                   f"{_short(p.end, tz)} ({p.source or 'gap'})")
    return out
