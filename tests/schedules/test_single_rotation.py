"""Single-rotation schedule math through the original API (``Layer(name, rotation, members)``,
``ScheduleSpec(name, timezone, layers)``, ``on_call``), including daylight-saving handoffs."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from oncall.schedules.rotation import Layer, ScheduleSpec, on_call, parse_rotation
from oncall.schedules.rotation.spec import RotationError

NY = ZoneInfo("America/New_York")


def schedule(tz: str, **rotation: object) -> ScheduleSpec:
    return ScheduleSpec("s", tz, (Layer("l", parse_rotation(rotation), ("a", "b", "c")),))


def test_a_weekly_rotation_hands_off_on_its_weekday() -> None:
    s = schedule("America/New_York", rotation="weekly", handoff="Mon 09:00", start="2026-11-02")
    assert on_call(s, datetime(2026, 11, 2, 8, 59, tzinfo=NY)) is None  # before the start
    assert on_call(s, datetime(2026, 11, 2, 9, 0, tzinfo=NY)) == "a"
    assert on_call(s, datetime(2026, 11, 9, 8, 59, tzinfo=NY)) == "a"
    assert on_call(s, datetime(2026, 11, 9, 9, 0, tzinfo=NY)) == "b"
    assert on_call(s, datetime(2026, 11, 23, 9, 0, tzinfo=NY)) == "a"


def test_a_daily_handoff_stays_at_nine_local_across_both_dst_changes() -> None:
    s = schedule("America/New_York", rotation="daily", handoff="09:00", start="2026-03-01")
    # Spring forward on 2026-03-08: 09:00 EDT is 13:00 UTC (was 14:00 UTC the day before).
    assert on_call(s, datetime(2026, 3, 8, 12, 59, tzinfo=UTC)) == on_call(
        s, datetime(2026, 3, 7, 14, 0, tzinfo=UTC))
    assert on_call(s, datetime(2026, 3, 8, 13, 0, tzinfo=UTC)) != on_call(
        s, datetime(2026, 3, 8, 12, 59, tzinfo=UTC))
    # Fall back on 2026-11-01: 09:00 EST is 14:00 UTC.
    assert on_call(s, datetime(2026, 11, 1, 13, 59, tzinfo=UTC)) != on_call(
        s, datetime(2026, 11, 1, 14, 0, tzinfo=UTC))


def test_a_handoff_in_the_spring_gap_happens_after_the_gap() -> None:
    s = schedule("America/New_York", rotation="daily", handoff="02:30", start="2026-03-07")
    before = on_call(s, datetime(2026, 3, 8, 3, 29, tzinfo=NY))
    assert on_call(s, datetime(2026, 3, 8, 3, 30, tzinfo=NY)) != before


def test_hourly_turns_count_elapsed_time() -> None:
    s = schedule("UTC", rotation={"hours": 12}, handoff="00:00", start="2026-01-01")
    assert [on_call(s, datetime(2026, 1, 1, h, tzinfo=UTC)) for h in (0, 11, 12, 23)] == [
        "a", "a", "b", "b"]
    assert on_call(s, datetime(2026, 1, 2, 0, tzinfo=UTC)) == "c"


def test_a_later_layer_wins_where_it_has_someone() -> None:
    base = Layer("base", parse_rotation({"rotation": "daily", "start": "2026-01-01"}), ("a",))
    late = Layer("late", parse_rotation({"rotation": "daily", "start": "2026-06-01"}), ("z",))
    s = ScheduleSpec("s", "UTC", (base, late))
    assert on_call(s, datetime(2026, 3, 1, 12, tzinfo=UTC)) == "a"
    assert on_call(s, datetime(2026, 7, 1, 12, tzinfo=UTC)) == "z"


@pytest.mark.parametrize(("raw", "field"), [
    ({"rotation": "hourly", "start": "2026-01-01"}, "rotation"),
    ({"rotation": "daily", "handoff": "9am", "start": "2026-01-01"}, "handoff"),
    ({"rotation": "weekly", "handoff": "Funday 09:00", "start": "2026-01-01"}, "handoff"),
    ({"rotation": "daily", "start": "someday"}, "start"),
    ({"rotation": {"hours": 0}, "start": "2026-01-01"}, "rotation.hours"),
    ({"rotation": {"weeks": 0}, "start": "2026-01-01"}, "rotation.weeks"),
    ({"rotation": {"days": "2"}, "start": "2026-01-01"}, "rotation.days"),
    ({"rotation": {"fortnights": 1}, "start": "2026-01-01"}, "rotation"),
    ({"rotation": "daily", "handoff": "24:00", "start": "2026-01-01"}, "handoff"),
    ({"rotation": "daily", "start": "2026-01-02", "end": "2026-01-01"}, "end"),
    ({"rotation": "daily", "start": "2026-01-02", "end": "soon"}, "end"),
])
def test_a_malformed_rotation_names_its_field(raw: dict, field: str) -> None:
    with pytest.raises(RotationError) as err:
        parse_rotation(raw)
    assert err.value.field == field


def test_hourly_turns_count_real_hours_across_spring_forward() -> None:
    s = schedule("America/New_York", rotation={"hours": 12}, handoff="00:00", start="2026-03-08")
    # Midnight EST to noon EDT is only 11 hours: still the first turn.
    assert on_call(s, datetime(2026, 3, 8, 12, 0, tzinfo=NY)) == "a"
    assert on_call(s, datetime(2026, 3, 8, 13, 0, tzinfo=NY)) == "b"


def test_a_rotation_of_n_weeks_hands_off_on_its_weekday_every_n_weeks() -> None:
    s = schedule("America/New_York", rotation={"weeks": 2}, handoff="Wed 18:00",
                 start="2026-02-26")  # a Thursday: the first handoff is Wednesday 2026-03-04
    assert on_call(s, datetime(2026, 3, 4, 17, 59, tzinfo=NY)) is None
    assert on_call(s, datetime(2026, 3, 4, 18, 0, tzinfo=NY)) == "a"
    assert on_call(s, datetime(2026, 3, 18, 17, 59, tzinfo=NY)) == "a"  # across the change
    assert on_call(s, datetime(2026, 3, 18, 18, 0, tzinfo=NY)) == "b"
    assert on_call(s, datetime(2026, 4, 1, 18, 0, tzinfo=NY)) == "c"
