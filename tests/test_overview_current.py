"""The schedules list finds the shift going on now in a window that grows from two days: for
random schedules it says exactly what expanding the whole 90-day horizon says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from oncall.rotations import (
    Layer,
    Override,
    ScheduleSpec,
    final_shifts,
    parse_restriction,
    parse_rotation,
)
from oncall.scheduling.overview import HORIZON, _current

START = datetime(2026, 1, 5, tzinfo=UTC)
PEOPLE = ["a@x", "b@x", "c@x", "d@x"]
ROTATIONS = [{"rotation": "weekly", "handoff": "Mon 09:00"},
             {"rotation": "daily", "handoff": "09:00"},
             {"rotation": {"days": 30}, "handoff": "00:00"},
             {"rotation": {"hours": 12}, "handoff": "06:00"}]
RESTRICTIONS = [{"days": "Mon-Fri", "from": "09:00", "to": "17:00"},
                {"days": "Mon-Fri", "from": "22:00", "to": "06:00"},
                {"from": "Fri 18:00", "to": "Mon 09:00"}]


@st.composite
def schedules(draw: st.DrawFn) -> ScheduleSpec:
    layers = []
    for i in range(draw(st.integers(1, 3))):
        rotation = parse_rotation({**draw(st.sampled_from(ROTATIONS)), "start": "2026-01-05"})
        members = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4))
        restrictions = draw(st.lists(st.sampled_from(RESTRICTIONS), max_size=1))
        layers.append(Layer(f"l{i}", rotation, tuple(members),
                            tuple(parse_restriction(r) for r in restrictions)))
    overrides = []
    for i in range(draw(st.integers(0, 4))):
        start = START + timedelta(hours=draw(st.integers(0, 200 * 24)))
        overrides.append(Override(start, start + timedelta(hours=draw(st.integers(1, 24 * 40))),
                                  draw(st.sampled_from(PEOPLE)), START, id=i + 1))
    return ScheduleSpec("s", draw(st.sampled_from(["UTC", "America/New_York"])),
                        tuple(layers), tuple(overrides))


@settings(max_examples=60, deadline=None)
@given(spec=schedules(), minutes=st.integers(0, 180 * 24 * 60))
def test_the_current_shift_is_the_first_of_the_whole_horizon(spec: ScheduleSpec,
                                                             minutes: int) -> None:
    now = START + timedelta(minutes=minutes)
    whole = final_shifts(spec, now, now + HORIZON)
    assert _current(spec, now) == (whole[0] if whole else None)
