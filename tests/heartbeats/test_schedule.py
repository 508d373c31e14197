"""Expected run times from cron expressions in the job's zone, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from oncall.heartbeats.schedule import ScheduleError, check_cron, next_due, next_run
from oncall.heartbeats.state import Spec, Status, check, ping

NY = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def runs(expr: str, tz: str, after: datetime, n: int) -> list[datetime]:
    out = []
    for _ in range(n):
        after = next_run(expr, tz, after)
        out.append(after)
    return out


def test_a_utc_job_runs_at_the_same_utc_time_every_day() -> None:
    assert runs("0 2 * * *", "UTC", utc(2026, 3, 7, 12), 3) == [
        utc(2026, 3, 8, 2), utc(2026, 3, 9, 2), utc(2026, 3, 10, 2)]


def test_a_new_york_job_follows_local_time_across_spring_forward() -> None:
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 02:00 never happens that day. Cron runs
    # the job as soon as the clock has jumped: 03:00 EDT = 07:00 UTC.
    assert runs("0 2 * * *", "America/New_York", utc(2026, 3, 7, 12), 3) == [
        utc(2026, 3, 8, 7),  # Sun 03:00 EDT, right after the jump
        utc(2026, 3, 9, 6),  # Mon 02:00 EDT
        utc(2026, 3, 10, 6)]


def test_a_new_york_job_before_the_jump_keeps_its_winter_offset() -> None:
    assert runs("0 2 * * *", "America/New_York", utc(2026, 3, 6, 12), 2) == [
        utc(2026, 3, 7, 7), utc(2026, 3, 8, 7)]


def test_a_job_in_the_repeated_hour_runs_once_on_fall_back_day() -> None:
    # 2026-11-01: 01:59:59 EDT is followed by 01:00 EST; 01:30 happens twice. Cron runs a
    # fixed-time job once, the first time (05:30 UTC), and not again at 06:30 UTC.
    assert runs("30 1 * * *", "America/New_York", utc(2026, 10, 31, 12), 3) == [
        utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), utc(2026, 11, 3, 6, 30)]


def test_a_job_whose_hour_is_a_wildcard_runs_in_both_repeated_hours() -> None:
    assert runs("30 * * * *", "America/New_York", utc(2026, 11, 1, 4), 3) == [
        utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)]


def test_fall_back_day_does_not_raise_a_false_alarm_after_the_first_run() -> None:
    spec = Spec(period=None, cron="30 1 * * *", timezone="America/New_York", grace=1800)
    status = Status("up", utc(2026, 11, 1, 5, 30))
    after_run, _ = ping(spec, status, "success", utc(2026, 11, 1, 5, 30, 4))
    assert after_run.next_due_at == utc(2026, 11, 2, 6, 30)
    # An hour later the wall clock reads 01:30 again: nothing is due, nothing is late.
    for now in (utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7, 1), utc(2026, 11, 2, 6, 29)):
        assert check(spec, after_run, now) == (after_run, None)


def test_spring_forward_day_expects_the_job_right_after_the_jump_not_an_hour_later() -> None:
    spec = Spec(period=None, cron="0 2 * * *", timezone="America/New_York", grace=1800)
    status = Status("up", utc(2026, 3, 8, 7))
    down, event = check(spec, status, utc(2026, 3, 8, 7, 30))
    assert down.state == "down" and event is not None and event.due == utc(2026, 3, 8, 7)


def test_period_schedules_are_plain_elapsed_time() -> None:
    assert next_due(3600, None, "America/New_York", utc(2026, 3, 8, 6, 30)) == \
        utc(2026, 3, 8, 7, 30)


@pytest.mark.parametrize("expr", ["0 2 * *", "61 2 * * *", "0 2 * * * *", "nonsense"])
def test_bad_cron_expressions_are_refused_with_the_field_named(expr: str) -> None:
    with pytest.raises(ScheduleError) as err:
        check_cron(expr)
    assert err.value.field == "cron"


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(ScheduleError) as err:
        next_run("0 2 * * *", "Mars/Olympus_Mons", utc(2026, 1, 1))
    assert err.value.field == "timezone"
