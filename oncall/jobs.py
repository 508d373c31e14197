"""The one place that enqueues background work: Celery tasks sent by name, after commit.

Enqueueing is only the fast path. If the broker is down or loses a message, the sweeper finds
the due incident or page in the database and does the work anyway, so a failure here is
logged and never turned into an error for the caller (whose data is already committed).

No task is ever sent with a countdown or an ETA. A delayed message sits unacknowledged in a
worker until it is due, and a worker holding such messages when Redis went away crashed
while restoring them (issue 15). The database is the clock: an escalation due later is
found there by the worker's timer (``oncall.paging.wake_listener``, PostgreSQL) or the
sweeper (every ``ONCALL_SWEEP_INTERVAL`` seconds), so the broker only ever carries work due
now.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError

from oncall.models import utcnow

log = logging.getLogger(__name__)

QUEUE = "oncall"
_app: Celery | None = None


def init(broker_url: str) -> Celery:
    """Configure the sender (idempotent per URL)."""
    global _app
    if _app is None or _app.conf.broker_url != broker_url:
        _app = Celery("oncall-sender", broker=broker_url, set_as_current=False)
        _app.conf.update(
            broker_connection_timeout=3,
            broker_connection_retry_on_startup=False,
            task_publish_retry_policy={"max_retries": 2, "interval_start": 0,
                                       "interval_step": 0.2, "interval_max": 0.5},
            broker_transport_options=transport_options(broker_url),
        )
    return _app


def transport_options(broker_url: str) -> dict[str, Any]:
    if broker_url.startswith("sqla+"):
        # The embedded broker. Its transport hands every option to create_engine(), so its
        # polling interval (1 s by default) is set on the class instead: see worker/app.py.
        return {}
    # We send no ETA tasks; a task still unacknowledged after an hour (its worker gone) is
    # handed to another worker. Every task is idempotent, so a redelivery is harmless.
    return {"visibility_timeout": 3600, "socket_timeout": 3, "socket_connect_timeout": 3}


def _send(name: str, args: list[Any]) -> bool:
    """Enqueue; returns whether the broker took it."""
    if _app is None:
        log.warning("jobs: no broker configured; %s%s left to the sweeper", name, args)
        return False
    try:
        _app.send_task(name, args=args, queue=QUEUE)
    except OperationalError as exc:  # the broker is unreachable (restarting): no traceback
        log.warning("jobs: could not enqueue %s%s (%s); the sweeper will do it", name, args,
                    exc)
        return False
    except Exception:
        log.exception("jobs: could not enqueue %s%s; the sweeper will do it", name, args)
        return False
    return True


def escalate(incident_id: int, level: int = 0, loop: int = 0,
             at: datetime | None = None) -> None:
    """Look at the incident now, expecting it at (level, loop). A step due later (``at`` in
    the future) is not enqueued: the worker's timer or the sweeper steps it when it is due,
    from the database."""
    if at is not None and at > utcnow():
        return
    _send("oncall.escalate", [incident_id, level, loop])


def opened(incident_id: int, woken: bool) -> None:
    """A new incident was committed. ``woken``: its commit already woke the dispatcher
    (PostgreSQL ``NOTIFY``, see ``oncall.paging.wake_listener``), so no task is needed;
    otherwise (SQLite) enqueue its first step."""
    if not woken:
        escalate(incident_id)


def deliver(incident_id: int) -> bool:
    """Send the incident's pages that are due now (after a manual escalate or reassign).
    Returns whether the broker took the task."""
    return _send("oncall.deliver", [incident_id])


def slack_refresh(incident_id: int) -> None:
    """Rewrite every Slack message about the incident to show its current state."""
    _send("oncall.slack_refresh", [incident_id])


def slack_respond(response_url: str, text: str) -> None:
    """Answer a Slack user privately (an ephemeral message through ``response_url``)."""
    _send("oncall.slack_respond", [response_url, text])
