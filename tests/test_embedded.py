"""`oncall up`, started as a user would: SQLite, no Redis, no PostgreSQL, pages printed."""

from __future__ import annotations

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


def test_oncall_up_answers_an_alert_with_a_page(tmp_path: Path) -> None:
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
        notes = (tmp_path / ".oncall" / "first-run.txt").read_text()
        assert notes in log.read_text()  # printed on first start, too
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
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, log.read_text()[-3000:]
