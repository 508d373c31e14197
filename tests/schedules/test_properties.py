"""Properties over random schedules: random layers, members, rotations, restrictions,
overrides and zones (America/New_York, Europe/London, Australia/Lord_Howe, Asia/Kolkata, UTC),
checked against the slow reference model in ``reference.py``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall.schedules.rotation import (
    Layer,
    RotationError,
    final_shifts,
    layer_on_call,
    layer_shifts,
    next_shift,
    on_call,
    on_call_by_layer,
    parse_rotation,
    swap,
    turn_at,
    turns_between,
)
from tests.schedules.reference import EXAMPLES, ZONES, Case, around, cases, layers, wall

MICRO = timedelta(microseconds=1)
PROPS = settings(max_examples=EXAMPLES, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def instants(case: Case, fractions: list[float]) -> list[datetime]:
    """Random instants in the range, and both sides of every edge the reference knows of:
    overrides, handoffs, restriction windows."""
    span = case.end - case.start
    points = [case.start + span * f for f in fractions]
    edges = [t for o in case.overrides for t in (o.start, o.end)]
    for layer in case.reference().layers:
        edges += layer.handoffs + [t for window in layer.windows for t in window]
    points += [t for edge in edges for t in (edge, edge - MICRO)]
    return sorted({p for p in points if case.start <= p < case.end})


@PROPS
@given(cases(), st.lists(st.floats(0, 1), min_size=5, max_size=25))
def test_on_call_is_the_newest_override_else_the_highest_layer_with_someone(
        case: Case, fractions: list[float]) -> None:
    schedule, ref = case.schedule(), case.reference()
    for at in instants(case, fractions):
        expected = ref.on_call(at)
        assert on_call(schedule, at) == expected, at
        detail = on_call_by_layer(schedule, at)
        assert detail.user == expected
        assert detail.override is ref.override(at)
        assert detail.by_layer == {layer.name: layer.at(at) for layer in ref.layers}
        if detail.override is None and expected is not None:
            assert detail.layer == max(
                layer.name for layer in ref.layers if layer.at(at) is not None)


@PROPS
@given(cases())
def test_final_shifts_tile_the_range_and_agree_with_on_call(case: Case) -> None:
    schedule = case.schedule()
    shifts = final_shifts(schedule, case.start, case.end)
    assert shifts[0].start == case.start
    assert shifts[-1].end == case.end
    for a, b in pairwise(shifts):
        assert a.end == b.start  # no gap between pieces, no overlap
        # neighbours from the same user and source were merged
        assert (a.user, a.layer, a.override_id) != (b.user, b.layer, b.override_id)
    for shift in shifts:
        assert shift.start < shift.end
        for at in (shift.start, shift.end - MICRO, shift.start + (shift.end - shift.start) / 2):
            detail = on_call_by_layer(schedule, at)
            assert detail.user == shift.user, (at, shift)
            assert detail.layer == shift.layer, (at, shift)
            if detail.override is not None:
                assert shift.override_id == detail.override.id
                assert shift.layer is None


@PROPS
@given(cases(max_overrides=0))
def test_layer_shifts_agree_with_layer_on_call(case: Case) -> None:
    schedule, tz = case.schedule(), case.tz
    for layer in schedule.layers:
        shifts = layer_shifts(layer, tz, case.start, case.end)
        for a, b in pairwise(shifts):
            assert a.end <= b.start
            assert a.end < b.start or a.user != b.user  # touching pieces were merged
        for shift in shifts:
            assert case.start <= shift.start < shift.end <= case.end
            assert shift.layer == layer.name
            for at in (shift.start, shift.end - MICRO):
                assert layer_on_call(layer, tz, at) == shift.user
        # and between the shifts, the layer has nobody
        edges = [case.start] + [t for s in shifts for t in (s.start, s.end)] + [case.end]
        for lo, hi in zip(edges[::2], edges[1::2], strict=True):
            if lo < hi:
                assert layer_on_call(layer, tz, lo) is None
                assert layer_on_call(layer, tz, hi - MICRO) is None


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data(), st.sampled_from(ZONES))
def test_every_member_gets_turns_in_order(data: st.DataObject, tz_name: str) -> None:
    day = data.draw(around(tz_name))
    raw = data.draw(layers("L", day, restricted=False, distinct=True, min_members=2))
    tz = ZoneInfo(tz_name)
    rotation, members = parse_rotation(raw), raw["members"]
    start = wall(day, time(0), tz)
    end = start + timedelta(days=45)
    turns = turns_between(rotation, tz, start, end)
    for a, b in pairwise(turns):
        assert b.index == a.index + 1
        assert a.end == b.start
    for turn in turns:
        assert turn.start < turn.end
        assert turn.end > start and turn.start < end
    if turns and rotation.end is None:
        assert turns[-1].end >= end
    # Each member in turn, in order, whoever starts.
    layer = Layer("L", rotation, tuple(members))
    users = [s.user for s in layer_shifts(layer, tz, start, end)]
    if len(members) > 1:
        first = members.index(users[0]) if users else 0
        assert users == [members[(first + i) % len(members)] for i in range(len(users))]


@PROPS
@given(cases(), st.floats(0, 1), st.booleans())
def test_who_is_next_is_the_first_later_shift_with_someone_else(
        case: Case, fraction: float, skip_gaps: bool) -> None:
    schedule = case.schedule()
    at = case.start + (case.end - case.start) * fraction
    horizon = case.end - at
    if horizon <= timedelta(0):
        return
    shifts = final_shifts(schedule, at, at + horizon)
    now = on_call(schedule, at)
    expected = next((s for s in shifts[1:] if s.user != now
                     and not (skip_gaps and s.user is None)), None)
    assert next_shift(schedule, at, horizon=horizon, skip_gaps=skip_gaps) == expected


@PROPS
@given(cases(max_overrides=0), st.floats(0, 1), st.data())
def test_a_swap_covers_the_shift_at_that_instant_and_nothing_of_its_neighbours(
        case: Case, fraction: float, data: st.DataObject) -> None:
    schedule, tz = case.schedule(), case.tz
    layer = data.draw(st.sampled_from(schedule.layers))
    at = case.start + (case.end - case.start) * fraction
    member = layer_on_call(layer, tz, at)
    if member is None:
        with pytest.raises(RotationError):
            swap(schedule, layer.name, at, "zed", at)
        return
    o = swap(schedule, layer.name, at, "zed", at, id=1)
    assert o.start <= at < o.end
    for t in (o.start, o.end - MICRO):
        assert layer_on_call(layer, tz, t) == member
    turn = turn_at(layer.rotation, tz, at)
    assert turn is not None and turn.start <= o.start and o.end <= turn.end
    # just outside, the layer shows someone else's turn or nobody (outside a window)
    for t in (o.start - MICRO, o.end):
        outside = turn_at(layer.rotation, tz, t)
        assert (outside is None or outside.index != turn.index
                or layer_on_call(layer, tz, t) is None)
    assert on_call(replace(schedule, overrides=(o,)), at) == "zed"
