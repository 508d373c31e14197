"""The one place that enqueues background work: Celery tasks sent by name, after commit.

Enqueueing is only the fast path. If the broker is down or loses a message, the sweeper finds
the due incident or page in the database and does the work anyway, so a failure here is
logged and never turned into an error for the caller (whose data is already committed).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import Celery

from oncall.models import utcnow

log = logging.getLogger(__name__)

MAX_COUNTDOWN = 60.0  # never rely on a longer ETA: Redis redelivers unacked ETA tasks
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
    # Longer than any ETA we use (60 s), so an ETA task is never redelivered early.
    return {"visibility_timeout": 3600, "socket_timeout": 3, "socket_connect_timeout": 3}


def _send(name: str, args: list[Any], countdown: float = 0.0) -> None:
    if _app is None:
        log.warning("jobs: no broker configured; %s%s left to the sweeper", name, args)
        return
    try:
        _app.send_task(name, args=args, countdown=countdown or None, queue=QUEUE)
    except Exception:
        log.exception("jobs: could not enqueue %s%s; the sweeper will do it", name, args)


def escalate(incident_id: int, level: int = 0, loop: int = 0,
             at: datetime | None = None) -> None:
    """Look at the incident at ``at`` (or now), expecting it at (level, loop). A step due
    more than MAX_COUNTDOWN away is left to the sweeper, which runs every second or two."""
    countdown = 0.0
    if at is not None:
        countdown = max(0.0, (at - utcnow()).total_seconds())
        if countdown > MAX_COUNTDOWN:
            return
    _send("oncall.escalate", [incident_id, level, loop], countdown)


def opened(incident_id: int, woken: bool) -> None:
    """A new incident was committed. ``woken``: its commit already woke the dispatcher
    (PostgreSQL ``NOTIFY``, see ``oncall.wake``), so no task is needed; otherwise (SQLite)
    enqueue its first step."""
    if not woken:
        escalate(incident_id)


def deliver(incident_id: int) -> None:
    """Send the incident's pages that are due now (after a manual escalate or reassign)."""
    _send("oncall.deliver", [incident_id])


def slack_refresh(incident_id: int) -> None:
    """Rewrite every Slack message about the incident to show its current state."""
    _send("oncall.slack_refresh", [incident_id])


def slack_respond(response_url: str, text: str) -> None:
    """Answer a Slack user privately (an ephemeral message through ``response_url``)."""
    _send("oncall.slack_respond", [response_url, text])
