"""The Opsgenie Alert API drop-in (``POST /v2/alerts``, ``.../close``, ``.../acknowledge``):
every request sent is a valid ``CreateAlertPayload`` (or close/acknowledge payload) and every
answer is validated against Opsgenie's own OpenAPI document (tests/fixtures/
opsgenie_v2_swagger.json, Apache-2.0): ``SuccessResponse`` for 202, ``ErrorResponse`` for the
refusals."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from sqlalchemy import func, select

from oncall.cli.admin import create_integration
from oncall.config import Settings
from oncall.models import Alert, Incident, IncidentEvent, utcnow
from oncall.paging import runs
from tests.conftest import Cast
from tests.servers import web_server

SWAGGER = json.loads((Path(__file__).resolve().parent / "fixtures" /
                      "opsgenie_v2_swagger.json").read_text())


def schema(name: str) -> dict[str, Any]:
    return {"$ref": f"#/definitions/{name}", "definitions": SWAGGER["definitions"]}


def valid(name: str, body: Any) -> Any:
    jsonschema.Draft4Validator(schema(name)).validate(body)
    return body


def accepted(r: Any) -> dict[str, Any]:
    """A 202 with Opsgenie's SuccessResponse, nothing else."""
    body = r.json() if callable(r.json) else r.json
    assert r.status_code == 202, (r.status_code, body)
    valid("SuccessResponse", body)
    assert set(body) == {"result", "took", "requestId"}
    assert body["result"] == "Request will be processed"
    assert r.headers["X-Request-ID"] == body["requestId"]
    return body


def refused(r: Any, status: int, *words: str) -> dict[str, Any]:
    """Opsgenie's ErrorResponse with this status, its message naming ``words``."""
    body = r.json
    assert r.status_code == status, (r.status_code, body)
    valid("ErrorResponse", body)
    assert set(body) == {"message", "took", "requestId"}
    for word in words:
        assert word in body["message"], body
    return body


def opsgenie_key(factory: Any, kind: str = "opsgenie") -> str:
    with factory() as s, s.begin():
        _, token = create_integration(s, "billing-api", kind, None)
    return token


def genie(key: str) -> dict[str, str]:
    return {"Authorization": f"GenieKey {key}"}


def create_body(**fields: Any) -> dict[str, Any]:
    body = {"message": "Checkout error rate above 5%", "alias": "checkout-5xx",
            "description": "5xx ratio 7.2% over 5 minutes", "tags": ["checkout", "prod"],
            "details": {"region": "eu-west-1", "runbook": "https://runbooks/checkout"},
            "entity": "checkout-api", "source": "prometheus", "priority": "P1",
            "user": "alertmanager", "note": "first seen after deploy 412",
            "responders": [{"type": "team", "id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c"}],
            "actions": ["Restart"], **fields}
    return valid("CreateAlertPayload", {k: v for k, v in body.items() if v is not None})


def incidents(factory: Any) -> list[Incident]:
    with factory() as s:
        return list(s.scalars(select(Incident).order_by(Incident.id)))


def timeline(factory: Any, incident_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    with factory() as s:
        return [(e.kind, e.actor, e.detail) for e in s.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.id))]


def alerts_stored(factory: Any) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(Alert)) or 0)


def test_create_opens_an_incident_and_pages(client: Any, cast: Cast, factory: Any) -> None:
    key = opsgenie_key(factory)
    accepted(client.post("/v2/alerts", json=create_body(), headers=genie(key)))
    [incident] = incidents(factory)
    assert incident.status == "triggered" and incident.dedup_key == "checkout-5xx"
    assert incident.summary == "Checkout error rate above 5%"
    assert incident.severity == "critical"  # P1
    with factory() as s:
        stored = s.scalar(select(Alert))
        assert stored is not None
        assert stored.type == "opsgenie"
        assert stored.labels == {
            "region": "eu-west-1", "runbook": "https://runbooks/checkout",
            "entity": "checkout-api", "source": "prometheus", "priority": "P1",
            "tags": "checkout,prod", "description": "5xx ratio 7.2% over 5 minutes"}
        assert stored.raw is not None and stored.raw["responders"][0]["type"] == "team"
    events = timeline(factory, incident.id)
    assert [k for k, _, _ in events] == ["triggered", "note"]
    assert events[1][2]["text"] == "Opsgenie created by alertmanager: first seen after deploy 412"
    # It pages through the service's policy like any other alert.
    result = runs.escalate_incident(factory, incident.id, now=utcnow())
    assert result is not None and len(result.page_ids) == 1
    assert runs.deliver_page(factory, result.page_ids[0]) is True
    assert "paged" in [k for k, _, _ in timeline(factory, incident.id)]


def test_the_same_alias_twice_is_one_incident_and_no_alias_is_a_new_one_each_time(
        client: Any, cast: Cast, factory: Any) -> None:
    key = opsgenie_key(factory)
    for _ in range(2):
        accepted(client.post("/v2/alerts", json=create_body(note=None, user=None),
                             headers=genie(key)))
    assert len(incidents(factory)) == 1 and alerts_stored(factory) == 2
    for _ in range(2):
        accepted(client.post("/v2/alerts", json={"message": "disk full"}, headers=genie(key)))
    found = incidents(factory)
    assert len(found) == 3 and found[1].dedup_key != found[2].dedup_key
    assert found[1].severity == "warning"  # no priority: Opsgenie's default P3


@pytest.mark.parametrize(("priority", "severity"), [
    ("P1", "critical"), ("P2", "error"), ("P3", "warning"), ("P4", "info"), ("P5", "info")])
def test_priorities_map_to_severities(client: Any, cast: Cast, factory: Any, priority: str,
                                      severity: str) -> None:
    key = opsgenie_key(factory)
    accepted(client.post("/v2/alerts", json=create_body(priority=priority),
                         headers=genie(key)))
    assert incidents(factory)[0].severity == severity


def test_acknowledge_then_close_by_alias(client: Any, cast: Cast, factory: Any) -> None:
    key = opsgenie_key(factory)
    accepted(client.post("/v2/alerts", json=create_body(note=None), headers=genie(key)))
    ack = valid("AcknowledgeAlertPayload", {"user": "Jane", "note": "looking", "source": "cli"})
    accepted(client.post("/v2/alerts/checkout-5xx/acknowledge?identifierType=alias",
                         json=ack, headers=genie(key)))
    [incident] = incidents(factory)
    assert incident.status == "acknowledged"
    kind, actor, detail = timeline(factory, incident.id)[-1]
    assert kind == "acknowledged" and actor.startswith("integration:")
    assert detail == {"user": "Jane", "note": "looking", "source": "cli"}
    close = valid("CloseAlertPayload", {"user": "Jane", "note": "rolled back"})
    accepted(client.post("/v2/alerts/checkout-5xx/close?identifierType=alias", json=close,
                         headers=genie(key)))
    assert incidents(factory)[0].status == "resolved"
    kinds = [k for k, _, _ in timeline(factory, incident.id)]
    assert kinds[-2:] == ["resolved", "note"]
    assert timeline(factory, incident.id)[-1][2]["text"] == \
        "Opsgenie closed by Jane: rolled back"
    # Closing again, or acknowledging what is not open, is accepted and changes nothing.
    accepted(client.post("/v2/alerts/checkout-5xx/close?identifierType=alias",
                         headers=genie(key)))
    accepted(client.post("/v2/alerts/nothing-open/acknowledge?identifierType=alias",
                         headers=genie(key)))
    assert [i.status for i in incidents(factory)] == ["resolved"]


def test_close_and_acknowledge_by_id_name_our_incident(client: Any, cast: Cast,
                                                       factory: Any) -> None:
    key = opsgenie_key(factory)
    accepted(client.post("/v2/alerts", json=create_body(), headers=genie(key)))
    [incident] = incidents(factory)
    # identifierType defaults to id, as Opsgenie's does.
    accepted(client.post(f"/v2/alerts/{incident.id}/acknowledge", headers=genie(key)))
    assert incidents(factory)[0].status == "acknowledged"
    accepted(client.post(f"/v2/alerts/{incident.id}/close?identifierType=id",
                         json={}, headers=genie(key)))
    assert incidents(factory)[0].status == "resolved"
    refused(client.post("/v2/alerts/checkout-5xx/close", headers=genie(key)), 404,
            "checkout-5xx", "identifierType=alias")
    refused(client.post(f"/v2/alerts/{incident.id + 1}/close", headers=genie(key)), 404)
    refused(client.post("/v2/alerts/abc/close?identifierType=tiny", headers=genie(key)), 422,
            "tiny")
    refused(client.post("/v2/alerts/abc/close?identifierType=name", headers=genie(key)), 422,
            "identifierType")


def test_the_alert_id_of_the_create_flow_is_what_identifier_type_id_takes(
        client: Any, cast: Cast, factory: Any) -> None:
    """As Opsgenie's clients do: create (202 with a requestId), ask the request's status
    for the alertId, store it, close with it (identifierType=id). The alertId is our
    incident's id; a second create with the same alias gives the same alertId."""
    key = opsgenie_key(factory)
    created = accepted(client.post("/v2/alerts", json=create_body(), headers=genie(key)))
    r = client.get(f"/v2/alerts/requests/{created['requestId']}", headers=genie(key))
    assert r.status_code == 200, r.json
    status = valid("GetRequestStatusResponse", r.json)["data"]
    [incident] = incidents(factory)
    assert status["alertId"] == str(incident.id) and status["isSuccess"] is True
    assert (status["action"], status["alias"]) == ("Create", "checkout-5xx")
    again = accepted(client.post("/v2/alerts", json=create_body(), headers=genie(key)))
    assert client.get(f"/v2/alerts/requests/{again['requestId']}",
                      headers=genie(key)).json["data"]["alertId"] == status["alertId"]

    accepted(client.post(f"/v2/alerts/{status['alertId']}/acknowledge?identifierType=id",
                         headers=genie(key)))
    assert incidents(factory)[0].status == "acknowledged"
    accepted(client.post(f"/v2/alerts/{status['alertId']}/close", headers=genie(key)))
    assert incidents(factory)[0].status == "resolved"

    # Only this integration's create requests: another key, a close's requestId, a typo.
    other = opsgenie_key(factory)
    refused(client.get(f"/v2/alerts/requests/{created['requestId']}", headers=genie(other)),
            404, created["requestId"])
    closed = accepted(client.post("/v2/alerts/checkout-5xx/close?identifierType=alias",
                                  headers=genie(key)))
    refused(client.get(f"/v2/alerts/requests/{closed['requestId']}", headers=genie(key)),
            404)
    refused(client.get("/v2/alerts/requests/nope", headers={}), 401)


def test_an_alias_with_a_slash_is_found(client: Any, cast: Cast, factory: Any) -> None:
    key = opsgenie_key(factory)
    accepted(client.post("/v2/alerts", json=create_body(alias="charges/acme"),
                         headers=genie(key)))
    accepted(client.post("/v2/alerts/charges%2Facme/acknowledge?identifierType=alias",
                         headers=genie(key)))
    assert incidents(factory)[0].status == "acknowledged"
    accepted(client.post("/v2/alerts/charges/acme/close?identifierType=alias",
                         headers=genie(key)))
    assert incidents(factory)[0].status == "resolved"


def test_a_long_alias_still_dedups_and_closes(client: Any, cast: Cast, factory: Any) -> None:
    key = opsgenie_key(factory)
    alias = "a" * 400
    for _ in range(2):
        accepted(client.post("/v2/alerts", json=create_body(alias=alias), headers=genie(key)))
    assert len(incidents(factory)) == 1
    accepted(client.post(f"/v2/alerts/{alias}/close?identifierType=alias", headers=genie(key)))
    assert incidents(factory)[0].status == "resolved"


def test_auth_failures(client: Any, cast: Cast, factory: Any) -> None:
    key = opsgenie_key(factory)
    body = create_body()
    refused(client.post("/v2/alerts", json=body), 401, "GenieKey")
    refused(client.post("/v2/alerts", json=body,
                        headers={"Authorization": f"Bearer {key}"}), 401)
    refused(client.post("/v2/alerts", json=body,
                        headers=genie("00000000-0000-4000-8000-000000000000")), 401, "unknown")
    refused(client.post("/v2/alerts", json=body, headers=genie("not-a-key")), 422,
            "Key format is not valid")
    refused(client.post("/v2/alerts/x/close?identifierType=alias"), 401)
    # A webhook or PagerDuty integration's key is not a GenieKey.
    generic = opsgenie_key(factory, "generic")
    refused(client.post("/v2/alerts", json=body, headers=genie(generic)), 401, "generic")
    assert alerts_stored(factory) == 0
    # The scheme is case-insensitive, as Opsgenie's.
    accepted(client.post("/v2/alerts", json=body, headers={"Authorization": f"geniekey {key}"}))


def test_an_opsgenie_key_is_a_uuid_and_not_a_webhook_url(client: Any, cast: Cast,
                                                         factory: Any) -> None:
    key = opsgenie_key(factory)
    assert len(key) == 36 and key.count("-") == 4
    r = client.post(f"/integrations/{key}", json={"summary": "x"})
    assert r.status_code == 404 and "/v2/alerts" in r.json["error"]


@pytest.mark.parametrize(("data", "status", "words"), [
    ("{nope", 400, ["JSON"]),
    ("", 400, ["empty"]),
    ("[1, 2]", 400, ["object"]),
    ('{"alias": "x"}', 422, ["Message can not be empty"]),
    ('{"message": "   "}', 422, ["Message can not be empty"]),
    ('{"message": 42}', 422, ["message"]),
    ('{"message": "m", "priority": "P9"}', 422, ["priority"]),
    ('{"message": "m", "tags": "a,b"}', 422, ["tags"]),
    ('{"message": "m", "details": ["a"]}', 422, ["details"]),
    ('{"message": "m", "alias": 7}', 422, ["alias"]),
    ('{"message": "m", "responders": [{"id": "x"}]}', 422, ["responders[0]"]),
    ('{"message": "m", "user": {"name": "x"}}', 422, ["user"]),
])
def test_bad_input_is_refused_in_opsgenies_shape_and_stores_nothing(
        client: Any, cast: Cast, factory: Any, data: str, status: int, words: list[str]) -> None:
    key = opsgenie_key(factory)
    refused(client.post("/v2/alerts", data=data, content_type="application/json",
                        headers=genie(key)), status, *words)
    assert alerts_stored(factory) == 0


def test_close_with_a_bad_body_is_refused(client: Any, cast: Cast, factory: Any) -> None:
    key = opsgenie_key(factory)
    refused(client.post("/v2/alerts/x/close?identifierType=alias", data="{nope",
                        content_type="application/json", headers=genie(key)), 400, "JSON")
    refused(client.post("/v2/alerts/x/acknowledge?identifierType=alias",
                        json={"note": ["x"]}, headers=genie(key)), 422, "note")


def test_a_too_large_body_is_413_in_opsgenies_shape(settings: Settings, cast: Cast,
                                                    factory: Any) -> None:
    from oncall.web import create_app

    app = create_app(dataclasses.replace(settings, max_body_bytes=2048), TESTING=True)
    key = opsgenie_key(factory)
    body = create_body(description="x" * 4000)
    refused(app.test_client().post("/v2/alerts", json=body, headers=genie(key)), 413, "large")
    assert alerts_stored(factory) == 0


def test_a_long_message_is_truncated_to_130_as_opsgenie_does_and_kept_whole(
        client: Any, cast: Cast, factory: Any) -> None:
    key = opsgenie_key(factory)
    message = "m" * 131 + " and the rest"
    accepted(client.post("/v2/alerts", json=create_body(message=message), headers=genie(key)))
    assert incidents(factory)[0].summary == "m" * 130
    with factory() as s:
        stored = s.scalar(select(Alert))
        assert stored is not None and stored.raw is not None
        assert stored.raw["message"] == message  # nothing lost


def test_unstorable_characters_are_cleaned_not_refused(client: Any, cast: Cast,
                                                       factory: Any) -> None:
    key = opsgenie_key(factory)
    accepted(client.post("/v2/alerts", data='{"message": "bad \\u0000 byte", "alias": "nul"}',
                         content_type="application/json", headers=genie(key)))
    assert incidents(factory)[0].summary == "bad \ufffd byte"


def test_rate_limited_in_opsgenies_shape(settings: Settings, cast: Cast, factory: Any) -> None:
    from oncall.web import create_app

    app = create_app(dataclasses.replace(settings, intake_rate_limit="2/minute",
                                         ratelimit_storage_url="memory://"), TESTING=True)
    client = app.test_client()
    key = opsgenie_key(factory)
    codes = [client.post("/v2/alerts", json=create_body(), headers=genie(key)).status_code
             for _ in range(2)]
    assert codes == [202, 202]
    r = client.post("/v2/alerts/checkout-5xx/close?identifierType=alias", headers=genie(key))
    refused(r, 429, "too many requests")
    assert int(r.headers["Retry-After"]) > 0
    assert [i.status for i in incidents(factory)] == ["triggered"]


def test_storage_down_is_503_in_opsgenies_shape(client: Any, cast: Cast, factory: Any,
                                                monkeypatch: Any) -> None:
    from sqlalchemy.exc import OperationalError

    from oncall.web import opsgenie as view

    key = opsgenie_key(factory)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(view, "store", down)
    r = client.post("/v2/alerts", json=create_body(), headers=genie(key))
    refused(r, 503, "storage unavailable")
    assert int(r.headers["Retry-After"]) > 0


def test_openapi_documents_the_endpoints(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").json
    for path in ("/v2/alerts", "/v2/alerts/{identifier}/close",
                 "/v2/alerts/{identifier}/acknowledge"):
        assert "202" in spec["paths"][path]["post"]["responses"], path
    assert "200" in spec["paths"]["/v2/alerts/requests/{request_id}"]["get"]["responses"]
    assert spec["components"]["securitySchemes"]["GenieKey"]["in"] == "header"


def test_a_real_opsgenie_client_over_http(settings: Settings, cast: Cast, factory: Any,
                                          tmp_path: Path) -> None:
    """As an Opsgenie client sends it (requests, the GenieKey header, identifierType=alias),
    through a real web server."""
    key = opsgenie_key(factory)
    api = requests.Session()
    api.headers.update({"Authorization": f"GenieKey {key}", "User-Agent": "opsgenie-client"})
    with web_server(settings, tmp_path, workers=1) as base:
        r = api.post(f"{base}/v2/alerts", json=create_body(), timeout=10)
        body = accepted(r)
        assert float(r.headers["X-Response-Time"]) >= 0 and body["took"] >= 0
        assert incidents(factory)[0].status == "triggered"
        accepted(api.post(f"{base}/v2/alerts/checkout-5xx/acknowledge",
                          params={"identifierType": "alias"}, json={"user": "ops"},
                          timeout=10))
        assert incidents(factory)[0].status == "acknowledged"
        accepted(api.post(f"{base}/v2/alerts/checkout-5xx/close",
                          params={"identifierType": "alias"}, json={"source": "cron"},
                          timeout=10))
        assert incidents(factory)[0].status == "resolved"
        bad = requests.post(f"{base}/v2/alerts", json={"message": "x"}, timeout=10,
                            headers={"Authorization": "GenieKey "
                                     "00000000-0000-4000-8000-000000000000"})
        assert bad.status_code == 401
        valid("ErrorResponse", bad.json())
