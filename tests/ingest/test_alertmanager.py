"""The Alertmanager webhook v4 adapter, on the shared fixtures and on broken payloads."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from oncall.ingest import PayloadError
from oncall.ingest.alertmanager import group_dedup_key, map_severity, parse

# The repo's CI places ``shared/`` beside the repository: <parent>/shared/fixtures.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(name: str) -> Any:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES} (expected beside the repo)")
    return json.loads((FIXTURES / name).read_text())


GROUP_KEY = '{}/{service="billing"}:{alertname="ChargeFailureRateHigh", service="billing"}'


def test_firing_group_gives_one_alert_per_entry() -> None:
    stripe, adyen = parse(fixture("alertmanager_webhook_firing.json"))
    assert (stripe.type, stripe.severity, stripe.status, stripe.dedup_key, stripe.service) == (
        "ChargeFailureRateHigh", "critical", "firing", "8f3c2a91d07b44e6", "billing")
    assert stripe.summary == "Charge failure rate 12.4% for provider stripe"
    assert stripe.labels == {"alertname": "ChargeFailureRateHigh", "env": "prod",
                             "payment_provider": "stripe", "service": "billing",
                             "severity": "critical", "team": "payments"}
    assert stripe.value is None
    assert stripe.raw is not None
    assert stripe.raw["receiver"] == "oncall-router"
    assert stripe.raw["groupKey"] == GROUP_KEY
    assert stripe.raw["externalURL"] == "http://alertmanager.monitoring.svc:9093"
    assert stripe.raw["startsAt"] == "2025-03-11T02:14:30.512Z"
    assert stripe.raw["fingerprint"] == "8f3c2a91d07b44e6"
    assert (adyen.dedup_key, adyen.labels["payment_provider"]) == ("1d6e0b7fa2c93855", "adyen")
    assert adyen.summary == "Charge failure rate 7.9% for provider adyen"


def test_resolved_group_resolves_the_same_keys() -> None:
    firing = parse(fixture("alertmanager_webhook_firing.json"))
    resolved = parse(fixture("alertmanager_webhook_resolved.json"))
    assert [a.status for a in resolved] == ["resolved", "resolved"]
    assert [a.dedup_key for a in resolved] == [a.dedup_key for a in firing]
    assert resolved[0].raw is not None and resolved[0].raw["endsAt"] == "2025-03-11T02:41:30.512Z"


def test_newer_alertmanager_fields_are_ignored() -> None:
    old = parse(fixture("alertmanager_webhook_firing.json"))
    new = parse(fixture("alertmanager_webhook_firing_v0.34.json"))
    assert [(a.type, a.summary, a.severity, a.status, a.dedup_key, a.labels) for a in new] == [
        (a.type, a.summary, a.severity, a.status, a.dedup_key, a.labels) for a in old]


def minimal(**alert: Any) -> dict[str, Any]:
    return {"version": "4", "groupKey": "{}:{}", "receiver": "r",
            "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull"}, **alert}]}


def test_without_a_fingerprint_the_key_hashes_group_key_and_labels() -> None:
    [a] = parse(minimal())
    [b] = parse(minimal(labels={"alertname": "DiskFull"}))
    [c] = parse(minimal(labels={"alertname": "DiskFull", "host": "db1"}))
    assert a.dedup_key == b.dedup_key == group_dedup_key("DiskFull", "{}:{}",
                                                         {"alertname": "DiskFull"})
    assert a.dedup_key.startswith("DiskFull:") and c.dedup_key != a.dedup_key
    other = minimal()
    other["groupKey"] = "{}:{x}"
    assert parse(other)[0].dedup_key != a.dedup_key


def test_common_labels_sit_under_the_alerts_own() -> None:
    body = minimal(labels={"alertname": "DiskFull", "env": "stage"})
    body["commonLabels"] = {"env": "prod", "team": "infra"}
    [a] = parse(body)
    assert a.labels == {"alertname": "DiskFull", "env": "stage", "team": "infra"}


def test_type_label_wins_over_alertname_and_summary_falls_back() -> None:
    [a] = parse(minimal(labels={"alertname": "DiskFull", "type": "disk"}))
    assert (a.type, a.summary, a.service, a.severity) == ("disk", "DiskFull", None, "warning")
    [b] = parse(minimal(annotations={"description": "95% full"}))
    assert b.summary == "95% full"
    [c] = parse(minimal(labels={}))
    assert (c.type, c.summary) == ("alertmanager", "alertmanager")


def test_long_summaries_are_cut_not_refused() -> None:
    [a] = parse(minimal(annotations={"summary": "x" * 5000}))
    assert len(a.summary) == 1024 and a.summary.endswith("…")


@pytest.mark.parametrize(("label", "expected"), [
    ("critical", "critical"), ("page", "critical"), ("CRITICAL", "critical"),
    ("error", "error"), ("high", "error"), ("warning", "warning"), ("warn", "warning"),
    ("info", "info"), ("low", "info"), ("none", "info"), ("bogus", "warning"), (None, "warning"),
])
def test_severity_mapping(label: str | None, expected: str) -> None:
    assert map_severity(label) == expected
    labels = {"alertname": "X"} if label is None else {"alertname": "X", "severity": label}
    assert parse(minimal(labels=labels))[0].severity == expected


@pytest.mark.parametrize(("annotation", "expected"), [
    ("12.5", 12.5), ("3", 3.0), (" 0.1 ", 0.1), ("12%", None), ("nan", None), ("inf", None),
    (None, None),
])
def test_value_comes_from_a_numeric_value_annotation(annotation: str | None,
                                                     expected: float | None) -> None:
    annotations = {} if annotation is None else {"value": annotation}
    assert parse(minimal(annotations=annotations))[0].value == expected


def test_a_payload_without_version_is_accepted() -> None:
    body = minimal()
    del body["version"]
    assert len(parse(body)) == 1


def broken(change: Any) -> dict[str, Any]:
    body = copy.deepcopy(fixture("alertmanager_webhook_firing.json"))
    change(body)
    return body


@pytest.mark.parametrize(("change", "field"), [
    (lambda b: b.update(version="3"), "version"),
    (lambda b: b.update(version="1", orgId=1), "version"),
    (lambda b: b.pop("alerts"), "alerts"),
    (lambda b: b.update(alerts={"0": {}}), "alerts"),
    (lambda b: b.update(alerts=[]), "alerts"),
    (lambda b: b["alerts"].__setitem__(1, "firing"), "alerts[1]"),
    (lambda b: b["alerts"][1].update(status="open"), "alerts[1].status"),
    (lambda b: b["alerts"][1].pop("status"), "alerts[1].status"),
    (lambda b: b["alerts"][0].pop("labels"), "alerts[0].labels"),
    (lambda b: b["alerts"][0].update(labels=["a"]), "alerts[0].labels"),
    (lambda b: b["alerts"][0]["labels"].update(env={"x": 1}), "alerts[0].labels.env"),
    (lambda b: b["alerts"][0].update(annotations="x"), "alerts[0].annotations"),
    (lambda b: b["alerts"][0]["annotations"].update(summary=1), "alerts[0].annotations.summary"),
    (lambda b: b["alerts"][0].update(fingerprint=5), "alerts[0].fingerprint"),
    (lambda b: b["alerts"][0]["labels"].update(alertname="A" * 101), "alerts[0].labels.alertname"),
    (lambda b: b.update(commonLabels=[]), "commonLabels"),
    (lambda b: b.update(groupKey=1), "groupKey"),
])
def test_malformed_payloads_name_the_field(change: Any, field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(broken(change))
    assert caught.value.field == field


def test_a_body_that_is_not_an_object() -> None:
    with pytest.raises(PayloadError) as caught:
        parse([{"status": "firing"}])
    assert caught.value.field == "body"


def test_a_grafana_body_is_refused_with_a_hint() -> None:
    with pytest.raises(PayloadError, match="grafana integration") as caught:
        parse(fixture("grafana_alerting_webhook.json"))
    assert caught.value.field == "version"
