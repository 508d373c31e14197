"""The beat check and pings against the database: a missed run opens an incident that pages
through the service's policy, the next success resolves it; a start with no success, a /fail,
a heartbeat's own policy. Time is passed in explicitly."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from oncall.heartbeats import service, store
from oncall.models import (
    EscalationPolicy,
    Heartbeat,
    HeartbeatPing,
    Incident,
    IncidentEvent,
    PolicyLevel,
)
from oncall.paging import sweeper
from tests.conftest import Cast, pages_for

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def make(factory: Any, cast: Cast, **data: Any) -> Heartbeat:
    fields = {"name": "nightly-charge-run", "period": "1h", "grace": "10m",
              "service": cast.service.name, **data}
    with factory() as s, s.begin():
        hb = service.create(s, "user:manager@example.com", fields, T0)
    return hb


def ping(factory: Any, hb: Heartbeat, kind: str, now: datetime, **kw: Any) -> list[int] | None:
    with factory() as s, s.begin():
        return store.record_ping(s, hb.uuid, kind, now, **kw)


def incidents(factory: Any) -> list[Incident]:
    with factory() as s:
        return list(s.scalars(select(Incident).order_by(Incident.id)))


def timeline(factory: Any, incident_id: int) -> list[str]:
    with factory() as s:
        return list(s.scalars(select(IncidentEvent.kind).where(
            IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.id)))


def state(factory: Any, hb: Heartbeat) -> str:
    with factory() as s:
        found = s.get(Heartbeat, hb.id)
        assert found is not None
        return found.state


def test_a_missed_run_goes_late_then_down_and_pages_level_one(factory: Any, cast: Cast) -> None:
    hb = make(factory, cast)
    assert ping(factory, hb, "success", at(0)) == []
    assert store.run_checks(factory, at(59)) == []
    assert state(factory, hb) == "up"
    assert store.run_checks(factory, at(61)) == [] and state(factory, hb) == "late"
    assert incidents(factory) == []  # late pages nobody
    [opened] = store.run_checks(factory, at(70))
    assert state(factory, hb) == "down"
    [incident] = incidents(factory)
    assert incident.id == opened and incident.dedup_key == "heartbeat:nightly-charge-run"
    assert incident.severity == "critical" and incident.service_id == cast.service.id
    assert incident.summary.startswith("Heartbeat nightly-charge-run is down: no ping since "
                                       "2026-12-01 01:00:00 UTC")
    sweeper.sweep(factory, now=at(70))
    assert [(p.level, p.recipient, p.status) for p in pages_for(factory, opened)] == [
        (1, f"user:{cast.alice.id}", "sent")]


def test_the_check_reports_a_down_once_and_a_further_missed_run_joins(factory: Any,
                                                                      cast: Cast) -> None:
    make(factory, cast)
    [opened] = store.run_checks(factory, at(70))
    assert store.run_checks(factory, at(71)) == []
    assert store.run_checks(factory, at(130)) == []  # the next run missed too: joins
    [incident] = incidents(factory)
    assert incident.id == opened and incident.status == "triggered"
    with factory() as s:
        from oncall.models import Alert

        assert len(s.scalars(select(Alert).where(Alert.incident_id == opened)).all()) == 2


def test_the_next_success_resolves_the_incident_with_a_timeline_entry(factory: Any,
                                                                      cast: Cast) -> None:
    hb = make(factory, cast)
    [opened] = store.run_checks(factory, at(70))
    assert ping(factory, hb, "success", at(75)) == []
    assert state(factory, hb) == "up"
    [incident] = incidents(factory)
    assert incident.status == "resolved" and incident.resolved_by == "heartbeat:nightly-charge-run"
    assert timeline(factory, opened)[-1] == "resolved"
    # down again later: a new incident
    [again] = store.run_checks(factory, at(75 + 70))
    assert again != opened


def test_a_start_without_success_within_the_grace_opens_an_incident(factory: Any,
                                                                    cast: Cast) -> None:
    hb = make(factory, cast)
    ping(factory, hb, "success", at(0))
    ping(factory, hb, "start", at(5))
    assert store.run_checks(factory, at(14)) == []
    [opened] = store.run_checks(factory, at(15))
    [incident] = incidents(factory)
    assert incident.id == opened
    assert "started at 2026-12-01 01:05:00 UTC and sent no success within 0:10:00" in \
        incident.summary


def test_fail_opens_at_once_without_waiting_for_the_check(factory: Any, cast: Cast) -> None:
    hb = make(factory, cast)
    [opened] = ping(factory, hb, "fail", at(3), exit_status=2) or [None]
    [incident] = incidents(factory)
    assert incident.id == opened
    assert incident.summary == ("Heartbeat nightly-charge-run is down: the job reported "
                                "failure (exit status 2)")
    assert state(factory, hb) == "down"


def test_a_never_pinged_heartbeat_goes_down_after_its_first_period_and_grace(
        factory: Any, cast: Cast) -> None:
    make(factory, cast)
    assert store.run_checks(factory, at(69)) == []
    [opened] = store.run_checks(factory, at(70))
    assert "never pinged since it was created at 2026-12-01 01:00:00 UTC" in \
        incidents(factory)[0].summary
    assert opened


def test_the_heartbeats_own_policy_overrides_the_services(factory: Any, cast: Cast) -> None:
    with factory() as s, s.begin():
        s.add(EscalationPolicy(name="billing-critical", levels=[PolicyLevel(
            position=0, escalate_after=60, targets=[{"type": "user",
                                                     "ref": "bob@example.com"}])]))
    hb = make(factory, cast, policy="billing-critical")
    [opened] = store.run_checks(factory, at(70))
    sweeper.sweep(factory, now=at(70))
    assert [p.recipient for p in pages_for(factory, opened)] == [f"user:{cast.bob.id}"]
    assert hb.policy_id is not None


def test_a_paused_heartbeat_is_not_checked_and_a_ping_resumes_it(factory: Any,
                                                                 cast: Cast) -> None:
    hb = make(factory, cast)
    with factory() as s, s.begin():
        service.pause(s, "user:manager@example.com", s.get(Heartbeat, hb.id), at(1))
    assert store.run_checks(factory, at(500)) == [] and state(factory, hb) == "paused"
    ping(factory, hb, "success", at(501))
    assert state(factory, hb) == "up"


def test_the_ping_log_keeps_the_latest_pings_and_caps_bodies(factory: Any, cast: Cast,
                                                             monkeypatch: Any) -> None:
    monkeypatch.setattr(store, "PINGS_KEPT", 3)
    hb = make(factory, cast)
    for i in range(5):
        ping(factory, hb, "success", at(i), body=b"x" * 20_000, user_agent="curl/8",
             remote_addr="10.0.0.7")
    with factory() as s:
        kept = s.scalars(select(HeartbeatPing).order_by(HeartbeatPing.at)).all()
    assert [p.at for p in kept] == [at(2), at(3), at(4)]
    assert all(len(p.body or "") == store.BODY_LIMIT for p in kept)
    assert kept[0].user_agent == "curl/8" and kept[0].remote_addr == "10.0.0.7"


def test_an_unknown_uuid_records_nothing(factory: Any, cast: Cast) -> None:
    with factory() as s, s.begin():
        assert store.record_ping(s, "00000000-0000-4000-8000-000000000000", "success",
                                 at(0)) is None


def test_a_ping_that_loses_the_race_to_the_checker_is_applied_on_top(factory: Any,
                                                                     cast: Cast) -> None:
    hb = make(factory, cast)
    with factory() as s, s.begin():
        stale = s.get(Heartbeat, hb.id)
        assert stale is not None
        # The checker moves the row on (version bump) after this session read it.
        assert store.run_checks(factory, at(70))
        assert store.save(s, stale, store.status_of(stale)) is False


@pytest.mark.parametrize("bad,field", [
    ({"period": "1h", "cron": "0 2 * * *"}, "cron"),
    ({"period": None, "cron": "0 2 * *"}, "cron"),
    ({"period": "10s"}, "period"),
    ({"period": "1h", "timezone": "Mars/Base"}, "timezone"),
    ({"period": "soon"}, "period"),
    ({"period": "1h", "service": "no-such"}, "service"),
    ({"period": "1h", "policy": "no-such"}, "policy"),
])
def test_bad_heartbeats_are_refused_naming_the_field(factory: Any, cast: Cast,
                                                    bad: dict[str, Any], field: str) -> None:
    with factory() as s, pytest.raises(service.HeartbeatError) as err:
        service.create(s, "x", {"name": "hb", "service": cast.service.name, **bad}, T0)
    assert err.value.field == field


def test_a_heartbeat_that_would_page_nobody_is_refused(factory: Any, cast: Cast) -> None:
    with factory() as s, pytest.raises(service.HeartbeatError) as err:
        service.create(s, "x", {"name": "hb", "period": "1h"}, T0)  # default service
    assert err.value.field == "policy" and "nobody would be paged" in err.value.message


def test_a_heartbeat_another_checker_holds_is_skipped_not_waited_for(factory: Any,
                                                                    cast: Cast) -> None:
    hb = make(factory, cast)
    with factory() as holder, holder.begin():
        if holder.get_bind().dialect.name != "postgresql":
            pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
        holder.scalars(select(Heartbeat).where(Heartbeat.id == hb.id)
                       .with_for_update(of=Heartbeat)).one()
        assert store.run_checks(factory, at(70)) == []  # SKIP LOCKED: no wait, no double
    [opened] = store.run_checks(factory, at(70))  # once released, it is checked
    assert opened


def test_a_ping_arriving_while_the_check_runs_does_not_fail_the_check(
        factory: Any, cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check reads a heartbeat, then writes it. On SQLite a write committed by another
    connection in between (any ping, any alert) used to fail the check's write at once
    ("database is locked": a read cannot become a write once someone else wrote), and a
    cron's miss then went unreported for as long as such writes kept coming. The check now
    takes the write lock first; the ping waits for it and lands right after."""
    due = make(factory, cast)
    other = make(factory, cast, name="hourly-sync", period="1d")
    real = store.state.check
    pinger: list[threading.Thread] = []

    def check(*args: Any, **kwargs: Any) -> Any:
        if not pinger:
            pinger.append(threading.Thread(target=ping, args=(factory, other, "success",
                                                              at(70))))
            pinger[0].start()
            pinger[0].join(0.5)  # lands now (PostgreSQL: another row) or waits for the lock
        return real(*args, **kwargs)

    monkeypatch.setattr(store.state, "check", check)
    opened = store.run_checks(factory, at(75))
    pinger[0].join(20)
    assert len(opened) == 1 and not pinger[0].is_alive()
    assert state(factory, due) == "down"
    with factory() as s:
        assert s.scalars(select(HeartbeatPing).where(
            HeartbeatPing.heartbeat_id == other.id)).all()
