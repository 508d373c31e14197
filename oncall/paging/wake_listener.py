"""New incidents wake the dispatcher through the database (PostgreSQL ``LISTEN/NOTIFY``).

The intake statement that opens an incident also runs ``pg_notify('oncall_due', '')``.
PostgreSQL delivers a notification only when (and if) its transaction commits, so a
listener hears of every committed incident and never of one that was rolled back, with no
window between "committed" and "enqueued" for a crash to fall into, and no broker round
trip on the alert's path. Each worker process listens (``worker/app.py``) and, on a
notification, steps everything due in batches (``sweeper.dispatch``): a burst of a thousand
new incidents becomes a few transactions, not a thousand tasks.

A notification is only a nudge. Notifications sent while no one listens are dropped, so the
listener dispatches once after every (re)connection, and the beat sweeper still finds
every due incident every few seconds whatever happens here.

The listener is also the escalation timer. Between notifications it reads, on the same
connection, when the next triggered incident is due (``next_action_at``, through its
index) and wakes at that moment, so an escalation fires on time with no delayed message in
the broker (``oncall.jobs`` sends none: a worker holding them died when Redis restarted).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime

import psycopg
from sqlalchemy.engine import make_url

from oncall import metrics
from oncall.models import utcnow

log = logging.getLogger(__name__)

CHANNEL = "oncall_due"
# The SQL the intake statements embed (uncorrelated: evaluated once per statement).
NOTIFY_SQL = f"pg_notify('{CHANNEL}', '')"
# Seconds between the starts of two dispatches, at least: what a page may wait, under load,
# for the incidents opening after it to join its batch.
PACE = 0.1
APPLICATION_NAME = "oncall-wake"  # the listener's connection, in pg_stat_activity
# When the next triggered incident is due to escalate (the partial index ix_incidents_due).
NEXT_DUE_SQL = ("SELECT min(next_action_at) FROM incidents "
                "WHERE status = 'triggered' AND next_action_at IS NOT NULL")


def conninfo(database_url: str) -> str:
    """A libpq connection string for a SQLAlchemy PostgreSQL URL."""
    url = make_url(database_url)
    parts = {"host": url.host, "port": url.port, "dbname": url.database, "user": url.username,
             "password": url.password, **{k: v for k, v in url.query.items()
                                          if isinstance(v, str)}}
    return psycopg.conninfo.make_conninfo("", **{k: v for k, v in parts.items() if v is not None})


def wait(conn: psycopg.Connection, timeout: float) -> int:
    """Block up to ``timeout`` seconds for a notification, then take every one already
    queued behind it. Returns how many arrived (0: timed out)."""
    got = sum(1 for _ in conn.notifies(timeout=timeout, stop_after=1))
    if got:
        got += sum(1 for _ in conn.notifies(timeout=0.0))
    return got


def next_due(conn: psycopg.Connection) -> datetime | None:
    row = conn.execute(NEXT_DUE_SQL).fetchone()
    return row[0] if row else None


def timeout_for(due: datetime | None, fired: datetime | None, now: datetime,
                idle: float) -> float:
    """How long to wait for a notification: until the next escalation is due, at most
    ``idle``. A due time already woken for (its step did not happen: another worker holds
    it, or it failed) is left to the sweeper rather than retried in a tight loop."""
    if due is None or due == fired:
        return idle
    return min(idle, max(0.0, (due - now).total_seconds()))


def listen(database_url: str, wake: Callable[[], object], stop: threading.Event,
           idle: float = 1.0, max_backoff: float = 10.0, pace: float = PACE,
           on_listening: Callable[[], object] | None = None,
           busy: threading.Lock | None = None, timer: bool = True) -> None:
    """Call ``wake()`` after every batch of notifications, and (``timer``) when the next
    escalation is due, until ``stop`` is set. Runs in a thread of its own. Notifications
    arriving while ``wake`` runs are queued on the connection and handled by the next
    call: bursts coalesce, nothing is missed. A lost connection is reopened (with backoff),
    followed by one ``wake()`` for whatever opened meanwhile. ``wake`` errors are logged:
    the sweeper covers for them. ``busy`` is held while ``wake`` runs. Successive calls
    start at least ``pace`` seconds apart."""
    backoff = 0.5
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo(database_url), autocommit=True, connect_timeout=5,
                                 application_name=APPLICATION_NAME) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                log.info("wake: listening for new incidents on %s", CHANNEL)
                if on_listening is not None:
                    on_listening()
                backoff = 0.5
                last = time.monotonic()
                _call(wake, busy)  # incidents that opened while nobody listened
                fired: datetime | None = None
                while not stop.is_set():
                    due = next_due(conn) if timer else None
                    if not wait(conn, timeout_for(due, fired, utcnow(), idle)):
                        if due is None or due == fired or due > utcnow():
                            continue
                        fired = due  # the timer: an escalation is due now
                    # Under a stream of alerts, wake at most every ``pace`` seconds, so each
                    # dispatch takes a batch: far less work per incident than one each, and
                    # no delay at all for an alert that comes alone.
                    if stop.wait(max(0.0, last + pace - time.monotonic())):
                        return
                    wait(conn, 0.0)
                    last = time.monotonic()
                    _call(wake, busy)
        except psycopg.Error as exc:
            if stop.is_set():
                return
            log.warning("wake: listener connection failed (%s); again in %.1f s", exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, max_backoff)


def _call(wake: Callable[[], object], busy: threading.Lock | None = None) -> None:
    try:
        if busy is None:
            wake()
        else:
            with busy:
                wake()
    except Exception:
        metrics.WAKES.labels("error").inc()
        log.exception("wake: dispatch failed; the sweeper will step what is due")
    else:
        metrics.WAKES.labels("ok").inc()


class Listener:
    """``listen`` in a daemon thread, with a ``stop()`` that waits for it.

    The thread lives in a process that forks (Celery's prefork pool replaces a child that
    died by forking its main process). A child forked while the thread is halfway through a
    dispatch could inherit a lock the thread held (a connection pool's, stdout's) and hang on
    it, so a fork waits for the dispatch under way to finish (``os.register_at_fork``)."""

    def __init__(self, database_url: str, wake: Callable[[], object],
                 idle: float = 1.0, pace: float = PACE, timer: bool = True) -> None:
        self.stop_event = threading.Event()
        self.listening = threading.Event()
        self.busy = threading.Lock()
        self.thread = threading.Thread(
            target=listen, name="oncall-wake", daemon=True,
            args=(database_url, wake, self.stop_event, idle),
            kwargs={"on_listening": self.listening.set, "busy": self.busy, "pace": pace,
                    "timer": timer})

    def start(self) -> Listener:
        os.register_at_fork(before=self.busy.acquire, after_in_parent=self.busy.release,
                            after_in_child=self._forget)
        self.thread.start()
        return self

    def _forget(self) -> None:
        """In a forked child: the thread is not there; its lock (held for the fork) is free."""
        self.busy = threading.Lock()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
