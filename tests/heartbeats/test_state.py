"""The heartbeat state machine, with time passed in explicitly (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oncall.heartbeats import state
from oncall.heartbeats.state import Event, Spec, Status, check, check_at, created, ping

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOURLY = Spec(period=3600, cron=None, timezone="UTC", grace=600)
NIGHTLY = Spec(period=None, cron="0 2 * * *", timezone="UTC", grace=1800)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run_checks(spec: Spec, status: Status, times: list[datetime]) -> list[tuple[str, Event | None]]:
    out = []
    for now in times:
        status, event = check(spec, status, now)
        out.append((status.state, event))
    return out


def test_a_new_heartbeat_is_due_one_period_after_creation() -> None:
    status = created(HOURLY, T0)
    assert status == Status("new", at(60))
    assert check_at(HOURLY, status) == at(60)


def test_it_goes_late_after_the_due_time_and_down_after_the_grace() -> None:
    status, _ = ping(HOURLY, created(HOURLY, T0), "success", at(1))
    assert status == Status("up", at(61))
    assert check(HOURLY, status, at(60.9)) == (status, None)
    late, event = check(HOURLY, status, at(61))
    assert (late.state, event) == ("late", None)
    assert check_at(HOURLY, late) == at(71)
    still_late, event = check(HOURLY, late, at(70.9))
    assert (still_late.state, event) == ("late", None)
    down, event = check(HOURLY, late, at(71))
    assert down.state == "down" and down.down_reason == "missed"
    assert event == Event("down", "missed", due=at(61))


def test_a_never_pinged_heartbeat_goes_down_after_its_first_period_and_grace() -> None:
    status = created(HOURLY, T0)
    states = run_checks(HOURLY, status, [at(59), at(60), at(69)])
    assert [s for s, _ in states] == ["new", "late", "late"]
    down, event = check(HOURLY, status, at(70))
    assert down.state == "down" and event is not None and event.reason == "missed"


def test_the_next_success_brings_it_up_and_says_so() -> None:
    down, _ = check(HOURLY, created(HOURLY, T0), at(75))
    up, event = ping(HOURLY, down, "success", at(80))
    assert up == Status("up", at(140)) and event == Event("up")
    again, event = ping(HOURLY, up, "success", at(90))
    assert again.state == "up" and event is None  # only the recovery is news


def test_a_checker_that_was_stopped_for_hours_reports_one_down_not_one_per_missed_run() -> None:
    up, _ = ping(HOURLY, created(HOURLY, T0), "success", T0)
    down, event = check(HOURLY, up, at(60 * 5 + 5))
    assert event is not None and event.due == at(60)
    assert down.next_due_at == at(60 * 5)  # the first run whose grace has not run out
    assert check(HOURLY, down, at(60 * 5 + 6)) == (down, None)


def test_while_down_each_further_missed_run_is_reported_again() -> None:
    down, _ = check(HOURLY, created(HOURLY, T0), at(70))
    assert down.next_due_at == at(120)
    assert check_at(HOURLY, down) == at(130)
    assert check(HOURLY, down, at(129)) == (down, None)
    still, event = check(HOURLY, down, at(130))
    assert still.state == "down" and event == Event("down", "missed", due=at(120))


def test_a_start_without_a_success_within_the_grace_is_down() -> None:
    up, _ = ping(HOURLY, created(HOURLY, T0), "success", T0)
    running, event = ping(HOURLY, up, "start", at(20))
    assert event is None and running.last_start_at == at(20) and running.state == "up"
    assert check_at(HOURLY, running) == at(30)
    assert check(HOURLY, running, at(29))[1] is None
    down, event = check(HOURLY, running, at(30))
    assert down.state == "down" and down.down_reason == "run_timeout"
    assert event == Event("down", "run_timeout", started=at(20))
    assert down.last_start_at is None
    assert check(HOURLY, down, at(31)) == (down, None)  # reported once


def test_a_start_followed_by_its_success_is_fine() -> None:
    up, _ = ping(HOURLY, created(HOURLY, T0), "success", T0)
    running, _ = ping(HOURLY, up, "start", at(20))
    done, event = ping(HOURLY, running, "success", at(29))
    assert event is None and done == Status("up", at(89))
    assert check(HOURLY, done, at(31)) == (done, None)


def test_fail_is_down_at_once_and_the_run_counts() -> None:
    up, _ = ping(HOURLY, created(HOURLY, T0), "success", T0)
    down, event = ping(HOURLY, up, "fail", at(10), exit_status=3)
    assert down == Status("down", at(70), None, "failed")
    assert event == Event("down", "failed", exit_status=3)
    _, event = ping(HOURLY, down, "fail", at(15))
    assert event is not None and event.kind == "down"  # joins (or reopens) the incident


def test_paused_is_never_checked_and_a_ping_unpauses() -> None:
    status = state.paused()
    assert check_at(HOURLY, status) is None
    assert check(HOURLY, status, at(10_000)) == (status, None)
    up, event = ping(HOURLY, status, "success", at(5))
    assert up == Status("up", at(65)) and event is None


def test_nightly_cron_is_due_at_the_next_cron_time_after_the_last_success() -> None:
    status = created(NIGHTLY, T0)  # 12:00 UTC on Dec 1
    assert status.next_due_at == datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    up, _ = ping(NIGHTLY, status, "success", datetime(2026, 12, 2, 2, 0, 7, tzinfo=UTC))
    assert up.next_due_at == datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    down, event = check(NIGHTLY, up, datetime(2026, 12, 3, 2, 30, tzinfo=UTC))
    assert event == Event("down", "missed", due=datetime(2026, 12, 3, 2, 0, tzinfo=UTC))
    assert down.next_due_at == datetime(2026, 12, 4, 2, 0, tzinfo=UTC)


def test_a_run_that_finishes_within_the_grace_is_up_until_the_next_night() -> None:
    up, _ = ping(NIGHTLY, created(NIGHTLY, T0), "success", T0)
    late, _ = check(NIGHTLY, up, datetime(2026, 12, 2, 2, 1, tzinfo=UTC))
    assert late.state == "late"
    done, event = ping(NIGHTLY, late, "success", datetime(2026, 12, 2, 2, 25, tzinfo=UTC))
    assert event is None and done == Status("up", datetime(2026, 12, 3, 2, 0, tzinfo=UTC))


def test_a_success_a_few_seconds_early_counts_for_that_nights_run() -> None:
    up, _ = ping(NIGHTLY, created(NIGHTLY, T0), "success", T0)
    early = datetime(2026, 12, 2, 1, 59, 30, tzinfo=UTC)  # the job host's clock runs fast
    done, _ = ping(NIGHTLY, up, "success", early)
    assert done.next_due_at == datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def test_a_success_hours_before_the_run_does_not_count_for_it() -> None:
    up, _ = ping(NIGHTLY, created(NIGHTLY, T0), "success", T0)
    manual = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # someone ran it by hand
    done, _ = ping(NIGHTLY, up, "success", manual)
    assert done.next_due_at == datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def test_early_allowance_never_swallows_the_previous_run_of_a_frequent_job() -> None:
    every_minute = Spec(period=None, cron="* * * * *", timezone="UTC", grace=60)
    status = Status("up", datetime(2026, 12, 1, 12, 1, tzinfo=UTC))
    done, _ = ping(every_minute, status, "success", datetime(2026, 12, 1, 12, 0, 5, tzinfo=UTC))
    # 55 s early is more than half the one-minute gap: it was the 12:00 run.
    assert done.next_due_at == datetime(2026, 12, 1, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize("kind", ["start", "success", "fail"])
def test_every_ping_kind_is_understood(kind: str) -> None:
    ping(HOURLY, created(HOURLY, T0), kind, at(1))


def test_an_unknown_ping_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        ping(HOURLY, created(HOURLY, T0), "explode", at(1))
