"""Rotation expansion checked against an independent RFC 5545 expansion: each member becomes a
VEVENT recurring every ``turn x members`` (DTSTART in the zone, DURATION one turn), written
out as iCalendar text, read back and expanded by ``recurring-ical-events``; per member, the
expanded occurrences must be ``layer_shifts``."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from hypothesis import given, settings
from hypothesis import strategies as st

from oncall.schedules.rotation import Layer, RotationSpec, layer_shifts, parse_rotation
from oncall.schedules.rotation.turns import rotation_end
from tests.schedules.reference import CHANGES, EXAMPLES, ZONES, around, layers

BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def calendar(rot: RotationSpec, members: list[str], tz: ZoneInfo) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//oncall tests//rotations//EN")
    cal.add("version", "2.0")
    n = len(members)
    for i, member in enumerate(members):
        event = icalendar.Event()
        event.add("uid", f"{i}-{member}@oncall.test")
        event.add("summary", member)
        event.add("dtstamp", datetime(2026, 1, 1, tzinfo=UTC))
        if rot.hours:
            # RFC 5545 hours are exact: keep DTSTART in UTC so nothing reads them as wall time.
            anchor = datetime.combine(rot.start, rot.handoff, tzinfo=tz).astimezone(UTC)
            event.add("dtstart", anchor + timedelta(hours=rot.hours * i))
            event.add("rrule", {"freq": "hourly", "interval": rot.hours * n})
            event.add("duration", timedelta(hours=rot.hours))
        else:
            first = rot.first_handoff_day() + timedelta(days=rot.days * i)
            event.add("dtstart", datetime.combine(first, rot.handoff, tzinfo=tz))
            if rot.weekday is not None:
                event.add("rrule", {"freq": "weekly", "interval": rot.days // 7 * n,
                                    "byday": BYDAY[rot.weekday]})
            else:
                event.add("rrule", {"freq": "daily", "interval": rot.days * n})
            event.add("duration", timedelta(days=rot.days))  # nominal days: wall clock
        cal.add_component(event)
    return cal.to_ical()


def expand(text: bytes, start: datetime, end: datetime, stop: datetime | None
           ) -> list[tuple[datetime, datetime, str]]:
    """Occurrences clipped to [start, end) and the rotation's end, merged per member where
    they touch, as UTC. The query is padded by a week each side and clipped here:
    recurring-ical-events 3.8 filters with the exact length of a P1D duration, so it drops a
    25-hour occurrence that overlaps the range's start by less than its extra hour, while
    reporting the same occurrence's end by the wall clock."""
    out: list[tuple[datetime, datetime, str]] = []
    cal = icalendar.Calendar.from_ical(text)
    pad = timedelta(days=8)
    for event in recurring_ical_events.of(cal).between(start - pad, end + pad):
        s = event["DTSTART"].dt.astimezone(UTC)
        e = (event["DTEND"].dt if "DTEND" in event
             else event["DTSTART"].dt + event["DURATION"].dt).astimezone(UTC)
        if stop is not None:
            e = min(e, stop)
        s, e = max(s, start), min(e, end)
        if s < e:
            out.append((s, e, str(event["SUMMARY"])))
    out.sort()
    merged: list[tuple[datetime, datetime, str]] = []
    for s, e, who in out:
        if merged and merged[-1][2] == who and merged[-1][1] == s:
            merged[-1] = (merged[-1][0], e, who)
        else:
            merged.append((s, e, who))
    return merged


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data(), st.sampled_from(ZONES))
def test_layer_shifts_match_an_rfc5545_expansion(data: st.DataObject, tz_name: str) -> None:
    tz = ZoneInfo(tz_name)
    day = data.draw(around(tz_name))
    raw = data.draw(layers("L", day, restricted=False, distinct=True, min_members=2))
    rot = parse_rotation(raw)
    start = datetime.combine(day - timedelta(days=3), time(data.draw(st.integers(0, 23))),
                             tzinfo=tz).astimezone(UTC)
    end = start + timedelta(days=data.draw(st.integers(3, 40)))
    expected = expand(calendar(rot, raw["members"], tz), start, end, rotation_end(rot, tz))
    got = [(s.start, s.end, s.user) for s in
           layer_shifts(Layer("L", rot, tuple(raw["members"])), tz, start, end)]
    assert got == expected


@pytest.mark.parametrize("tz_name", ZONES)
@pytest.mark.parametrize("rotation", [
    {"rotation": "daily", "handoff": "09:00"},
    {"rotation": "daily", "handoff": "02:30"},  # in New York's gap, and its repeated hour
    {"rotation": "daily", "handoff": "01:45"},  # in London's and Lord Howe's repeated hour
    {"rotation": {"days": 3}, "handoff": "02:15"},  # in Lord Howe's gap
    {"rotation": "weekly", "handoff": "Sun 01:30"},
    {"rotation": {"weeks": 2}, "handoff": "Sat 23:00"},
    {"rotation": {"hours": 7}, "handoff": "01:30"},
], ids=str)
def test_each_kind_of_rotation_across_both_changes(tz_name: str, rotation: dict[str, Any]
                                                   ) -> None:
    tz = ZoneInfo(tz_name)
    for change in CHANGES[tz_name]:
        rot = parse_rotation({**rotation, "start": (change - timedelta(days=20)).isoformat()})
        start = datetime.combine(change - timedelta(days=10), time(0), tzinfo=tz)
        end = start + timedelta(days=24)
        expected = expand(calendar(rot, ["a", "b", "c"], tz), start.astimezone(UTC),
                          end.astimezone(UTC), None)
        got = [(s.start, s.end, s.user)
               for s in layer_shifts(Layer("L", rot, ("a", "b", "c")), tz, start, end)]
        assert got == expected
