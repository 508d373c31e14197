"""Starting the real web server (gunicorn through ``oncall web``) for tests that need one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from oncall.config import Settings
from tests.conftest import ROOT, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def web_server(settings: Settings, log_dir: Path, workers: int = 4,
               extra_env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ)
    env.update(ONCALL_DATABASE_URL=settings.database_url, ONCALL_BROKER_URL=settings.broker_url,
               ONCALL_DATA_DIR=str(settings.data_dir), ONCALL_METRICS_DIR=str(log_dir / "metrics"),
               **(extra_env or {}))
    log = open(log_dir / "web.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "oncall.cli", "web", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()  # the child has its own copy
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError((log_dir / "web.log").read_text()[-3000:])
        try:
            return requests.get(f"{url}/health", timeout=1).ok
        except (requests.ConnectionError, requests.Timeout):  # workers still booting
            return False

    try:
        wait_for(up, 30, what="the web server")
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
