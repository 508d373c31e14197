"""`oncall up`, started as a user would: SQLite, no Redis, no PostgreSQL, pages printed."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, wait_for
from tests.servers import free_port

pytestmark = pytest.mark.slow


def start_up(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """``oncall up`` in a new session (process group) in tmp_path, and its URL and log,
    once it answers ``/ready``."""
    for name in ("rules", "schedules"):
        shutil.copytree(ROOT / name, tmp_path / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONCALL_", "PROMETHEUS_"))}
    port = free_port()
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "oncall.cli", "up", "--port", str(port)],
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return requests.get(f"{url}/ready", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or still booting on a busy host
            return False

    try:
        wait_for(ready, 60, what="oncall up to be ready")
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc, url, log


def test_oncall_up_answers_an_alert_with_a_page(tmp_path: Path) -> None:
    proc, url, log = start_up(tmp_path)
    try:
        notes = (tmp_path / ".oncall" / "first-run.txt").read_text()
        assert notes in log.read_text()  # printed on first start, too
        key = tmp_path / ".oncall" / "secret_key"  # made, since ONCALL_SECRET_KEY is unset
        assert len(key.read_text().strip()) == 64 and key.stat().st_mode & 0o077 == 0
        hook = re.search(r"(http://\S+/integrations/oci_\S+)", notes)[1]  # type: ignore[index]
        api = re.search(r"Bearer (oct_[\w-]+)", notes)[1]  # type: ignore[index]
        r = requests.post(hook, json={"type": "charge_failure", "severity": "critical",
                                      "summary": "Charge failures spiking"}, timeout=5)
        assert r.status_code == 202
        incident = r.json()["incidents"][0]["incident_id"]
        wait_for(lambda: "PAGE to " in log.read_text(), 20, what="the page on the console")
        assert "Charge failures spiking" in log.read_text()
        auth = {"Authorization": f"Bearer {api}"}
        ack = requests.post(f"{url}/api/v1/incidents/{incident}/ack", headers=auth, timeout=5)
        assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
        detail = requests.get(f"{url}/api/v1/incidents/{incident}", headers=auth, timeout=5).json()
        assert [p["status"] for p in detail["pages"]] == ["sent"]
        # The one-time console link for the first admin, signed with the embedded key that
        # the web server reads too; not saved with the other first-run notes.
        link = re.search(r"(http://\S+/welcome/\S+)", log.read_text())[1]  # type: ignore[index]
        assert link not in notes
        page = requests.get(link, timeout=5)
        assert page.status_code == 200 and "admin@localhost" in page.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, log.read_text()[-3000:]


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (state, ppid, ...); [] if there is no such
    process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def children(pid: int) -> set[int]:
    return {int(p.name) for p in Path("/proc").glob("[0-9]*")
            if (fields := _stat(int(p.name))) and int(fields[1]) == pid}


def running(pid: int) -> bool:
    fields = _stat(pid)
    return bool(fields) and fields[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_oncall_up_killed_leaves_nothing_running(tmp_path: Path) -> None:
    """``kill -9`` of ``oncall up`` (which cannot stop its children itself) stops the web
    server and the worker too: none is left holding the port or paging."""
    proc, url, _log = start_up(tmp_path)
    group = proc.pid
    try:
        kids = children(proc.pid)
        assert len(kids) == 2  # gunicorn's master and the Celery worker
        proc.kill()
        proc.wait(10)

        wait_for(lambda: not any(running(pid) for pid in kids), 40,
                 what="the web server and the worker to stop")
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/health", timeout=5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


def test_a_second_oncall_up_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    """It would start a second worker and beat on the same database and wipe the running
    one's metrics."""
    proc, url, log = start_up(tmp_path)
    try:
        metrics = tmp_path / ".oncall" / "metrics"
        before = sorted(p.name for p in metrics.iterdir())
        assert before  # the running web and worker write here
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ONCALL_", "PROMETHEUS_"))}
        second = subprocess.run([sys.executable, "-m", "oncall.cli", "up", "--port",
                                 str(free_port())], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "oncall up is already running on" in second.stderr
        assert f"(pid {proc.pid})" in second.stderr
        assert set(before) <= {p.name for p in metrics.iterdir()}  # nothing wiped
        assert requests.get(f"{url}/ready", timeout=5).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    assert log.read_text().count("no paging provider is configured") == 1  # not per process
