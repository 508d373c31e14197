"""gunicorn settings for ``oncall web`` (override any of them with GUNICORN_CMD_ARGS)."""

import os

from oncall import logsafe

# The access log quotes request lines (integration tokens in paths, feed tokens in query
# strings) and the error log request paths: redacted, and escaped onto one line, in the master
# and the workers it forks.
logsafe.install()

bind = os.environ.get("ONCALL_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("ONCALL_WEB_WORKERS", "4"))
threads = int(os.environ.get("ONCALL_WEB_THREADS", "1"))
timeout = 30
graceful_timeout = 20
accesslog = os.environ.get("ONCALL_ACCESS_LOG") or None
# Each worker builds its own app (its own database pool) after the fork.
preload_app = False


def child_exit(server, worker):
    """Multiprocess metrics: forget gauges of a worker that has gone (counters stay)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        from oncall.metrics import process_identifier

        multiprocess.mark_process_dead(process_identifier(worker.pid))


def post_worker_init(worker):
    """Once the worker has built the app, move everything it allocated so far (about 130,000
    objects: modules, the app, SQLAlchemy's metadata) out of the garbage collector's reach:
    a full collection then scans only what requests left behind, where it scanned them all
    (measured in one process: a 79 ms pause, every few thousand requests, that the request
    it fell on waited out)."""
    import gc

    gc.freeze()
