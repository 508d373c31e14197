"""Handoff notices: the incoming person is told once, when their shift starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from oncall.models import Notice, Override, Schedule, ScheduleLayer, utcnow
from oncall.schedules.handoff_notices import announce
from tests.conftest import Cast

NINE = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def daily(factory: Any, cast: Cast) -> int:
    with factory() as s, s.begin():
        sched = Schedule(name="daily", timezone="UTC", layers=[ScheduleLayer(
            position=0, name="d", members=[cast.alice.id, cast.bob.id], restrictions=[],
            spec={"rotation": "daily", "handoff": "09:00", "start": "2026-11-01"})])
        s.add(sched)
        s.flush()
        return sched.id


def notices(factory: Any) -> list[tuple[str, str]]:
    with factory() as s:
        return [(n.status, n.message) for n in s.scalars(select(Notice).order_by(Notice.id))]


def test_the_incoming_person_is_told_once(factory: Any, cast: Cast, capsys: Any) -> None:
    daily(factory, cast)
    assert announce(factory, NINE + timedelta(minutes=1)) == 1
    assert announce(factory, NINE + timedelta(minutes=2)) == 0
    [(status, message)] = notices(factory)
    assert status == "sent" and message.startswith("You are on call for daily from Tue 10 Nov")
    assert "NOTICE to bob@example.com" in capsys.readouterr().out


def test_a_shift_that_started_long_ago_is_not_announced_late(factory: Any, cast: Cast) -> None:
    daily(factory, cast)
    assert announce(factory, NINE + timedelta(hours=3)) == 0


def test_an_override_starting_now_is_a_handoff_too(factory: Any, cast: Cast) -> None:
    sid = daily(factory, cast)
    start = NINE + timedelta(hours=5)
    with factory() as s, s.begin():
        s.add(Override(schedule_id=sid, user_id=cast.manager.id, start=start,
                       end=start + timedelta(hours=2), created_at=utcnow(), created_by="test"))
    assert announce(factory, start + timedelta(minutes=1)) == 1
    with factory() as s:
        assert s.scalar(select(Notice.user_id)) == cast.manager.id
