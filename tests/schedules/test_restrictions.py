"""Restrictions: the written forms, their errors, and PagerDuty semantics (a restriction
never moves a turn boundary; outside every window the layer has nobody)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from oncall.schedules.rotation import (
    Layer,
    Restriction,
    RotationError,
    ScheduleSpec,
    final_shifts,
    layer_shifts,
    on_call,
    parse_restriction,
    parse_rotation,
)

UTC_ZONE = ZoneInfo("UTC")
H = timedelta(hours=1)


@pytest.mark.parametrize(("raw", "expected"), [
    ({"from": "09:00", "to": "17:00"}, Restriction(time(9), 8 * H)),
    ({"days": ["Sat", "Sun"], "from": "09:00", "to": "21:00"},
     Restriction(time(9), 12 * H, (5, 6))),
    ({"days": "Mon-Fri", "from": "9:00", "to": "17:30"},
     Restriction(time(9), 8.5 * H, (0, 1, 2, 3, 4))),
    ({"days": "Fri-Mon", "from": "10:00", "to": "11:00"}, Restriction(time(10), H, (0, 4, 5, 6))),
    ({"days": "sat,sunday", "from": "10:00", "to": "11:00"}, Restriction(time(10), H, (5, 6))),
    ({"days": ["Mon-Wed", "Fri"], "from": "10:00", "to": "11:00"},
     Restriction(time(10), H, (0, 1, 2, 4))),
    ({"from": "22:00", "to": "06:00"}, Restriction(time(22), 8 * H)),
    ({"days": ["Fri"], "from": "22:00", "to": "06:00"}, Restriction(time(22), 8 * H, (4,))),
    ({"days": ["Sat"], "from": "00:00", "to": "24:00"}, Restriction(time(0), 24 * H, (5,))),
    ({"from": "18:00", "to": "00:00"}, Restriction(time(18), 6 * H)),
    ({"from": "Fri 18:00", "to": "Mon 09:00"}, Restriction(time(18), 63 * H, (4,))),
    ({"from": "Mon 09:00", "to": "Mon 17:00"}, Restriction(time(9), 8 * H, (0,))),
    ({"from": "Mon 17:00", "to": "Mon 09:00"}, Restriction(time(17), 7 * 24 * H - 8 * H, (0,))),
    ({"from": "Sat 00:00", "to": "Sun 24:00"}, Restriction(time(0), 48 * H, (5,))),
])
def test_the_written_forms(raw: dict[str, Any], expected: Restriction) -> None:
    assert parse_restriction(raw) == expected


@pytest.mark.parametrize(("raw", "field"), [
    ({"from": "9am", "to": "17:00"}, "from"),
    ({"from": "09:00", "to": "25:00"}, "to"),
    ({"from": "09:60", "to": "17:00"}, "from"),
    ({"from": "24:00", "to": "06:00"}, "from"),
    ({"from": 900, "to": "17:00"}, "from"),
    ({"to": "17:00"}, "from"),
    ({"from": "09:00"}, "to"),
    ({"from": "Funday 09:00", "to": "Mon 17:00"}, "from"),
    ({"from": "Fri 18:00", "to": "Mon 24:30"}, "to"),
    ({"days": ["Xyz"], "from": "09:00", "to": "17:00"}, "days"),
    ({"days": "Mon-Xyz", "from": "09:00", "to": "17:00"}, "days"),
    ({"days": [], "from": "09:00", "to": "17:00"}, "days"),
    ({"days": 5, "from": "09:00", "to": "17:00"}, "days"),
    ({"days": [1], "from": "09:00", "to": "17:00"}, "days"),
    ({"from": "09:00", "to": "09:00"}, "to"),  # zero length: ambiguous, so an error
    ({"from": "Fri 18:00", "to": "Fri 18:00"}, "to"),  # a week or nothing: an error
    ({"from": "Fri 18:00", "to": "09:00"}, "to"),
    ({"from": "18:00", "to": "Mon 09:00"}, "from"),
    ({"days": ["Sat"], "from": "Fri 18:00", "to": "Mon 09:00"}, "days"),
    ({"from": "09:00", "to": "17:00", "weekdays": "Mon"}, "weekdays"),
])
def test_a_malformed_restriction_names_its_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(RotationError) as err:
        parse_restriction(raw)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"start": time(9), "duration": timedelta(0)}, "to"),
    ({"start": time(9), "duration": timedelta(days=8)}, "to"),
    ({"start": time(9), "duration": H, "days": ()}, "days"),
    ({"start": time(9), "duration": H, "days": (7,)}, "days"),
    ({"start": time(9, tzinfo=UTC), "duration": H}, "from"),
])
def test_a_restriction_built_directly_is_checked_too(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(RotationError) as err:
        Restriction(**kwargs)
    assert err.value.field == field


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC)  # 2026-06-01 is a Monday


def layer(rotation: dict[str, Any], members: tuple[str, ...], *raw: dict[str, Any],
          name: str = "l") -> Layer:
    return Layer(name, parse_rotation({"start": "2026-06-01", **rotation}), members,
                 tuple(parse_restriction(r) for r in raw))


def test_a_restriction_does_not_move_turn_boundaries() -> None:
    daily = layer({"rotation": "daily", "handoff": "09:00"}, ("a", "b"),
                  {"from": "18:00", "to": "08:00"})
    shifts = layer_shifts(daily, UTC_ZONE, at(1, 0), at(3, 0))
    # a's turn is Mon 09:00 - Tue 09:00: on call only Mon 18:00 - Tue 08:00. Sunday night's
    # window ends at 08:00 Monday, before the first handoff, so Monday morning is empty.
    assert [(s.start, s.end, s.user) for s in shifts] == [
        (at(1, 18), at(2, 8), "a"), (at(2, 18), at(3, 0), "b")]


def test_a_window_spanning_a_handoff_is_split_between_the_two_turns() -> None:
    daily = layer({"rotation": "daily", "handoff": "12:00"}, ("a", "b"),
                  {"days": ["Sat"], "from": "00:00", "to": "24:00"})
    shifts = layer_shifts(daily, UTC_ZONE, at(1, 0), at(8, 0))
    assert [(s.start, s.end, s.user) for s in shifts] == [
        (at(6, 0), at(6, 12), "a"), (at(6, 12), at(7, 0), "b")]  # a's turn from Friday


def test_a_weekly_span_and_a_weekday_restriction_together() -> None:
    weekly = layer({"rotation": "weekly", "handoff": "Mon 09:00"}, ("a", "b"),
                   {"days": "Mon-Fri", "from": "09:00", "to": "17:00"},
                   {"from": "Fri 17:00", "to": "Mon 09:00"})
    shifts = layer_shifts(weekly, UTC_ZONE, at(1, 0), at(15, 0))
    # Mon-Thu business hours, then Fri 09:00 straight through to Mon 09:00 (merged), where
    # the turn changes and b takes over.
    assert [(s.start, s.end, s.user) for s in shifts][:5] == [
        (at(1, 9), at(1, 17), "a"), (at(2, 9), at(2, 17), "a"), (at(3, 9), at(3, 17), "a"),
        (at(4, 9), at(4, 17), "a"), (at(5, 9), at(8, 9), "a")]
    assert shifts[5].start == at(8, 9) and shifts[5].user == "b"


def test_outside_its_windows_a_layer_has_nobody_and_the_layer_below_shows() -> None:
    base = layer({"rotation": "weekly"}, ("base",), name="base")
    nights = layer({"rotation": "daily", "handoff": "00:00"}, ("owl",),
                   {"days": "Mon-Fri", "from": "22:00", "to": "06:00"}, name="nights")
    s = ScheduleSpec("s", "UTC", (base, nights))
    assert on_call(s, at(1, 23)) == "owl"
    assert on_call(s, at(2, 5, 59)) == "owl"
    assert on_call(s, at(2, 6)) == "base"
    assert on_call(s, at(6, 23)) == "base"  # Saturday night: no window opens on Saturday
    assert on_call(s, at(6, 5)) == "owl"  # ...but Friday's window runs into Saturday morning
    shifts = final_shifts(s, at(1, 12), at(2, 12))
    assert [(x.start, x.end, x.user, x.layer) for x in shifts] == [
        (at(1, 12), at(1, 22), "base", "base"), (at(1, 22), at(2, 6), "owl", "nights"),
        (at(2, 6), at(2, 12), "base", "base")]


def test_with_no_layer_below_the_gap_is_an_entry_with_nobody() -> None:
    nights = layer({"rotation": "daily", "handoff": "00:00"}, ("owl",),
                   {"from": "22:00", "to": "06:00"})
    s = ScheduleSpec("s", "UTC", (nights,))
    shifts = final_shifts(s, at(1, 12), at(2, 12))
    assert [(x.start, x.end, x.user, x.layer) for x in shifts] == [
        (at(1, 12), at(1, 22), None, None), (at(1, 22), at(2, 6), "owl", "l"),
        (at(2, 6), at(2, 12), None, None)]
