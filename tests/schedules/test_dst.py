"""Daylight saving, both directions, in America/New_York, Europe/London, Australia/Lord_Howe
(a 30-minute change) and Asia/Kolkata (none): handoffs stay local, daily turns last 23/25
hours (23.5/24.5 on Lord Howe), handoffs in the gap and in the repeated hour, and restriction
windows across the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from oncall.schedules.rotation import (
    Layer,
    ScheduleSpec,
    final_shifts,
    layer_shifts,
    on_call,
    parse_restriction,
    parse_rotation,
    turns_between,
)

H = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Zone:
    name: str
    spring: date  # the day clocks go forward
    fall: date  # the day clocks go back
    change: timedelta
    gap: time | None  # a wall-clock time that does not exist on ``spring``
    after_gap: time | None  # where it lands: the same offset after the change
    repeated: time | None  # a wall-clock time that occurs twice on ``fall``

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.name)


ZONES = [
    Zone("America/New_York", date(2026, 3, 8), date(2026, 11, 1), H, time(2, 30), time(3, 30),
         time(1, 30)),
    Zone("Europe/London", date(2026, 3, 29), date(2026, 10, 25), H, time(1, 30), time(2, 30),
         time(1, 30)),
    Zone("Australia/Lord_Howe", date(2026, 10, 4), date(2026, 4, 5), H / 2, time(2, 15),
         time(2, 45), time(1, 45)),
    Zone("Asia/Kolkata", date(2026, 3, 8), date(2026, 11, 1), timedelta(0), None, None, None),
]
zones = pytest.mark.parametrize("zone", ZONES, ids=lambda z: z.name)
dst_zones = pytest.mark.parametrize("zone", ZONES[:3], ids=lambda z: z.name)


def turns(zone: Zone, handoff: str, around: date, **rotation: object) -> list[tuple[datetime,
                                                                                   datetime]]:
    """(start, end) of each turn from three days before ``around`` to three days after, in
    the zone's local time."""
    rot = parse_rotation({"rotation": "daily", "handoff": handoff,
                          "start": (around - 10 * DAY).isoformat(), **rotation})
    lo = datetime.combine(around - 3 * DAY, time(12), tzinfo=zone.tz)
    return [(t.start.astimezone(zone.tz), t.end.astimezone(zone.tz))
            for t in turns_between(rot, zone.tz, lo, lo + 6 * DAY)]


def real(start: datetime, end: datetime) -> timedelta:
    """Elapsed time: subtracting datetimes sharing a tzinfo would count wall-clock time."""
    return end.astimezone(UTC) - start.astimezone(UTC)


def local(day: date, at: time, zone: Zone) -> datetime:
    return datetime.combine(day, at, tzinfo=zone.tz)


@zones
@pytest.mark.parametrize("which", ["spring", "fall"])
def test_a_nine_oclock_handoff_stays_at_nine_local(zone: Zone, which: str) -> None:
    around = getattr(zone, which)
    for start, end in turns(zone, "09:00", around):
        assert start.time() == time(9) and end.time() == time(9)
        assert end.date() - start.date() == DAY


@zones
def test_a_daily_turn_across_the_change_lasts_the_change_less_or_more(zone: Zone) -> None:
    for day, expected in ((zone.spring, DAY - zone.change), (zone.fall, DAY + zone.change)):
        lengths = {start.date(): real(start, end) for start, end in turns(zone, "09:00", day)}
        # The turn from 09:00 the day before holds the change (at night, early on ``day``).
        assert lengths[day - DAY] == expected
        assert lengths[day] == lengths[day - 2 * DAY] == DAY
        # The final schedule says the same, in real elapsed time.
        s = ScheduleSpec("s", zone.name, (Layer("l", parse_rotation(
            {"rotation": "daily", "handoff": "09:00", "start": "2026-01-01"}), ("a", "b")),))
        shift = next(x for x in final_shifts(s, local(day - 2 * DAY, time(12), zone),
                                             local(day + DAY, time(12), zone))
                     if x.start <= local(day, time(5), zone) < x.end)
        assert shift.end - shift.start == expected


@dst_zones
def test_a_handoff_in_the_spring_gap_happens_at_the_same_offset_after_it(zone: Zone) -> None:
    assert zone.gap is not None and zone.after_gap is not None
    by_day = {start.date(): (start, end) for start, end in turns(zone, f"{zone.gap:%H:%M}",
                                                                 zone.spring)}
    start, end = by_day[zone.spring]
    assert start.time() == zone.after_gap  # e.g. 02:30 -> 03:30
    # fold=0: the offset before the gap
    assert start.astimezone(UTC) == local(zone.spring, zone.gap, zone).astimezone(UTC)
    assert end.time() == zone.gap  # the next day it exists again
    assert real(start, end) == DAY - zone.change
    before_start, before_end = by_day[zone.spring - DAY]
    assert before_end == start and real(before_start, before_end) == DAY
    # on_call hands off exactly there
    s = ScheduleSpec("s", zone.name, (Layer("l", parse_rotation(
        {"rotation": "daily", "handoff": f"{zone.gap:%H:%M}", "start": "2026-01-01"}),
        ("a", "b")),))
    assert on_call(s, start - timedelta(microseconds=1)) != on_call(s, start)


@dst_zones
def test_a_handoff_in_the_repeated_hour_happens_at_its_first_occurrence(zone: Zone) -> None:
    assert zone.repeated is not None
    by_day = {start.date(): (start, end) for start, end in turns(zone, f"{zone.repeated:%H:%M}",
                                                                 zone.fall)}
    start, end = by_day[zone.fall]
    first = local(zone.fall, zone.repeated, zone)  # fold=0
    second = first.replace(fold=1)
    assert start.astimezone(UTC) == first.astimezone(UTC)
    assert second.astimezone(UTC) - first.astimezone(UTC) == zone.change
    # The turn starting at the first occurrence holds the change; the one before ends there,
    # before the clocks go back, so it lasts exactly a day.
    assert real(start, end) == DAY + zone.change
    before_start, before_end = by_day[zone.fall - DAY]
    assert before_end == start and real(before_start, before_end) == DAY


@zones
@pytest.mark.parametrize("which", ["spring", "fall"])
def test_hourly_turns_count_real_hours_across_the_change(zone: Zone, which: str) -> None:
    day = getattr(zone, which)
    rot = parse_rotation({"rotation": {"hours": 8}, "handoff": "00:00",
                          "start": (day - DAY).isoformat()})
    found = turns_between(rot, zone.tz, local(day - DAY, time(0), zone),
                          local(day + DAY, time(0), zone))
    assert all(t.end - t.start == 8 * H for t in found)
    assert found[0].start == local(day - DAY, time(0), zone).astimezone(UTC)


def restricted(zone: Zone, *raw: dict[str, object]) -> Layer:
    return Layer("l", parse_rotation({"rotation": "weekly", "start": "2026-01-01"}), ("a",),
                 tuple(parse_restriction(r) for r in raw))


@zones
def test_a_night_window_ends_at_six_local_across_the_change(zone: Zone) -> None:
    layer = restricted(zone, {"from": "22:00", "to": "06:00"})
    for day, expected in ((zone.spring, 8 * H - zone.change), (zone.fall, 8 * H + zone.change)):
        shifts = layer_shifts(layer, zone.tz, local(day - DAY, time(12), zone),
                              local(day, time(12), zone))
        assert len(shifts) == 1
        start, end = shifts[0].start.astimezone(zone.tz), shifts[0].end.astimezone(zone.tz)
        assert (start.date(), start.time(), end.date(), end.time()) == (
            day - DAY, time(22), day, time(6))
        assert shifts[0].end - shifts[0].start == expected


@zones
def test_business_hours_and_a_weekend_span_keep_their_local_times(zone: Zone) -> None:
    layer = restricted(zone, {"days": "Mon-Fri", "from": "09:00", "to": "17:00"},
                       {"from": "Fri 18:00", "to": "Mon 09:00"})
    for day in (zone.spring, zone.fall):  # each a Sunday
        assert day.weekday() == 6
        friday, monday = day - 2 * DAY, day + DAY
        shifts = layer_shifts(layer, zone.tz, local(friday, time(0), zone),
                              local(monday, time(23), zone))
        spans = [(s.start.astimezone(zone.tz).replace(tzinfo=None),
                  s.end.astimezone(zone.tz).replace(tzinfo=None)) for s in shifts]
        assert spans == [
            (datetime.combine(friday, time(9)), datetime.combine(friday, time(17))),
            (datetime.combine(friday, time(18)), datetime.combine(monday, time(17))),
        ]  # the weekend span runs into Monday's business hours: one merged shift
        weekend = shifts[1].end - shifts[1].start
        change = zone.change if day == zone.spring else -zone.change
        assert weekend == timedelta(days=3, hours=-1) - change


def test_a_window_wholly_inside_the_spring_gap_is_empty_that_night() -> None:
    ny = ZONES[0]
    layer = restricted(ny, {"from": "02:00", "to": "03:00"})
    night = layer_shifts(layer, ny.tz, local(ny.spring, time(0), ny), local(ny.spring, time(12),
                                                                           ny))
    assert night == []
    other = layer_shifts(layer, ny.tz, local(ny.spring + DAY, time(0), ny),
                         local(ny.spring + DAY, time(12), ny))
    assert [s.end - s.start for s in other] == [H]


def test_a_window_over_the_repeated_hour_lasts_it_twice() -> None:
    ny = ZONES[0]
    layer = restricted(ny, {"from": "01:00", "to": "02:00"})
    (shift,) = layer_shifts(layer, ny.tz, local(ny.fall, time(0), ny), local(ny.fall, time(12),
                                                                              ny))
    assert shift.end - shift.start == 2 * H  # 01:00 EDT to 02:00 EST
    assert shift.start == datetime(2026, 11, 1, 5, tzinfo=UTC)
