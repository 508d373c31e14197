"""POST /integrations/<token>: accept means durable, bad input is named, nothing is lost."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from oncall.config import Settings
from oncall.models import Alert, Incident, IncidentEvent
from tests.conftest import Cast, alert


def post(client: Any, token: str, body: Any, **kw: Any) -> Any:
    return client.post(f"/integrations/{token}", json=body, **kw)


def count(session: Any, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_it_stores_the_alert_and_opens_an_incident(client: Any, cast: Cast, session: Any) -> None:
    r = post(client, cast.integration_token, alert())
    assert r.status_code == 202
    assert r.json["accepted"] == 1
    [outcome] = r.json["incidents"]
    assert outcome["new"] is True and outcome["status"] == "triggered"
    incident = session.get(Incident, outcome["incident_id"])
    assert incident.service_id == cast.service.id and incident.level == 0
    assert incident.next_action_at is not None  # due now: the escalation picks it up
    assert count(session, Alert) == 1
    kinds = session.scalars(select(IncidentEvent.kind)).all()
    assert kinds == ["triggered"]


def test_a_repeat_joins_the_open_incident_and_counts(client: Any, cast: Cast,
                                                     session: Any) -> None:
    first = post(client, cast.integration_token, alert()).json["incidents"][0]
    second = post(client, cast.integration_token, alert(summary="again")).json["incidents"][0]
    assert second["incident_id"] == first["incident_id"] and second["new"] is False
    detail = client.get(f"/api/v1/incidents/{first['incident_id']}", headers=cast.auth()).json
    assert detail["alert_count"] == 2
    assert count(session, Alert) == 2 and count(session, Incident) == 1


def test_a_resolved_alert_resolves_and_the_next_one_opens_anew(client: Any, cast: Cast,
                                                               session: Any) -> None:
    opened = post(client, cast.integration_token, alert()).json["incidents"][0]
    r = post(client, cast.integration_token, alert(status="resolved"))
    assert r.status_code == 202 and r.json["incidents"][0]["incident_id"] == opened["incident_id"]
    incident = session.get(Incident, opened["incident_id"])
    assert incident.status == "resolved" and incident.next_action_at is None
    assert incident.resolved_by == "integration:billing-generic"
    again = post(client, cast.integration_token, alert()).json["incidents"][0]
    assert again["new"] is True and again["incident_id"] != opened["incident_id"]


def test_a_resolve_for_nothing_open_is_stored_and_accepted(client: Any, cast: Cast,
                                                           session: Any) -> None:
    r = post(client, cast.integration_token, alert(status="resolved"))
    assert r.status_code == 202 and r.json["incidents"][0]["incident_id"] is None
    assert count(session, Alert) == 1 and count(session, Incident) == 0


def test_a_batch_is_accepted_whole(client: Any, cast: Cast, session: Any) -> None:
    r = post(client, cast.integration_token,
             [alert(dedup_key="a"), alert(dedup_key="b"), alert(dedup_key="a")])
    assert r.status_code == 202 and r.json["accepted"] == 3
    assert count(session, Incident) == 2


def test_a_batch_keeps_each_alert_its_own_outcome(client: Any, cast: Cast, session: Any,
                                                  factory: Any) -> None:
    """The batch path (one statement for a whole firing batch on PostgreSQL) answers, stores
    and records exactly what alerts sent one by one would."""
    from oncall.models import Service

    with factory() as s, s.begin():
        s.add(Service(name="billing-cron"))
    b = post(client, cast.integration_token, alert(dedup_key="b")).json["incidents"][0]
    batch = [alert(dedup_key="a", summary="first a", value=1.5),
             alert(dedup_key="b", summary="b again"),
             alert(dedup_key="a", summary="second a", labels={"n": 2}),
             alert(dedup_key="a", service="billing-cron", summary="a elsewhere")]
    r = post(client, cast.integration_token, batch)
    assert r.status_code == 202 and r.json["accepted"] == 4
    first, joined_b, second, other = r.json["incidents"]
    assert first["new"] and not second["new"] and other["new"]
    assert second["incident_id"] == first["incident_id"] != other["incident_id"]
    assert joined_b["incident_id"] == b["incident_id"] and not joined_b["new"]
    ids = [o["alert_id"] for o in r.json["incidents"]]
    assert ids == sorted(ids) and len(set(ids)) == 4
    stored = {a.id: a for a in session.scalars(select(Alert))}
    assert [stored[i].summary for i in ids] == ["first a", "b again", "second a", "a elsewhere"]
    assert [stored[i].incident_id for i in ids] == [o["incident_id"] for o in r.json["incidents"]]
    assert stored[ids[0]].value == 1.5 and stored[ids[2]].labels == {"n": 2}
    assert stored[ids[0]].raw["summary"] == "first a"
    incident = session.get(Incident, first["incident_id"])
    assert incident.summary == "first a"  # the first alert of a key names the incident
    assert session.get(Incident, other["incident_id"]).service.name == "billing-cron"
    events = session.execute(select(IncidentEvent.incident_id, IncidentEvent.detail)
                             .where(IncidentEvent.kind == "triggered")).all()
    assert sorted(e[0] for e in events) == sorted(
        [b["incident_id"], first["incident_id"], other["incident_id"]])
    assert {e[1]["alert_id"] for e in events if e[0] == first["incident_id"]} == {ids[0]}


def test_a_mixed_batch_is_stored_in_the_order_sent(client: Any, cast: Cast,
                                                   session: Any) -> None:
    """Firing, resolved, firing again for one key in one request: the first opens the
    incident, the resolve closes it and the last opens a new one, exactly as three requests
    would (firing alerts are stored in runs, never all before the resolves)."""
    batch = [alert(dedup_key="k"), alert(dedup_key="j"), alert(dedup_key="k", status="resolved"),
             alert(dedup_key="k", summary="back"), alert(dedup_key="j")]
    r = post(client, cast.integration_token, batch)
    assert r.status_code == 202
    opened, j, resolved, reopened, j_again = r.json["incidents"]
    assert opened["new"] and j["new"] and reopened["new"] and not j_again["new"]
    assert resolved["incident_id"] == opened["incident_id"] and resolved["status"] == "resolved"
    assert reopened["incident_id"] != opened["incident_id"]
    assert j_again["incident_id"] == j["incident_id"]
    assert session.get(Incident, opened["incident_id"]).status == "resolved"
    assert session.get(Incident, reopened["incident_id"]).summary == "back"
    ids = [o["alert_id"] for o in r.json["incidents"]]
    assert ids == sorted(ids) and count(session, Alert) == 5 and count(session, Incident) == 3


def test_concurrent_overlapping_batches_open_each_incident_once(cast: Cast,
                                                                factory: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from oncall.incidents import intake
    from oncall.ingest import generic
    from oncall.models import Integration, utcnow

    with factory() as s:
        source = intake.Source.of(s.scalars(select(Integration)).one())
    keys = [f"k{i}" for i in range(20)]

    def send(n: int) -> list[Any]:
        batch = generic.parse([alert(dedup_key=k) for k in (keys if n % 2 else keys[::-1])])
        with factory() as s, s.begin():
            return intake.ingest(s, source, batch, utcnow())

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, range(16)))
    with factory() as s:
        assert count(s, Incident) == 20 and count(s, Alert) == 320
    assert sum(o.new for r in results for o in r) == 20
    assert len({o.incident_id for r in results for o in r}) == 20
    # Every batch maps each key to the one incident of that key.
    first = {keys[i]: o.incident_id for i, o in enumerate(results[1])}
    for n, r in enumerate(results):
        order = keys if n % 2 else keys[::-1]
        assert [o.incident_id for o in r] == [first[k] for k in order]


def test_the_token_may_come_as_a_bearer_header(client: Any, cast: Cast) -> None:
    r = client.post("/integrations", json=alert(),
                    headers={"Authorization": f"Bearer {cast.integration_token}"})
    assert r.status_code == 202


def test_an_alert_may_name_another_known_service(client: Any, cast: Cast, session: Any,
                                                 factory: Any) -> None:
    from oncall.models import Service

    with factory() as s, s.begin():
        s.add(Service(name="billing-cron"))
    r = post(client, cast.integration_token, alert(service="billing-cron"))
    incident = session.get(Incident, r.json["incidents"][0]["incident_id"])
    assert incident.service.name == "billing-cron"
    r = post(client, cast.integration_token, alert(service="no-such-service", dedup_key="z"))
    incident = session.get(Incident, r.json["incidents"][0]["incident_id"])
    assert incident.service.name == "billing-api"  # never dropped for a wrong name


def test_malformed_json_is_a_400_naming_the_body(client: Any, cast: Cast, session: Any) -> None:
    r = client.post(f"/integrations/{cast.integration_token}", data="{nope",
                    content_type="application/json")
    assert r.status_code == 400 and r.json["field"] == "body"
    assert "malformed JSON" in r.json["error"]
    assert count(session, Alert) == 0


def test_a_missing_field_is_a_400_naming_it(client: Any, cast: Cast, session: Any) -> None:
    r = post(client, cast.integration_token, {"type": "charge_failure"})
    assert r.status_code == 400
    assert r.json["field"] == "summary" and "summary" in r.json["error"]
    assert count(session, Alert) == 0


def test_a_wrong_type_is_a_400_naming_the_field(client: Any, cast: Cast) -> None:
    r = post(client, cast.integration_token, alert(value="lots"))
    assert r.status_code == 400 and r.json["field"] == "value"


def test_a_bad_alert_in_a_batch_rejects_the_batch(client: Any, cast: Cast, session: Any) -> None:
    r = post(client, cast.integration_token, [alert(), alert(severity="meh")])
    assert r.status_code == 400 and r.json["field"] == "[1].severity"
    assert count(session, Alert) == 0


def test_an_unknown_token_is_a_404(client: Any, cast: Cast) -> None:
    r = post(client, "oci_not-a-token", alert())
    assert r.status_code == 404 and "unknown integration token" in r.json["error"]
    assert client.post("/integrations", json=alert()).status_code == 404


def test_a_wrong_content_type_is_a_415(client: Any, cast: Cast) -> None:
    r = client.post(f"/integrations/{cast.integration_token}", data=json.dumps(alert()),
                    content_type="text/plain")
    assert r.status_code == 415 and "application/json" in r.json["error"]


def test_a_body_over_a_mebibyte_is_a_413(client: Any, cast: Cast, session: Any) -> None:
    body = json.dumps(alert(summary="x", labels={"blob": "y" * (1024 * 1024)}))
    r = client.post(f"/integrations/{cast.integration_token}", data=body,
                    content_type="application/json")
    assert r.status_code == 413 and r.is_json
    assert count(session, Alert) == 0


def test_storage_down_is_a_503_never_a_2xx(settings: Settings, cast: Cast) -> None:
    from dataclasses import replace

    from oncall.web import create_app

    down = replace(settings, database_url="postgresql+psycopg://nobody@127.0.0.1:9/none")
    r = create_app(down, TESTING=True).test_client().post(
        f"/integrations/{cast.integration_token}", json=alert())
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert "nothing was stored" in r.json["error"]


def test_a_failed_commit_is_a_503_and_stores_nothing(client: Any, cast: Cast, session: Any,
                                                     monkeypatch: Any) -> None:
    from oncall.incidents import intake

    real = intake.ingest

    def ingest_then_fail(s: Any, *args: Any, **kw: Any) -> Any:
        # A unit of work of several statements (a lone alert is one statement, its own
        # transaction: see the single-statement tests below), whose COMMIT then fails.
        real(s, *args, **{**kw, "alone": False})
        s.flush()
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(intake, "ingest", ingest_then_fail)
    r = post(client, cast.integration_token, alert())
    assert r.status_code == 503
    assert count(session, Alert) == 0 and count(session, Incident) == 0


def test_a_statement_alone_is_its_own_transaction(factory: Any) -> None:
    """``db.single_statement``: with no transaction begun, the statement is committed when
    it returns, whatever the session does next; inside one, it is part of it."""
    from sqlalchemy import text

    from oncall import db
    from oncall.models import Service

    with factory() as s:
        with db.single_statement(s) as conn:
            conn.execute(text("INSERT INTO services (name) VALUES ('alone')"))
        s.rollback()
    with factory() as s:
        s.scalar(select(func.count()).select_from(Service))  # begins the transaction
        with db.single_statement(s) as conn:
            conn.execute(text("INSERT INTO services (name) VALUES ('inside')"))
        s.rollback()
    with factory() as s:
        assert s.scalars(select(Service.name)).all() == ["alone"]


def test_a_lone_alert_is_one_statement_on_postgres(client: Any, cast: Cast, session: Any,
                                                   settings: Settings) -> None:
    """One round trip per alert: no BEGIN and COMMIT around the intake statement."""
    from sqlalchemy import event

    from oncall import db

    if not settings.database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's path: SQLite stores an alert in a few statements")
    post(client, cast.integration_token, alert(dedup_key="warm"))  # caches the lookups
    engine = db.get_engine(settings.database_url)
    sent: list[str] = []
    autocommit: list[bool] = []

    def on_execute(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement.split()[0])
        autocommit.append(conn.connection.driver_connection.autocommit)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        first = post(client, cast.integration_token, alert(dedup_key="one"))
        again = post(client, cast.integration_token, alert(dedup_key="one"))
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    assert first.status_code == again.status_code == 202
    assert sent == ["WITH", "WITH"] and autocommit == [True, True]
    assert first.json["incidents"][0]["new"] and not again.json["incidents"][0]["new"]
    assert count(session, Alert) == 3 and count(session, Incident) == 2
