"""A real Prometheus Alertmanager (Debian's ``prometheus-alertmanager``) posting its webhook to
the service under gunicorn: alerts fired with ``amtool`` open an incident per alert, and the
resolve that Alertmanager sends resolves it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from oncall.config import Settings
from oncall.models import Alert, Incident, Integration
from oncall.security import hash_token, new_token
from tests.conftest import REQUIRED, Cast, wait_for
from tests.servers import free_port, web_server

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
AMTOOL = shutil.which("amtool")

pytestmark = pytest.mark.slow

if not (ALERTMANAGER and AMTOOL):
    if REQUIRED:
        pytest.fail("prometheus-alertmanager and amtool are required (apt-get install "
                    "prometheus-alertmanager)", pytrace=False)
    pytest.skip("prometheus-alertmanager is not installed", allow_module_level=True)


WEBHOOK_RECEIVER = """
  - name: oncall
    webhook_configs:
      - url: {url}
        send_resolved: true
        max_alerts: 0
"""
# Alertmanager's own PagerDuty integration, pointed at /v2/enqueue instead of PagerDuty.
PAGERDUTY_RECEIVER = """
  - name: oncall
    pagerduty_configs:
      - routing_key: {key}
        url: {url}
        send_resolved: true
        severity: '{{{{ or .CommonLabels.severity "error" }}}}'
"""
# Alertmanager's own Opsgenie integration, pointed here instead of api.opsgenie.com.
OPSGENIE_RECEIVER = """
  - name: oncall
    opsgenie_configs:
      - api_key: {key}
        api_url: {url}
        send_resolved: true
        priority: P2
        tags: prometheus,billing
"""


def start_alertmanager(tmp: Path, receiver: str) -> tuple[subprocess.Popen[bytes], str]:
    config = tmp / "alertmanager.yml"
    config.write_text(f"""
route:
  receiver: oncall
  group_by: [alertname, merchant_id]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:{receiver}""")
    port = free_port()
    log = open(tmp / "alertmanager.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [ALERTMANAGER or "", f"--config.file={config}", f"--storage.path={tmp / 'am-data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
         "--log.level=debug"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError((tmp / "alertmanager.log").read_text()[-3000:])
        try:
            return requests.get(f"{url}/-/ready", timeout=1).ok
        except requests.RequestException:
            return False

    wait_for(ready, 30, what="alertmanager")
    return proc, url


@pytest.fixture
def alertmanager_hook(factory: Any, cast: Cast) -> str:
    token = new_token("oci")
    with factory() as s, s.begin():
        s.add(Integration(service_id=cast.service.id, kind="alertmanager", name="prometheus",
                          token_hash=hash_token(token), prefix=token[:10]))
    return token


@pytest.fixture
def stack(settings: Settings, alertmanager_hook: str, tmp_path: Path) -> Iterator[str]:
    with web_server(settings, tmp_path, workers=2) as web:
        proc, url = start_alertmanager(tmp_path, WEBHOOK_RECEIVER.format(
            url=f"{web}/integrations/{alertmanager_hook}"))
        try:
            yield url
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)


def amtool(url: str, *args: str) -> None:
    subprocess.run([AMTOOL or "", f"--alertmanager.url={url}", "alert", "add", *args],
                   check=True, capture_output=True, timeout=30)


def incidents(factory: Any) -> list[Incident]:
    with factory() as s:
        return list(s.scalars(select(Incident).order_by(Incident.id)))


def test_alerts_fired_with_amtool_open_incidents_and_their_resolve_closes_them(
        stack: str, factory: Any) -> None:
    labels = ["alertname=ChargeFailures", "severity=critical", "type=charge_failure"]
    amtool(stack, *labels, "merchant_id=acme",
           "--annotation=summary=Charge failures for acme above 5%")
    amtool(stack, *labels, "merchant_id=globex",
           "--annotation=summary=Charge failures for globex above 5%")
    wait_for(lambda: len(incidents(factory)) == 2, 30, what="two incidents from Alertmanager")
    opened = incidents(factory)
    assert {i.summary for i in opened} == {"Charge failures for acme above 5%",
                                           "Charge failures for globex above 5%"}
    assert all(i.status == "triggered" and i.severity == "critical" for i in opened)
    with factory() as s:
        stored = s.scalars(select(Alert)).all()
        assert {a.labels["merchant_id"] for a in stored} == {"acme", "globex"}
        assert all(a.raw and a.raw.get("fingerprint") == a.dedup_key for a in stored)

    # Resolve acme only: an alert whose endsAt has passed is resolved by Alertmanager.
    ended = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    amtool(stack, *labels, "merchant_id=acme",
           "--annotation=summary=Charge failures for acme above 5%", f"--end={ended}")

    def acme_resolved() -> bool:
        by_summary = {i.summary: i.status for i in incidents(factory)}
        return by_summary["Charge failures for acme above 5%"] == "resolved"

    wait_for(acme_resolved, 30, what="the resolve from Alertmanager")
    by_summary = {i.summary: i.status for i in incidents(factory)}
    assert by_summary["Charge failures for globex above 5%"] == "triggered"
    assert len(incidents(factory)) == 2  # repeats of the group joined, never opened more


def test_alertmanagers_pagerduty_integration_can_point_here(
        settings: Settings, factory: Any, cast: Cast, tmp_path: Path) -> None:
    key = "0123456789abcdef0123456789abcdef"
    with factory() as s, s.begin():
        s.add(Integration(service_id=cast.service.id, kind="pagerduty", name="am-pagerduty",
                          token_hash=hash_token(key), prefix=key[:10]))
    with web_server(settings, tmp_path, workers=2) as web:
        proc, url = start_alertmanager(tmp_path, PAGERDUTY_RECEIVER.format(
            key=key, url=f"{web}/v2/enqueue"))
        try:
            labels = ["alertname=ApiErrorBudgetBurn", "severity=critical",
                      "service=billing-api"]
            amtool(url, *labels, "--annotation=summary=API error budget burning at 14x")
            wait_for(lambda: len(incidents(factory)) == 1, 30, what="the PagerDuty event")
            [incident] = incidents(factory)
            assert incident.status == "triggered" and incident.severity == "critical"
            assert "ApiErrorBudgetBurn" in incident.summary
            ended = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            amtool(url, *labels, "--annotation=summary=API error budget burning at 14x",
                   f"--end={ended}")
            wait_for(lambda: incidents(factory)[0].status == "resolved", 30,
                     what="the resolve event")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)


def test_alertmanagers_opsgenie_integration_can_point_here(
        settings: Settings, factory: Any, cast: Cast, tmp_path: Path) -> None:
    key = "5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
    with factory() as s, s.begin():
        s.add(Integration(service_id=cast.service.id, kind="opsgenie", name="am-opsgenie",
                          token_hash=hash_token(key), prefix=key[:10]))
    with web_server(settings, tmp_path, workers=2) as web:
        proc, url = start_alertmanager(tmp_path, OPSGENIE_RECEIVER.format(
            key=key, url=f"{web}/"))
        try:
            labels = ["alertname=ApiErrorBudgetBurn", "severity=critical",
                      "service=billing-api"]
            amtool(url, *labels, "--annotation=summary=API error budget burning at 14x")
            wait_for(lambda: len(incidents(factory)) == 1, 30, what="the Opsgenie alert")
            [incident] = incidents(factory)
            assert incident.status == "triggered" and incident.severity == "error"  # P2
            assert "ApiErrorBudgetBurn" in incident.summary
            with factory() as s:
                stored = s.scalars(select(Alert)).first()
                assert stored is not None and stored.labels["priority"] == "P2"
                assert stored.labels["tags"] == "prometheus,billing"
            ended = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            amtool(url, *labels, "--annotation=summary=API error budget burning at 14x",
                   f"--end={ended}")
            # Alertmanager closes by alias: POST /v2/alerts/<alias>/close?identifierType=alias
            wait_for(lambda: incidents(factory)[0].status == "resolved", 30,
                     what="the close request")
            assert len(incidents(factory)) == 1
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
