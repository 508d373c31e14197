"""Random schedules for hypothesis, and a slow reference model that reads the same raw input
(YAML-shaped dicts) without going through ``oncall.schedules.rotation``: it steps through every
handoff and every day's windows by hand."""

from __future__ import annotations

import os
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from oncall.schedules.rotation import (
    Layer,
    Override,
    ScheduleSpec,
    parse_restriction,
    parse_rotation,
)

# Examples per property: modest so the suite stays fast; ROTATIONS_EXAMPLES=2000 for a soak.
EXAMPLES = int(os.environ.get("ROTATIONS_EXAMPLES", "60"))
ZONES = ("America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
POOL = ("ann", "bob", "cat", "dan", "eve", "fay")
# Each zone's 2026 daylight-saving changes (New York's for the zones without any).
CHANGES = {
    "America/New_York": (date(2026, 3, 8), date(2026, 11, 1)),
    "Europe/London": (date(2026, 3, 29), date(2026, 10, 25)),
    "Australia/Lord_Howe": (date(2026, 4, 5), date(2026, 10, 4)),
    "Asia/Kolkata": (date(2026, 3, 8), date(2026, 11, 1)),
    "UTC": (date(2026, 3, 8), date(2026, 11, 1)),
}


def around(tz_name: str) -> st.SearchStrategy[date]:
    """A day near one of the zone's changes (mostly), or any day of 2026."""
    near = st.builds(lambda d, k: d + timedelta(days=k), st.sampled_from(CHANGES[tz_name]),
                     st.integers(-6, 3))
    return st.one_of(near, near, st.dates(date(2026, 1, 1), date(2026, 12, 31)))


def wall(day: date, at: time, tz: ZoneInfo) -> datetime:
    """Wall-clock time to a UTC instant, spelled differently from the library on purpose."""
    return datetime(day.year, day.month, day.day, at.hour, at.minute, tzinfo=tz).astimezone(UTC)


def clock(text: str) -> tuple[int | None, int]:
    """"Fri 18:30" -> (4, 1110); "24:00" -> (None, 1440)."""
    *day, hm = text.split()
    h, m = hm.split(":")
    return (DAYS.index(day[0]) if day else None), int(h) * 60 + int(m)


@dataclass
class RefLayer:
    name: str
    raw: dict[str, Any]
    tz: ZoneInfo
    lo: datetime
    hi: datetime
    handoffs: list[datetime] = field(default_factory=list)
    windows: list[tuple[datetime, datetime]] = field(default_factory=list)

    def __post_init__(self) -> None:
        raw, tz = self.raw, self.tz
        members = raw["members"]
        start = date.fromisoformat(raw["start"])
        h, m = (int(x) for x in raw["handoff"].split()[-1].split(":"))
        rotation = raw["rotation"]
        self.stop = wall(date.fromisoformat(raw["end"]), time(0), tz) if raw.get("end") else None
        if isinstance(rotation, dict) and "hours" in rotation:
            anchor, step = wall(start, time(h, m), tz), timedelta(hours=rotation["hours"])
            k = 0
            while anchor + step * k <= self.hi + step:
                self.handoffs.append(anchor + step * k)
                k += 1
        else:
            first = start
            if rotation == "daily":
                period = 1
            elif "days" in rotation:
                period = rotation["days"]
            else:
                period = 7 * (1 if rotation == "weekly" else rotation["weeks"])
                weekday = DAYS.index(raw["handoff"].split()[0])
                while first.weekday() != weekday:
                    first += timedelta(days=1)
            day = first
            while wall(day, time(h, m), tz) <= self.hi + timedelta(days=period):
                self.handoffs.append(wall(day, time(h, m), tz))
                day += timedelta(days=period)
        self.members = members
        day = self.lo.astimezone(tz).date() - timedelta(days=9)
        while day <= self.hi.astimezone(tz).date() + timedelta(days=1):
            for r in raw.get("restrictions", []):
                for s, e in _windows(r, day, tz):
                    if s < e:
                        self.windows.append((s, e))
            day += timedelta(days=1)

    def at(self, at: datetime) -> str | None:
        if not self.members or (self.stop is not None and at >= self.stop):
            return None
        k = bisect_right(self.handoffs, at) - 1
        if k < 0:
            return None
        if self.raw.get("restrictions") and not any(s <= at < e for s, e in self.windows):
            return None
        return str(self.members[k % len(self.members)])


def _windows(r: dict[str, Any], day: date, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    fd, fm = clock(r["from"])
    td, tm = clock(r["to"])
    if fd is not None:
        assert td is not None
        if day.weekday() != fd:
            return []
        span = (td - fd) % 7
        if span == 0 and tm <= fm:
            span = 7
        end_day = day + timedelta(days=span)
    else:
        days = r.get("days", DAYS)
        if isinstance(days, str):
            a, _, b = days.partition("-")
            lo, hi = DAYS.index(a), DAYS.index(b or a)
            days = [DAYS[(lo + i) % 7] for i in range((hi - lo) % 7 + 1)]
        if DAYS[day.weekday()] not in days:
            return []
        end_day = day + timedelta(days=1) if tm <= fm else day
    if tm == 1440:  # "24:00": midnight at the end of that day
        end_day, tm = end_day + timedelta(days=1), 0
    return [(wall(day, time(fm // 60, fm % 60), tz),
             wall(end_day, time(tm // 60, tm % 60), tz))]


@dataclass
class Case:
    """A random schedule, as raw input and as built, with the range under test."""

    tz_name: str
    layers: list[dict[str, Any]]
    overrides: list[Override]
    start: datetime
    end: datetime

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    def schedule(self) -> ScheduleSpec:
        return ScheduleSpec("s", self.tz_name, tuple(
            Layer(raw["name"], parse_rotation(raw), tuple(raw["members"]),
                  tuple(parse_restriction(r) for r in raw.get("restrictions", [])))
            for raw in self.layers), tuple(self.overrides))

    def reference(self) -> Reference:
        return Reference(self)


class Reference:
    def __init__(self, case: Case) -> None:
        self.layers = [RefLayer(raw["name"], raw, case.tz, case.start, case.end)
                       for raw in case.layers]
        self.overrides = case.overrides

    def override(self, at: datetime) -> Override | None:
        live = [(o.created_at, -1 if o.id is None else o.id, i)
                for i, o in enumerate(self.overrides) if o.start <= at < o.end]
        return self.overrides[max(live)[2]] if live else None

    def on_call(self, at: datetime) -> str | None:
        override = self.override(at)
        if override is not None:
            return override.user
        for layer in reversed(self.layers):
            who = layer.at(at)
            if who is not None:
                return who
        return None


hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}",
                 st.one_of(st.integers(0, 23), st.sampled_from([0, 1, 2, 3])),
                 st.sampled_from([0, 15, 30, 45]))
day_name = st.sampled_from(DAYS)


@st.composite
def restrictions(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        start, end = draw(day_name), draw(day_name)
        frm, to = f"{start} {draw(hhmm)}", f"{end} {draw(hhmm)}"
        if frm == to:
            to = f"{end} 23:59" if not frm.endswith("23:59") else f"{end} 00:00"
        return {"from": frm, "to": to}
    frm, to = draw(hhmm), draw(st.one_of(hhmm, st.just("24:00")))
    if frm == to:
        to = "24:00" if frm == "00:00" else "00:00"
    raw: dict[str, Any] = {"from": frm, "to": to}
    days = draw(st.one_of(st.none(), st.lists(day_name, min_size=1, max_size=4, unique=True),
                          st.builds(lambda a, b: f"{a}-{b}", day_name, day_name)))
    if days is not None:
        raw["days"] = days
    return raw


@st.composite
def layers(draw: st.DrawFn, name: str, around: date, *, restricted: bool = True,
           distinct: bool = False, min_members: int = 0) -> dict[str, Any]:
    kind = draw(st.sampled_from(["daily", "weekly", "days", "weeks", "hours"]))
    counts = {"days": st.integers(1, 4), "weeks": st.integers(1, 2),
              "hours": st.sampled_from([1, 5, 8, 12, 24, 36])}
    rotation: Any = {kind: draw(counts[kind])} if kind in counts else kind
    handoff = draw(hhmm)
    if kind in ("weekly", "weeks"):
        handoff = f"{draw(day_name)} {handoff}"
    start = around + timedelta(days=draw(st.integers(-40, 10)))
    raw: dict[str, Any] = {"name": name, "rotation": rotation, "handoff": handoff,
                           "start": start.isoformat()}
    if draw(st.integers(0, 3)) == 0:
        raw["end"] = (start + timedelta(days=draw(st.integers(1, 60)))).isoformat()
    if distinct:
        raw["members"] = draw(st.lists(st.sampled_from(POOL), min_size=max(min_members, 1),
                                       max_size=4, unique=True))
    else:
        raw["members"] = draw(st.lists(st.sampled_from(POOL), min_size=min_members,
                                       max_size=4))
    if restricted:
        raw["restrictions"] = draw(st.lists(restrictions(), max_size=2))
    return raw


@st.composite
def cases(draw: st.DrawFn, *, max_layers: int = 3, max_overrides: int = 5) -> Case:
    tz_name = draw(st.sampled_from(ZONES))
    day = draw(around(tz_name))
    start = wall(day, time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30]))),
                 ZoneInfo(tz_name))
    end = start + timedelta(hours=draw(st.integers(1, 24 * 30)))
    n = draw(st.integers(1, max_layers))
    raw_layers = [draw(layers(f"L{i}", day)) for i in range(n)]
    created = datetime(2026, 1, 1, tzinfo=UTC)
    overrides = []
    for i in range(draw(st.integers(0, max_overrides))):
        o_start = start + timedelta(minutes=draw(st.integers(-600, int(
            (end - start).total_seconds() // 60))))
        overrides.append(Override(
            o_start, o_start + timedelta(minutes=draw(st.integers(30, 3 * 24 * 60))),
            draw(st.sampled_from(POOL)), created + timedelta(hours=draw(st.integers(0, 3))),
            id=draw(st.one_of(st.none(), st.just(i + 1)))))
    return Case(tz_name, raw_layers, overrides, start, end)
