"""A batch of alerts judged by rules (an Alertmanager group, a JSON array): on PostgreSQL one
statement stores the whole batch, so the rules judge every alert before any is stored. The
outcome must be what storing them one by one gives (as SQLite does): earlier alerts of the
batch count toward later ones' windows, the alert that crosses opens the group's incident,
the rest of its group join it, and other groups are held or paged on their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from oncall.models import Alert, Incident, RuleState
from tests.conftest import Cast, alert
from tests.rules.conftest import incidents, timeline

SPIKE_RULE = """
rules:
  - rule: charge-failure-spike
    match: {type: charge_failure}
    when: {count: ">= 3", within: 5m, per: [merchant_id]}
    severity: critical
    policy: bob-first
    summary: "{count} charge failures in {within} for merchant {merchant_id}"
    runbook: docs/runbooks/charge-failures.md
  - rule: cron-miss
    match: {type: cron_miss}
    severity: critical
    summary: "Billing cron: {summary}"
"""


def charge(merchant: str, n: int) -> dict[str, Any]:
    return alert(type="charge_failure", dedup_key=f"{merchant}-{n}", severity="warning",
                 summary=f"charge {n} failed", labels={"merchant_id": merchant})


def post(client: Any, cast: Cast, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    r = client.post(f"/integrations/{cast.integration_token}", json=batch)
    assert r.status_code == 202, r.json
    return list(r.json["incidents"])


def test_a_batch_counts_its_own_earlier_alerts_and_opens_one_incident_per_group(
        client: Any, cast: Cast, apply_rules: Callable[[str], Any], factory: Any) -> None:
    apply_rules(SPIKE_RULE)
    batch = [charge("acme", 1), charge("globex", 1), charge("acme", 2), charge("acme", 3),
             alert(type="cron_miss", summary="nightly charge run missed", dedup_key="cron"),
             charge("acme", 4), charge("globex", 2), alert(type="other", dedup_key="x")]
    out = post(client, cast, batch)
    assert [o["status"] for o in out] == ["held", "held", "held", "triggered", "triggered",
                                          "triggered", "held", "triggered"]
    assert [o["new"] for o in out] == [False, False, False, True, True, False, False, True]
    acme, cron, other = out[3]["incident_id"], out[4]["incident_id"], out[7]["incident_id"]
    assert out[5]["incident_id"] == acme  # the fourth joins the incident the third opened
    by_id = {i.id: i for i in incidents(factory)}
    assert sorted(by_id) == sorted([acme, cron, other])
    assert by_id[acme].dedup_key == "rule:charge-failure-spike:merchant_id=acme"
    assert by_id[acme].summary == "3 charge failures in 5m for merchant acme"
    assert by_id[acme].severity == "critical"
    assert by_id[acme].runbook == "docs/runbooks/charge-failures.md"
    assert by_id[acme].policy.name == "bob-first"
    assert by_id[cron].summary == "Billing cron: nightly charge run missed"
    assert by_id[other].policy is None and by_id[other].dedup_key == "x"
    [triggered] = [e for e in timeline(factory, acme) if e[0] == "triggered"]
    assert triggered[2]["rule"] == "charge-failure-spike"
    assert triggered[2]["alert_id"] == out[3]["alert_id"]
    with factory() as s:
        stored = s.execute(select(Alert.dedup_key, Alert.held, Alert.rule, Alert.incident_id)
                           .order_by(Alert.id)).all()
        assert [(k, h) for k, h, _, _ in stored] == [
            ("acme-1", True), ("globex-1", True), ("acme-2", True), ("acme-3", False),
            ("cron", False), ("acme-4", False), ("globex-2", True), ("x", False)]
        assert [r for _, _, r, _ in stored][:2] == ["charge-failure-spike"] * 2
        state = s.scalars(select(RuleState)).one()
        assert (state.rule, state.firing, state.incident_id) == (
            "charge-failure-spike", True, acme)


def test_the_next_batch_for_a_paged_group_joins_its_incident(
        client: Any, cast: Cast, apply_rules: Callable[[str], Any], factory: Any) -> None:
    apply_rules(SPIKE_RULE)
    first = post(client, cast, [charge("acme", n) for n in range(1, 4)])
    acme = first[2]["incident_id"]
    again = post(client, cast, [charge("acme", n) for n in range(4, 8)] + [charge("globex", 1)])
    assert [(o["incident_id"], o["new"]) for o in again[:4]] == [(acme, False)] * 4
    assert again[4]["status"] == "held"
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
        assert s.scalar(select(func.count()).select_from(Alert)
                        .where(Alert.incident_id == acme)) == 5


def test_a_batch_no_rule_matches_opens_an_incident_per_key(
        client: Any, cast: Cast, apply_rules: Callable[[str], Any], factory: Any) -> None:
    apply_rules(SPIKE_RULE)
    out = post(client, cast, [alert(type="other", dedup_key=k) for k in "aba"])
    assert [o["new"] for o in out] == [True, True, False]
    assert out[0]["incident_id"] == out[2]["incident_id"] != out[1]["incident_id"]
