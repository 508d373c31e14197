"""The beat's re-evaluation: incidents open when a windowed condition crosses with no new
alert, and resolve once it has stayed clear for the rule's hold-down; each step is on the
timeline. Time is passed in explicitly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from oncall import incidents as incident_actions
from oncall.models import Alert, Integration, User, utcnow
from oncall.rules import tick
from tests.conftest import WorkerProcess, pages_for, wait_for
from tests.rules.conftest import at, incidents, timeline

SPIKE_RULE = """
rules:
  - rule: spike
    match: {type: charge_failure}
    when: {count: ">= 3", within: 5m, per: [merchant_id]}
    hold_down: 10m
    policy: bob-first
    summary: "{count} charge failures for {merchant_id}"
    runbook: docs/runbooks/charge-failures.md
"""
BURN_RULE = """
rules:
  - rule: burn
    match: {type: api_error_rate}
    when: {burn_rate: {slo: 99.9, long: 1h, short: 5m, factor: 14.4, min_events: 100}}
    hold_down: 5m
    severity: critical
    summary: "burning {burn_long:.1f}x / {burn_short:.1f}x"
"""


def run(factory: Any, minutes: float) -> tick.TickReport:
    return tick.run(factory, at(minutes))


def spike(send: Callable[..., Any], minutes: list[float], merchant: str = "acme") -> list[Any]:
    return [send(at(m), labels={"merchant_id": merchant}) for m in minutes]


def kinds(factory: Any, incident_id: int) -> list[str]:
    return [k for k, _, _ in timeline(factory, incident_id)]


def test_a_burn_rate_crossing_with_no_new_alert_opens_an_incident_on_the_tick(
        apply_rules: Callable[[str], Any], send: Callable[..., Any], factory: Any) -> None:
    apply_rules(BURN_RULE)
    # Clean traffic at 12:00-12:09, then 1.6% errors (16x burn) every minute to 13:08.
    for m in range(0, 10):
        assert send(at(m), type="api_error_rate", labels={"errors": 0, "total": 1000}
                    ).status == "held"
    for m in range(10, 69):
        assert send(at(m), type="api_error_rate", labels={"errors": 1.6, "total": 100}
                    ).status == "held"  # the clean samples keep the long window under 14.4x
    assert run(factory, 68.99).opened == []
    # 13:09: the last clean sample (12:09) leaves the hour: both windows burn 16x, and no
    # alert arrives to notice: the tick does.
    report = run(factory, 69)
    [incident] = incidents(factory)
    assert report.opened == [incident.id]
    assert incident.summary == "burning 16.0x / 16.0x" and incident.severity == "critical"
    [(kind, actor, detail)] = timeline(factory, incident.id)
    assert (kind, actor) == ("triggered", "rule:burn")
    assert "threshold crossed" in detail["reason"] and detail["observed"]["burn_long"] == 16.0
    assert run(factory, 69.25).opened == []  # the next tick changes nothing
    assert len(incidents(factory)) == 1


def test_a_count_incident_resolves_after_the_hold_down_and_not_before(
        apply_rules: Callable[[str], Any], send: Callable[..., Any], factory: Any) -> None:
    apply_rules(SPIKE_RULE)
    opened = spike(send, [0, 1, 2])[-1]
    assert opened.new is True
    assert run(factory, 3).resolved == []
    # 12:05: the 12:00 alert has left the window: clear; the hold-down starts.
    run(factory, 5)
    assert kinds(factory, opened.incident_id) == ["triggered", "condition_cleared"]
    assert run(factory, 14.9).resolved == []  # clear for 9m54s of 10m
    assert incidents(factory)[0].status == "triggered"
    assert run(factory, 15).resolved == [opened.incident_id]
    [incident] = incidents(factory)
    assert incident.status == "resolved" and incident.resolved_by == "rule:spike"
    kind, actor, detail = timeline(factory, incident.id)[-1]
    assert (kind, actor) == ("resolved", "rule:spike")
    assert "hold-down 10m" in detail["reason"]


def test_the_hold_down_restarts_when_the_condition_returns(
        apply_rules: Callable[[str], Any], send: Callable[..., Any], factory: Any) -> None:
    apply_rules(SPIKE_RULE)
    opened = spike(send, [0, 1, 2])[-1]
    run(factory, 5)  # (12:00, 12:05]: two alerts: clear from 12:05
    # (12:01, 12:06]: 12:02 and this one: two, held.
    assert spike(send, [6])[0].status == "held"
    # (12:01:30, 12:06:30]: 12:02, 12:06 and this one: three: it joins the open incident.
    assert spike(send, [6.5])[0].incident_id == opened.incident_id
    run(factory, 6.5)
    assert kinds(factory, opened.incident_id) == ["triggered", "condition_cleared",
                                                  "condition_returned"]
    run(factory, 12)  # (12:07, 12:12]: empty: clear again, from 12:12
    # Had the first hold-down (from 12:05) kept running, it would end at 12:15.
    assert run(factory, 15.5).resolved == []
    assert run(factory, 21.9).resolved == []
    assert run(factory, 22).resolved == [opened.incident_id]
    assert kinds(factory, opened.incident_id)[-2:] == ["condition_cleared", "resolved"]
    assert len(incidents(factory)) == 1


def test_an_incident_resolved_by_a_person_while_over_stays_resolved_until_it_clears(
        apply_rules: Callable[[str], Any], send: Callable[..., Any], factory: Any,
        cast: Any) -> None:
    apply_rules(SPIKE_RULE)
    opened = spike(send, [0, 1, 2])[-1]
    with factory() as s, s.begin():
        incident_actions.resolve(s, opened.incident_id, "alice@example.com", at(2.5))
    assert run(factory, 3).opened == []  # still over, but a person closed it
    assert [i.status for i in incidents(factory)] == ["resolved"]
    run(factory, 8)  # clear: the spell is over
    # Stored without intake's evaluation (as racing requests would leave them): only the
    # tick can open the new spell's incident.
    with factory() as s, s.begin():
        integration_id = s.scalar(select(Integration.id))
        for m in (9, 9.5, 10):
            s.add(Alert(integration_id=integration_id, type="charge_failure",
                        status="firing", severity="critical", summary="charge failed",
                        dedup_key="x", labels={"merchant_id": "acme"},
                        received_at=at(m), rule="spike", held=True))
    report = run(factory, 10)
    assert len(report.opened) == 1 and report.opened[0] != opened.incident_id


def test_the_tick_opens_what_intake_missed_and_uses_the_rules_policy_and_runbook(
        apply_rules: Callable[[str], Any], send: Callable[..., Any], factory: Any,
        cast: Any) -> None:
    apply_rules(SPIKE_RULE)
    with factory() as s, s.begin():
        for m in (0, 1, 2):  # stored held by racing requests, none saw the other two
            s.add(Alert(integration_id=None, type="charge_failure", status="firing",
                        severity="critical", summary="charge failed", dedup_key="x",
                        service="billing-api", labels={"merchant_id": "globex"},
                        received_at=at(m), rule="spike", held=True))
    report = run(factory, 2.5)
    [incident] = incidents(factory)
    assert report.opened == [incident.id]
    assert incident.summary == "3 charge failures for globex"
    assert incident.dedup_key == "rule:spike:merchant_id=globex"
    assert incident.policy.name == "bob-first"
    assert incident.runbook == "docs/runbooks/charge-failures.md"
    assert incident.service_id == cast.service.id


@pytest.mark.worker
@pytest.mark.slow
def test_the_beat_opens_and_pages_a_crossing_nobody_posted(
        apply_rules: Callable[[str], Any], factory: Any, worker: WorkerProcess) -> None:
    apply_rules(SPIKE_RULE)
    now = utcnow()
    with factory() as s, s.begin():  # three stored, none of them evaluated at intake
        integration_id = s.scalar(select(Integration.id))
        for seconds in (3, 2, 1):
            s.add(Alert(integration_id=integration_id, type="charge_failure",
                        status="firing", severity="critical", summary="charge failed",
                        dedup_key="x", labels={"merchant_id": "acme"}, rule="spike",
                        held=True, received_at=now - timedelta(seconds=seconds)))
    worker.extra_env = {"ONCALL_RULES_INTERVAL": "1"}
    worker.start()
    [incident] = wait_for(lambda: incidents(factory), 30, what="the tick's incident")
    assert incident.summary == "3 charge failures for acme"
    [page] = wait_for(lambda: pages_for(factory, incident.id), 20, what="the page")
    with factory() as s:
        assert s.get(User, page.user_id).email == "bob@example.com"  # the rule's policy


def test_alerts_for_a_group_already_over_join_its_incident_without_counting_again(
        apply_rules: Callable[[str], Any], send: Callable[..., Any], factory: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from oncall.rules import store

    apply_rules(SPIKE_RULE)
    opened = spike(send, [0, 1, 2])[-1]
    assert opened.new
    counted: list[str] = []
    real = store.samples
    monkeypatch.setattr(store, "samples", lambda *a, **k: counted.append("x") or real(*a, **k))
    storm = spike(send, [2.1, 2.2, 2.3])
    assert [o.incident_id for o in storm] == [opened.incident_id] * 3
    assert counted == []  # the open group's incident is found by its rule state
    other = spike(send, [2.4], merchant="globex")[0]
    assert other.status == "held" and counted == ["x"]  # another group is still counted
    run(factory, 8)  # (12:03, 12:08]: empty: the hold-down starts; alerts are counted again
    counted.clear()
    assert spike(send, [8.1])[0].status == "held" and counted == ["x"]
