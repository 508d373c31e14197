"""The PagerDuty mapping without HTTP: a property test (random PagerDuty-shaped layer sets
against the fake's independent expansion of the same layers) and the approximations, each of
which must be in the report."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall.importers.files import schedule_specs
from oncall.importers.pagerduty.account import Account
from oncall.importers.pagerduty.mapping import PagerDutyImport, map_account
from oncall.importers.verify import Difference, compare
from oncall.schedules.rotation import final_shifts
from tests.importers.pd_fake import final_schedule
from tests.importers.pd_fixture import (
    NOW,
    daily_r,
    layer,
    override,
    ref,
    schedule,
    sref,
    user,
    weekly_r,
)

USERS = [user(f"PU{i}", f"User {i}", f"u{i}@example.com", "UTC") for i in range(4)]
EMAILS = {u["id"]: u["email"] for u in USERS}
WINDOW = (NOW, NOW + timedelta(weeks=6))  # across 2027-03-14 (US) and 2027-03-28 (UK)


def _import(tmp: Path, schedules: list[dict[str, Any]],
            overrides: dict[str, list[dict[str, Any]]] | None = None,
            policies: list[dict[str, Any]] | None = None) -> PagerDutyImport:
    acc = Account(users=USERS, contacts={}, schedules=schedules,
                  overrides=overrides or {}, policies=policies or [], services=[])
    result = map_account(acc, NOW)
    for rel, text in result.files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_text(text)
    return result


def _diff(tmp: Path, result: PagerDutyImport, sched: dict[str, Any],
          overrides: list[dict[str, Any]]) -> list[Difference]:
    name = next(n for n, i in result.schedule_ids.items() if i == sched["id"])
    spec = schedule_specs(tmp)[name]
    ours = [(x.start, x.end, x.user) for x in final_shifts(spec, *WINDOW)]
    theirs = [(s, e, EMAILS[u]) for s, e, u in final_schedule(sched, overrides, *WINDOW)]
    return compare(name, theirs, ours, *WINDOW)


def _local(d: date, minutes: int, tz: str) -> datetime:
    naive = datetime(d.year, d.month, d.day) + timedelta(minutes=minutes)
    return naive.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _iso(at: datetime) -> str:
    return at.isoformat()


@st.composite
def layers(draw: Any, tz: str, index: int) -> dict[str, Any]:
    days = draw(st.sampled_from([0, 1, 2, 3, 7, 14]))
    length = days * 86400 if days else draw(st.sampled_from([2, 4, 6, 8, 12, 36])) * 3600
    vday = date(2027, 1, 1) + timedelta(days=draw(st.integers(0, 55)))
    virtual = _local(vday, draw(st.integers(0, 95)) * 15, tz)
    turn = timedelta(seconds=length)
    choice = draw(st.sampled_from(["virtual", "past", "future-handoff"]))
    if choice == "virtual":
        start = virtual
    elif choice == "past":  # any time before now: earlier turns are past anyway
        start = virtual + timedelta(minutes=draw(st.integers(0, 60 * 24 * 20)))
        start = min(start, NOW)
    else:  # a future handoff (whole days: at the local handoff time)
        n = draw(st.integers(1, 20))
        if days:
            vlocal = virtual.astimezone(ZoneInfo(tz))
            k = (NOW.date() - vlocal.date()).days // days + n
            start = _local(vlocal.date() + timedelta(days=k * days),
                           vlocal.hour * 60 + vlocal.minute, tz)
        else:
            k = int((NOW - virtual) / turn) + n
            start = virtual + k * turn
    end = None
    if draw(st.booleans()):
        end = _local(NOW.date() + timedelta(days=draw(st.integers(1, 45))), 0, tz)
        if end <= start:
            end = None
    members = draw(st.permutations([u["id"] for u in USERS]))[:draw(st.integers(1, 4))]
    restrictions = []
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, 95)) * 15
        clock = f"{at // 60:02d}:{at % 60:02d}:00"
        if draw(st.booleans()):
            restrictions.append(daily_r(clock, draw(st.integers(1, 96)) * 15 * 60))
        else:
            restrictions.append(weekly_r(draw(st.integers(1, 7)), clock,
                                         draw(st.integers(1, 7 * 96)) * 15 * 60))
    return layer(f"PL{index}", f"Layer {index}", list(members), length, _iso(virtual),
                 _iso(start), _iso(end) if end else None, restrictions)


@st.composite
def schedules(draw: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    tz = draw(st.sampled_from(["America/New_York", "Europe/London", "Australia/Lord_Howe"]))
    count = draw(st.integers(1, 3))
    sched = schedule("PS1", "Random", tz, [draw(layers(tz, i)) for i in range(count)])
    overrides = []
    for i in range(draw(st.integers(0, 2))):
        start = NOW + timedelta(minutes=draw(st.integers(0, 60 * 24 * 40)))
        end = start + timedelta(minutes=draw(st.integers(15, 60 * 24 * 3)))
        overrides.append(override(f"PO{i}", draw(st.sampled_from(list(EMAILS))), _iso(start),
                                  _iso(end)))
    return sched, overrides


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(case=schedules())
def test_random_layer_sets_match_an_independent_expansion(tmp_path_factory: Any,
                                                          case: Any) -> None:
    sched, overrides = case
    tmp = tmp_path_factory.mktemp("pd")
    result = _import(tmp, [sched], {"PS1": overrides})
    assert result.report.of("approximated") == []
    if not result.schedule_ids:  # every layer ended (reported)
        assert result.report.of("not mapped")
        return
    assert _diff(tmp, result, sched, overrides) == []


def test_a_future_layer_starting_mid_turn_is_reported_with_the_difference(
        tmp_path: Path) -> None:
    sched = schedule("PS1", "Mid", "America/New_York", [
        layer("PL1", "Base", ["PU0"], 86400, "2027-01-04T09:00:00-05:00",
              "2027-01-04T09:00:00-05:00"),
        layer("PL2", "Later", ["PU1", "PU2"], 7 * 86400, "2027-01-04T09:00:00-05:00",
              "2027-03-10T15:00:00-05:00")])  # a Wednesday afternoon: mid-turn
    result = _import(tmp_path, [sched])
    [entry] = result.report.of("approximated")
    assert entry.kind == "layer" and entry.name == "Mid / Later"
    assert "in the middle of a turn" in entry.detail and "2027-03-15 13:00 UTC" in entry.detail
    [diff] = _diff(tmp_path, result, sched, [])
    assert (diff.start, diff.end) == (datetime(2027, 3, 10, 20, tzinfo=UTC),
                                      datetime(2027, 3, 15, 13, tzinfo=UTC))
    assert (diff.source, diff.ours) == ("u2@example.com", "u0@example.com")  # turn 9
    assert "(u2@example.com)" in entry.detail


def test_an_end_off_midnight_is_reported(tmp_path: Path) -> None:
    sched = schedule("PS1", "Ends", "Europe/London", [
        layer("PL1", "Ending", ["PU0", "PU1"], 86400, "2027-01-04T09:00:00Z",
              "2027-01-04T09:00:00Z", end="2027-03-20T18:00:00Z")])
    result = _import(tmp_path, [sched])
    [entry] = result.report.of("approximated")
    assert "ends at 2027-03-20 18:00 GMT" in entry.detail and "2027-03-21 00:00" in entry.detail
    [diff] = _diff(tmp_path, result, sched, [])
    assert diff.source is None and diff.minutes == 6 * 60


def test_what_cannot_be_expressed_is_not_mapped_and_says_why(tmp_path: Path) -> None:
    sched = schedule("PS1", "Odd", "America/New_York", [
        layer("PL1", "Ninety minutes", ["PU0"], 5400, "2027-01-04T09:00:00-05:00",
              "2027-01-04T09:00:00-05:00"),
        layer("PL2", "Seconds", ["PU1"], 86400, "2027-01-04T09:00:00-05:00",
              "2027-01-04T09:00:00-05:00", restrictions=[daily_r("09:00:30", 3600)]),
        layer("PL3", "Nobody", [], 86400, "2027-01-04T09:00:00-05:00",
              "2027-01-04T09:00:00-05:00")])
    policies = [{"id": "PEP1", "type": "escalation_policy", "name": "Loops", "num_loops": 25,
                 "escalation_rules": [
                     {"escalation_delay_in_minutes": 5, "targets": [sref("PS1"), ref("PU0")],
                      "escalation_rule_assignment_strategy": "round_robin"},
                     {"escalation_delay_in_minutes": 5, "targets": [sref("PGONE")]}]}]
    result = _import(tmp_path, [sched], policies=policies)
    not_mapped = {(e.kind, e.name): e.detail for e in result.report.of("not mapped")}
    assert "our rotations are whole hours or whole days" in \
        not_mapped[("layer", "Odd / Ninety minutes")]
    assert "not on whole minutes" in not_mapped[("restriction", "Odd / Seconds")]
    assert "no users" in not_mapped[("layer", "Odd / Nobody")]
    assert "no target left" in not_mapped[("rule", "Loops rule 2")]
    approximated = {(e.kind, e.name): e.detail for e in result.report.of("approximated")}
    assert "imported as 20" in approximated[("policy", "Loops")]
    assert "round-robin" in approximated[("rule", "Loops rule 1")]
    assert "repeat: 20" in result.files["rules/pagerduty.yaml"]


def test_a_layer_without_a_whole_turn_before_its_end_is_not_mapped(tmp_path: Path) -> None:
    sched = schedule("PS1", "Short", "America/New_York", [
        layer("PL1", "Base", ["PU0"], 86400, "2027-01-04T09:00:00-05:00",
              "2027-01-04T09:00:00-05:00"),
        layer("PL2", "Brief", ["PU1"], 86400, "2027-01-04T09:00:00-05:00",
              "2027-04-05T03:00:00-04:00", end="2027-04-05T06:00:00-04:00")])
    result = _import(tmp_path, [sched])
    not_mapped = {(e.kind, e.name): e.detail for e in result.report.of("not mapped")}
    assert "before its first handoff from now on" in not_mapped[("layer", "Short / Brief")]
    assert "Brief" not in result.files["schedules/short.yaml"]


def test_integrations_map_by_the_api_their_sender_speaks() -> None:
    """Full integration objects (what ``include[]=integrations`` gives; the fake serves the
    references the spec describes) map by their type, whatever the vendor: Events API v2
    to ours, the rest reported with why. A name cannot add a line to integrations.sh."""
    vendor = {"id": "PV1", "type": "vendor_reference", "summary": "Datadog"}
    full = [
        {"id": "PI7", "type": "events_api_v2_inbound_integration", "name": "Datadog",
         "summary": "Datadog", "vendor": vendor},
        {"id": "PI8", "type": "events_api_v2_inbound_integration",
         "summary": "Evil\noncall user remove alice@example.com"},
        {"id": "PI9", "type": "generic_events_api_inbound_integration", "summary": "New Relic",
         "vendor": {**vendor, "summary": "New Relic"}},
        {"id": "PI10", "type": "inbound_integration_reference", "summary": "Some app"},
        {"id": "PI11", "type": "some_new_inbound_integration", "summary": "Future"},
    ]
    policy = {"id": "PEPX", "name": "P", "escalation_rules": [{"targets": [ref("PU0")]}]}
    service = {"id": "PS1", "name": "Web", "escalation_policy": {"id": "PEPX"},
               "integrations": full}
    result = map_account(Account(users=USERS, policies=[policy], services=[service]), NOW)
    entries = json.loads(result.files["integrations.json"])
    assert [(e["service"], e["kind"], e["name"]) for e in entries] == [
        ("web", "pagerduty", "web-pagerduty"), ("web", "pagerduty", "web-pagerduty-2")]
    assert entries[0]["source"] == ("PagerDuty integration 'Datadog' (PI7, "
                                    "events_api_v2_inbound_integration, vendor Datadog) of "
                                    "service 'Web'")
    script = result.files["integrations.sh"].splitlines()
    assert [x for x in script if not x.startswith("#")] == [
        "set -e", "oncall integration add web --kind pagerduty --name web-pagerduty",
        "oncall integration add web --kind pagerduty --name web-pagerduty-2"]
    report = result.report.text()
    assert "integration Web / New Relic: PagerDuty Events API v1: our /v2/enqueue speaks " \
        "Events API v2 only" in report
    assert "integration Web / Some app: PagerDuty does not say which API" in report
    assert "integration Web / Future: type 'some_new_inbound_integration': not one we " \
        "know" in report
