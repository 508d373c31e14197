"""How the schedule page draws a timeline: each shift as a bar placed in percent of the
window (SVG ``x``/``width`` attributes, which the Content-Security-Policy allows where
inline styles are not), labelled with the person's name and times in the viewer's zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from oncall.schedules.rotation import Shift
from oncall.schedules.timeline import Lane, Timeline

PALETTE = 8  # person colours p0..p7 in console.css


def window(day: date, days: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight of ``day`` to local midnight ``days`` later (a DST day is 23 or 25
    hours long, so the bars stay under their days)."""
    return (datetime.combine(day, time(), zone),
            datetime.combine(day + timedelta(days=days), time(), zone))


def when(value: datetime, zone: ZoneInfo, with_zone: bool = False) -> str:
    """``Mon 7 Dec 09:00`` in ``zone`` (``EST`` appended with ``with_zone``)."""
    local = value.astimezone(zone)
    text = f"{local:%a} {local.day} {local:%b %H:%M}"
    return f"{text} {local.tzname()}" if with_zone else text


def span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    return f"{when(start, zone)} \N{EN DASH} {when(end, zone, with_zone=True)}"


@dataclass(frozen=True)
class Bar:
    """One shift drawn: ``x`` and ``width`` in percent of the window; ``title`` says it
    all in words (tooltip and accessible name)."""

    shift: Shift
    x: float
    width: float
    label: str
    title: str
    css: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str  # "Mon 7"; "" for an unlabelled tick
    short: str  # "7", for phones
    weekend: bool


class Drawing:
    """Places shifts of ``timeline`` in percent, names people, picks their colours."""

    def __init__(self, timeline: Timeline, zone: ZoneInfo, names: dict[str, str],
                 order: list[str] | None = None) -> None:
        """``order``: the schedule's people in a fixed order (its layers' members), so that
        each keeps their colour whatever range is shown; others follow, sorted."""
        self.timeline, self.zone, self.names = timeline, zone, names
        self.total = (timeline.end - timeline.start).total_seconds()
        shown = {s.user for lane in timeline.lanes for s in lane.shifts if s.user}
        people = list(dict.fromkeys([*(order or []), *sorted(shown)]))
        self.colour = {email: f"p{i % PALETTE}" for i, email in enumerate(people)}

    def x(self, at: datetime) -> float:
        seconds = (at - self.timeline.start).total_seconds()
        return round(min(max(seconds / self.total, 0.0), 1.0) * 100, 3)

    def name(self, email: str | None) -> str:
        return "Gap: nobody on call" if email is None else self.names.get(email, email)

    def bar(self, lane: Lane, shift: Shift) -> Bar:
        x = self.x(shift.start)
        who = self.name(shift.user)
        source = ("override" if shift.override_id is not None and shift.layer is None
                  else f"layer {shift.layer}" if shift.layer else "")
        title = f"{who}, {span(shift.start, shift.end, self.zone)}"
        if lane.kind == "final" and source:
            title += f" ({source})"
        css = "gap" if shift.user is None else self.colour.get(shift.user, "p0")
        return Bar(shift, x, round(self.x(shift.end) - x, 3),
                   "Gap" if shift.user is None else who, title, css)

    def bars(self, lane: Lane) -> list[Bar]:
        return [self.bar(lane, s) for s in lane.shifts]

    def ticks(self) -> list[Tick]:
        """A tick at each local midnight; labelled every day up to two weeks, else Mondays."""
        start = self.timeline.start.astimezone(self.zone).date()
        days = (self.timeline.end.astimezone(self.zone).date() - start).days
        out = []
        for i in range(days):
            day = start + timedelta(days=i)
            shown = days <= 14 or day.weekday() == 0
            out.append(Tick(self.x(datetime.combine(day, time(), self.zone)),
                            f"{day:%a} {day.day}" if shown else "",
                            str(day.day) if shown and (days <= 7 or i % 2 == 0 or days > 14)
                            else "", day.weekday() >= 5))
        return out
