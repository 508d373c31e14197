"""Prometheus metrics.

Processes on one host that share ``ONCALL_METRICS_DIR`` (gunicorn's web workers, the Celery
worker's children, beat) write there in prometheus-client's multiprocess mode, and ``/metrics``
adds them up, so the numbers are right with any number of processes. The directory must be
set in the environment before this module is first imported; the CLI sees to that.

Each process writes files named after it. prometheus-client names them by pid alone, but the
containers of one host (docker-compose's web, worker and beat share one volume) each number
their processes from 1: a web worker and a Celery child would both write ``counter_7.db``, each
through its own index of the file, and corrupt it. The name here is the host name (a
container's own) and the pid.
"""

from __future__ import annotations

import os
import re
import socket

from prometheus_client import Counter, Histogram, values


def process_identifier(pid: int | None = None) -> str:
    """Unique among the running processes that share a metrics directory: this one's, or
    that of process ``pid`` of this host."""
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"
    return f"{host}-{pid or os.getpid()}"


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    values.ValueClass = values.MultiProcessValue(process_identifier)

ALERTS = Counter("oncall_alerts_received", "Alerts accepted and stored, by integration.",
                 ["integration", "kind"])
REJECTED = Counter("oncall_alerts_rejected", "Inbound alert requests refused, by HTTP status.",
                   ["status"])
SANITIZED = Counter("oncall_alerts_sanitized", "Alerts stored with NUL or lone surrogate "
                    "characters (which the database cannot hold) replaced by U+FFFD.")
PAGES = Counter("oncall_pages", "Page delivery outcomes, by channel.", ["channel", "outcome"])
ESCALATION_LAG = Histogram(
    "oncall_escalation_lag_seconds", "How late an escalation step ran after it was due.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300))
SWEEPS = Counter("oncall_sweeper_runs", "Sweeper runs (the durable escalation backstop).")
WAKES = Counter("oncall_wake_dispatches", "Dispatches run by a worker's listener for new "
                "incidents (PostgreSQL NOTIFY), by outcome.", ["outcome"])
