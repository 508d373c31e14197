"""The proof: the source's own final schedule against ours, minute by minute.

Both sides are lists of (start, end, who) with who None for nobody; the comparison cuts the
window at every boundary of either side, so it is exact to the second (finer than minutes),
and reports each stretch where the two disagree, merged when consecutive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

__all__ = ["Difference", "compare", "format_difference"]

Entry = tuple[datetime, datetime, str | None]


@dataclass(frozen=True)
class Difference:
    schedule: str
    start: datetime
    end: datetime
    source: str | None  # who the source has on call (None: nobody)
    ours: str | None

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def _who(entries: list[Entry], at: datetime, ptr: list[int]) -> str | None:
    i = ptr[0]
    while i < len(entries) and entries[i][1] <= at:
        i += 1
    ptr[0] = i
    if i < len(entries) and entries[i][0] <= at:
        return entries[i][2]
    return None


def compare(schedule: str, source: list[Entry], ours: list[Entry], start: datetime,
            end: datetime) -> list[Difference]:
    """Where ``source`` and ``ours`` name different people within [start, end)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)

    def norm(entries: list[Entry]) -> list[Entry]:
        out = sorted((max(s.astimezone(UTC), start), min(e.astimezone(UTC), end), w)
                     for s, e, w in entries)
        return [x for x in out if x[0] < x[1]]

    a, b = norm(source), norm(ours)
    points = sorted({start, end} | {p for s, e, _ in a + b for p in (s, e)})
    pa, pb = [0], [0]
    out: list[Difference] = []
    for lo, hi in pairwise(points):
        x, y = _who(a, lo, pa), _who(b, lo, pb)
        if x == y:
            continue
        last = out[-1] if out else None
        if last and last.end == lo and last.source == x and last.ours == y:
            out[-1] = Difference(schedule, last.start, hi, x, y)
        else:
            out.append(Difference(schedule, lo, hi, x, y))
    return out


def format_difference(d: Difference, tz: str) -> str:
    zone = ZoneInfo(tz)

    def at(t: datetime) -> str:
        return t.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")

    return (f"{d.schedule}: {at(d.start)} -> {at(d.end)} ({d.minutes} min): "
            f"source has {d.source or 'nobody'}, ours has {d.ours or 'nobody'}")
