"""Alertmanager, Grafana and PagerDuty Events v2 through the real endpoints, on the shared
fixtures: each opens, joins, acknowledges or resolves the right incidents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from oncall.cli.admin import create_integration
from oncall.models import Incident
from tests.conftest import Cast

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def integration(factory: Any, kind: str) -> str:
    with factory() as s, s.begin():
        _, token = create_integration(s, "billing-api", kind, None)
    return token


def incidents(factory: Any) -> list[tuple[str, str]]:
    with factory() as s:
        return [(i.dedup_key, i.status) for i in s.scalars(select(Incident).order_by(Incident.id))]


def test_alertmanager_firing_then_resolved(client: Any, cast: Cast, factory: Any) -> None:
    token = integration(factory, "alertmanager")
    r = client.post(f"/integrations/{token}", json=fixture("alertmanager_webhook_firing.json"))
    assert r.status_code == 202 and r.json["accepted"] == 2
    assert [o["new"] for o in r.json["incidents"]] == [True, True]
    assert {s for _, s in incidents(factory)} == {"triggered"}
    again = client.post(f"/integrations/{token}",
                        json=fixture("alertmanager_webhook_firing.json"))
    assert [o["new"] for o in again.json["incidents"]] == [False, False]  # repeat_interval
    r = client.post(f"/integrations/{token}",
                    json=fixture("alertmanager_webhook_resolved.json"))
    assert r.status_code == 202
    assert [s for _, s in incidents(factory)] == ["resolved", "resolved"]


def test_alertmanager_names_a_bad_field(client: Any, cast: Cast, factory: Any) -> None:
    token = integration(factory, "alertmanager")
    body = fixture("alertmanager_webhook_firing.json")
    body["alerts"][1]["status"] = "exploded"
    r = client.post(f"/integrations/{token}", json=body)
    assert r.status_code == 400 and r.json["field"] == "alerts[1].status"
    assert incidents(factory) == []


def test_grafana_may_put(client: Any, cast: Cast, factory: Any) -> None:
    token = integration(factory, "grafana")
    r = client.put(f"/integrations/{token}", json=fixture("grafana_alerting_webhook.json"))
    assert r.status_code == 202 and r.json["accepted"] == 1
    assert incidents(factory)[0][1] == "triggered"


def pd(event: str, key: str) -> dict[str, Any]:
    body = fixture(f"pagerduty_events_v2_{event}.json")
    body["routing_key"] = key
    return body


def test_pagerduty_trigger_acknowledge_resolve(client: Any, cast: Cast, factory: Any) -> None:
    key = integration(factory, "pagerduty")
    assert len(key) == 32
    r = client.post("/v2/enqueue", json=pd("trigger", key))
    assert r.status_code == 202
    assert r.json == fixture("pagerduty_events_v2_response_202.json")
    assert incidents(factory) == [(r.json["dedup_key"], "triggered")]
    r = client.post("/v2/enqueue", json=pd("acknowledge", key))
    assert r.status_code == 202 and incidents(factory)[0][1] == "acknowledged"
    r = client.post("/v2/enqueue", json=pd("resolve", key))
    assert r.status_code == 202 and incidents(factory)[0][1] == "resolved"
    # After the resolve, acknowledge and resolve for that key are dropped (still 202).
    assert client.post("/v2/enqueue", json=pd("acknowledge", key)).status_code == 202
    assert incidents(factory)[0][1] == "resolved"


def test_pagerduty_errors_have_pagerdutys_shape(client: Any, cast: Cast, factory: Any) -> None:
    key = integration(factory, "pagerduty")
    bad = pd("trigger", key)
    bad["payload"]["severity"] = "catastrophic"
    r = client.post("/v2/enqueue", json=bad)
    assert r.status_code == 400
    assert r.json == fixture("pagerduty_events_v2_response_400.json")
    r = client.post("/v2/enqueue", data="{nope", content_type="application/json")
    assert r.status_code == 400 and r.json["errors"] == ["JSON parse error"]
    r = client.post("/v2/enqueue", json=pd("trigger", "0" * 32))
    assert r.status_code == 400 and r.json["status"] == "invalid event"
    assert incidents(factory) == []


def test_a_pagerduty_key_is_not_a_webhook_url(client: Any, cast: Cast, factory: Any) -> None:
    key = integration(factory, "pagerduty")
    r = client.post(f"/integrations/{key}", json=pd("trigger", key))
    assert r.status_code == 404 and "/v2/enqueue" in r.json["error"]


@pytest.mark.parametrize("kind", ["alertmanager", "grafana", "pagerduty"])
def test_every_kind_can_be_added_from_the_cli(factory: Any, kind: str) -> None:
    with factory() as s, s.begin():
        found, _ = create_integration(s, "svc", kind, None)
        assert found.kind == kind
