"""The schedules list, made cheaper: it finds the shift going on now in a window that grows
from two days (for random schedules exactly what expanding the whole 90-day horizon says), and
loads every schedule in three queries (the same specs as one by one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from oncall.models import Override as OverrideRow
from oncall.models import Schedule, User
from oncall.schedules import layer_edits, service
from oncall.schedules.overview import HORIZON, _current
from oncall.schedules.rotation import (
    Layer,
    Override,
    ScheduleSpec,
    final_shifts,
    parse_restriction,
    parse_rotation,
)
from oncall.schedules.store import spec_for, specs_for

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


def test_many_schedules_load_in_one_go_as_each_alone(factory: Any) -> None:
    """``specs_for`` (the schedules list's three queries) and ``spec_for`` (one schedule)
    give the same specs: layers edited from a later time (versions), overrides, members."""
    now = datetime.now(UTC).replace(microsecond=0)
    with factory() as s, s.begin():
        people = [User(email=e, name=e, role="responder") for e in PEOPLE]
        s.add_all(people)
        s.flush()
        made = [service.create_schedule(s, "test", {
            "name": f"s{i}", "timezone": "America/New_York", "layers": [
                {"name": "a", "rotation": "daily", "handoff": "09:00",
                 "start": (now - timedelta(days=9)).date().isoformat(), "members": PEOPLE[i:]},
                {"name": "b", "rotation": "weekly", "handoff": "Mon 09:00",
                 "start": (now - timedelta(days=30)).date().isoformat(),
                 "members": PEOPLE[:2]}]}) for i in range(3)]
        layer_edits.update_layer(s, "test", made[0].layers[0], {"members": PEOPLE[:1]},
                             effective=now + timedelta(days=3), now=now)
        layer_edits.update_layer(s, "test", made[1].layers[1], {"handoff": "Tue 10:00"},
                             effective="now", now=now)
        for i, schedule in enumerate(made * 2):
            s.add(OverrideRow(schedule_id=schedule.id, user_id=people[i % 4].id,
                              start=now + timedelta(hours=15 * i - 40),
                              end=now + timedelta(hours=15 * i - 37), created_by="test"))
    with factory() as s:
        schedules = list(s.scalars(select(Schedule).order_by(Schedule.name)))
        layers = []
        for start, end in ((now, now + HORIZON), (now - timedelta(days=20), now),
                           (now - timedelta(days=20), now + timedelta(days=20))):
            together = specs_for(s, schedules, start, end)
            assert together == {x.id: spec_for(s, x, start, end) for x in schedules}
            layers += [len(spec.layers) for spec in together.values()]
            assert all(spec.overrides for spec in together.values())
        assert max(layers) > 2  # versions included
