"""``POST /api/v1/simulate`` and ``oncall simulate``: the simulator over HTTP and in the
terminal, on the shipped billing example."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from oncall.models import User
from tests.conftest import ROOT, apply, shipped
from tests.fakes import install

NIGHT = "2026-12-08T03:00:00-05:00"  # Tuesday, New York: carol primary, bob secondary


@pytest.fixture
def viewer(factory: Any, config: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The billing example, SMS and voice configured, and a viewer's Authorization header."""
    from oncall.cli.admin import create_token

    install(monkeypatch, "sms", "voice")
    apply(factory, *shipped(config))
    with factory() as s, s.begin():
        s.add(User(email="vic@example.com", name="Vic", role="viewer"))
        s.flush()
        token = create_token(s, "vic@example.com")
    return {"Authorization": f"Bearer {token}"}


def test_a_viewer_asks_who_a_cron_miss_at_3am_would_wake(client: Any,
                                                         viewer: dict[str, str]) -> None:
    r = client.post("/api/v1/simulate", headers=viewer, json={
        "service": "billing-cron", "type": "cron_miss", "severity": "critical",
        "summary": "nightly charge run missed", "at": NIGHT})
    assert r.status_code == 200, r.json
    body = r.json
    assert body["outcome"] == "pages" and body["rule"]["name"] == "cron-miss"
    assert body["policy"] == "billing-critical"
    first = body["timeline"][0]
    assert (first["level"], first["loop"], first["recipient"]) == (1, 0, "carol@example.com")
    assert first["channels"] == [{"channel": "sms", "at": "2026-12-08T08:00:00+00:00"},
                                 {"channel": "voice", "at": "2026-12-08T08:02:00+00:00"}]
    assert [e["recipient"] for e in body["timeline"][1:3]] == ["bob@example.com",
                                                               "manager@example.com"]


def test_a_naive_time_is_read_in_the_given_timezone(client: Any,
                                                    viewer: dict[str, str]) -> None:
    r = client.post("/api/v1/simulate", headers=viewer, json={
        "service": "billing-cron", "type": "cron_miss", "at": "2026-12-08T09:00",
        "timezone": "Europe/Berlin"})
    assert r.status_code == 200, r.json
    assert r.json["at"] == "2026-12-08T08:00:00+00:00"


@pytest.mark.parametrize(("body", "field"), [
    ({"service": "nope"}, "service"),
    ({}, "service"),
    ({"service": "billing-cron", "severity": "loud"}, "severity"),
    ({"service": "billing-cron", "at": "tomorrow"}, "at"),
    ({"service": "billing-cron", "timezone": "Mars/Base"}, "timezone"),
    ({"service": "billing-cron", "labels": {"x": {"y": 1}}}, "labels.x"),
    ({"service": "billing-cron", "value": "high"}, "value"),
])
def test_bad_input_is_a_422_naming_the_field(client: Any, viewer: dict[str, str],
                                             body: dict[str, Any], field: str) -> None:
    r = client.post("/api/v1/simulate", headers=viewer, json=body)
    assert r.status_code == 422, r.json
    assert r.json["field"] == field


def test_an_alertmanager_payload_is_read_as_its_integration_reads_it(
        client: Any, viewer: dict[str, str]) -> None:
    body = json.loads((ROOT / "tests/fixtures/alertmanager_webhook_firing.json").read_text())
    body["alerts"] = body["alerts"][:1]
    r = client.post("/api/v1/simulate", headers=viewer, json={
        "service": "billing-api", "format": "alertmanager", "payload": body, "at": NIGHT})
    assert r.status_code == 200, r.json
    assert r.json["alert"]["type"] == "ChargeFailureRateHigh"  # its alertname, as at intake
    assert r.json["timeline"][0]["recipient"] == "carol@example.com"
    body["alerts"] = []
    r = client.post("/api/v1/simulate", headers=viewer, json={
        "service": "billing-api", "format": "alertmanager", "payload": body})
    assert r.status_code == 422 and r.json["field"].startswith("payload"), r.json


def test_it_needs_a_token(client: Any, viewer: dict[str, str]) -> None:
    assert client.post("/api/v1/simulate", json={"service": "billing-cron"}).status_code == 401


def test_the_openapi_document_has_the_real_response_schema(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").json
    op = spec["paths"]["/api/v1/simulate"]["post"]
    assert "422" in op["responses"]
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    out = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"outcome", "reason", "timeline", "if_crossed", "rule", "incident"} <= set(
        out["properties"])
    body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "service" in spec["components"]["schemas"][body.rsplit("/", 1)[1]]["required"]


def test_the_cli_prints_the_timeline_in_the_given_zone(
        factory: Any, viewer: dict[str, str], settings: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from oncall.cli import cli, simulate  # noqa: F401 - attach the command

    monkeypatch.setenv("ONCALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ONCALL_BROKER_URL", settings.broker_url)
    monkeypatch.setenv("ONCALL_SECRET_KEY", "test")
    runner = CliRunner()
    args = ["simulate", "--service", "billing-charges", "--type", "charge_failure",
            "--severity", "critical", "--label", "merchant_id=acme",
            "--at", "2026-12-08T09:00", "--tz", "Europe/Berlin"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "held by rule charge-failure-spike" in out
    assert "09:00  level 1  carol@example.com (Carol Ng)  sms, voice at 09:02" in out
    assert "09:05  level 2  bob@example.com (Bob Okafor)  sms, voice at 09:07" in out
    as_json = runner.invoke(cli, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["outcome"] == "held"
    body = json.loads((ROOT / "tests/fixtures/alertmanager_webhook_firing.json").read_text())
    body["alerts"] = body["alerts"][:1]
    from_file = runner.invoke(cli, ["simulate", "--service", "billing-api", "--format",
                                    "alertmanager", "--payload", "-", "--at", NIGHT],
                              input=json.dumps(body))
    assert from_file.exit_code == 0, from_file.output
    assert "a critical ChargeFailureRateHigh alert for billing-api" in from_file.output
    bad = runner.invoke(cli, ["simulate", "--service", "nope"])
    assert bad.exit_code != 0 and "service: no service 'nope'" in bad.output
