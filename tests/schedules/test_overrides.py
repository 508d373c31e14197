"""Overrides (the newest wins), swaps, who is on call and why, and who is next."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from oncall.schedules.rotation import (
    Layer,
    OnCall,
    Override,
    RotationError,
    ScheduleSpec,
    Shift,
    final_shifts,
    make_override,
    next_shift,
    on_call,
    on_call_by_layer,
    parse_restriction,
    parse_rotation,
    swap,
)

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC)  # 2026-06-01 is a Monday


def layer(name: str, members: tuple[str, ...], *restrictions: dict[str, Any],
          **rotation: Any) -> Layer:
    return Layer(name, parse_rotation({"start": "2026-06-01", **rotation}), members,
                 tuple(parse_restriction(r) for r in restrictions))


def schedule(*overrides: Override, tz: str = "UTC") -> ScheduleSpec:
    return ScheduleSpec("s", tz, (
        layer("primary", ("a", "b", "c"), rotation="weekly", handoff="Mon 09:00"),
        layer("days", ("d", "e"), {"days": "Mon-Fri", "from": "09:00", "to": "17:00"},
              rotation="daily", handoff="09:00"),
    ), overrides)


def test_an_override_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError) as err:
        make_override(at(2), at(2), "z", T0)
    assert isinstance(err.value, RotationError) and err.value.field == "end"
    with pytest.raises(RotationError) as err2:
        make_override(at(2), at(1), "z", T0)
    assert err2.value.field == "end"
    with pytest.raises(RotationError) as err3:
        make_override(datetime(2026, 6, 1), at(2), "z", T0)
    assert err3.value.field == "start"
    with pytest.raises(RotationError) as err4:
        make_override(at(1), at(2), "", T0)
    assert err4.value.field == "user"


def test_an_override_is_stored_in_utc_and_compares_by_instant() -> None:
    o = make_override(datetime(2026, 6, 1, 9, tzinfo=NY), datetime(2026, 6, 1, 17, tzinfo=NY),
                      "z", T0, id=7)
    assert o.start == at(1, 13) and o.start.tzinfo is UTC and o.id == 7


def test_an_override_wins_over_every_layer() -> None:
    s = schedule(make_override(at(2, 10), at(2, 12), "z", T0, id=1))
    assert on_call(s, at(2, 9, 59)) == "e"  # Tuesday: e's turn in business hours
    assert on_call(s, at(2, 10)) == "z"
    assert on_call(s, at(2, 12)) == "e"
    detail = on_call_by_layer(s, at(2, 11))
    assert detail == OnCall("z", None, s.overrides[0], {"primary": "a", "days": "e"})
    assert detail.override_id == 1


def test_where_overrides_overlap_the_newest_wins() -> None:
    old = make_override(at(2, 0), at(4, 0), "old", T0, id=1)
    new = make_override(at(3, 0), at(3, 6), "new", T0 + timedelta(hours=1), id=2)
    for overrides in ((old, new), (new, old)):
        s = schedule(*overrides)
        assert [on_call(s, t) for t in (at(2, 23), at(3, 0), at(3, 5), at(3, 6))] == [
            "old", "new", "new", "old"]
        assert [(x.start, x.end, x.user, x.override_id) for x in
                final_shifts(s, at(2, 0), at(4, 0))] == [
            (at(2, 0), at(3, 0), "old", 1), (at(3, 0), at(3, 6), "new", 2),
            (at(3, 6), at(4, 0), "old", 1)]


def test_ties_on_created_at_go_to_the_larger_id_then_the_later_override() -> None:
    a = make_override(at(2), at(3), "a1", T0, id=5)
    b = make_override(at(2), at(3), "b1", T0, id=4)
    assert on_call(schedule(a, b), at(2, 1)) == "a1"
    c, d = make_override(at(2), at(3), "c1", T0), make_override(at(2), at(3), "d1", T0)
    assert on_call(schedule(c, d), at(2, 1)) == "d1"
    assert on_call(schedule(d, c), at(2, 1)) == "c1"


def test_the_final_schedule_merges_neighbours_from_the_same_source_only() -> None:
    s = ScheduleSpec("s", "UTC", (layer("one", ("a",), rotation="daily", handoff="09:00"),),
                     (make_override(at(3, 0), at(3, 6), "a", T0, id=9),))
    shifts = final_shifts(s, at(1, 0), at(5, 0))
    assert shifts == [
        Shift(at(1, 0), at(1, 9), None),  # before the rotation starts
        Shift(at(1, 9), at(3, 0), "a", "one"),  # two turns of a: merged
        Shift(at(3, 0), at(3, 6), "a", None, 9),  # same person, but from an override
        Shift(at(3, 6), at(5, 0), "a", "one"),
    ]


def test_on_call_by_layer_tells_which_layer_and_what_each_says() -> None:
    s = schedule()
    assert on_call_by_layer(s, at(2, 12)) == OnCall("e", "days", None,
                                                     {"primary": "a", "days": "e"})
    assert on_call_by_layer(s, at(2, 20)) == OnCall("a", "primary", None,
                                                     {"primary": "a", "days": None})
    assert on_call_by_layer(s, at(1, 8)) == OnCall(None, None, None,
                                                    {"primary": None, "days": None})


def test_a_swap_hands_exactly_one_turn_to_someone_else() -> None:
    s = schedule()
    o = swap(s, "primary", at(10, 3), "z", T0, id=3)  # a Wednesday in b's week
    assert (o.start, o.end, o.user, o.id) == (at(8, 9), at(15, 9), "z", 3)
    swapped = replace(s, overrides=(o,))
    assert on_call(swapped, at(8, 8, 59)) == "a"
    assert on_call(swapped, at(8, 9)) == "z"
    assert on_call(swapped, at(15, 8, 59)) == "z"
    assert on_call(swapped, at(15, 9)) == "d"  # business hours, from the layer above
    assert on_call(swapped, at(15, 18)) == "c"


def test_a_swap_in_a_restricted_layer_covers_the_window_as_the_layer_shows_it() -> None:
    s = schedule()
    o = swap(s, "days", at(3, 12), "z", T0)
    assert (o.start, o.end) == (at(3, 9), at(3, 17))
    with pytest.raises(RotationError) as err:
        swap(s, "days", at(3, 20), "z", T0)  # outside the window: nobody to swap
    assert err.value.field == "at"
    with pytest.raises(RotationError) as err2:
        swap(s, "nope", at(3, 12), "z", T0)
    assert err2.value.field == "layer"
    with pytest.raises(RotationError) as err3:
        swap(s, "primary", at(1, 8), "z", T0)  # before the rotation starts
    assert err3.value.field == "at"


def test_a_swap_of_a_night_window_keeps_its_local_times_across_dst() -> None:
    nights = layer("nights", ("a", "b"), {"from": "22:00", "to": "06:00"},
                   rotation="weekly", handoff="Mon 12:00")
    s = ScheduleSpec("s", "America/New_York", (replace(
        nights, rotation=parse_rotation({"rotation": "weekly", "handoff": "Mon 12:00",
                                         "start": "2026-03-02"})),))
    o = swap(s, "nights", datetime(2026, 3, 8, 1, tzinfo=NY), "z", T0)
    assert o.start.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 7, 22)
    assert o.end.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 8, 6)
    assert o.end - o.start == timedelta(hours=7)


def test_who_is_next() -> None:
    s = schedule()
    nxt = next_shift(s, at(2, 20))  # a (primary) now; d's business hours tomorrow
    assert nxt == Shift(at(3, 9), at(3, 17), "d", "days")
    nxt = next_shift(s, at(5, 12))  # d now (Friday); then a for the weekend
    assert nxt == Shift(at(5, 17), at(8, 9), "a", "primary")
    gaps = ScheduleSpec("g", "UTC", (layer("d", ("d", "e"), {"from": "09:00", "to": "17:00"},
                                           rotation="daily", handoff="09:00"),))
    assert next_shift(gaps, at(2, 12)) == Shift(at(2, 17), at(3, 9), None)
    assert next_shift(gaps, at(2, 12), skip_gaps=True) == Shift(at(3, 9), at(3, 17), "d", "d")


def test_who_is_next_within_the_horizon_only() -> None:
    alone = ScheduleSpec("s", "UTC", (layer("one", ("a",), rotation="weekly"),))
    assert next_shift(alone, at(2)) is None
    later = replace(alone, overrides=(make_override(at(2) + timedelta(days=80),
                                                    at(2) + timedelta(days=81), "z", T0),))
    found = next_shift(later, at(2))
    assert found is not None and found.user == "z" and found.start == at(2) + timedelta(days=80)
    assert next_shift(later, at(2), horizon=timedelta(days=30)) is None
    # a shift running into the horizon is cut there
    cut = next_shift(later, at(2), horizon=timedelta(days=80, hours=12))
    assert cut is not None and cut.end == at(2) + timedelta(days=80, hours=12)


def test_the_original_constructors_still_work() -> None:
    rot = parse_rotation({"rotation": "daily", "start": "2026-06-01"})
    s = ScheduleSpec("s", "UTC", (Layer("l", rot, ("a", "b")),))
    assert s.overrides == () and s.layers[0].restrictions == ()
    assert on_call(s, at(1, 9)) == "a"
    assert s == ScheduleSpec("s", "UTC", (Layer("l", rot, ("a", "b")),))
    s.override_index()
    assert hash(s) == hash(ScheduleSpec("s", "UTC", (Layer("l", rot, ("a", "b")),)))


def test_naive_instants_are_refused() -> None:
    s = schedule()
    for fn in (on_call, on_call_by_layer, next_shift):
        with pytest.raises(ValueError):
            fn(s, datetime(2026, 6, 1, 12))
    with pytest.raises(ValueError):
        final_shifts(s, datetime(2026, 6, 1), at(2))
