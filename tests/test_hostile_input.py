"""Hostile and malformed input is a 4xx naming the field, or, for alerts and pings (machines
retry a refusal forever), stored with what the database cannot hold replaced, and said so."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from oncall.cli.admin import create_integration
from oncall.models import Alert, Heartbeat, HeartbeatPing
from tests.conftest import Cast, alert

NUL = "\x00"
SURROGATE = "\ud800"  # JSON can carry it as "\ud800"; no database driver can encode it
FFFD = "\ufffd"


def integration(factory: Any, kind: str) -> str:
    with factory() as s, s.begin():
        _, token = create_integration(s, "billing-api", kind, None)
    return token


def post_json(client: Any, path: str, body: Any, **kwargs: Any) -> Any:
    """POST ``body`` as JSON text (lone surrogates escaped, as any JSON encoder writes them)."""
    return client.post(path, data=json.dumps(body), content_type="application/json", **kwargs)


def stored_alerts(factory: Any) -> list[Alert]:
    with factory() as s:
        return list(s.scalars(select(Alert).order_by(Alert.id)))


def _alertmanager() -> dict[str, Any]:
    return {"version": "4", "status": "firing", "receiver": "oncall", "groupKey": "g",
            "alerts": [{"status": "firing", "labels": {"alertname": f"Disk{NUL}Full",
                                                       "instance": f"db{SURROGATE}1"},
                        "annotations": {"summary": f"disk {NUL} full"},
                        "startsAt": "2026-01-01T00:00:00Z", "fingerprint": "abc"}]}


def _grafana() -> dict[str, Any]:
    return {"status": "firing", "orgId": 1, "receiver": "oncall",
            "alerts": [{"status": "firing", "labels": {"alertname": f"Disk{NUL}Full",
                                                       "instance": f"db{SURROGATE}1"},
                        "annotations": {"summary": f"disk {NUL} full"},
                        "startsAt": "2026-01-01T00:00:00Z", "fingerprint": "abc"}]}


@pytest.mark.parametrize(("kind", "body"), [
    ("generic", alert(summary=f"charge {NUL} failures", labels={"merchant": f"ac{SURROGATE}me",
                                                                 f"k{NUL}": "v"})),
    ("alertmanager", _alertmanager()),
    ("grafana", _grafana()),
])
def test_an_alert_with_nul_or_surrogates_is_stored_cleaned_and_says_so(
        client: Any, cast: Cast, factory: Any, kind: str, body: dict[str, Any]) -> None:
    token = integration(factory, kind)
    r = post_json(client, f"/integrations/{token}", body)
    assert r.status_code == 202, r.json
    [stored] = stored_alerts(factory)
    text = json.dumps([stored.summary, stored.labels, stored.raw], ensure_ascii=False)
    assert NUL not in text and SURROGATE not in text.encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace").replace(FFFD, "") and FFFD in stored.summary + json.dumps(
        stored.labels, ensure_ascii=False)
    assert stored.raw is not None and stored.raw["oncall_sanitized"]
    detail = client.get(f"/api/v1/incidents/{stored.incident_id}", headers=cast.auth("viewer"))
    assert detail.json["alerts"][0]["sanitized"] == stored.raw["oncall_sanitized"]


def test_a_pagerduty_event_with_a_nul_is_stored_cleaned(client: Any, cast: Cast,
                                                         factory: Any) -> None:
    token = integration(factory, "pagerduty")
    event = {"routing_key": token, "event_action": "trigger", "dedup_key": f"k{NUL}1",
             "payload": {"summary": f"charges {SURROGATE} failing", "source": f"db{NUL}",
                         "severity": "critical"}}
    r = post_json(client, "/v2/enqueue", event)
    assert r.status_code == 202, r.json
    [stored] = stored_alerts(factory)
    assert stored.summary == f"charges {FFFD} failing" and stored.dedup_key == f"k{FFFD}1"
    assert stored.raw is not None and set(stored.raw["oncall_sanitized"]) == {
        "dedup_key", "payload.summary", "payload.source"}


def test_a_heartbeat_ping_whose_body_holds_a_nul_is_a_ping(client: Any, cast: Cast,
                                                           factory: Any) -> None:
    r = client.post("/api/v1/heartbeats", headers=cast.auth("manager"), json={
        "name": "nightly", "period": "1h", "grace": "30m", "service": cast.service.name})
    assert r.status_code == 201, r.json
    ping = client.post(f"/ping/{r.json['uuid']}", data=b"charged\x00 1234",
                       headers={"User-Agent": "curl\x01"})
    assert ping.status_code == 200
    with factory() as s:
        hb = s.scalar(select(Heartbeat))
        assert hb is not None and hb.state == "up" and hb.last_success_at is not None
        assert s.scalar(select(HeartbeatPing.body)) == f"charged{FFFD} 1234"


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/schedules", {"name": f"on{NUL}call", "timezone": "UTC"}, "name"),
    ("/api/v1/schedules", {"name": f"on{SURROGATE}call", "timezone": "UTC"}, "name"),
    ("/api/v1/schedules", {"name": "x", "timezone": "UTC", f"ke{NUL}y": 1}, "ke\ufffdy"),
    ("/api/v1/maintenance", {"name": "db", "reason": f"db{NUL}", "duration": 60}, "reason"),
])
def test_a_person_sending_text_the_database_cannot_hold_gets_a_400_naming_the_field(
        client: Any, cast: Cast, factory: Any, path: str, body: dict[str, Any],
        field: str) -> None:
    r = post_json(client, path, body, headers=cast.auth("manager"))
    assert r.status_code == 400 and r.json["field"] == field, r.json
    assert "NUL" in r.json["error"]


def test_nul_in_a_query_string_or_a_path_is_a_400_naming_it(client: Any, cast: Cast) -> None:
    r = client.get("/api/v1/incidents?status=open%00", headers=cast.auth("viewer"))
    assert r.status_code == 400 and r.json["field"] == "query.status"
    r = client.delete("/api/v1/schedules/1/layers/1/members/a%00b@example.com",
                      headers=cast.auth("manager"))
    assert r.status_code == 400 and r.json["field"] == "email"


def test_nobody_unauthenticated_learns_about_fields(client: Any, cast: Cast) -> None:
    r = post_json(client, "/api/v1/schedules", {"name": f"on{NUL}call"})
    assert r.status_code == 401


DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = '{"summary": "x", "value": ' + "9" * 5000 + "}"


@pytest.mark.parametrize(("raw", "problem"), [
    (DEEP, "nested deeper"),
    ('{"summary": "x", "labels": ' + '{"a": ' * 70 + "1" + "}" * 70 + "}", "nested deeper"),
    (HUGE_INT, "digits"),
    ('{"summary": "x", "value": 1e999}', "out of range"),
    ('{"summary": "x", "value": NaN}', "NaN"),
])
def test_json_that_would_crash_the_parser_is_a_400_everywhere(
        client: Any, cast: Cast, factory: Any, raw: str, problem: str) -> None:
    r = client.post(f"/integrations/{cast.integration_token}", data=raw,
                    content_type="application/json")
    assert r.status_code == 400 and r.json["field"] == "body" and problem in r.json["error"]
    r = client.post("/api/v1/schedules", data=raw, content_type="application/json",
                    headers=cast.auth("manager"))
    assert r.status_code == 400 and r.json["field"] == "body" and problem in r.json["error"]
    r = client.post("/v2/enqueue", data=raw, content_type="application/json")
    assert r.status_code == 400 and r.json["status"] == "Unrecognized object"
    assert stored_alerts(factory) == []


@pytest.mark.parametrize("path", [
    f"/api/v1/incidents/{2**31}", f"/api/v1/incidents/{2**63}", f"/api/v1/users/{10**30}",
    f"/api/v1/schedules/{2**31}/shifts", f"/api/v1/heartbeats/{2**40}/pings",
    f"/api/v1/maintenance/{2**31}",
])
def test_an_id_no_row_can_have_is_a_404(client: Any, cast: Cast, path: str) -> None:
    r = client.get(path, headers=cast.auth("manager"))
    assert r.status_code == 404


def test_an_action_on_an_impossible_id_is_a_404(client: Any, cast: Cast) -> None:
    r = client.post(f"/api/v1/incidents/{2**31}/ack", headers=cast.auth("alice"))
    assert r.status_code == 404


@pytest.mark.parametrize(("query", "field"), [
    (f"object_id={2**31}", "object_id"), (f"object_id={2**64}", "object_id"),
    ("object_id=" + "9" * 5000, "object_id"),
])
def test_an_integer_query_parameter_out_of_range_is_a_400_naming_it(
        client: Any, cast: Cast, query: str, field: str) -> None:
    r = client.get(f"/api/v1/audit?{query}", headers=cast.auth("manager"))
    assert r.status_code == 400 and r.json["field"] == field, r.json


def test_an_integer_body_field_out_of_range_is_a_400_naming_it(client: Any,
                                                               cast: Cast) -> None:
    r = client.post("/api/v1/maintenance", headers=cast.auth("manager"),
                    json={"name": "db", "duration": 2**62})
    assert r.status_code == 400 and r.json["field"] == "duration", r.json


def test_a_database_refusal_of_bad_input_is_a_400_and_of_anything_else_a_500(
        app: Any, cast: Cast) -> None:
    """The safety net: a DataError for a value the request carried names it; a DataError
    the request did not cause stays a 500 (a bug, not bad input)."""
    from sqlalchemy.exc import DataError

    @app.get("/api/v1/_refused")
    def refused() -> dict[str, Any]:
        raise DataError("SELECT 1", {}, Exception("integer out of range"))

    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    r = client.get(f"/api/v1/_refused?since={2**40}")
    assert r.status_code == 400 and r.json["field"] == "query.since"
    r = client.get("/api/v1/_refused?name=a%00b")
    assert r.status_code == 400 and r.json["field"] == "query.name"
    assert client.get("/api/v1/_refused?since=12").status_code == 500


def test_the_parser_takes_64_levels_and_refuses_65() -> None:
    from oncall import hostile

    assert hostile.loads("[" * 64 + "]" * 64) is not None
    with pytest.raises(hostile.JSONRefused, match="nested deeper than 64"):
        hostile.loads("[" * 65 + "]" * 65)
    assert hostile.loads('{"n": ' + "9" * 100 + "}")["n"] == int("9" * 100)


def test_sanitize_names_every_changed_field_and_changes_nothing_else() -> None:
    from oncall import hostile

    value = {"a": [f"x{NUL}", "ok", {f"k{SURROGATE}": 1}], "b": 2, "c": "fine"}
    cleaned, fields = hostile.sanitize(value)
    assert cleaned == {"a": [f"x{FFFD}", "ok", {f"k{FFFD}": 1}], "b": 2, "c": "fine"}
    assert fields == ["a[0]", f"a[2].k{FFFD}"]
    assert hostile.sanitize({"c": "fine"}) == ({"c": "fine"}, [])
