"""The Celery app. ``celery -A worker.app worker`` (or ``oncall worker``) runs it."""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_process_init

from oncall import db, jobs
from oncall.config import load_settings
from oncall.notify import registry

settings = load_settings()

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
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    beat_schedule={
        "sweep": {
            "task": "oncall.sweep",
            "schedule": settings.sweep_interval,
            # A sweep nobody ran in time is worthless later: don't let them pile up.
            "options": {"expires": max(settings.sweep_interval * 3, 5), "queue": "oncall.beat"},
        },
        "handoffs": {
            "task": "oncall.handoffs",
            "schedule": 60.0,
            "options": {"expires": 60, "queue": "oncall.beat"},
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
    # A forked child must not share the parent's database connections.
    db.dispose_all()
