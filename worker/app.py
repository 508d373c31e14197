"""The Celery app. ``celery -A worker.app worker`` (or ``oncall worker``) runs it."""

from __future__ import annotations

from celery import Celery, bootsteps
from celery.signals import worker_process_init

from oncall import db, jobs, logsafe
from oncall.channels import registry
from oncall.config import env_float, load_settings, require_secret_key
from oncall.paging import wake_listener

logsafe.install()  # Celery's log lines and ours: no forged lines, no tokens
settings = load_settings()
require_secret_key(settings, "the Celery worker and beat")
# Heartbeats are checked at least this often (seconds): a missed cron run opens its
# incident at most this long after its grace time ran out.
HEARTBEAT_INTERVAL = min(max(env_float("ONCALL_HEARTBEAT_INTERVAL", 15.0), 0.5), 30.0)
# How often windowed threshold rules are re-evaluated (crossings and hold-downs).
rules_interval = env_float("ONCALL_RULES_INTERVAL", 15.0)

app = Celery("oncall", broker=settings.broker_url, include=["worker.tasks"])
app.conf.update(
    task_default_queue=jobs.QUEUE,
    # At-least-once: a task is acknowledged after it ran, and a worker killed mid-task gives
    # it back. Every task is idempotent (ids in, re-check, claim with a conditional UPDATE).
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_transport_options=jobs.transport_options(settings.broker_url),
    broker_connection_retry_on_startup=True,
    # A lost broker is waited for as long as it takes (Celery gives up after 100 tries by
    # default, and the worker then exits): the worker reconnects and resumes by itself.
    broker_connection_retry=True,
    broker_connection_max_retries=None,
    broker_channel_error_retry=True,
    # Survives the loss of the broker whatever it holds (see worker/consumer.py).
    worker_consumer="worker.consumer:Consumer",
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    beat_schedule={
        "sweep": {
            "task": "oncall.sweep",
            "schedule": settings.sweep_interval,
            # A sweep nobody ran in time is worthless later: don't let them pile up.
            "options": {"expires": max(settings.sweep_interval * 3, 5), "queue": "oncall.beat"},
        },
        "rules": {  # windowed threshold rules: crossings and hold-downs with no new alert
            "task": "oncall.rules",
            "schedule": rules_interval,
            "options": {"expires": max(rules_interval, 5), "queue": "oncall.beat"},
        },
        "handoffs": {
            "task": "oncall.handoffs",
            "schedule": 60.0,
            "options": {"expires": 60, "queue": "oncall.beat"},
        },
        "heartbeats": {
            "task": "oncall.heartbeats",
            "schedule": HEARTBEAT_INTERVAL,
            "options": {"expires": HEARTBEAT_INTERVAL * 2, "queue": "oncall.beat"},
        },
        "deadman": {
            "task": "oncall.deadman",
            "schedule": settings.deadman_interval,
            "options": {"expires": settings.deadman_interval, "queue": "oncall.beat"},
        },
    },
    beat_max_loop_interval=1,
)
jobs.init(settings.broker_url)
registry.setup(settings)

if settings.broker_url.startswith("sqla+"):
    from kombu.transport import sqlalchemy as _sqla_transport

    # The embedded (SQLite) broker is polled; poll often so pages go out promptly.
    _sqla_transport.Transport.polling_interval = 0.1


@worker_process_init.connect
def _fresh_connections(**_: object) -> None:
    # A forked child must not use the parent's database connections, nor close them (the
    # parent's wake listener keeps using its own).
    db.dispose_all(close=False)


class WakeListener(bootsteps.StartStopStep):
    """On PostgreSQL, every worker listens for the notification that the intake's commit
    sends when it opens an incident, and steps what is due at once, in batches, in a thread
    of the worker's main process (``oncall.paging.wake_listener``). The pool's tasks do the rest."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, parent: object, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self.listener: wake_listener.Listener | None = None

    def start(self, parent: object) -> None:
        if not settings.database_url.startswith("postgresql"):
            return  # SQLite: the intake enqueues each new incident's first step instead
        from worker import tasks

        self.listener = wake_listener.Listener(settings.database_url, tasks.dispatch).start()

    def stop(self, parent: object) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None


app.steps["worker"].add(WakeListener)
