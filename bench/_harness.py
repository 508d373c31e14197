"""Plumbing shared by the benchmarks: a scratch database and broker, processes in their own
process groups (always stopped on exit), /proc sampling of memory and CPU, load generators
(wrk, or a threaded Python fallback) and percentiles.

Nothing here touches the repository outside ``bench/`` or any database but the scratch one.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
RESULTS = BENCH / "results"

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1/oncall_bench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/14"

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes

_live: list[Proc] = []


class Proc:
    """A child in its own session (so its process group is its pid): the whole group is
    stopped with :meth:`stop`, and by an atexit hook if the script dies first."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logdir: Path,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = logdir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                      stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True, preexec_fn=_die_with_parent)
        self.pid = self.popen.pid
        _live.append(self)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def children(self) -> list[int]:
        return children_of(self.pid)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            # SIGTERM to the leader only: gunicorn's master and Celery's main process then
            # shut down their own children gracefully (a group-wide SIGTERM would kill
            # Celery's pool children mid-task).
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _killpg(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        # Anything left in the group (children outliving their parent) goes too.
        _killpg(self.pid, signal.SIGKILL)
        self._log.close()
        if self in _live:
            _live.remove(self)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if this script dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_all() -> None:
    for proc in reversed(list(_live)):
        try:
            proc.stop(timeout=10)
        except Exception as exc:  # keep stopping the others
            log(f"could not stop {proc.name} (pid {proc.pid}): {exc}")


def install_cleanup() -> None:
    """Stop every started process on normal exit, exceptions, Ctrl-C and SIGTERM/SIGHUP."""
    atexit.register(stop_all)

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGHUP, _exit)


def run(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    """Run a short command to completion; its output, or an error showing it."""
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n"
                           f"{done.stdout}\n{done.stderr}")
    return done.stdout


def oncall_cmd(*args: str) -> list[str]:
    """The ``oncall`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "oncall"
    if script.exists():
        return [str(script), *args]
    found = shutil.which("oncall")
    return [found, *args] if found else [sys.executable, "-m", "oncall.cli", *args]


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid``."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        pass
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _read(entry / "stat")
            if stat and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def postgres_pids(database: str) -> list[int]:
    """PostgreSQL backends connected to ``database`` plus the server's own background
    processes (WAL writer, checkpointer...), not backends serving other databases."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        cmd = _read(entry / "cmdline")
        if not cmd or not cmd.startswith("postgres"):
            continue
        title = cmd.replace("\0", " ")
        words = title.split()
        # Backends read "postgres: <user> <db> <host> <state>"; the rest are background.
        is_backend = len(words) >= 4 and ("(" in words[3] or words[3] == "[local]")
        if not is_backend or words[2] == database:
            pids.append(int(entry.name))
    return pids


def pids_named(comm: str) -> list[int]:
    """Processes whose command name is ``comm`` (e.g. ``redis-server``)."""
    return [int(e.name) for e in Path("/proc").iterdir()
            if e.name.isdigit() and (_read(e / "comm") or "").strip() == comm]


def wait_http(port: int, path: str = "/health", timeout: float = 30.0,
              proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.log_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port} within {timeout:.0f}s")


def wait_log(proc: Proc, needle: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in proc.log_text():
            return
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.log_text()[-3000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name}: no {needle!r} in its log within {timeout:.0f}s")


# --------------------------------------------------------------------------- the scratch setup


@dataclass
class Stack:
    """The scratch database and broker, and what `oncall apply` + an integration created."""

    database_url: str
    broker_url: str
    workdir: Path
    env: dict[str, str]
    token: str = ""
    am_token: str = ""  # an alertmanager integration on billing-charges

    @property
    def database_name(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).database or ""

    @functools.cached_property
    def engine(self) -> Any:
        """The harness's own engine (no pool: nothing stays connected between checks)."""
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        return create_engine(self.database_url, poolclass=NullPool)

    def sql(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            result = conn.execute(text(statement), params)
            rows = [tuple(r) for r in result] if result.returns_rows else []
            conn.commit()
            return rows

    def flush_broker(self) -> None:
        import redis

        redis.Redis.from_url(self.broker_url).flushdb()

    def queue_length(self, queue: str = "oncall") -> int:
        import redis

        return int(redis.Redis.from_url(self.broker_url).llen(queue))


def check_scratch(database_url: str, broker_url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(database_url).database or ""
    if "bench" not in name:
        raise SystemExit(f"refusing to wipe database {name!r}: its name must contain 'bench'")
    db = urlsplit(broker_url).path.strip("/") or "0"
    if broker_url.startswith("redis") and db == "0":
        raise SystemExit(f"refusing to flush Redis db 0 ({broker_url}); use e.g. /14")


def prepare(database_url: str, broker_url: str, workdir: Path) -> Stack:
    """Drop and recreate the scratch schema, migrate, apply rules/ and schedules/, add a generic
    integration to billing-api, flush the broker's Redis db. Returns the stack with its token."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    check_scratch(database_url, broker_url)
    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), poolclass=NullPool,
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                             {"n": url.database})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        conn.execute(text("SET lock_timeout = '10s'"))
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()

    metrics = workdir / "metrics"
    metrics.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for name in ("ONCALL_DATA_DIR", "ONCALL_WEB_WORKERS", "ONCALL_WEB_THREADS",
                 "ONCALL_ACCESS_LOG", "GUNICORN_CMD_ARGS"):
        env.pop(name, None)
    env.update(ONCALL_DATABASE_URL=database_url, ONCALL_BROKER_URL=broker_url,
               ONCALL_METRICS_DIR=str(metrics), PROMETHEUS_MULTIPROC_DIR=str(metrics),
               PYTHONUNBUFFERED="1")
    # The production processes refuse to start without a secret key of their own.
    env.setdefault("ONCALL_SECRET_KEY", os.urandom(32).hex())
    stack = Stack(database_url, broker_url, workdir, env)
    run(oncall_cmd("migrate"), env, cwd=workdir)
    config = workdir / "config"
    for sub in ("rules", "schedules"):
        shutil.copytree(REPO / sub, config / sub)
    run(oncall_cmd("apply"), env, cwd=config)
    out = run(oncall_cmd("integration", "add", "billing-api", "--kind", "generic"), env,
              cwd=config)
    found = re.search(r"/integrations/(\S+)", out)
    if not found:
        raise RuntimeError(f"no webhook URL in:\n{out}")
    stack.token = found.group(1)
    out = run(oncall_cmd("integration", "add", "billing-charges", "--kind", "alertmanager"),
              env, cwd=config)
    found = re.search(r"/integrations/(\S+)", out)
    if not found:
        raise RuntimeError(f"no webhook URL in:\n{out}")
    stack.am_token = found.group(1)
    stack.flush_broker()
    return stack


def start_web(stack: Stack, port: int, workers: int, threads: int | None) -> Proc:
    """``oncall web`` (which execs gunicorn: the pid is gunicorn's master)."""
    argv = oncall_cmd("web", "--host", "127.0.0.1", "--port", str(port),
                      "--workers", str(workers))
    if threads:
        argv += ["--threads", str(threads)]
    proc = Proc(f"oncall-web-{port}", argv, stack.env, stack.workdir, cwd=stack.workdir)
    wait_http(port, "/health", proc=proc)
    return proc


def start_worker(stack: Stack, concurrency: int, name: str = "celery-worker") -> Proc:
    """``oncall worker -c N`` (execs celery: the pid is the main process)."""
    proc = Proc(name, oncall_cmd("worker", "-c", str(concurrency)), stack.env, stack.workdir,
                cwd=stack.workdir)
    wait_log(proc, " ready.", timeout=60)
    return proc


def start_beat(stack: Stack) -> Proc:
    """Celery beat with its schedule file in the run's directory (not the shared /tmp one
    that ``oncall beat`` uses)."""
    argv = [sys.executable, "-m", "celery", "-A", "worker.app", "beat", "-l", "INFO",
            "-s", str(stack.workdir / "beat-schedule")]
    proc = Proc("celery-beat", argv, stack.env, stack.workdir, cwd=stack.workdir)
    wait_log(proc, "beat: Starting", timeout=60)
    return proc


# --------------------------------------------------------------------------- /proc sampling


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of ``pid`` in kB; empty if it has gone."""
    text = _read(Path(f"/proc/{pid}/status"))
    if text is None:
        return {}
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(rest.split()[0])
    return out


def pss_kb(pid: int) -> int | None:
    text = _read(Path(f"/proc/{pid}/smaps_rollup"))
    found = re.search(r"^Pss:\s+(\d+)", text or "", re.M)
    return int(found.group(1)) if found else None


def cpu_ticks(pid: int) -> int | None:
    stat = _read(Path(f"/proc/{pid}/stat"))
    if stat is None:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    first = (_read(Path("/proc/stat")) or "cpu 0").splitlines()[0].split()[1:]
    values = [int(v) for v in first]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


@dataclass
class RoleStats:
    """One role (e.g. the web workers): peak memory per process and CPU used in the window."""

    peak_hwm_mb: dict[int, float] = field(default_factory=dict)
    peak_rss_mb: dict[int, float] = field(default_factory=dict)
    pss_end_mb: dict[int, float] = field(default_factory=dict)
    cpu_seconds: float = 0.0

    @property
    def max_peak_mb(self) -> float | None:
        return max(self.peak_hwm_mb.values(), default=None)

    @property
    def sum_peak_mb(self) -> float | None:
        return sum(self.peak_hwm_mb.values()) if self.peak_hwm_mb else None

    def as_json(self, window: float) -> dict[str, Any]:
        return {
            "processes": len(self.peak_hwm_mb),
            "peak_rss_mb_per_process": {str(k): round(v, 1) for k, v in self.peak_hwm_mb.items()},
            "peak_rss_mb_max": rounded(self.max_peak_mb),
            "peak_rss_mb_sum": rounded(self.sum_peak_mb),
            "pss_mb_at_end": {str(k): round(v, 1) for k, v in self.pss_end_mb.items()},
            "pss_mb_at_end_max": rounded(max(self.pss_end_mb.values(), default=None)),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "cpu_cores_avg": round(self.cpu_seconds / window, 2) if window else None,
        }


class Sampler:
    """Samples, every ``interval`` seconds, the processes each role names: peak RSS (the
    kernel's VmHWM high-water mark, so spikes between samples count too), and CPU time.

    It also notes when the machine itself stopped: a sample more than ``STALL`` seconds
    late means nothing ran here for that long (this sampler is a thread that only sleeps).
    On this VM that is the host pausing it (a snapshot: the kernel logs "virtual machine
    fork" as it resumes); every process's latency in that window is the machine's, not the
    code's, so a run with a stall is said to be one."""

    STALL = 1.0

    def __init__(self, roles: dict[str, Callable[[], Iterable[int]]],
                 interval: float = 0.2) -> None:
        self.roles = roles
        self.interval = interval
        self.stats = {name: RoleStats() for name in roles}
        self._ticks: dict[str, dict[int, list[int]]] = {name: {} for name in roles}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.window = 0.0
        self.machine_busy_cores = 0.0
        self.stalls: list[tuple[str, float]] = []  # (wall time it began, seconds)

    def __enter__(self) -> Sampler:
        self._t0 = time.monotonic()
        self._m0 = machine_ticks()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(final=True)
        self.window = time.monotonic() - self._t0
        busy1, total1 = machine_ticks()
        busy0, total0 = self._m0
        ncpu = os.cpu_count() or 1
        if total1 > total0:
            self.machine_busy_cores = (busy1 - busy0) / (total1 - total0) * ncpu
        for name, per_pid in self._ticks.items():
            self.stats[name].cpu_seconds = sum(t[1] - t[0] for t in per_pid.values()) / CLK_TCK

    def _loop(self) -> None:
        last, last_wall = time.monotonic(), time.time()
        while not self._stop.wait(self.interval):
            now, wall = time.monotonic(), time.time()
            late = max(now - last, wall - last_wall) - self.interval
            if late > self.STALL:
                at = time.strftime("%H:%M:%S", time.localtime(last_wall))
                self.stalls.append((at, round(late, 2)))
                log(f"the machine stalled for {late:.1f} s from {at}: nothing ran here")
            self._sample()
            last, last_wall = time.monotonic(), time.time()

    def _sample(self, final: bool = False) -> None:
        for name, pids_of in self.roles.items():
            stats, ticks = self.stats[name], self._ticks[name]
            try:
                pids = list(pids_of())
            except OSError:
                continue
            for pid in pids:
                kb = status_kb(pid)
                if not kb:
                    continue
                stats.peak_hwm_mb[pid] = max(stats.peak_hwm_mb.get(pid, 0.0),
                                             kb.get("VmHWM", 0) / 1024)
                stats.peak_rss_mb[pid] = max(stats.peak_rss_mb.get(pid, 0.0),
                                             kb.get("VmRSS", 0) / 1024)
                t = cpu_ticks(pid)
                if t is not None:
                    ticks.setdefault(pid, [t, t])[1] = t
                if final:
                    pss = pss_kb(pid)
                    if pss is not None:
                        stats.pss_end_mb[pid] = pss / 1024

    def report(self) -> dict[str, Any]:
        ours = sum(s.cpu_seconds for s in self.stats.values()) / self.window if self.window else 0
        return {"window_seconds": round(self.window, 2),
                "machine_busy_cores": round(self.machine_busy_cores, 2),
                "other_busy_cores": round(max(0.0, self.machine_busy_cores - ours), 2),
                "machine_stalls": self.stalls,
                "roles": {name: s.as_json(self.window) for name, s in self.stats.items()}}


def stall_note(sampling: dict[str, Any]) -> str | None:
    """A line for a run's output when the machine stopped during it (see ``Sampler``)."""
    stalls = sampling.get("machine_stalls") or []
    if not stalls:
        return None
    listed = ", ".join(f"{s:.1f} s at {at}" for at, s in stalls)
    return (f"MACHINE STALLED during the measured window ({listed}): nothing on this machine "
            "ran then, so the tail of this run is the machine's; run it again.")


def busy_cores(seconds: float = 1.0) -> float:
    """How many cores the whole machine kept busy over the next ``seconds``."""
    busy0, total0 = machine_ticks()
    time.sleep(seconds)
    busy1, total1 = machine_ticks()
    if total1 <= total0:
        return 0.0
    return (busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1)


def wait_quiet(limit: float = 0.3, max_wait: float = 30.0) -> float:
    """Wait (up to ``max_wait`` s) until the machine is nearly idle, so that other work on
    it (say, a test suite) does not skew a measurement. Returns the last busy figure."""
    deadline = time.monotonic() + max_wait
    busy = busy_cores()
    while busy > limit and time.monotonic() < deadline:
        busy = busy_cores()
    if busy > limit:
        log(f"machine still busy ({busy:.2f} cores in use by others); measuring anyway")
    return busy


# --------------------------------------------------------------------------- load generation


@dataclass
class LoadResult:
    tool: str
    seconds: float
    ok: int  # 202 responses
    errors: int  # everything else: other statuses, socket errors, timeouts
    statuses: dict[str, int]
    socket_errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    command: str = ""

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "rps": round(self.rps, 1)}


ALERTS_PER_REQUEST = {"am50-repeat": 50, "am50-new": 50, "am50-norule": 50}


def alertmanager_body(group: str, size: int = 50, alert_type: str = "charge_failure") -> bytes:
    """An Alertmanager webhook (version 4) of ``size`` alerts, fingerprints ``<group>-<i>``."""
    return json.dumps({
        "version": "4", "groupKey": '{}:{alertname="ChargeFailures"}', "truncatedAlerts": 0,
        "status": "firing", "receiver": "oncall", "groupLabels": {"alertname": "ChargeFailures"},
        "commonLabels": {"alertname": "ChargeFailures"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{"status": "firing",
                    "labels": {"alertname": "ChargeFailures", "type": alert_type,
                               "severity": "critical", "merchant_id": f"m{i}"},
                    "annotations": {"summary": f"bench: charge failures for m{i}"},
                    "startsAt": "2026-11-27T02:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus/graph", "fingerprint": f"{group}-{i}"}
                   for i in range(1, size + 1)]}).encode()


def request_body(key_mode: str, prefix: str, tid: int, n: int) -> bytes:
    """What request ``n`` of loader thread ``tid`` sends (the same as the wrk script)."""
    if key_mode == "am50-repeat":
        return alertmanager_body(f"{prefix}-repeat")
    if key_mode == "am50-new":
        return alertmanager_body(f"{prefix}-{tid}-{n}")
    if key_mode == "am50-norule":
        return alertmanager_body(f"{prefix}-repeat", alert_type="api_latency")
    return alert_body(f"{prefix}-shared" if key_mode == "shared" else f"{prefix}-{tid}-{n}")


def alert_body(key: str) -> bytes:
    return json.dumps({"type": "charge_failure", "summary": "bench: charge failures spiking",
                       "severity": "critical", "dedup_key": key,
                       "labels": {"merchant_id": "acme", "region": "eu-west-1"}}).encode()


# One alert per request; key_mode "unique" gives every request its own dedup_key (each opens
# an incident), "shared" sends one key throughout (after the first, the dedup path).
WRK_SCRIPT = r"""
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  key_mode = args[1] or "unique"
  prefix = args[2] or "k"
  n, ok, bad, codes = 0, 0, 0, {}
end

-- An Alertmanager webhook (version 4) with 50 alerts of one group. "am50-repeat": the same 50
-- fingerprints every time (Alertmanager re-notifying a standing group: the dedup path);
-- "am50-new": 50 fingerprints never seen before in every request (50 new incidents each).
function am_body(group, alert_type)
  local parts = {}
  for i = 1, 50 do
    parts[i] = '{"status":"firing","labels":{"alertname":"ChargeFailures",' ..
      '"type":"' .. alert_type .. '",' ..
      '"severity":"critical","merchant_id":"m' .. i .. '"},"annotations":{"summary":' ..
      '"bench: charge failures for m' .. i .. '"},"startsAt":"2026-11-27T02:00:00Z",' ..
      '"endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus/graph",' ..
      '"fingerprint":"' .. group .. '-' .. i .. '"}'
  end
  return '{"version":"4","groupKey":"{}:{alertname=\\"ChargeFailures\\"}","truncatedAlerts":0,' ..
    '"status":"firing","receiver":"oncall","groupLabels":{"alertname":"ChargeFailures"},' ..
    '"commonLabels":{"alertname":"ChargeFailures"},"commonAnnotations":{},' ..
    '"externalURL":"http://alertmanager:9093","alerts":[' .. table.concat(parts, ",") .. ']}'
end

function request()
  n = n + 1
  if key_mode == "am50-repeat" or key_mode == "am50-new" or key_mode == "am50-norule" then
    local group = prefix .. "-repeat"
    local alert_type = "charge_failure"
    if key_mode == "am50-new" then group = prefix .. "-" .. tid .. "-" .. n end
    if key_mode == "am50-norule" then alert_type = "api_latency" end
    return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
                      am_body(group, alert_type))
  end
  local key = prefix .. "-shared"
  if key_mode == "unique" then key = prefix .. "-" .. tid .. "-" .. n end
  local body = '{"type":"charge_failure","summary":"bench: charge failures spiking",' ..
    '"severity":"critical","dedup_key":"' .. key .. '",' ..
    '"labels":{"merchant_id":"acme","region":"eu-west-1"}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 202 then
    ok = ok + 1
  else
    bad = bad + 1
    local k = tostring(status)
    codes[k] = (codes[k] or 0) + 1
  end
end

function done(summary, latency, requests)
  local total_ok, total_bad, merged = 0, 0, {}
  for _, t in ipairs(threads) do
    total_ok = total_ok + t:get("ok")
    total_bad = total_bad + t:get("bad")
    for k, v in pairs(t:get("codes")) do merged[k] = (merged[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do table.insert(parts, string.format('"%s":%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"ok":%d,"bad":%d,"requests":%d,"duration_us":%d,"connect":%d,' ..
    '"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"codes":{%s}}\n',
    total_ok, total_bad, summary.requests, summary.duration, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, table.concat(parts, ",")))
end
"""


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(url: str, seconds: float, connections: int, threads: int, key_mode: str,
            prefix: str, workdir: Path,
            on_start: Callable[[subprocess.Popen[str]], None] | None = None) -> LoadResult:
    script = workdir / "alerts.lua"
    script.write_text(WRK_SCRIPT)
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
            "--timeout", "10s", "-s", str(script), url, "--", key_mode, prefix]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        if on_start:
            on_start(proc)
        out, _ = proc.communicate(timeout=seconds + 60)
    finally:
        if proc.poll() is None:
            _killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    found = re.search(r"^BENCH_JSON (.*)$", out, re.M)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out}")
    r = json.loads(found.group(1))
    sockets = {k: r[k] for k in ("connect", "read", "write", "timeout") if r[k]}
    return LoadResult(
        tool="wrk", seconds=r["duration_us"] / 1e6, ok=r["ok"],
        errors=r["bad"] + sum(sockets.values()), statuses=r["codes"], socket_errors=sockets,
        p50_ms=r["p50_us"] / 1000, p90_ms=r["p90_us"] / 1000, p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000, mean_ms=r["mean_us"] / 1000,
        command=" ".join([*argv[:-4], url.rsplit("/", 1)[0] + "/<token>", "--", key_mode,
                          prefix]))


def run_python_load(url: str, seconds: float, connections: int, key_mode: str,
                    prefix: str) -> LoadResult:
    """Closed-loop load from ``connections`` threads, each with its own http.client
    connection (reopened whenever the server closes it). The fallback when wrk is missing:
    the GIL caps it well below wrk, so it measures less on a small machine."""
    parts = urlsplit(url)
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    socket_errors: dict[str, int] = {}

    def worker(tid: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        mine: list[float] = []
        codes: dict[str, int] = {}
        n = 0
        while time.monotonic() < deadline:
            n += 1
            body = request_body(key_mode, prefix, tid, n)
            t0 = time.perf_counter()
            try:
                conn.request("POST", parts.path, body,
                             {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                code = str(resp.status)
                if resp.will_close:
                    conn.close()
            except OSError as exc:
                conn.close()
                with lock:
                    name = type(exc).__name__
                    socket_errors[name] = socket_errors.get(name, 0) + 1
                continue
            mine.append(time.perf_counter() - t0)
            codes[code] = codes.get(code, 0) + 1
        with lock:
            latencies.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    t0 = time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - t0
    ok = statuses.pop("202", 0)
    ms = [x * 1000 for x in latencies]
    return LoadResult(
        tool="python", seconds=elapsed, ok=ok,
        errors=sum(statuses.values()) + sum(socket_errors.values()), statuses=statuses,
        socket_errors=socket_errors, p50_ms=percentile(ms, 50), p90_ms=percentile(ms, 90),
        p99_ms=percentile(ms, 99), max_ms=max(ms, default=math.nan),
        mean_ms=sum(ms) / len(ms) if ms else math.nan,
        command=f"python threads={connections} seconds={seconds:g} keys={key_mode}")


def run_load(url: str, seconds: float, connections: int, key_mode: str, prefix: str,
             workdir: Path, tool: str = "auto", wrk_threads: int = 2,
             on_start: Callable[[subprocess.Popen[str]], None] | None = None) -> LoadResult:
    """Closed-loop load with wrk when it is installed (or ``tool`` says so), else Python."""
    if tool == "wrk" or (tool == "auto" and have_wrk()):
        return run_wrk(url, seconds, connections, wrk_threads, key_mode, prefix, workdir,
                       on_start=on_start)
    return run_python_load(url, seconds, connections, key_mode, prefix)


@dataclass
class Sent:
    key: str
    status: int  # 0: no response (socket error)
    latency_ms: float
    late_ms: float  # how far behind its schedule the request went out


def send_paced(url: str, keys: list[str], rate: float, threads: int = 8) -> list[Sent]:
    """Open-loop load: request i goes out at ``i / rate`` seconds (a slow response delays no
    other request while a thread is free), each on a thread's keep-alive connection."""
    parts = urlsplit(url)
    local = threading.local()
    out: list[Sent] = []
    lock = threading.Lock()
    t0 = time.monotonic() + 0.05

    def post(i: int, key: str) -> None:
        due = t0 + i / rate
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        start = time.perf_counter()
        late = max(0.0, time.monotonic() - due) * 1000
        try:
            local.conn.request("POST", parts.path, alert_body(key),
                               {"Content-Type": "application/json"})
            resp = local.conn.getresponse()
            resp.read()
            status = resp.status
            if resp.will_close:
                local.conn.close()
        except OSError:
            local.conn.close()
            status = 0
        with lock:
            out.append(Sent(key, status, (time.perf_counter() - start) * 1000, late))

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        for i, key in enumerate(keys):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post, i, key)
    return out


# --------------------------------------------------------------------------- numbers and output


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile with linear interpolation between ranks (numpy's default)."""
    xs = sorted(values)
    if not xs:
        return math.nan
    k = (len(xs) - 1) * q / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


def describe(values: list[float]) -> dict[str, float | int | None]:
    """n, p50, p90, p99 and max of ``values``, rounded to 0.1."""
    return {"n": len(values), "p50": rounded(percentile(values, 50)),
            "p90": rounded(percentile(values, 90)), "p99": rounded(percentile(values, 99)),
            "max": rounded(max(values, default=math.nan))}


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def machine_info(database_url: str) -> dict[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    cpu = ""
    for line in (_read(Path("/proc/cpuinfo")) or "").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = re.search(r"MemTotal:\s+(\d+)", _read(Path("/proc/meminfo")) or "")
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as conn:
        pg = conn.scalar(text("SHOW server_version"))
        sync = conn.scalar(text("SHOW synchronous_commit"))
    engine.dispose()
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                     "--", "oncall", "worker"],
                                    capture_output=True, text=True).stdout.strip())
    except OSError:
        commit, dirty = "", False
    return {
        "cpus": os.cpu_count(), "cpu_model": cpu,
        "mem_gb": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "kernel": platform.release(), "python": platform.python_version(),
        "postgres": pg, "synchronous_commit": sync, "git_commit": commit,
        "oncall_or_worker_modified": dirty,
        **{name: version(name) for name in ("gunicorn", "flask", "sqlalchemy", "psycopg",
                                            "celery", "redis")},
        "wrk": _wrk_version(),
    }


def _wrk_version() -> str | None:
    if not have_wrk():
        return None
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return (out.stdout + out.stderr).split(" [")[0].strip() or "wrk"


def save_results(kind: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{kind}-{stamp}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def scratch_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
