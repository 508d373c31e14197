"""Fixtures: a real database (ONCALL_TEST_DATABASE_URL; without it PostgreSQL's
``oncall_test`` database on 127.0.0.1:5432 when it exists and answers, so the production path
is the one a developer sees fail first, else a SQLite file; ``ONCALL_TEST_DATABASE_URL=sqlite``
forces SQLite), a real broker (Redis when ONCALL_TEST_BROKER_URL says so, else the embedded SQLite
broker), the app, a small cast of users, and real Celery worker processes.

``ONCALL_TEST_REQUIRE=postgres,redis`` (set by .ci/run) turns a missing service into a
failure of the whole run, never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, select, text
from sqlalchemy.orm import Session

from oncall import db, jobs
from oncall.apply import apply_config, load_tree
from oncall.config import Settings
from oncall.migrate import upgrade
from oncall.models import (
    Base,
    EscalationPolicy,
    Integration,
    PolicyLevel,
    Service,
    SystemState,
    User,
    utcnow,
)
from oncall.security import hash_token, new_token

ROOT = Path(__file__).resolve().parent.parent
# Production processes refuse to start without a secret key: the web servers and workers the
# tests start (they inherit this environment) have one. Tests of the refusal remove it.
os.environ.setdefault("ONCALL_SECRET_KEY", "tests-" + "0" * 58)
REQUIRED = {s.strip() for s in os.environ.get("ONCALL_TEST_REQUIRE", "").split(",") if s.strip()}


def _check_services(database_url: str, broker_url: str) -> None:
    if "postgres" in REQUIRED and not database_url.startswith("postgresql"):
        pytest.exit("ONCALL_TEST_REQUIRE names postgres but ONCALL_TEST_DATABASE_URL is not "
                    "a PostgreSQL URL", returncode=3)
    if "redis" in REQUIRED and not broker_url.startswith("redis"):
        pytest.exit("ONCALL_TEST_REQUIRE names redis but ONCALL_TEST_BROKER_URL is not a "
                    "Redis URL", returncode=3)
    try:
        engine = create_engine(database_url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        pytest.exit(f"test database {database_url} is unreachable: {exc}", returncode=3)
    if broker_url.startswith("redis"):
        import redis

        try:
            redis.Redis.from_url(broker_url, socket_connect_timeout=2).ping()
        except Exception as exc:
            pytest.exit(f"test broker {broker_url} is unreachable: {exc}", returncode=3)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("oncall-data")


# The tests' PostgreSQL database when none is named: used only if it already exists (the
# tests empty it), as the PGUSER or login user.
DEFAULT_POSTGRES = "postgresql+psycopg://127.0.0.1:5432/oncall_test"


def _answers(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def choose_database(sqlite: str) -> str:
    named = os.environ.get("ONCALL_TEST_DATABASE_URL", "").strip()
    if named == "sqlite":
        return sqlite
    if named:
        return named
    return DEFAULT_POSTGRES if _answers(DEFAULT_POSTGRES) else sqlite


def pytest_report_header() -> str:
    return f"oncall test database: {choose_database('SQLite (a temporary file)')}"


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> str:
    return choose_database(f"sqlite:///{data_dir}/test.sqlite")


@pytest.fixture(scope="session")
def broker_url(data_dir: Path) -> str:
    return os.environ.get("ONCALL_TEST_BROKER_URL") or f"sqla+sqlite:///{data_dir}/broker.sqlite"


@pytest.fixture(scope="session")
def migrated(database_url: str, broker_url: str) -> str:
    _check_services(database_url, broker_url)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # a test database: start from nothing
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    upgrade(database_url)
    return database_url


@pytest.fixture(scope="session", autouse=True)
def _close_pools() -> Iterator[None]:
    yield
    db.dispose_all()  # close pooled connections before the interpreter's teardown does


@pytest.fixture
def settings(migrated: str, broker_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=migrated, broker_url=broker_url,
                    public_url="http://oncall.test", secret_key="test", data_dir=data_dir)


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "migrated" not in request.fixturenames:
        return
    url = request.getfixturevalue("migrated")
    with db.session_scope(url) as s:
        for table in reversed(Base.metadata.sorted_tables):
            s.execute(delete(table))
    from oncall.rules.store import CACHE

    CACHE.clear()  # the next test's rules are its own


@pytest.fixture
def factory(settings: Settings) -> Any:
    return db.session_factory(settings.database_url)


@pytest.fixture
def session(factory: Any) -> Iterator[Session]:
    with factory() as s:
        yield s


def web_app(settings: Settings) -> Iterator[Any]:
    """The web app on these settings, for a fixture to ``yield from``; afterwards the task
    sender it configured is forgotten."""
    from oncall.web import create_app

    yield create_app(settings, TESTING=True)
    jobs._app = None


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    yield from web_app(settings)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@dataclass
class Cast:
    """A small cast: two responders, a manager, a viewer; a service whose policy pages
    alice, then bob after ``escalate_after`` seconds; an integration and API tokens."""

    alice: User
    bob: User
    manager: User
    viewer: User
    service: Service
    integration_token: str
    tokens: dict[str, str]

    def auth(self, who: str = "alice") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def apply(factory: Any, *dirs: Path, dry_run: bool = False) -> list[str]:
    """Apply config directories as ``oncall apply`` does (rolled back for a dry run); the
    changes as ``oncall apply`` prints them."""
    docs = load_tree(list(dirs), base=dirs[0].parent)
    with factory() as s, s.begin():
        changes = apply_config(s, docs)
        if dry_run:
            s.rollback()
    return [str(c) for c in changes]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A copy of the shipped ``rules/`` and ``schedules/`` to edit."""
    for name in ("rules", "schedules"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def shipped(config: Path) -> list[Path]:
    """The config directories of a ``config`` copy."""
    return [config / "rules", config / "schedules"]


def make_cast(factory: Any, escalate_after: int = 300, repeat: int = 0) -> Cast:
    from oncall.cli.admin import create_token

    with factory() as s, s.begin():
        alice = User(email="alice@example.com", name="Alice", role="responder")
        bob = User(email="bob@example.com", name="Bob", role="responder")
        manager = User(email="manager@example.com", name="Maria", role="manager")
        viewer = User(email="viewer@example.com", name="Vic", role="viewer")
        policy = EscalationPolicy(name="billing", repeat=repeat, levels=[
            PolicyLevel(position=0, escalate_after=escalate_after,
                        targets=[{"type": "user", "ref": "alice@example.com"}]),
            PolicyLevel(position=1, escalate_after=escalate_after,
                        targets=[{"type": "user", "ref": "bob@example.com"}]),
        ])
        service = Service(name="billing-api", policy=policy)
        s.add_all([alice, bob, manager, viewer, service])
        s.flush()
        token = new_token("oci")
        s.add(Integration(service_id=service.id, kind="generic", name="billing-generic",
                          token_hash=hash_token(token), prefix=token[:10]))
        tokens = {u.email.split("@")[0]: create_token(s, u.email)
                  for u in (alice, bob, manager, viewer)}
    return Cast(alice, bob, manager, viewer, service, token, tokens)


@pytest.fixture
def cast(factory: Any) -> Cast:
    return make_cast(factory)


def alert(**fields: Any) -> dict[str, Any]:
    body = {"type": "charge_failure", "summary": "Charge failures for acme",
            "severity": "critical", "labels": {"merchant_id": "acme"}}
    body.update(fields)
    return body


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1,
             what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class WorkerProcess:
    """A real ``celery worker`` (with beat embedded) in its own process group."""

    def __init__(self, settings: Settings, log_dir: Path, sweep_interval: float = 1.0) -> None:
        self.extra_env: dict[str, str] = {}
        self.settings = settings
        self.log_dir = log_dir
        self.sweep_interval = sweep_interval
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(ONCALL_DATABASE_URL=self.settings.database_url,
                   ONCALL_BROKER_URL=self.settings.broker_url,
                   ONCALL_SWEEP_INTERVAL=str(self.sweep_interval),
                   ONCALL_DATA_DIR=str(self.settings.data_dir))
        env.update(self.extra_env)
        env.pop("ONCALL_METRICS_DIR", None)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return env

    def start(self, wait: bool = True) -> WorkerProcess:
        self.runs += 1
        log = open(self.log_dir / f"worker-{self.runs}.log", "wb")  # noqa: SIM115
        started = utcnow()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-B",
             "-Q", "oncall,oncall.beat", "-l", "INFO", "--concurrency", "2",
             "-s", str(self.log_dir / f"beat-{self.runs}")],
            cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()  # the child has its own copy
        if wait:
            self.wait_for_sweep(after=started)
        return self

    def wait_for_sweep(self, after: Any, timeout: float = 30.0) -> None:
        def swept() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited: {self.log()}")
            with db.session_scope(self.settings.database_url) as s:
                row = s.get(SystemState, "sweeper")
                return row is not None and row.updated_at > after

        wait_for(swept, timeout, what="the worker's first sweep")

    def log(self) -> str:
        return (self.log_dir / f"worker-{self.runs}.log").read_text(errors="replace")[-4000:]

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    _purge_broker(settings.broker_url)
    w = WorkerProcess(settings, tmp_path)
    yield w
    w.stop()


def _purge_broker(broker_url: str) -> None:
    """Drop messages earlier tests left for a worker that never came."""
    if broker_url.startswith("redis"):
        import redis

        redis.Redis.from_url(broker_url).flushdb()
    else:
        engine = create_engine(broker_url.removeprefix("sqla+"))
        with engine.begin() as conn:
            if engine.dialect.has_table(conn, "kombu_message"):
                conn.execute(text("DELETE FROM kombu_message"))
        engine.dispose()


def pages_for(factory: Any, incident_id: int) -> list[Any]:
    from oncall.models import Page

    with factory() as s:
        return list(s.scalars(select(Page).where(Page.incident_id == incident_id)
                              .order_by(Page.id)))


ONE_SECOND = timedelta(seconds=1)


@pytest.fixture
def admin_auth(factory: Any) -> dict[str, str]:
    """The Authorization header of an admin (Ada, root@example.com)."""
    from oncall.cli.admin import create_token

    with factory() as s, s.begin():
        s.add(User(email="root@example.com", name="Ada", role="admin"))
        s.flush()
        token = create_token(s, "root@example.com")
    return {"Authorization": f"Bearer {token}"}
