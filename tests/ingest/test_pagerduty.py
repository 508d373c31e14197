"""The PagerDuty Events API v2 adapter: the shared fixtures, PagerDuty's checks and limits,
and its answers."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from oncall.ingest import PayloadError
from oncall.ingest.pagerduty import (
    PagerDutyError,
    PagerDutyEvent,
    flatten,
    parse_event,
    response_202,
    response_400,
)

# The repo's CI places ``shared/`` beside the repository: <parent>/shared/fixtures.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KEY = "3f9b2c7d41e84a06b5d1c8e27a90f4b3"
DEDUP = "billing/prod/cron-miss/nightly-invoice-run"


def fixture(name: str) -> Any:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES} (expected beside the repo)")
    return json.loads((FIXTURES / name).read_text())


def event(action: str) -> dict[str, Any]:
    return copy.deepcopy(fixture(f"pagerduty_events_v2_{action}.json"))


def errors_of(body: Any) -> list[str]:
    with pytest.raises(PagerDutyError) as caught:
        parse_event(body)
    return caught.value.errors


def test_trigger() -> None:
    body = event("trigger")
    e = parse_event(body)
    assert (e.routing_key, e.action, e.dedup_key) == (KEY, "trigger", DEDUP)
    a = e.alert
    assert a is not None
    assert (a.type, a.severity, a.status, a.dedup_key, a.service, a.value) == (
        "cron_miss", "critical", "firing", DEDUP, None, None)
    assert a.summary == body["payload"]["summary"]
    assert a.labels == {
        "source": "billing-scheduler-01.prod.internal", "component": "nightly-invoice-run",
        "group": "billing", "class": "cron_miss", "check": "nightly-invoice-run",
        "schedule": "0 1 * * *", "timezone": "America/New_York", "grace_seconds": 1800,
        "last_success": "2025-03-10T05:00:41Z", "status": "down", "invoices_pending": 18342}
    assert a.raw == body


def test_acknowledge_has_no_alert() -> None:
    assert parse_event(event("acknowledge")) == PagerDutyEvent(KEY, "acknowledge", DEDUP, None)


def test_resolve_gives_a_resolved_alert_with_the_key() -> None:
    e = parse_event(event("resolve"))
    assert (e.action, e.dedup_key) == ("resolve", DEDUP)
    assert e.alert is not None
    assert (e.alert.status, e.alert.dedup_key, e.alert.type) == ("resolved", DEDUP, "pagerduty")


def test_a_trigger_without_dedup_key_gets_a_new_one() -> None:
    body = event("trigger")
    del body["dedup_key"]
    first, second = parse_event(body), parse_event(body)
    assert re.fullmatch(r"[0-9a-f]{32}", first.dedup_key)
    assert first.dedup_key != second.dedup_key
    assert first.alert is not None and first.alert.dedup_key == first.dedup_key
    assert first.alert.labels["class"] == "cron_miss"
    body["dedup_key"] = ""
    assert parse_event(body).dedup_key != ""


def test_minimal_trigger_defaults() -> None:
    e = parse_event({"routing_key": KEY, "event_action": "trigger",
                     "payload": {"summary": "s", "source": "h", "severity": "info"}})
    assert e.alert is not None
    assert (e.alert.type, e.alert.labels, e.alert.severity) == ("pagerduty", {"source": "h"},
                                                                "info")


def test_custom_details_flatten_to_scalars() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": None}}, "l": [1, "x"], "s": "t"}) == {
        "a.b": 1, "a.c.d": None, "l": '[1, "x"]', "s": "t"}


def test_response_202_matches_pagerdutys_body() -> None:
    e = parse_event(event("trigger"))
    assert response_202(e.dedup_key) == fixture("pagerduty_events_v2_response_202.json")


def test_response_400_matches_pagerdutys_body() -> None:
    body = event("trigger")
    body["payload"]["severity"] = "catastrophic"
    with pytest.raises(PagerDutyError) as caught:
        parse_event(body)
    assert isinstance(caught.value, PayloadError)
    assert caught.value.field == "payload.severity"
    assert response_400(caught.value) == fixture("pagerduty_events_v2_response_400.json")


def test_a_body_that_is_not_an_object_is_unrecognized() -> None:
    with pytest.raises(PagerDutyError) as caught:
        parse_event([1])
    reply = response_400(caught.value)
    assert (reply["status"], reply["message"]) == (
        "Unrecognized object", "Event object format is unrecognized")


@pytest.mark.parametrize(("change", "errors"), [
    (lambda b: b["payload"].pop("summary"), ["'payload.summary' is missing"]),
    (lambda b: b["payload"].update(summary="  "), ["'payload.summary' is missing"]),
    (lambda b: b["payload"].update(summary="x" * 1025),
     ["'payload.summary' is invalid (must be at most 1024 characters)"]),
    (lambda b: b["payload"].pop("source"), ["'payload.source' is missing"]),
    (lambda b: b["payload"].pop("severity"), ["'payload.severity' is missing"]),
    (lambda b: b["payload"].update(severity="Critical"),
     ["'payload.severity' is invalid (must be one of the following: 'critical', 'warning', "
      "'error' or 'info')"]),
    (lambda b: b.pop("payload"), ["'payload' is missing"]),
    (lambda b: b.update(payload="x"), ["'payload' is invalid (must be an object)"]),
    (lambda b: b.pop("routing_key"), ["'routing_key' is missing"]),
    (lambda b: b.update(routing_key="short"),
     ["'routing_key' is invalid (must be a 32-character integration key)"]),
    (lambda b: b.update(routing_key=KEY + "x"),
     ["'routing_key' is invalid (must be a 32-character integration key)"]),
    (lambda b: b.pop("event_action"), ["'event_action' is missing"]),
    (lambda b: b.update(event_action="snooze"),
     ["'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or "
      "'resolve')"]),
    (lambda b: b.update(dedup_key="k" * 256),
     ["'dedup_key' is invalid (must be at most 255 characters)"]),
    (lambda b: b.update(dedup_key=7), ["'dedup_key' is invalid (must be a string)"]),
    (lambda b: b["payload"].update(timestamp="yesterday"),
     ["'payload.timestamp' is invalid (must be an ISO 8601 date and time)"]),
    (lambda b: b["payload"].update(component=3),
     ["'payload.component' is invalid (must be a string)"]),
    (lambda b: b["payload"].update(custom_details=[1]),
     ["'payload.custom_details' is invalid (must be an object)"]),
    (lambda b: b["images"][0].update(src="http://insecure.example.com/x.png"),
     ["'images[0].src' is invalid (must be an HTTPS URL)"]),
    (lambda b: b["images"][0].pop("src"), ["'images[0].src' is missing"]),
    (lambda b: b["links"][1].pop("href"), ["'links[1].href' is missing"]),
    (lambda b: b.update(links={}), ["'links' is invalid (must be an array)"]),
    (lambda b: b.update(client=1), ["'client' is invalid (must be a string)"]),
    (lambda b: (b.pop("routing_key"), b["payload"].pop("summary"), b["payload"].pop("source")),
     ["'routing_key' is missing", "'payload.summary' is missing",
      "'payload.source' is missing"]),
])
def test_trigger_checks(change: Any, errors: list[str]) -> None:
    body = event("trigger")
    change(body)
    assert errors_of(body) == errors


def test_the_first_error_names_the_field() -> None:
    body = event("trigger")
    del body["payload"]["source"]
    with pytest.raises(PayloadError) as caught:
        parse_event(body)
    assert caught.value.field == "payload.source"


def test_limits_are_inclusive() -> None:
    body = event("trigger")
    body["payload"]["summary"] = "x" * 1024
    body["dedup_key"] = "k" * 255
    e = parse_event(body)
    assert e.alert is not None and len(e.alert.summary) == 1024 and len(e.dedup_key) == 255


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_and_resolve_need_a_dedup_key(action: str) -> None:
    body = event(action)
    del body["dedup_key"]
    assert errors_of(body) == ["'dedup_key' is missing"]
    body["dedup_key"] = ""
    assert errors_of(body) == ["'dedup_key' is missing"]


def test_acknowledge_and_resolve_ignore_trigger_fields() -> None:
    body = event("resolve")
    body["payload"] = "ignored"
    body["client"] = 1
    assert parse_event(body).action == "resolve"


def test_an_event_over_512_kb_is_refused() -> None:
    body = event("trigger")
    body["payload"]["custom_details"]["blob"] = "x" * (512 * 1024)
    [message] = errors_of(body)
    assert "too large" in message
