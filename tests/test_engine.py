"""The escalation engine with explicit time: steps, delivery, re-checks, claims and races."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from oncall import incidents
from oncall.channels import DeliveryError, OutgoingPage, Receipt, registry
from oncall.incidents import intake
from oncall.incidents.intake import Source
from oncall.ingest.generic import parse_one
from oncall.models import EscalationPolicy, Incident, IncidentEvent, Integration, Page, utcnow
from oncall.paging import delivery, runs, stepping, sweeper
from tests.conftest import Cast, alert, make_cast


def trigger(factory: Any, **fields: Any) -> int:
    with factory() as s, s.begin():
        integration = s.scalar(select(Integration))
        [outcome] = intake.ingest(s, Source.of(integration), [parse_one(alert(**fields))],
                                  utcnow())
        return int(outcome.incident_id)


def timeline(factory: Any, incident_id: int) -> list[str]:
    with factory() as s:
        return list(s.scalars(select(IncidentEvent.kind).where(
            IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.id)))


def recipients(factory: Any, incident_id: int) -> list[tuple[int, str, str]]:
    with factory() as s:
        return [(p.level, p.recipient, p.status) for p in s.scalars(
            select(Page).where(Page.incident_id == incident_id).order_by(Page.id))]


@pytest.fixture
def cast(factory: Any) -> Cast:
    return make_cast(factory, escalate_after=300)


def test_the_first_step_pages_level_one_and_schedules_level_two(factory: Any, cast: Cast) -> None:
    incident_id = trigger(factory)
    now = utcnow()
    result = runs.escalate_incident(factory, incident_id, now=now)
    assert result is not None and len(result.page_ids) == 1
    assert result.next_action_at == now + timedelta(seconds=300)
    assert recipients(factory, incident_id) == [(1, f"user:{cast.alice.id}", "pending")]
    assert runs.deliver_page(factory, result.page_ids[0]) is True
    assert recipients(factory, incident_id) == [(1, f"user:{cast.alice.id}", "sent")]
    assert timeline(factory, incident_id) == ["triggered", "escalated", "paged"]


def test_nothing_happens_before_the_step_is_due(factory: Any, cast: Cast) -> None:
    incident_id = trigger(factory)
    now = utcnow()
    runs.escalate_incident(factory, incident_id, now=now)
    early = runs.escalate_incident(factory, incident_id, expect=(1, 0),
                                     now=now + timedelta(seconds=299))
    assert early is not None and early.page_ids == [] and early.level == 1
    later = runs.escalate_incident(factory, incident_id, expect=(1, 0),
                                     now=now + timedelta(seconds=300))
    assert later is not None and later.level == 2 and len(later.page_ids) == 1
    assert [r[:2] for r in recipients(factory, incident_id)] == [
        (1, f"user:{cast.alice.id}"), (2, f"user:{cast.bob.id}")]


def test_a_stale_task_for_an_earlier_level_does_nothing(factory: Any, cast: Cast) -> None:
    incident_id = trigger(factory)
    now = utcnow()
    runs.escalate_incident(factory, incident_id, now=now)
    assert runs.escalate_incident(factory, incident_id, expect=(0, 0),
                                    now=now + timedelta(hours=1)) is None


def test_acknowledging_stops_escalation_and_cancels_unsent_pages(factory: Any,
                                                                 cast: Cast) -> None:
    incident_id = trigger(factory)
    now = utcnow()
    result = runs.escalate_incident(factory, incident_id, now=now)
    assert result is not None
    with factory() as s, s.begin():
        incidents.acknowledge(s, incident_id, "user:alice@example.com", now)
    assert runs.deliver_page(factory, result.page_ids[0]) is False
    assert recipients(factory, incident_id)[0][2] == "cancelled"
    assert runs.escalate_incident(factory, incident_id, now=now + timedelta(hours=1)) is None
    assert sweeper.sweep(factory, now + timedelta(hours=1)).steps == []
    assert len(recipients(factory, incident_id)) == 1


def test_the_policy_is_frozen_when_the_incident_first_escalates(factory: Any,
                                                                cast: Cast) -> None:
    incident_id = trigger(factory)
    now = utcnow()
    runs.escalate_incident(factory, incident_id, now=now)
    with factory() as s, s.begin():
        policy = s.scalar(select(EscalationPolicy))
        policy.levels[1].targets = [{"type": "user", "ref": "manager@example.com"}]
    runs.escalate_incident(factory, incident_id, now=now + timedelta(seconds=300))
    assert recipients(factory, incident_id)[1][1] == f"user:{cast.bob.id}"


def test_the_ladder_ends_and_says_so(factory: Any, cast: Cast) -> None:
    incident_id = trigger(factory)
    now = utcnow()
    runs.escalate_incident(factory, incident_id, now=now)
    last = runs.escalate_incident(factory, incident_id, now=now + timedelta(seconds=300))
    assert last is not None and last.next_action_at is None
    with factory() as s:
        assert s.get(Incident, incident_id).next_action_at is None


def test_a_service_without_a_policy_says_nobody_was_paged(factory: Any, cast: Cast) -> None:
    with factory() as s, s.begin():
        s.get(type(cast.service), cast.service.id).policy_id = None
    incident_id = trigger(factory)
    runs.escalate_incident(factory, incident_id, now=utcnow())
    assert timeline(factory, incident_id) == ["triggered", "escalation_stopped", "unpaged"]


def test_a_schedule_with_nobody_on_call_is_skipped_to_the_next_level_with_an_entry(
        factory: Any, cast: Cast) -> None:
    from oncall.models import Schedule, ScheduleLayer

    with factory() as s, s.begin():
        s.add(Schedule(name="empty", timezone="UTC", layers=[ScheduleLayer(
            position=0, name="future", members=[cast.alice.id],
            spec={"rotation": "daily", "handoff": "09:00", "start": "2999-01-01"})]))
        s.scalar(select(EscalationPolicy)).levels[0].targets = [
            {"type": "schedule", "ref": "empty"}]
    incident_id = trigger(factory)
    now = utcnow()
    result = runs.escalate_incident(factory, incident_id, now=now)
    assert timeline(factory, incident_id) == [
        "triggered", "nobody_on_call", "escalated", "level_skipped", "escalated"]
    # Level 1 had nobody: level 2 (bob) is paged now, not 5 minutes later.
    assert recipients(factory, incident_id) == [(2, f"user:{cast.bob.id}", "pending")]
    assert result is not None and result.level == 2 and result.page_ids


def test_racing_steps_page_once(factory: Any, cast: Cast) -> None:
    incident_id = trigger(factory)
    now = utcnow()
    barrier = threading.Barrier(8)
    results: list[Any] = []

    def step() -> None:
        barrier.wait()
        results.append(runs.escalate_incident(factory, incident_id, now=now))

    threads = [threading.Thread(target=step) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [r for r in results if r is not None and r.page_ids]
    assert len(taken) == 1
    assert len(recipients(factory, incident_id)) == 1


def test_racing_deliveries_send_once(factory: Any, cast: Cast) -> None:
    incident_id = trigger(factory)
    result = runs.escalate_incident(factory, incident_id, now=utcnow())
    assert result is not None
    sent: list[bool] = []
    barrier = threading.Barrier(6)

    def deliver() -> None:
        barrier.wait()
        sent.append(runs.deliver_page(factory, result.page_ids[0]))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sent.count(True) == 1


class FlakyChannel:
    name = "flaky"

    def __init__(self, errors: list[DeliveryError | None]) -> None:
        self.errors = errors
        self.sent: list[OutgoingPage] = []

    def send(self, page: OutgoingPage) -> Receipt:
        error = self.errors.pop(0) if self.errors else None
        if error:
            raise error
        self.sent.append(page)
        return Receipt(provider_id=f"flaky-{page.page_id}")


def _flaky_page(factory: Any, channel: FlakyChannel, monkeypatch: Any) -> int:
    monkeypatch.setitem(registry._CHANNELS, "flaky", channel)  # registered for this test
    monkeypatch.setattr(registry, "channels_for", lambda user: ["flaky"])
    incident_id = trigger(factory)
    result = runs.escalate_incident(factory, incident_id, now=utcnow())
    assert result is not None
    return result.page_ids[0]


def test_a_transient_failure_is_retried_with_backoff(factory: Any, cast: Cast,
                                                     monkeypatch: Any) -> None:
    channel = FlakyChannel([DeliveryError("503 from provider", permanent=False)])
    page_id = _flaky_page(factory, channel, monkeypatch)
    runs.deliver_page(factory, page_id)
    with factory() as s:
        page = s.get(Page, page_id)
        assert page.status == "pending" and page.next_attempt_at > utcnow()
    assert runs.deliver_page(factory, page_id) is False  # not due yet
    sweeper.sweep(factory, page.next_attempt_at + timedelta(seconds=1))
    with factory() as s:
        assert s.get(Page, page_id).status in ("pending", "sent")


def test_a_permanent_failure_is_recorded_and_not_retried(factory: Any, cast: Cast,
                                                         monkeypatch: Any) -> None:
    channel = FlakyChannel([DeliveryError("invalid number", permanent=True)])
    page_id = _flaky_page(factory, channel, monkeypatch)
    runs.deliver_page(factory, page_id)
    with factory() as s:
        page = s.get(Page, page_id)
        assert (page.status, page.error) == ("failed", "invalid number")
        assert "page_failed" in timeline(factory, page.incident_id)
    assert channel.sent == []


def test_a_page_left_sending_by_a_dead_worker_is_sent_after_its_lease(
        factory: Any, cast: Cast) -> None:
    incident_id = trigger(factory)
    result = runs.escalate_incident(factory, incident_id, now=utcnow())
    assert result is not None
    page_id = result.page_ids[0]
    with factory() as s, s.begin():
        assert delivery.claim_page(s, page_id, utcnow())  # then the worker "dies"
    assert runs.deliver_page(factory, page_id) is False  # leased
    assert sweeper.sweep(factory, utcnow() + timedelta(seconds=5)).delivered == 0
    assert sweeper.sweep(factory, utcnow() + delivery.LEASE + timedelta(seconds=1)).delivered == 1
    assert recipients(factory, incident_id)[0][2] == "sent"


def test_the_sweeper_steps_every_due_incident_and_notes_its_run(factory: Any,
                                                                cast: Cast) -> None:
    from oncall.models import SystemState

    ids = [trigger(factory, dedup_key=f"k{i}") for i in range(5)]
    report = sweeper.sweep(factory)
    assert sorted(i for i, _ in report.steps) == sorted(ids)
    assert report.delivered == 5
    with factory() as s:
        assert s.get(SystemState, "sweeper") is not None


def test_an_alert_joining_the_incident_does_not_hold_off_its_escalation(
        factory: Any, cast: Cast, settings: Any) -> None:
    """During a storm some transaction always holds a just-inserted alert; its foreign key
    locks the incident's row (KEY SHARE). The escalation must not skip the row for that."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    from sqlalchemy import text

    incident_id = trigger(factory)
    with factory() as storm:
        storm.execute(text("INSERT INTO alerts (incident_id, received_at, status, type, "
                           "severity, summary, dedup_key, labels) VALUES (:i, now(), 'firing', "
                           "'t', 'critical', 's', 'k', '{}')"), {"i": incident_id})
        result = runs.escalate_incident(factory, incident_id, now=utcnow())
        storm.rollback()
    assert result is not None and len(result.page_ids) == 1


def test_a_schedule_level_pages_whoever_is_on_call_at_page_time(factory: Any,
                                                                cast: Cast) -> None:
    from oncall.models import Override, Schedule, ScheduleLayer

    now = utcnow()
    with factory() as s, s.begin():
        sched = Schedule(name="primary", timezone="America/New_York", layers=[ScheduleLayer(
            position=0, name="weekly", members=[cast.alice.id], restrictions=[],
            spec={"rotation": "weekly", "handoff": "Mon 09:00", "start": "2026-01-05"})])
        s.add(sched)
        s.flush()
        s.add(Override(schedule_id=sched.id, user_id=cast.manager.id,
                       start=now - timedelta(hours=1), end=now + timedelta(hours=1),
                       created_at=now, created_by="test"))
        s.scalar(select(EscalationPolicy)).levels[0].targets = [
            {"type": "schedule", "ref": "primary"}]
    incident_id = trigger(factory)
    runs.escalate_incident(factory, incident_id, now=utcnow())
    assert recipients(factory, incident_id) == [(1, f"user:{cast.manager.id}", "pending")]


def test_one_incident_failing_to_step_does_not_stall_the_others(factory: Any, cast: Cast,
                                                                monkeypatch: Any) -> None:
    ids = [trigger(factory, dedup_key=f"k{i}") for i in range(4)]
    real = stepping.plan_step

    def plan_step(session: Any, incident: Any, now: Any, *args: Any, **kwargs: Any) -> Any:
        if incident.id == ids[1]:
            raise RuntimeError("corrupt policy")
        return real(session, incident, now, *args, **kwargs)

    monkeypatch.setattr(stepping, "plan_step", plan_step)
    report = sweeper.sweep(factory)
    assert report.failed_incidents == [ids[1]]
    assert sorted(i for i, _ in report.steps) == sorted([ids[0], *ids[2:]])
    assert [len(recipients(factory, i)) for i in ids] == [1, 0, 1, 1]


def test_one_sweep_batch_steps_incidents_in_different_states_as_single_steps_would(
        factory: Any, cast: Cast) -> None:
    fresh, middle, skip, bare = (trigger(factory, dedup_key=k)
                                 for k in ("fresh", "middle", "skip", "bare"))
    now = utcnow()
    runs.escalate_incident(factory, middle, now=now)  # alice paged; bob due at now + 300
    with factory() as s, s.begin():
        s.get(Incident, skip).policy = {"name": "odd", "repeat": 0, "levels": [
            {"escalate_after": 60, "targets": [{"type": "user", "ref": "ghost@example.com"}]},
            {"escalate_after": 60, "targets": [{"type": "user", "ref": "bob@example.com"}]},
            {"escalate_after": 60, "targets": [{"type": "user", "ref": "manager@example.com"}]},
        ]}
        s.get(Incident, bare).policy = {"name": None, "repeat": 0, "levels": []}
    at = now + timedelta(seconds=301)

    report = sweeper.sweep(factory, at)

    steps = dict(report.steps)
    assert sorted(steps) == sorted([fresh, middle, skip, bare])
    assert [(r.level, r.next_action_at, len(r.page_ids)) for r in
            (steps[fresh], steps[middle], steps[skip], steps[bare])] == [
        (1, at + timedelta(seconds=300), 1), (2, None, 1),
        (2, at + timedelta(seconds=60), 1), (0, None, 0)]
    assert [p[:2] for p in recipients(factory, fresh)] == [(1, f"user:{cast.alice.id}")]
    assert [p[:2] for p in recipients(factory, middle)] == [
        (1, f"user:{cast.alice.id}"), (2, f"user:{cast.bob.id}")]
    assert [p[:2] for p in recipients(factory, skip)] == [(2, f"user:{cast.bob.id}")]
    assert recipients(factory, bare) == []
    assert timeline(factory, skip)[:5] == [
        "triggered", "target_missing", "escalated", "level_skipped", "escalated"]
    assert timeline(factory, bare) == ["triggered", "escalation_stopped", "unpaged"]
    with factory() as s:
        assert [(i.level, i.next_action_at) for i in (s.get(Incident, fresh),
                                                       s.get(Incident, skip))] == [
            (1, at + timedelta(seconds=300)), (2, at + timedelta(seconds=60))]


def test_a_batch_whose_incident_changed_before_the_claim_is_stepped_one_by_one(
        factory: Any, cast: Cast, monkeypatch: Any) -> None:
    ids = [trigger(factory, dedup_key=f"k{i}") for i in range(3)]
    real = stepping.plan_step
    touched: list[int] = []

    def plan_step(session: Any, incident: Any, *args: Any, **kwargs: Any) -> Any:
        plan = real(session, incident, *args, **kwargs)
        if incident.id == ids[1] and not touched:  # moved on after it was read, once
            touched.append(incident.id)
            session.execute(update(Incident).where(Incident.id == incident.id)
                            .values(loop=Incident.loop + 1))
        return plan

    monkeypatch.setattr(stepping, "plan_step", plan_step)
    report = sweeper.sweep(factory)
    assert touched == [ids[1]] and report.failed_incidents == []
    assert sorted(i for i, _ in report.steps) == sorted(ids)
    # The batch was rolled back whole: every incident paged once, the change undone.
    assert [len(recipients(factory, i)) for i in ids] == [1, 1, 1]
    with factory() as s:
        assert [s.get(Incident, i).loop for i in ids] == [0, 0, 0]


def test_dispatchers_racing_over_many_due_incidents_step_and_page_each_once(
        factory: Any, cast: Cast) -> None:
    """Several workers' listeners (and the sweeper) dispatch at once, in small batches: each
    incident is stepped by exactly one of them and paged once (PostgreSQL: SKIP LOCKED
    shares the batches out; SQLite: one writer, and a batch that lost a race is redone one
    incident at a time)."""
    ids = [trigger(factory, dedup_key=f"race-{i}") for i in range(40)]
    now = utcnow()
    barrier = threading.Barrier(4)
    reports: list[sweeper.SweepReport] = []

    def dispatch() -> None:
        barrier.wait()
        reports.append(sweeper.dispatch(factory, now, limit=7))

    threads = [threading.Thread(target=dispatch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stepped = [i for report in reports for i, _ in report.steps]
    assert sorted(stepped) == sorted(ids)  # each once, none missed
    assert all(report.failed_incidents == [] for report in reports)
    assert [[p[:2] for p in recipients(factory, i)] for i in ids] == \
        [[(1, f"user:{cast.alice.id}")]] * len(ids)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Page)
                        .where(Page.status == "sent")) == len(ids)


def test_many_batches_record_every_step_page_and_entry_with_its_detail(
        factory: Any, cast: Cast) -> None:
    """120 incidents in batches of 20: on PostgreSQL each batch statement (one JSON
    parameter whatever the batch size) runs often enough to be prepared by the server."""
    ids = [trigger(factory, dedup_key=f"many-{i}") for i in range(120)]
    now = utcnow()
    report = sweeper.dispatch(factory, now, limit=20)
    assert sorted(i for i, _ in report.steps) == sorted(ids)
    with factory() as s:
        pages = {p.incident_id: p for p in s.scalars(select(Page))}
        events = list(s.scalars(select(IncidentEvent).where(
            IncidentEvent.kind.in_(("escalated", "paged"))).order_by(IncidentEvent.id)))
        incidents_ = {i.id: i for i in s.scalars(select(Incident))}
    assert sorted(pages) == sorted(ids)
    assert {p.status for p in pages.values()} == {"sent"}
    assert all(p.recipient == f"user:{cast.alice.id}" and p.level == 1 for p in pages.values())
    escalated = {e.incident_id: e for e in events if e.kind == "escalated"}
    paged = {e.incident_id: e for e in events if e.kind == "paged"}
    assert sorted(escalated) == sorted(paged) == sorted(ids)
    for i in ids:
        assert escalated[i].at == now and escalated[i].actor == "system"
        assert escalated[i].detail["notified"] == ["alice@example.com"]
        assert escalated[i].detail["level"] == 1
        assert paged[i].detail["page_id"] == pages[i].id
        assert paged[i].detail["recipient"] == f"user:{cast.alice.id}"
        assert (incidents_[i].level, incidents_[i].next_action_at) == (
            1, now + timedelta(seconds=300))
        assert incidents_[i].policy.levels[0].targets


def test_recording_sends_leaves_pages_another_worker_took_over(factory: Any,
                                                              cast: Cast) -> None:
    """A page whose lease ran out and which another worker re-claimed (or is pending again)
    is not marked sent by the worker that was too slow."""
    ids = [trigger(factory, dedup_key=f"slow-{i}") for i in range(2)]
    now = utcnow()
    page_ids = [r.page_ids[0] for i in ids
                if (r := runs.escalate_incident(factory, i, now=now)) is not None]
    with factory() as s, s.begin():
        delivery.claim_page(s, page_ids[0], now)  # 'sending'; the other stays 'pending'
    with factory() as s, s.begin():
        delivery.record_sent(s, [(page_ids[0], "prov-1"), (page_ids[1], "prov-2")], now)
    assert [r[2] for r in recipients(factory, ids[0])] == ["sent"]
    assert [r[2] for r in recipients(factory, ids[1])] == ["pending"]
    assert timeline(factory, ids[0])[-1] == "paged"
    assert "paged" not in timeline(factory, ids[1])
    with factory() as s:
        assert s.get(Page, page_ids[0]).provider_id == "prov-1"
