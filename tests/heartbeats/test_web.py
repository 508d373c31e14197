"""The ping URLs and /api/v1/heartbeats through the Flask test client."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from oncall.models import AuditEntry, Heartbeat, HeartbeatPing, Incident
from tests.conftest import Cast


def create(client: Any, cast: Cast, **data: Any) -> Any:
    body = {"name": "nightly-charge-run", "cron": "0 2 * * *", "timezone": "UTC",
            "grace": "30m", "service": cast.service.name, **data}
    return client.post("/api/v1/heartbeats", json=body, headers=cast.auth("manager"))


@pytest.fixture
def hb(client: Any, cast: Cast) -> dict[str, Any]:
    r = create(client, cast)
    assert r.status_code == 201, r.json
    return dict(r.json)


def test_a_manager_creates_a_heartbeat_and_gets_its_ping_url(client: Any, cast: Cast,
                                                            hb: dict[str, Any]) -> None:
    assert hb["ping_url"] == f"http://oncall.test/ping/{hb['uuid']}"
    assert hb["state"] == "new" and hb["grace"] == 1800 and hb["cron"] == "0 2 * * *"
    assert hb["next_due_at"].endswith("02:00:00+00:00")
    listed = client.get("/api/v1/heartbeats", headers=cast.auth("viewer")).json["heartbeats"]
    assert [h["name"] for h in listed] == ["nightly-charge-run"]
    assert listed[0]["ping_url"] is None and listed[0]["uuid"] is None  # the secret: managers'
    audit = client.get("/api/v1/audit?object_type=heartbeat", headers=cast.auth("manager"))
    assert [e["action"] for e in audit.json["entries"]] == ["create"]


def test_responders_cannot_create_heartbeats(client: Any, cast: Cast) -> None:
    r = client.post("/api/v1/heartbeats", json={"name": "x", "period": "1h"},
                    headers=cast.auth("alice"))
    assert r.status_code == 403


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_a_ping_answers_ok_and_is_recorded(client: Any, cast: Cast, hb: dict[str, Any],
                                           session: Any, method: str) -> None:
    r = client.open(f"/ping/{hb['uuid']}", method=method, data=b"charged 1234 invoices",
                    headers={"User-Agent": "curl/8.5"})
    assert r.status_code == 200
    if method != "HEAD":
        assert r.get_data(as_text=True) == "OK"
    [logged] = session.scalars(select(HeartbeatPing)).all()
    assert logged.kind == "success" and logged.user_agent == "curl/8.5"
    assert session.get(Heartbeat, hb["id"]).state == "up"


def test_start_and_fail_and_exit_status_paths(client: Any, cast: Cast, hb: dict[str, Any],
                                              session: Any) -> None:
    uuid = hb["uuid"]
    assert client.get(f"/ping/{uuid}/start").status_code == 200
    assert client.post(f"/ping/{uuid}/0").status_code == 200
    assert client.post(f"/ping/{uuid}/fail", data=b"boom").status_code == 200
    assert client.post(f"/ping/{uuid}/137").status_code == 200
    assert client.post(f"/ping/{uuid}/256").status_code == 400
    kinds = [(p.kind, p.exit_status) for p in
             session.scalars(select(HeartbeatPing).order_by(HeartbeatPing.id))]
    assert kinds == [("start", None), ("success", 0), ("fail", None), ("fail", 137)]
    [incident] = session.scalars(select(Incident)).all()  # the second fail joined it
    assert incident.dedup_key == "heartbeat:nightly-charge-run"
    assert incident.summary.endswith("reported failure")
    assert client.post(f"/ping/{uuid}").status_code == 200
    session.expire_all()
    assert session.get(Incident, incident.id).status == "resolved"


def test_the_ping_needs_no_token_but_a_known_uuid(client: Any, cast: Cast,
                                                  hb: dict[str, Any]) -> None:
    assert client.get("/ping/00000000-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/ping/not-a-uuid").status_code == 404
    assert client.get(f"/ping/{hb['uuid'].upper()}").status_code == 200


def test_a_ping_the_database_cannot_take_is_a_503_so_curl_retries(
        client: Any, cast: Cast, hb: dict[str, Any], monkeypatch: Any) -> None:
    from oncall.heartbeats import store

    def down(*_: Any, **__: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(store, "record_ping", down)
    r = client.get(f"/ping/{hb['uuid']}")
    assert r.status_code == 503 and r.headers["Retry-After"]


def test_the_ping_log_is_visible_through_the_api(client: Any, cast: Cast,
                                                 hb: dict[str, Any]) -> None:
    client.post(f"/ping/{hb['uuid']}/start", data=b"starting")
    client.post(f"/ping/{hb['uuid']}", data=b"done: 1234 charges")
    r = client.get(f"/api/v1/heartbeats/{hb['id']}/pings", headers=cast.auth("viewer"))
    assert [(p["kind"], p["body"]) for p in r.json["pings"]] == [
        ("success", "done: 1234 charges"), ("start", "starting")]


def test_update_pause_resume_and_delete_are_audited(client: Any, cast: Cast,
                                                    hb: dict[str, Any], session: Any) -> None:
    url, auth = f"/api/v1/heartbeats/{hb['id']}", cast.auth("manager")
    r = client.patch(url, json={"period": "1h", "grace": 300}, headers=auth)
    assert r.status_code == 200 and r.json["period"] == 3600 and r.json["cron"] is None
    assert client.post(f"{url}/pause", headers=auth).json["state"] == "paused"
    assert client.post(f"{url}/resume", headers=auth).json["state"] == "new"
    assert client.delete(url, headers=auth).status_code == 204
    assert client.get(url, headers=auth).status_code == 404
    actions = session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "heartbeat").order_by(AuditEntry.id)).all()
    assert actions == ["create", "update", "update", "update", "delete"]


@pytest.mark.parametrize("body,field", [
    ({"cron": "0 25 * * *"}, "cron"),
    ({"timezone": "Nowhere/Town"}, "timezone"),
    ({"grace": "half an hour"}, "grace"),
    ({"severity": "apocalyptic"}, "severity"),
    ({"uuid": "not-a-uuid"}, "uuid"),
])
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(
        client: Any, cast: Cast, session: Any, body: dict[str, Any], field: str) -> None:
    r = create(client, cast, **body)
    assert r.status_code == 400 and r.json["field"] == field, r.json
    assert session.scalars(select(Heartbeat)).all() == []


def test_the_name_is_unique(client: Any, cast: Cast, hb: dict[str, Any]) -> None:
    r = create(client, cast)
    assert r.status_code == 409 and r.json["field"] == "name"


def test_the_ping_and_heartbeat_paths_are_in_the_openapi_document(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/ping/{uuid}", "/ping/{uuid}/start", "/ping/{uuid}/fail",
                 "/api/v1/heartbeats", "/api/v1/heartbeats/{heartbeat_id}/pings",
                 "/api/v1/maintenance", "/api/v1/maintenance/{window_id}/end"):
        assert path in paths, path


def test_metrics_count_heartbeats_by_state(client: Any, cast: Cast, hb: dict[str, Any]) -> None:
    client.post(f"/ping/{hb['uuid']}/fail")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'oncall_heartbeats{state="down"} 1.0' in text
    assert 'oncall_heartbeats{state="up"} 0.0' in text
