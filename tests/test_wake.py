"""New incidents wake the dispatcher through PostgreSQL LISTEN/NOTIFY
(``oncall.paging.wake_listener``)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from oncall import jobs
from oncall.config import Settings
from oncall.incidents import intake
from oncall.incidents.intake import Source
from oncall.ingest import generic
from oncall.models import Incident, SystemState, utcnow
from oncall.paging import runs, sweeper, wake_listener
from tests.conftest import Cast, WorkerProcess, alert, make_cast, pages_for, wait_for
from tests.fakes import install


@pytest.fixture
def postgres(settings: Settings) -> str:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite the intake enqueues a task")
    return settings.database_url


@pytest.fixture
def listening(postgres: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(wake_listener.conninfo(postgres), autocommit=True) as conn:
        conn.execute(f"LISTEN {wake_listener.CHANNEL}")
        yield conn


def heard(conn: psycopg.Connection) -> int:
    return wake_listener.wait(conn, 0.5)


def test_a_new_incident_notifies_once_and_a_duplicate_does_not(
        listening: psycopg.Connection, client: Any, cast: Cast) -> None:
    url = f"/integrations/{cast.integration_token}"
    assert client.post(url, json=alert(dedup_key="a")).status_code == 202
    assert heard(listening) == 1
    assert client.post(url, json=alert(dedup_key="a")).status_code == 202  # joins
    assert heard(listening) == 0
    batch = [alert(dedup_key="b"), alert(dedup_key="c"), alert(dedup_key="a")]
    assert client.post(url, json=batch).status_code == 202  # one statement, one notification
    assert heard(listening) == 1
    assert client.post(url, json=alert(dedup_key="a", status="resolved")).status_code == 202
    assert heard(listening) == 0


def test_nothing_is_announced_for_a_transaction_that_rolls_back(
        listening: psycopg.Connection, factory: Any, cast: Cast) -> None:
    source = Source(None, "test", "generic", cast.service.id, cast.service.name)
    with factory() as s:
        [outcome] = intake.ingest(s, source, generic.parse(alert(dedup_key="gone")), utcnow())
        assert outcome.new
        s.rollback()
    assert heard(listening) == 0
    with factory() as s:
        assert s.scalar(select(Incident).where(Incident.dedup_key == "gone")) is None


def test_the_web_enqueues_no_task_when_the_commit_woke_the_dispatcher(
        postgres: str, client: Any, cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []
    monkeypatch.setattr(jobs, "_send", lambda *a, **k: sent.append(a))
    r = client.post(f"/integrations/{cast.integration_token}", json=alert())
    assert r.status_code == 202 and r.json["incidents"][0]["new"]
    assert sent == []


def test_the_listener_wakes_on_notifications_and_after_reconnecting(postgres: str) -> None:
    woken = threading.Semaphore(0)
    listener = wake_listener.Listener(postgres, woken.release, idle=0.2).start()
    try:
        assert listener.listening.wait(10)
        assert woken.acquire(timeout=10)  # the catch-up call on connecting
        with psycopg.connect(wake_listener.conninfo(postgres), autocommit=True) as other:
            for _ in range(3):
                other.execute(f"SELECT {wake_listener.NOTIFY_SQL}")
            assert woken.acquire(timeout=10)
            listener.listening.clear()
            # Lose the listener's connection: it reconnects and catches up once more.
            other.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          f"WHERE application_name = '{wake_listener.APPLICATION_NAME}' "
                          "AND pid <> pg_backend_pid()")
            assert listener.listening.wait(15)
            assert woken.acquire(timeout=10)
    finally:
        listener.stop()
    assert not listener.thread.is_alive()


def test_a_failing_dispatch_does_not_stop_the_listener(postgres: str) -> None:
    calls: list[int] = []
    done = threading.Event()

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database blip")
        done.set()

    def errors() -> float:
        return REGISTRY.get_sample_value("oncall_wake_dispatches_total",
                                         {"outcome": "error"}) or 0.0

    before = errors()
    listener = wake_listener.Listener(postgres, flaky, idle=0.2).start()
    try:
        assert listener.listening.wait(10)
        with psycopg.connect(wake_listener.conninfo(postgres), autocommit=True) as other:
            wait_for(lambda: calls, 10, what="the first (failing) dispatch")
            other.execute(f"SELECT {wake_listener.NOTIFY_SQL}")
            assert done.wait(10)
    finally:
        listener.stop()
    assert errors() == before + 1


def test_a_fork_waits_for_the_dispatch_under_way(postgres: str) -> None:
    """Celery's pool forks the worker's main process to replace a dead child: never while
    the listener is halfway through a dispatch, whose locks the child would inherit held."""
    running, release = threading.Event(), threading.Event()
    finished: list[float] = []

    def slow() -> None:
        running.set()
        release.wait(10)
        finished.append(time.monotonic())

    listener = wake_listener.Listener(postgres, slow, idle=0.2).start()
    try:
        assert running.wait(10)  # the catch-up dispatch on connecting
        threading.Timer(0.3, release.set).start()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        forked = time.monotonic()
        os.waitpid(pid, 0)
        assert finished and finished[0] <= forked
    finally:
        release.set()
        listener.stop()


def test_a_stream_of_notifications_is_dispatched_in_batches_and_none_is_missed(
        postgres: str) -> None:
    """Under a stream of new incidents the listener wakes at most once per ``pace``: the
    burst below (50 commits) takes one or two dispatches, not fifty, and one of them starts
    after the last commit, so nothing waits for the sweeper."""
    starts: list[float] = []
    listener = wake_listener.Listener(postgres, lambda: starts.append(time.monotonic()),
                             idle=0.2, pace=1.0).start()
    try:
        assert listener.listening.wait(10)
        wait_for(lambda: starts, 10, what="the catch-up dispatch")
        with psycopg.connect(wake_listener.conninfo(postgres), autocommit=True) as other:
            for _ in range(50):
                other.execute(f"SELECT {wake_listener.NOTIFY_SQL}")
            last_commit = time.monotonic()
        wait_for(lambda: starts[-1] > last_commit, 10, what="a dispatch after the burst")
        time.sleep(1.5)  # a pace more: nothing else was pending
        assert 2 <= len(starts) <= 3  # the catch-up, then one or two for the burst
    finally:
        listener.stop()


@pytest.mark.worker
@pytest.mark.slow
def test_a_real_worker_pages_a_new_incident_with_no_task_and_no_sweep(
        postgres: str, factory: Any, client: Any, worker: WorkerProcess) -> None:
    """The sweeper runs once an hour here and the web enqueues nothing: only the worker's
    listener can page this incident."""
    cast = make_cast(factory)
    worker.sweep_interval = 3600
    worker.start(wait=False)
    wait_for(lambda: "wake: listening" in worker.log(), 30, what="the worker's listener")
    r = client.post(f"/integrations/{cast.integration_token}", json=alert())
    incident = int(r.json["incidents"][0]["incident_id"])
    wait_for(lambda: [p.status for p in pages_for(factory, incident)] == ["sent"], 15,
             what="the level-1 page")
    with factory() as s:
        opened = s.get(Incident, incident).created_at
        sweep = s.get(SystemState, "sweeper")
        assert sweep is None or sweep.updated_at < opened, "a sweep paged it, not the listener"


def test_the_listener_sends_console_pages_itself_and_hands_provider_pages_to_tasks(
        factory: Any, client: Any, cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages that make a network call are not sent from the listener's one thread, where a
    slow provider would hold up every other incident: a deliver task each sends them."""
    pigeon = install(monkeypatch, "pigeon")["pigeon"]
    r = client.post(f"/integrations/{cast.integration_token}", json=alert())
    incident = int(r.json["incidents"][0]["incident_id"])
    report = sweeper.dispatch(factory, local_only=True)
    assert [i for i, _ in report.steps] == [incident]
    assert report.to_deliver == [incident]
    assert pigeon.sent == []
    pages = {p.channel: p.status for p in pages_for(factory, incident)}
    assert pages["pigeon"] == "pending"
    assert pages.get("console", "sent") == "sent"
    # What the deliver task does:
    runs.deliver_incident(factory, incident)
    assert pigeon.who() == ["alice@example.com"]


def test_a_sweep_still_sends_every_channel(factory: Any, client: Any, cast: Cast,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    pigeon = install(monkeypatch, "pigeon")["pigeon"]
    r = client.post(f"/integrations/{cast.integration_token}", json=alert())
    incident = int(r.json["incidents"][0]["incident_id"])
    report = sweeper.dispatch(factory)
    assert report.to_deliver == []
    assert pigeon.who() == ["alice@example.com"]
    assert all(p.status == "sent" for p in pages_for(factory, incident))


def test_the_timer_waits_until_the_next_escalation_is_due_at_most_idle() -> None:
    now = utcnow()
    soon = now + timedelta(seconds=0.3)
    assert wake_listener.timeout_for(None, None, now, 1.0) == 1.0
    assert wake_listener.timeout_for(soon, None, now, 1.0) == pytest.approx(0.3)
    assert wake_listener.timeout_for(now + timedelta(seconds=30), None, now, 1.0) == 1.0
    assert wake_listener.timeout_for(now - timedelta(seconds=5), None, now, 1.0) == 0.0
    # Already woken for and still due (another worker holds it, or its step failed): the
    # sweeper's, not a busy loop's.
    assert wake_listener.timeout_for(soon, soon, now, 1.0) == 1.0


def test_a_real_worker_escalates_on_time_with_no_delayed_task_and_no_sweep(
        postgres: str, factory: Any, client: Any, worker: WorkerProcess) -> None:
    """The sweeper runs once an hour here: level 2, due 2 s after level 1, comes from the
    listener's timer reading ``next_action_at``, and no task with a countdown is held by the
    worker for it (such tasks killed workers when Redis restarted: issue 15)."""
    cast = make_cast(factory, escalate_after=2)
    worker.sweep_interval = 3600
    worker.start(wait=False)
    wait_for(lambda: "wake: listening" in worker.log(), 30, what="the worker's listener")
    r = client.post(f"/integrations/{cast.integration_token}", json=alert())
    incident = int(r.json["incidents"][0]["incident_id"])
    wait_for(lambda: [p.level for p in pages_for(factory, incident)] == [1, 2], 15,
             what="level 2 from the timer")
    log = (worker.log_dir / f"worker-{worker.runs}.log").read_text(errors="replace")
    assert "oncall.escalate[" not in log, "a delayed escalate task was sent"


def test_provider_pages_are_sent_by_the_listener_while_the_broker_is_away(
        factory: Any, client: Any, cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis restarting: the deliver task cannot be enqueued, and the sweeper's beat needs
    Redis too, so the listener sends the pages itself rather than leave them waiting."""
    pigeon = install(monkeypatch, "pigeon")["pigeon"]
    first = client.post(f"/integrations/{cast.integration_token}", json=alert(dedup_key="1"))
    second = client.post(f"/integrations/{cast.integration_token}", json=alert(dedup_key="2"))
    report = sweeper.dispatch(factory, local_only=True)
    assert len(report.to_deliver) == 2
    tried: list[int] = []

    def broker_down(incident_id: int) -> bool:
        tried.append(incident_id)
        return False

    runs.hand_over(factory, report.to_deliver, broker_down)
    assert tried == report.to_deliver[:1]  # not asked again once it refused
    assert pigeon.who() == ["alice@example.com"] * 2
    ids = [int(r.json["incidents"][0]["incident_id"]) for r in (first, second)]
    assert all(p.status == "sent" for i in ids for p in pages_for(factory, i)
               if p.channel == "pigeon")
