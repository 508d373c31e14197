"""The chaos run: the setup an operator would do (``oncall migrate``, ``oncall apply``, an
integration and an API token from the CLI), two ``oncall web``, two ``oncall worker -c 2`` and
two ``oncall beat`` against the test's own PostgreSQL and Redis; a stream of alerts at both web
processes while workers are killed, Redis is flushed and killed, and PostgreSQL crashes; some
incidents acknowledged mid-escalation. What happened is kept in a :class:`Record` for
``checks``."""

from __future__ import annotations

import itertools
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.chaos.services import Postgres, Process, Redis, Supervisor, base_env
from tests.conftest import ROOT, wait_for
from tests.servers import free_port
from tests.twilio.fakes import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio, Received

SERVICES = 40  # each with its own policy and people: the SMS throttle (2 a minute) never bites
LEVELS, ESCALATE_AFTER, REPEAT = 3, 3, 1  # 3 levels x 3 s, the ladder run twice
STREAM = 60.0  # seconds of alerts
OPEN_EVERY = 1.2  # a new incident every so often, the rest are repeats (deduplicated)
ALERT_EVERY = 0.25  # per web process
LEASE = 12
TWILIO_TIMEOUT = 2.0
LOSE_EVERY = 9  # every 9th SMS request: Twilio takes it, its answer comes after the timeout
SETTLE = 60.0  # at most, after the stream, for every page to be sent or cancelled


def phone(service: int, level: int) -> str:
    return f"+1415556{service:02d}{level:02d}"


def email(service: int, level: int) -> str:
    return f"s{service}-l{level}@chaos.test"


def config_yaml() -> str:
    """Users, one policy per service index (3 levels x 3 s, repeated once), one service and a
    rule per index routing its alerts (``type: sN``) to that policy."""
    lines = ["users:", "  - user: ops@chaos.test", "    name: Ops", "    role: admin"]
    for s, level in itertools.product(range(SERVICES), range(1, LEVELS + 1)):
        lines += [f"  - user: {email(s, level)}", f"    name: S{s} L{level}",
                  f'    phone: "{phone(s, level)}"', "    role: responder",
                  "    notification_rules:", "      critical: [{channel: sms}]"]
    lines.append("policies:")
    for s in range(SERVICES):
        lines += [f"  - policy: chaos-{s}", f"    repeat: {REPEAT}", "    levels:"]
        for level in range(1, LEVELS + 1):
            lines += [f"      - notify: [user:{email(s, level)}]",
                      f"        escalate_after: {ESCALATE_AFTER}"]
    lines += ["services:", "  - service: chaos", "    policy: chaos-0", "rules:"]
    for s in range(SERVICES):
        lines += [f"  - rule: route-s{s}", f"    match: {{type: s{s}}}",
                  "    severity: critical", f"    policy: chaos-{s}"]
    return "\n".join(lines) + "\n"


@dataclass
class Sent:
    seq: int
    service: int
    web: int
    at: float
    status: int | None  # None: no answer (connection refused, timeout)
    took: float = 0.0
    incidents: list[int] = field(default_factory=list)
    alert_ids: list[int] = field(default_factory=list)


@dataclass
class Record:
    alerts: list[Sent] = field(default_factory=list)
    acks: dict[int, float] = field(default_factory=dict)  # incident id -> when answered 200
    ack_failures: int = 0
    faults: list[tuple[float, str]] = field(default_factory=list)
    twilio: list[Received] = field(default_factory=list)
    unexpected_exits: list[str] = field(default_factory=list)
    lost_answers: int = 0
    lookups: int = 0
    stream_seconds: float = 0.0
    settle_seconds: float = 0.0
    settled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class Cluster:
    """Everything the run needs, started in order; ``close`` stops all of it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.logs = tmp / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.twilio = FakeTwilio()
        self.requests_made = itertools.count(1)
        self.twilio.delay_for = self._lose_some
        self.lost = 0
        self.pg = Postgres()
        self.redis = Redis(tmp)
        self.webs: list[Process] = []
        self.workers: list[Process] = []
        self.beats: list[Process] = []
        self.supervisor: Supervisor | None = None
        self.urls: list[str] = []
        self.integration = ""
        self.api_token = ""
        self.passed = False  # the logs are kept unless the run passed
        self.startup_seconds = 0.0

    def _lose_some(self, got: Received) -> float:
        if got.kind == "message" and got.status == 201 \
                and next(self.requests_made) % LOSE_EVERY == 0:
            self.lost += 1
            return TWILIO_TIMEOUT + 1.5
        return 0.0

    def env(self, name: str) -> dict[str, str]:
        env = base_env()
        env.update(
            ONCALL_DATABASE_URL=self.pg.url, ONCALL_BROKER_URL=self.redis.url,
            ONCALL_SECRET_KEY="chaos-" + "5" * 58, ONCALL_PAGE_LEASE_SECONDS=str(LEASE),
            ONCALL_PUBLIC_URL="https://oncall.chaos.test", ONCALL_SWEEP_INTERVAL="1",
            ONCALL_DATA_DIR=str(self.tmp / name), ONCALL_METRICS_DIR=str(self.tmp / "metrics"),
            TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_FROM_NUMBER=FROM_NUMBER, TWILIO_API_BASE_URL=self.twilio.url,
            TWILIO_TIMEOUT=str(TWILIO_TIMEOUT))
        return env

    def cli(self, *argv: str) -> str:
        done = subprocess.run([sys.executable, "-m", "oncall.cli", *argv], cwd=ROOT,
                              env=self.env("cli"), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"oncall {' '.join(argv)}: {done.stdout}{done.stderr}"
        return done.stdout

    def start(self) -> None:
        began = time.monotonic()
        self.pg.init()
        self.redis.start()
        config = self.tmp / "config"
        config.mkdir()
        (config / "chaos.yaml").write_text(config_yaml())
        self.cli("migrate")
        self.cli("apply", str(config))
        out = self.cli("integration", "add", "chaos", "--kind", "generic")
        self.integration = re.search(r"/integrations/(\S+)", out).group(1)  # type: ignore[union-attr]
        out = self.cli("token", "add", "ops@chaos.test")
        self.api_token = out.strip().splitlines()[-1].strip()
        ports = [free_port(), free_port()]
        self.urls = [f"http://127.0.0.1:{p}" for p in ports]
        self.webs = [Process(f"web-{i}", ["web", "--host", "127.0.0.1", "--port", str(p),
                                          "--workers", "2"], self.env(f"web-{i}"), self.logs)
                     for i, p in enumerate(ports)]
        self.workers = [Process(f"worker-{i}", ["worker", "-c", "2"], self.env(f"worker-{i}"),
                                self.logs) for i in range(2)]
        self.beats = [Process(f"beat-{i}", ["beat"], self.env(f"beat-{i}"), self.logs)
                      for i in range(2)]
        self.supervisor = Supervisor([*self.webs, *self.workers, *self.beats]).__enter__()
        for url in self.urls:
            wait_for(lambda u=url: _healthy(u), 60, interval=0.3, what=f"{url}/health")
        for w in self.workers:
            wait_for(lambda w=w: _worker_ready(w), 60, interval=0.3, what=f"{w.name} ready")
        self.startup_seconds = time.monotonic() - began

    def close(self) -> None:
        if self.supervisor is not None:
            self.supervisor.__exit__()
        self.redis.kill9()
        self.pg.destroy()
        self.twilio.close()


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).ok
    except requests.RequestException:
        return False


def _worker_ready(process: Process) -> bool:
    log = process.log_dir / f"{process.name}-{process.runs}.log"
    return log.exists() and " ready." in log.read_text(errors="replace")


class Run:
    """One chaos run against a started :class:`Cluster`."""

    def __init__(self, cluster: Cluster, seed: int) -> None:
        self.c = cluster
        self.rng = random.Random(seed)
        self.record = Record()
        self.t0 = 0.0
        self.seq = itertools.count(1)
        self.opened: dict[int, int] = {}  # incident id -> service index
        self.stop = threading.Event()

    def clock(self) -> float:
        return time.monotonic() - self.t0

    def go(self) -> Record:
        self.t0 = time.monotonic()
        threads = [threading.Thread(target=self._stream, args=(web,), daemon=True)
                   for web in (0, 1)]
        threads.append(threading.Thread(target=self._acks, daemon=True))
        for t in threads:
            t.start()
        self._faults()
        for t in threads:
            t.join(STREAM + 30)
        self.record.stream_seconds = self.clock()
        self.stop.set()
        self._settle()
        self.record.twilio = list(self.c.twilio.requests)
        self.record.lost_answers = self.c.lost
        self.record.lookups = self.c.twilio.lookups
        assert self.c.supervisor is not None
        self.record.unexpected_exits = self.c.supervisor.unexpected()
        return self.record

    # -- the alert stream -------------------------------------------------------------------

    def _stream(self, web: int) -> None:
        session = requests.Session()
        url = f"{self.c.urls[web]}/integrations/{self.c.integration}"
        due = web * ALERT_EVERY / 2
        while due < STREAM:
            wait = due - self.clock()
            if wait > 0:
                time.sleep(wait)
            newest = min(int(self.clock() / OPEN_EVERY), SERVICES - 1)
            service = newest if self.rng.random() < 0.5 else self.rng.randint(0, newest)
            self._send(session, url, web, service)
            due += ALERT_EVERY

    def _send(self, session: requests.Session, url: str, web: int, service: int) -> None:
        seq = next(self.seq)
        body = {"summary": f"chaos on s{service}", "type": f"s{service}",
                "dedup_key": f"chaos-s{service}", "severity": "critical",
                "labels": {"seq": str(seq)}}
        sent = Sent(seq, service, web, self.clock(), None)
        try:
            r = session.post(url, json=body, timeout=10)
            sent.status = r.status_code
            if r.status_code == 202:
                outcomes = r.json()["incidents"]
                sent.incidents = [int(o["incident_id"]) for o in outcomes
                                  if o.get("incident_id") is not None]
                sent.alert_ids = [int(o["alert_id"]) for o in outcomes]
        except requests.RequestException:
            pass
        sent.took = self.clock() - sent.at
        with self.record.lock:
            self.record.alerts.append(sent)
            for incident in sent.incidents:
                self.opened.setdefault(incident, service)

    # -- acknowledgements -------------------------------------------------------------------

    def _acks(self) -> None:
        """A third of the incidents (by service) are acknowledged 2 to 8 s after their first
        alert was accepted, through the API, alternating the web processes."""
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.c.api_token}"
        planned: dict[int, float] = {}
        while not self.stop.is_set() and self.clock() < STREAM + 15:
            with self.record.lock:
                for incident, service in self.opened.items():
                    if incident not in planned and service % 3 == 1:
                        planned[incident] = self.clock() + 2 + (service % 5) * 1.5
            for incident, at in sorted(planned.items(), key=lambda kv: kv[1]):
                if incident in self.record.acks or at > self.clock():
                    continue
                url = self.c.urls[incident % 2]
                try:
                    r = session.post(f"{url}/api/v1/incidents/{incident}/ack", json={},
                                     timeout=10)
                    if r.status_code == 200:
                        self.record.acks[incident] = time.time()
                    else:
                        self.record.ack_failures += 1
                except requests.RequestException:
                    self.record.ack_failures += 1
            if planned and all(i in self.record.acks for i in planned) \
                    and self.clock() > STREAM:
                return
            time.sleep(0.1)

    # -- faults -----------------------------------------------------------------------------

    def _at(self, when: float, what: str, action: Callable[[], Any]) -> None:
        wait = when - self.clock()
        if wait > 0:
            time.sleep(wait)
        self.record.faults.append((round(self.clock(), 1), what))
        action()

    def _faults(self) -> None:
        """Each fault is given time to heal before the next could stretch the same page past
        its bound: a page claimed by a killed worker (or whose outcome could not be stored
        while PostgreSQL was down) waits out its lease (LEASE s) before it is taken again."""
        sup = self.c.supervisor
        assert sup is not None
        w0, w1 = self.c.workers
        self._at(5, "kill -9 worker-0 (2 s down)", lambda: sup.kill_and_restart(w0, 2))
        self._at(11, "FLUSHALL redis", self.c.redis.flush)
        self._at(14, "kill -9 redis-server (3 s down)", self.c.redis.kill9)
        self._at(17, "redis-server started", self.c.redis.start)
        self._at(21, "kill -9 worker-0 and worker-1 (2 s down)", lambda: (
            sup.kill_and_restart(w0, 0), sup.kill_and_restart(w1, 2)))
        self._at(31, "kill -9 worker-1 (1 s down)", lambda: sup.kill_and_restart(w1, 1))
        self._at(40, "PostgreSQL crash (immediate stop, 4 s down)", self.c.pg.crash)
        self._at(44, "PostgreSQL started", self.c.pg.start)

    # -- settling ---------------------------------------------------------------------------

    def _settle(self) -> None:
        """Until every incident's ladder is done (or acknowledged) and no page is waiting or
        being sent, for at most SETTLE seconds."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.c.pg.url)
        start = time.monotonic()
        try:
            while time.monotonic() - start < SETTLE:
                with engine.connect() as conn:
                    busy = conn.execute(text(
                        "SELECT (SELECT count(*) FROM pages WHERE status IN "
                        "('pending', 'sending')) + (SELECT count(*) FROM incidents WHERE "
                        "status = 'triggered' AND next_action_at IS NOT NULL)")).scalar()
                if not busy:
                    self.record.settled = True
                    break
                time.sleep(0.5)
            time.sleep(2)  # anything sent twice late shows up too
        finally:
            self.record.settle_seconds = time.monotonic() - start
            engine.dispose()
