"""The Grafana alerting webhook adapter, on the shared fixture and on broken payloads."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from oncall.ingest import PayloadError
from oncall.ingest.grafana import parse

# The repo's CI places ``shared/`` beside the repository: <parent>/shared/fixtures.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(name: str) -> Any:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES} (expected beside the repo)")
    return json.loads((FIXTURES / name).read_text())


def body() -> dict[str, Any]:
    return copy.deepcopy(fixture("grafana_alerting_webhook.json"))


def test_the_fixture() -> None:
    [a] = parse(body())
    assert (a.type, a.severity, a.status, a.dedup_key, a.service) == (
        "BillingApiErrorRateHigh", "critical", "firing", "4b1f0c7e92a8d356", "billing")
    assert a.summary == "Billing API error rate above 5% on /v1/invoices"
    assert a.labels == {"alertname": "BillingApiErrorRateHigh", "env": "prod",
                        "grafana_folder": "Billing", "route": "/v1/invoices",
                        "service": "billing", "severity": "critical"}
    assert a.value == 0.0734  # values["B"], the first; valueString is display only
    assert a.raw is not None
    assert (a.raw["receiver"], a.raw["orgId"], a.raw["externalURL"]) == (
        "oncall-router", 1, "https://grafana.example.com/")
    assert a.raw["groupKey"] == '{}:{alertname="BillingApiErrorRateHigh", grafana_folder="Billing"}'
    assert a.raw["dashboardURL"] == "https://grafana.example.com/d/billing-api-slo?orgId=1"
    assert a.raw["panelURL"].endswith("viewPanel=4") and "silenceURL" in a.raw


def test_resolved() -> None:
    b = body()
    b["status"] = b["alerts"][0]["status"] = "resolved"
    [a] = parse(b)
    assert (a.status, a.dedup_key) == ("resolved", "4b1f0c7e92a8d356")


def test_value_skips_non_numbers_and_falls_back_to_the_annotation() -> None:
    b = body()
    b["alerts"][0]["values"] = {"A": "x", "B": True, "C": 2}
    assert parse(b)[0].value == 2.0
    b["alerts"][0]["values"] = {}
    b["alerts"][0]["annotations"]["value"] = "7.5"
    assert parse(b)[0].value == 7.5
    del b["alerts"][0]["values"]
    del b["alerts"][0]["annotations"]["value"]
    assert parse(b)[0].value is None


def test_summary_falls_back_to_title_then_message() -> None:
    b = body()
    del b["alerts"][0]["annotations"]["summary"]
    del b["alerts"][0]["annotations"]["description"]
    assert parse(b)[0].summary == b["title"]
    del b["title"]
    assert parse(b)[0].summary == b["message"].strip()
    del b["message"]
    assert parse(b)[0].summary == "BillingApiErrorRateHigh"


def test_a_payload_without_version_is_accepted() -> None:
    b = body()
    del b["version"]
    assert len(parse(b)) == 1


@pytest.mark.parametrize(("change", "field"), [
    (lambda b: b.update(version="4"), "version"),
    (lambda b: b.update(alerts=None), "alerts"),
    (lambda b: b["alerts"][0].update(status="alerting"), "alerts[0].status"),
    (lambda b: b["alerts"][0].update(labels=None), "alerts[0].labels"),
    (lambda b: b["alerts"][0].update(values=[1, 2]), "alerts[0].values"),
])
def test_malformed_payloads_name_the_field(change: Any, field: str) -> None:
    b = body()
    change(b)
    with pytest.raises(PayloadError) as caught:
        parse(b)
    assert caught.value.field == field


def test_an_alertmanager_body_is_refused_with_a_hint() -> None:
    with pytest.raises(PayloadError, match="alertmanager integration") as caught:
        parse(fixture("alertmanager_webhook_firing.json"))
    assert caught.value.field == "version"
