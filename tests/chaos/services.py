"""The chaos test's own PostgreSQL and Redis (started here, so they can be killed) and the
production processes, each a real ``oncall`` subprocess that a small supervisor restarts
when the test kills it, and reports when it exits by itself."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT, wait_for
from tests.servers import free_port


def pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing_tools() -> list[str]:
    missing = [] if pg_bindir() else ["PostgreSQL's initdb and pg_ctl"]
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing.append("a 'postgres' user (initdb refuses to run as root)")
    return missing


class Postgres:
    """A throwaway cluster in its own folder on a free port. initdb and the server refuse
    to run as root: as root they run as the ``postgres`` user, in a folder it owns."""

    def __init__(self) -> None:
        bindir = pg_bindir()
        assert bindir is not None
        self.bindir = bindir
        self.port = free_port()
        self.dir = Path(os.path.realpath(tempfile.mkdtemp(prefix="oncall-chaos-pg-",
                                                          dir="/tmp")))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = self.dir / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.as_user, *argv], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.STDOUT, timeout=60)

    def init(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()

    def start(self) -> None:
        # fsync off: only an operating system crash would need it; a killed server keeps
        # every commit (synchronous_commit stays on, so an answered 202 is on disk's cache).
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.dir / "postgres.log"), "-w", "-t", "60", "start")

    def crash(self) -> None:
        """Stop at once, as a crash would (SIGQUIT to the postmaster; recovery on start)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                  "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                      "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """A redis-server without persistence on a free port, to flush, kill and start again."""

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
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

        def up() -> bool:
            try:
                return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
            except redis.ConnectionError:
                return False

        wait_for(up, 15, what="redis-server")

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url, socket_connect_timeout=2).flushall()

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def base_env() -> dict[str, str]:
    """A process environment made from scratch: nothing of the caller's ONCALL_*, TWILIO_*
    or test settings leaks in."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "HOME": os.environ.get("HOME", "/tmp"), "PYTHONUNBUFFERED": "1"}
    return env


@dataclass
class Process:
    """One production process (``oncall web``, ``worker`` or ``beat``) in its own process
    group, as a supervisor runs it: ``kill9`` kills the whole group (like an OOM kill of a
    container), ``start`` starts it again."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0
    killed: int = 0
    exits: list[str] = field(default_factory=list)  # exits nobody asked for

    def start(self) -> None:
        self.runs += 1
        log = open(self.log_dir / f"{self.name}-{self.runs}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "oncall.cli", *self.argv],
                                     cwd=ROOT, env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def kill9(self) -> None:
        assert self.proc is not None
        self.killed += 1
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def check(self) -> None:
        """Record (and restart, as a supervisor would) a process that exited by itself."""
        if self.proc is not None and self.proc.poll() is not None:
            log = self.log_dir / f"{self.name}-{self.runs}.log"
            tail = log.read_text(errors="replace")[-1500:]
            self.exits.append(f"{self.name} run {self.runs} exited {self.proc.returncode}:\n"
                              f"{tail}")
            self.start()

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self, wait: float = 15) -> None:
        """After ``terminate``: wait for the process, then kill what is left of its group."""
        if self.proc is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(wait)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


class Supervisor:
    """Watches the processes from a thread; ``unexpected()`` lists those that exited by
    themselves (each was started again)."""

    def __init__(self, processes: list[Process]) -> None:
        self.processes = processes
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Supervisor:
        for p in self.processes:
            p.start()
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self.thread.join(5)
        for p in self.processes:  # all at once: each may take seconds to shut down
            p.terminate()
        deadline = time.monotonic() + 15
        for p in self.processes:
            p.stop(max(0.1, deadline - time.monotonic()))

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            with self.lock:
                for p in self.processes:
                    p.check()

    def kill_and_restart(self, process: Process, down: float,
                         sleep: Callable[[float], None] = time.sleep) -> None:
        with self.lock:
            process.kill9()
        sleep(down)
        with self.lock:
            process.start()

    def unexpected(self) -> list[str]:
        with self.lock:
            for p in self.processes:
                p.check()
            return [e for p in self.processes for e in p.exits]
