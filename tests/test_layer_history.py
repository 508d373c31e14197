"""Roster changes never rewrite the past: for random schedules (rotation lengths, handoffs,
DST zones, restrictions) and random edits through the domain service (members, order,
rotation, handoff, restrictions, layers added and removed), each taking effect at a random
time (now, the next handoff, or later), no final shift before that time changes, in the
shift query or at an instant (what `oncall who --at` asks)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from oncall.models import Schedule, User
from oncall.schedules import layer_edits, service
from oncall.schedules.rotation import final_shifts, on_call
from oncall.schedules.store import spec_for
from tests.schedules.reference import EXAMPLES, POOL, Case, cases, layers, restrictions

PROPS = settings(max_examples=max(EXAMPLES // 2, 10), deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.function_scoped_fixture])
PAST = timedelta(days=45)
SPAN = timedelta(days=150)
names = itertools.count()


def email(name: str) -> str:
    return f"{name}@example.com"


def as_input(raw: dict[str, Any]) -> dict[str, Any]:
    return {**raw, "members": [email(m) for m in raw["members"]]}


@st.composite
def edits(draw: st.DrawFn, case: Case) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["members", "rotation", "restrictions", "add", "delete",
                                     "position"]))
        edit: dict[str, Any] = {"kind": kind, "layer": draw(st.integers(0, 5)),
                                "now": case.start + timedelta(minutes=draw(
                                    st.integers(0, 30 * 24 * 60))),
                                "effective": draw(st.one_of(
                                    st.just("now"), st.just("next-handoff"),
                                    st.integers(0, 20 * 24 * 60)))}
        if kind == "members":
            edit["members"] = [email(m) for m in draw(
                st.lists(st.sampled_from(POOL), min_size=1, max_size=5))]
        elif kind in ("rotation", "add"):
            day = case.start.date()
            raw = draw(layers(f"N{i}", day, min_members=1))
            edit["data"] = as_input(raw) if kind == "add" else {
                k: raw.get(k) for k in ("rotation", "handoff", "start", "end")}
        elif kind == "restrictions":
            edit["restrictions"] = draw(st.lists(restrictions(), max_size=2))
        elif kind == "position":
            edit["position"] = draw(st.integers(0, 5))
        out.append(edit)
    return out


def run(s: Session, sched: Schedule, edit: dict[str, Any]) -> datetime | None:
    """Make ``edit``; when it takes effect (None: it changed nothing)."""
    now = edit["now"]
    effective = edit["effective"]
    if isinstance(effective, int):
        effective = now + timedelta(minutes=effective)
    kw: dict[str, Any] = {"effective": effective, "now": now}
    if edit["kind"] == "add" or not sched.layers:
        data = edit["data"] if edit["kind"] == "add" else {
            "name": "X", "rotation": "daily", "handoff": "09:00",
            "start": now.date().isoformat(), "members": [email("ann")]}
        return layer_edits.add_layer(s, "test", sched, data, **kw).effective_from
    layer = sched.layers[edit["layer"] % len(sched.layers)]
    if edit["kind"] == "delete":
        return layer_edits.delete_layer(s, "test", layer, **kw)
    data = {k: edit[k] for k in ("members", "restrictions", "position") if k in edit}
    if edit["kind"] == "position":
        data["position"] %= len(sched.layers)
    data.update(edit.get("data") or {})
    before = state(sched)
    layer_edits.update_layer(s, "test", layer, data, **kw)
    return layer.effective_from if state(sched) != before else None


def state(sched: Schedule) -> list[tuple[Any, ...]]:
    return [(x.id, x.position, x.name, x.spec, list(x.members), x.restrictions, x.turn_offset,
             x.effective_from) for x in sched.layers]


@pytest.fixture
def pool(factory: Any) -> None:
    with factory() as s, s.begin():
        s.add_all([User(email=email(n), name=n) for n in POOL])


@PROPS
@given(data=st.data(), case=cases(max_overrides=3))
def test_no_shift_before_the_effective_time_changes(factory: Any, pool: None, data: Any,
                                                   case: Case) -> None:
    with factory() as s:
        raws = [as_input(raw) for raw in case.layers if raw["members"]]
        sched = service.create_schedule(s, "test", {
            "name": f"p{next(names)}", "timezone": case.tz_name, "layers": raws})
        s.flush()
        for edit in data.draw(edits(case)):
            lo = edit["now"] - PAST
            old = spec_for(s, sched, lo, lo + SPAN)
            at = run(s, sched, edit)
            s.flush()
            s.expire_all()
            hi = lo + SPAN if at is None else min(at, lo + SPAN)
            assert at is None or at >= edit["now"]
            new = spec_for(s, sched, lo, lo + SPAN)
            after = final_shifts(new, lo, hi)
            assert final_shifts(old, lo, hi) == after, (edit, at)
            for shift in after[:: max(len(after) // 8, 1)]:  # a point query agrees
                assert on_call(spec_for(s, sched, shift.start), shift.start) == shift.user
        s.rollback()
