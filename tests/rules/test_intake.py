"""Rules at intake: held below the threshold (stored, visible, paged to nobody), severity,
policy, summary, dedup key and runbook from the rule; no rule, no change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from oncall.models import Alert, Incident
from tests.conftest import Cast, alert
from tests.rules.conftest import at, incidents

VALUE_RULE = """
rules:
  - rule: api-errors
    match: {type: api_error_rate, service: billing-api}
    when: {value: "> 0.0144"}
    severity: warning
    policy: bob-first
    dedup_key: "api-errors:{endpoint}"
    summary: "API error ratio {value:.1%} on {endpoint}"
    runbook: https://runbooks.example.com/api-errors
"""
SPIKE_RULE = """
rules:
  - rule: charge-failure-spike
    match: {type: charge_failure}
    when: {count: ">= 3", within: 5m, per: [merchant_id]}
    summary: "{count} charge failures in {within} for merchant {merchant_id}"
"""


def post(client: Any, cast: Cast, **fields: Any) -> Any:
    r = client.post(f"/integrations/{cast.integration_token}", json=alert(**fields))
    assert r.status_code == 202, r.json
    return r.json["incidents"][0]


def test_an_alert_no_rule_matches_goes_to_its_services_policy(
        client: Any, cast: Cast, apply_rules: Callable[[str], Any], session: Any) -> None:
    apply_rules(VALUE_RULE)
    outcome = post(client, cast, type="charge_failure")
    assert outcome["new"] is True
    incident = session.get(Incident, outcome["incident_id"])
    assert incident.policy is None and incident.runbook is None  # the service's, at step 1
    assert session.scalars(select(Alert.rule)).all() == [None]


def test_a_value_rule_holds_an_alert_below_its_threshold(
        client: Any, cast: Cast, apply_rules: Callable[[str], Any], session: Any) -> None:
    apply_rules(VALUE_RULE)
    outcome = post(client, cast, type="api_error_rate", value=0.0144,
                   labels={"endpoint": "/charges"})
    assert outcome["status"] == "held" and outcome["incident_id"] is None
    assert session.scalar(select(Incident)) is None
    held = client.get("/api/v1/alerts?held=true", headers=cast.auth()).json["alerts"]
    assert [(a["rule"], a["value"], a["held"]) for a in held] == [("api-errors", 0.0144, True)]
    detail = client.get("/api/v1/rules/api-errors", headers=cast.auth()).json
    assert detail["held_last_24h"] == 1 and detail["kind"] == "value"


def test_an_alert_over_the_threshold_pages_as_the_rule_says(
        client: Any, cast: Cast, apply_rules: Callable[[str], Any], session: Any) -> None:
    apply_rules(VALUE_RULE)
    outcome = post(client, cast, type="api_error_rate", value=0.0213, severity="critical",
                   labels={"endpoint": "/charges"}, summary="error rate high")
    assert outcome["new"] is True
    incident = session.get(Incident, outcome["incident_id"])
    assert incident.dedup_key == "api-errors:/charges"
    assert incident.summary == "API error ratio 2.1% on /charges"
    assert incident.severity == "warning"
    assert incident.policy.name == "bob-first"
    assert incident.policy.to_json()["levels"][0]["targets"] == [{"type": "user",
                                                        "ref": "bob@example.com"}]
    detail = client.get(f"/api/v1/incidents/{incident.id}", headers=cast.auth()).json
    assert detail["runbook"] == "https://runbooks.example.com/api-errors"
    assert detail["timeline"][0]["detail"]["rule"] == "api-errors"
    # The alert keeps what its sender said.
    stored = session.scalar(select(Alert))
    assert (stored.summary, stored.severity, stored.held) == ("error rate high", "critical",
                                                              False)
    # A resolve for the same endpoint finds the incident by the rule's key.
    done = post(client, cast, type="api_error_rate", status="resolved",
                labels={"endpoint": "/charges"})
    assert done["incident_id"] == incident.id
    session.expire_all()
    assert session.get(Incident, incident.id).status == "resolved"


def test_a_count_rule_opens_one_incident_per_merchant_at_its_threshold(
        client: Any, cast: Cast, apply_rules: Callable[[str], Any], session: Any) -> None:
    apply_rules(SPIKE_RULE)
    first = [post(client, cast, labels={"merchant_id": "acme"}) for _ in range(2)]
    assert [o["status"] for o in first] == ["held", "held"]
    assert post(client, cast, labels={"merchant_id": "globex"})["status"] == "held"
    third = post(client, cast, labels={"merchant_id": "acme"})
    assert third["new"] is True
    fourth = post(client, cast, labels={"merchant_id": "acme"})
    assert fourth["incident_id"] == third["incident_id"] and fourth["new"] is False
    incident = session.get(Incident, third["incident_id"])
    assert incident.summary == "3 charge failures in 5m for merchant acme"
    assert incident.dedup_key == "rule:charge-failure-spike:merchant_id=acme"
    state = client.get("/api/v1/rules/charge-failure-spike", headers=cast.auth()).json
    groups = {g["labels"]["merchant_id"]: g for g in state["groups"]}
    assert groups["acme"]["over"] is True and groups["acme"]["observed"] == {"count": 4}
    assert groups["acme"]["incident"] == {"id": incident.id, "status": "triggered"}
    assert groups["globex"]["over"] is False and groups["globex"]["incident"] is None
    listed = client.get("/api/v1/rules", headers=cast.auth()).json["rules"]
    assert [(r["name"], r["kind"]) for r in listed] == [("charge-failure-spike", "count")]


def test_the_count_window_at_intake_follows_the_clock(
        apply_rules: Callable[[str], Any], send: Callable[..., Any], factory: Any) -> None:
    apply_rules(SPIKE_RULE)
    acme = {"labels": {"merchant_id": "acme"}}
    assert send(at(0), **acme).status == "held"
    assert send(at(2), **acme).status == "held"
    # At 12:05 the 12:00 alert has left the window: two in it, still held.
    assert send(at(5), **acme).status == "held"
    # At 12:06 the alerts of 12:02, 12:05 and 12:06 are three: crossed.
    crossed = send(at(6), **acme)
    assert crossed.new is True and crossed.status == "triggered"
    [incident] = incidents(factory)
    assert incident.summary == "3 charge failures in 5m for merchant acme"


def test_a_senders_resolve_does_not_close_a_windowed_rules_incident(
        apply_rules: Callable[[str], Any], send: Callable[..., Any], factory: Any) -> None:
    apply_rules(SPIKE_RULE)
    for minute in range(3):
        opened = send(at(minute), labels={"merchant_id": "acme"})
    resolved = send(at(3), labels={"merchant_id": "acme"}, status="resolved")
    assert resolved.incident_id is None and resolved.status == "resolved"
    [incident] = incidents(factory)
    assert incident.id == opened.incident_id and incident.status == "triggered"


def test_a_pass_through_rule_sets_severity_and_summary(
        apply_rules: Callable[[str], Any], send: Callable[..., Any], factory: Any) -> None:
    apply_rules("""
rules:
  - rule: cron
    match: {type: cron_miss}
    severity: critical
    summary: "Billing cron: {summary}"
""")
    outcome = send(at(0), type="cron_miss", summary="nightly-invoice-run missed",
                   severity="warning")
    assert outcome.new is True
    [incident] = incidents(factory)
    assert (incident.severity, incident.summary) == ("critical",
                                                     "Billing cron: nightly-invoice-run missed")


def test_a_count_rule_groups_numeric_labels_and_filters_on_labels(
        apply_rules: Callable[[str], Any], send: Callable[..., Any], factory: Any) -> None:
    apply_rules("""
rules:
  - rule: stripe-spike
    match: {type: charge_failure, labels: {processor: stripe}}
    when: {count: "> 1", within: 5m, per: [merchant_id]}
""")
    stripe = {"processor": "stripe", "merchant_id": 42}
    assert send(at(0), labels=stripe).status == "held"
    # Another processor is not this rule's: it goes to the service's policy, and is not
    # counted by the rule.
    other = send(at(1), labels={"processor": "adyen", "merchant_id": 42})
    assert other.new is True
    assert send(at(2), labels={**stripe, "merchant_id": "43"}).status == "held"
    crossed = send(at(3), labels=stripe)  # the second for merchant 42 (sent as a number)
    assert crossed.new is True
    [_, incident] = incidents(factory)
    assert incident.dedup_key == "rule:stripe-spike:merchant_id=42"
    assert incident.summary == "stripe-spike (merchant_id=42): 2 alerts in 5m (> 1)"


def test_a_batch_is_judged_alert_by_alert_when_a_rule_matches(
        client: Any, cast: Cast, apply_rules: Callable[[str], Any], session: Any) -> None:
    apply_rules(SPIKE_RULE)
    batch = [alert(labels={"merchant_id": "acme"}) for _ in range(3)]
    batch.append(alert(type="cron_miss", summary="nightly run missed", labels={}))
    r = client.post(f"/integrations/{cast.integration_token}", json=batch)
    assert r.status_code == 202
    assert [o["status"] for o in r.json["incidents"]] == ["held", "held", "triggered",
                                                          "triggered"]
    assert [o["new"] for o in r.json["incidents"]][2:] == [True, True]
    assert session.scalar(select(Incident).where(
        Incident.id == r.json["incidents"][2]["incident_id"])).summary == \
        "3 charge failures in 5m for merchant acme"
