"""/health, /ready, /metrics (right with several gunicorn workers) and the dead-man's switch."""

from __future__ import annotations

import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from oncall.config import Settings
from oncall.paging import sweeper
from oncall.web import create_app, health
from oncall.web.health import operator_warnings
from tests.conftest import Cast, WorkerProcess, alert, wait_for
from tests.servers import web_server


def test_health_answers_while_the_process_lives(client: Any) -> None:
    assert client.get("/health").json == {"status": "ok"}


def test_ready_waits_for_the_sweeper_then_says_ready(client: Any, factory: Any,
                                                     admin_auth: dict[str, str]) -> None:
    r = client.get("/ready", headers=admin_auth)
    assert r.status_code == 503
    assert r.json["checks"]["database"]["ok"] is True
    assert r.json["checks"]["broker"]["ok"] is True
    assert "never run" in r.json["checks"]["beat"]["error"]
    sweeper.sweep(factory)
    r = client.get("/ready")
    assert r.status_code == 200 and r.json["status"] == "ready"


@pytest.fixture
def fresh_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """/ready logs a check's failure when it changes: start from nothing logged."""
    monkeypatch.setattr(health, "_logged", {})


def test_ready_names_a_dead_broker_and_a_dead_database_and_logs_why(
        settings: Settings, caplog: pytest.LogCaptureFixture, fresh_log: None) -> None:
    broken = replace(settings, broker_url="redis://127.0.0.1:9/0",
                     database_url="postgresql+psycopg://nobody@127.0.0.1:9/none")
    r = create_app(broken, TESTING=True).test_client().get(
        "/ready", headers={"Authorization": "Bearer oct_whatever"})
    assert r.status_code == 503
    body = dict(r.json)
    assert body.pop("warnings") == operator_warnings(broken, None)  # no host, no error text
    assert body == {"status": "not ready", "checks": {
        "database": {"ok": False}, "broker": {"ok": False}, "beat": {"ok": False}}}
    assert "127.0.0.1" not in r.text and "error" not in r.text
    logged = "\n".join(m for m in caplog.messages if m.startswith("ready: "))
    assert "the database check fails" in logged and "the broker check fails" in logged
    assert "127.0.0.1" in logged


def test_a_failing_check_is_logged_once_not_on_every_probe(
        client: Any, caplog: pytest.LogCaptureFixture, fresh_log: None) -> None:
    for _ in range(3):
        assert client.get("/ready").status_code == 503
    assert [m for m in caplog.messages if m.startswith("ready: ")] == [
        "ready: the beat check fails: the sweeper has never run: are beat and a worker "
        "running?"]


def test_ready_tells_only_an_admin_the_details(client: Any, cast: Cast, factory: Any,
                                               settings: Settings,
                                               admin_auth: dict[str, str]) -> None:
    sweeper.sweep(factory)
    for headers in ({}, cast.auth("manager"), {"Authorization": "Bearer nope"}):
        body = dict(client.get("/ready", headers=headers).json)
        assert body.pop("warnings") == operator_warnings(settings, 0)
        assert body == {"status": "ready", "checks": {
            "database": {"ok": True}, "broker": {"ok": True}, "beat": {"ok": True}}}
    full = client.get("/ready", headers=admin_auth).json
    assert full["checks"]["beat"]["max_seconds"] == 30.0 and "slack" in full["details"]


def test_metrics_count_incidents_by_state_and_alerts_by_integration(client: Any,
                                                                     cast: Cast) -> None:
    client.post(f"/integrations/{cast.integration_token}", json=alert())
    text = client.get("/metrics").text
    assert 'oncall_incidents{state="triggered"} 1.0' in text
    assert 'oncall_alerts_received_total{integration="billing-generic",kind="generic"}' in text


@pytest.mark.slow
def test_metrics_add_up_across_gunicorn_workers(settings: Settings, cast: Cast,
                                               tmp_path: Path) -> None:
    with web_server(settings, tmp_path, workers=4) as url, requests.Session() as http:
        for i in range(40):
            r = http.post(f"{url}/integrations/{cast.integration_token}",
                          json=alert(dedup_key=f"k{i % 4}"))
            assert r.status_code == 202
        for _ in range(5):  # whichever worker answers the scrape
            text = http.get(f"{url}/metrics").text
            assert ('oncall_alerts_received_total{integration="billing-generic",'
                    'kind="generic"} 40.0') in text
            assert 'oncall_incidents{state="triggered"} 4.0' in text


class _Pings(BaseHTTPRequestHandler):
    count = 0

    def do_GET(self) -> None:
        type(self).count += 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.worker
def test_the_dead_mans_switch_is_pinged_by_beat(worker: WorkerProcess) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Pings)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        worker.extra_env = {"ONCALL_DEADMAN_URL": f"http://127.0.0.1:{server.server_port}/ping",
                            "ONCALL_DEADMAN_INTERVAL": "1"}
        worker.start()
        wait_for(lambda: _Pings.count >= 2, 20, what="two dead-man's switch pings")
    finally:
        server.shutdown()
        server.server_close()
