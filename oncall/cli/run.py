"""The processes: ``up`` (all in one, embedded), ``web``, ``worker``, ``beat``, ``migrate``."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import click

from oncall.cli import cli
from oncall.cli.common import PUBLIC_URL_FILE, settings
from oncall.config import (
    ConfigError,
    Settings,
    default_data_dir,
    embedded_secret_key,
    env_str,
    require_secret_key,
)


def production_settings(process: str) -> Settings:
    """The settings of a production process, which refuses to start without a secret key."""
    s = settings()
    try:
        require_secret_key(s, process)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return s


def metrics_dir(s: Settings, default: Path | None, wipe: bool) -> None:
    """Point prometheus-client's multiprocess mode at a directory all our processes share."""
    chosen = Path(s.metrics_dir) if s.metrics_dir else default
    if chosen is None:
        chosen = Path(tempfile.mkdtemp(prefix="oncall-metrics-"))
    if wipe and chosen.exists():
        shutil.rmtree(chosen)
    chosen.mkdir(parents=True, exist_ok=True)
    os.environ["ONCALL_METRICS_DIR"] = os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(chosen)


def gunicorn_argv(host: str, port: int, workers: int | None, threads: int | None) -> list[str]:
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:oncall.web.gunicorn_conf",
            "--bind", f"{host}:{port}"]
    if workers:
        argv += ["--workers", str(workers)]
    if threads:
        argv += ["--threads", str(threads)]
    return [*argv, "oncall.web.wsgi:app"]


def celery_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "worker.app", *args]


@cli.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from oncall.migrate import upgrade

    upgrade(settings().database_url)
    click.echo("database is up to date")


@cli.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", type=int, help="gunicorn workers (ONCALL_WEB_WORKERS, default 4).")
@click.option("--threads", type=int, help="Threads per worker (ONCALL_WEB_THREADS, default 1).")
def web(host: str, port: int, workers: int | None, threads: int | None) -> None:
    """Serve the web app and webhooks under gunicorn."""
    metrics_dir(production_settings("oncall web"), None, wipe=False)
    os.execv(sys.executable, gunicorn_argv(host, port, workers, threads))


@cli.command()
@click.option("--concurrency", "-c", type=int, default=None,
              help="Worker processes (default: number of CPUs).")
def worker(concurrency: int | None) -> None:
    """Run a Celery worker: escalations, deliveries and the sweeper."""
    s = production_settings("oncall worker")
    if s.metrics_dir:
        metrics_dir(s, None, wipe=False)
    argv = celery_argv("worker", "-Q", "oncall,oncall.beat", "-l", "INFO")
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    os.execv(sys.executable, argv)


@cli.command()
def beat() -> None:
    """Run Celery beat: the sweeper, the heartbeat check and the dead-man's switch."""
    schedule = beat_schedule_file(production_settings("oncall beat"))
    os.execv(sys.executable, celery_argv("beat", "-l", "INFO", "-s", str(schedule)))


def beat_schedule_file(s: Settings) -> Path:
    """Where beat keeps its last-run times: ``ONCALL_BEAT_SCHEDULE``, else ``beat-schedule``
    in the data folder. Never a fixed path shared by every instance on the machine."""
    chosen = Path(os.environ.get("ONCALL_BEAT_SCHEDULE") or s.data_dir / "beat-schedule")
    try:
        chosen.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(
            f"cannot create {chosen.parent} for beat's schedule file ({exc.strerror}); set "
            "ONCALL_BEAT_SCHEDULE or ONCALL_DATA_DIR to a writable place") from None
    if not os.access(chosen.parent, os.W_OK):
        raise click.ClickException(
            f"{chosen.parent} is not writable for beat's schedule file; set "
            "ONCALL_BEAT_SCHEDULE or ONCALL_DATA_DIR to a writable place")
    return chosen


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Same as the global --data.")
def up(host: str, port: int, data_dir: Path | None) -> None:
    """Run everything on this machine: web, worker and beat, on SQLite; no other services."""
    from oncall.cli.bootstrap import first_run

    if data_dir is not None:
        os.environ["ONCALL_DATA_DIR"] = str(data_dir.resolve())
    os.environ.setdefault("ONCALL_PUBLIC_URL", f"http://{host}:{port}")
    use_embedded_secret_key()
    s = settings()
    s.data_dir.mkdir(parents=True, exist_ok=True)
    lock = _hold_data_dir(s.data_dir)  # before anything in the folder is touched
    # The address links printed by the commands run beside this one point at.
    (s.data_dir / PUBLIC_URL_FILE).write_text(s.public_url + "\n")
    metrics_dir(s, s.data_dir / "metrics", wipe=True)
    from oncall.migrate import upgrade

    upgrade(s.database_url)
    click.echo(first_run(s))
    if not (s.twilio_enabled or s.slack_bot_token or s.smtp_url):
        click.echo("no paging provider is configured (Twilio, Slack, email): pages print here, "
                   "and only here")
    tie = _die_with_parent(os.getpid())
    procs = [
        subprocess.Popen(gunicorn_argv(host, port, 2, 4), preexec_fn=tie),
        subprocess.Popen(celery_argv("--quiet", "worker", "-B", "-Q", "oncall,oncall.beat",
                                     "-l", "WARNING", "--pool", "threads", "--concurrency", "4",
                                     "-s", str(s.data_dir / "beat-schedule")), preexec_fn=tie),
    ]
    _supervise(procs)
    lock.close()


def _hold_data_dir(data_dir: Path) -> TextIO:
    """Take the data folder for this ``oncall up`` until it exits (an advisory lock the
    kernel drops however the process dies). A second ``oncall up`` on the same folder would
    start a second worker and beat on the same database and wipe the first one's metrics."""
    path = data_dir / "oncall-up.lock"
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        handle.close()
        raise click.ClickException(
            f"oncall up is already running on {data_dir.resolve()} (pid {pid}); stop it "
            "first, or give this one another folder with --data") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    os.set_inheritable(handle.fileno(), False)
    return handle


def use_embedded_secret_key() -> None:
    """Without ``ONCALL_SECRET_KEY``, ``oncall up`` and its processes use the key kept in the
    data directory (made on the first start)."""
    if env_str("ONCALL_SECRET_KEY") is None:
        os.environ["ONCALL_SECRET_KEY_FILE"] = str(embedded_secret_key(default_data_dir()))


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """On Linux, a child of ``oncall up`` gets SIGTERM when ``oncall up`` dies, however it
    dies (``kill -9`` included), so that no web server or worker is left running unseen,
    holding the port and paging from a database its user thinks is stopped."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def tie() -> None:  # in the child, between fork and exec
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the tie was made
            os._exit(1)

    return tie


def _supervise(procs: list[subprocess.Popen[bytes]]) -> None:
    """Wait until a signal or a child exits, then stop every child."""
    stopping = False

    def _stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    code = 0
    while not stopping:
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            args = dead[0].args
            what = " ".join(map(str, args[1:5])) if isinstance(args, list) else str(args)
            click.echo(f"oncall: a process exited ({what}); stopping", err=True)
            code = 1
            break
        time.sleep(0.2)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
    sys.exit(code)
