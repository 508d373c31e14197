"""The rules API: read-only, in the OpenAPI document, behind API tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import Cast


def test_rules_and_alerts_are_in_the_openapi_document(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/rules", "/api/v1/rules/{name}", "/api/v1/alerts"} <= set(paths)
    params = {p["name"] for p in paths["/api/v1/alerts"]["get"]["parameters"]}
    assert {"held", "rule", "type", "limit"} <= params


def test_an_unknown_rule_is_a_404_and_a_token_is_needed(
        client: Any, cast: Cast, apply_rules: Callable[[str], Any]) -> None:
    apply_rules("rules:\n  - rule: cron\n    match: {type: cron_miss}\n")
    assert client.get("/api/v1/rules").status_code == 401
    r = client.get("/api/v1/rules/nope", headers=cast.auth("viewer"))
    assert r.status_code == 404 and "nope" in r.json["error"]
    [rule] = client.get("/api/v1/rules", headers=cast.auth("viewer")).json["rules"]
    assert (rule["name"], rule["kind"], rule["managed_by"]) == ("cron", "pass",
                                                               "rules/test.yaml")
    detail = client.get("/api/v1/rules/cron", headers=cast.auth("viewer")).json
    assert detail["groups"] == [] and detail["recent_held"] == []


def test_alerts_can_be_listed_by_held_rule_and_type(
        client: Any, cast: Cast, apply_rules: Callable[[str], Any]) -> None:
    apply_rules("""
rules:
  - rule: big
    match: {type: queue_depth}
    when: {value: ">= 100"}
""")
    hook = f"/integrations/{cast.integration_token}"
    for value in (5, 500):
        client.post(hook, json={"type": "queue_depth", "summary": "queue", "value": value})
    client.post(hook, json={"type": "other", "summary": "other"})
    get = lambda q: [(a["type"], a["value"], a["held"]) for a in client.get(  # noqa: E731
        f"/api/v1/alerts?{q}", headers=cast.auth()).json["alerts"]]
    assert get("held=true") == [("queue_depth", 5.0, True)]
    assert get("held=false") == [("other", None, False), ("queue_depth", 500.0, False)]
    assert get("rule=big") == [("queue_depth", 500.0, False), ("queue_depth", 5.0, True)]
    assert get("type=other&limit=1") == [("other", None, False)]
    assert client.get("/api/v1/alerts?limit=0", headers=cast.auth()).status_code == 400
