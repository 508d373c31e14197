"""A worker survives its Redis being killed and restarted, whatever it holds (issue 15):
delayed tasks waiting for their countdown, a task under way. Afterwards it takes new tasks
by itself, and the escalation that was due meanwhile still happens (from the database)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from oncall.config import Settings
from tests.conftest import (
    REQUIRED,
    ROOT,
    WorkerProcess,
    alert,
    make_cast,
    pages_for,
    wait_for,
    web_app,
)
from tests.servers import free_port

pytestmark = [pytest.mark.worker, pytest.mark.slow]


class Redis:
    """A redis-server of our own (no persistence), to kill and start again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up() -> bool:
            try:
                return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
            except redis.ConnectionError:
                return False

        wait_for(up, 10, what="redis-server")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Redis]:
    if shutil.which("redis-server") is None:
        if "redis" in REQUIRED:
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    server = Redis(tmp_path)
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.kill9()


class TestWorker(WorkerProcess):
    """The real worker, through tests/broker_worker.py (two extra tasks for this test)."""

    __test__ = False

    def start(self, wait: bool = True) -> TestWorker:
        self.runs += 1
        log = open(self.log_dir / f"worker-{self.runs}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "broker_worker.py"), "-A", "worker.app",
             "worker", "-B", "-Q", "oncall,oncall.beat", "-l", "INFO", "--concurrency", "2",
             "-s", str(self.log_dir / f"beat-{self.runs}")],
            cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        return self

    def full_log(self) -> str:
        return (self.log_dir / f"worker-{self.runs}.log").read_text(errors="replace")


def test_a_worker_survives_a_redis_restart_whatever_it_holds(
        factory: Any, settings: Settings, own_redis: Redis, tmp_path: Path) -> None:
    mine = dataclasses.replace(settings, broker_url=own_redis.url)
    cast = make_cast(factory, escalate_after=4)
    worker = TestWorker(mine, tmp_path, sweep_interval=2.0)
    sender = Celery("test-sender", broker=own_redis.url, set_as_current=False)
    try:
        worker.start()
        wait_for(lambda: "ready." in worker.full_log(), 30, what="the worker to start")
        apps = web_app(mine)
        client = next(apps).test_client()
        r = client.post(f"/integrations/{cast.integration_token}", json=alert())
        assert r.status_code == 202
        incident = int(r.json["incidents"][0]["incident_id"])
        wait_for(lambda: [p.level for p in pages_for(factory, incident)] == [1], 15,
                 what="level 1")
        # What a worker may hold when Redis goes: delayed tasks (sent by older releases, or
        # retries waiting for their countdown), and a task under way (acknowledged late).
        for n in range(5):
            sender.send_task("oncall.escalate", args=[10_000_000 + n, 1, 0], countdown=50,
                             queue="oncall")
        sender.send_task("tests.sleep", args=[4], queue="oncall")
        wait_for(lambda: worker.full_log().count("oncall.escalate[") >= 5
                 and "tests.sleep[" in worker.full_log(), 15,
                 what="the worker to hold the tasks")
        time.sleep(0.5)  # back to waiting on the broker (where the loss is noticed)
        own_redis.kill9()
        wait_for(lambda: "Connection to broker lost" in worker.full_log(), 15,
                 what="the worker to notice")
        time.sleep(1)  # a few reconnection attempts fail meanwhile
        own_redis.start()
        done = tmp_path / "touched"
        sender.send_task("tests.touch", args=[str(done)], queue="oncall")
        wait_for(done.exists, 30, what="a task sent after the restart to run")
        assert worker.proc is not None and worker.proc.poll() is None, worker.log()
        # The escalation due meanwhile came from the database, not from a delayed message.
        wait_for(lambda: [p.level for p in pages_for(factory, incident)] == [1, 2], 20,
                 what="level 2 after the restart")
        # The task under way when Redis went finished on the old connection, and its
        # acknowledgement (to a channel that is gone) did not stop the worker either.
        wait_for(lambda: "tests.sleep" in worker.full_log().split("Connected to")[-1], 20,
                 what="the task under way to finish")
        sender.send_task("tests.touch", args=[str(tmp_path / "again")], queue="oncall")
        wait_for((tmp_path / "again").exists, 30, what="one more task to run")
        assert "Unrecoverable error" not in worker.full_log()
        assert worker.proc.poll() is None
        next(apps, None)
    finally:
        worker.stop()
        sender.close()
