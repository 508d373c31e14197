"""Overrides: a user on call for [start, end) on top of every layer.

Where overrides overlap, the most recently created wins; ties on ``created_at`` go to the
larger ``id`` (None counts as lowest), then to the later one in ``ScheduleSpec.overrides``.
:class:`OverrideIndex` flattens a schedule's overrides once into a sorted timeline of who
wins where, so a lookup is one bisection and a range is a slice.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from oncall.schedules.rotation.spec import RotationError

__all__ = ["Override", "OverrideIndex", "make_override"]


@dataclass(frozen=True)
class Override:
    """``user`` on call for [start, end). Datetimes must be aware; they are stored in UTC."""

    start: datetime
    end: datetime
    user: str
    created_at: datetime
    id: int | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end", "created_at"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise RotationError(name, "must be a timezone-aware datetime")
            object.__setattr__(self, name, value.astimezone(UTC))
        if self.end <= self.start:
            raise RotationError("end", "must be after start")
        if not isinstance(self.user, str) or not self.user:
            raise RotationError("user", "must name a user")


def make_override(start: datetime, end: datetime, user: str, created_at: datetime,
                  id: int | None = None) -> Override:
    """An override, validated: RotationError (a ValueError) naming ``end`` if it does not
    come after ``start``, ``start``/``end``/``created_at`` if one is naive, ``user`` if empty.
    """
    return Override(start, end, user, created_at, id)


class OverrideIndex:
    """Who wins where, for a fixed set of overrides: ``winners[i]`` holds on
    [bounds[i], bounds[i + 1]); nothing before ``bounds[0]``; ``winners[-1]`` is None."""

    __slots__ = ("bounds", "winners")

    def __init__(self, overrides: Sequence[Override]) -> None:
        ranked = sorted(range(len(overrides)), key=lambda i: (
            overrides[i].created_at, -1 if overrides[i].id is None else overrides[i].id, i))
        rank = {i: r for r, i in enumerate(ranked)}
        by_start = sorted(range(len(overrides)), key=lambda i: overrides[i].start)
        points = sorted({o.start for o in overrides} | {o.end for o in overrides})
        self.bounds: list[datetime] = []
        self.winners: list[Override | None] = []
        heap: list[tuple[int, int]] = []  # (-rank, index): the newest on top
        j = 0
        for point in points:
            while j < len(by_start) and overrides[by_start[j]].start <= point:
                heapq.heappush(heap, (-rank[by_start[j]], by_start[j]))
                j += 1
            while heap and overrides[heap[0][1]].end <= point:
                heapq.heappop(heap)  # expired (ones under the top expire lazily)
            winner = overrides[heap[0][1]] if heap else None
            if self.winners and self.winners[-1] is winner:
                continue
            self.bounds.append(point)
            self.winners.append(winner)

    def at(self, at: datetime) -> Override | None:
        """The override in effect at the UTC instant ``at``."""
        i = bisect_right(self.bounds, at) - 1
        return self.winners[i] if i >= 0 else None

    def segments(self, start: datetime, end: datetime
                 ) -> list[tuple[datetime, datetime, Override]]:
        """(from, to, override) pieces within [start, end), clipped, sorted, disjoint."""
        out: list[tuple[datetime, datetime, Override]] = []
        i = max(bisect_right(self.bounds, start) - 1, 0)
        bounds, winners = self.bounds, self.winners
        while i < len(bounds) - 1 and bounds[i] < end:
            winner = winners[i]
            if winner is not None and bounds[i + 1] > start:
                out.append((max(bounds[i], start), min(bounds[i + 1], end), winner))
            i += 1
        return out
