"""The worker's consumer, made to survive the loss of its broker whatever it holds.

When the connection to Redis breaks, Celery closes the dead connection; closing its channel
hands every message the worker holds unacknowledged (tasks running under ``acks_late``,
retries waiting for their countdown) back to the broker. Celery first collects the
connection, which detaches the transport, so that hand-back runs on a channel with no
connection left and raises ``AttributeError: 'NoneType' object has no attribute 'hostname'``
(kombu ``redis.py`` ``_connparams``): not a connection error, so nothing catches it and the
worker exits 1 ("Unrecoverable error"). Seen with celery 5.7.0 / kombu 5.7.0 and five
delayed ``oncall.escalate`` tasks (issue 15); the same failure closing a collected Redis
channel is celery/kombu#582, and ETA tasks lost across a Redis reconnect celery/celery#1307.

Here those messages are forgotten instead before the close: the broker they came from is
gone, so there is nothing to hand them back to. Nothing is lost by it: Redis still holds
its own copy of each unacknowledged message (``unacked``) if it kept its data, and restores
it after the visibility timeout; and every task here is idempotent work whose state is in
the database, which the sweeper re-drives. Celery then reconnects (with
``broker_connection_max_retries=None``: for as long as it takes) and consumes again.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer

log = logging.getLogger(__name__)


def forget_unacked(connection: Any) -> int:
    """Drop the unacknowledged deliveries of ``connection``'s channels so that closing them
    restores nothing to a broker that is gone, and make a later acknowledgement or rejection
    on them (a task that was running finishes) a no-op instead of a request on a channel
    whose connection is gone (the same ``AttributeError``). Returns how many were dropped."""
    dropped = 0
    transport = getattr(connection, "_transport", None)
    channels = list(getattr(transport, "channels", None) or [])
    default = getattr(connection, "_default_channel", None)
    if default is not None and default not in channels:
        channels.append(default)
    for channel in channels:
        qos: Any = getattr(channel, "_qos", None)
        delivered = getattr(qos, "_delivered", None)
        if qos is None or delivered is None:
            continue
        dropped += len(delivered)
        delivered.clear()
        delivered.restored = True  # kombu's "already handed back" flag: skip it at close
        qos.ack = qos.reject = _settled_nowhere
    return dropped


def _settled_nowhere(delivery_tag: Any, *args: Any, **kwargs: Any) -> None:
    log.info("task %s finished after its broker connection was lost; nothing to "
             "acknowledge it to", delivery_tag)


class Consumer(CeleryConsumer):
    def on_connection_error_after_connected(self, exc: Exception) -> None:
        connection: Any = getattr(self, "connection", None)
        dropped = forget_unacked(connection) if connection is not None else 0
        if dropped:
            log.warning("broker connection lost while holding %d unacknowledged message(s): "
                        "not handed back to the lost broker (its own copy is restored after "
                        "the visibility timeout; the sweeper re-drives the work from the "
                        "database)", dropped)
        try:
            super().on_connection_error_after_connected(exc)
        except Exception:  # closing a dead connection must not stop the worker
            log.warning("broker connection lost; closing it failed, reconnecting anyway",
                        exc_info=True)
            self.connection = None
