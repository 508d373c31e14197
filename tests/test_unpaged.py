"""An incident nobody is paged for is loud: the admins are paged (level 0), the timeline says
why, the worker logs it, and /ready and /metrics count it."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from oncall.channels import Receipt, registry
from oncall.config import Settings
from oncall.incidents import intake
from oncall.incidents.intake import Source
from oncall.ingest.generic import parse_one
from oncall.models import (
    EscalationPolicy,
    Incident,
    IncidentEvent,
    Integration,
    PolicyLevel,
    Service,
    User,
    utcnow,
)
from oncall.paging import runs, sweeper, unpaged
from oncall.web.health import operator_warnings
from tests.conftest import Cast, alert, make_cast, pages_for


def trigger(factory: Any, service: str, summary: str = "Charge failures for acme") -> int:
    with factory() as s, s.begin():
        svc = s.scalar(select(Service).where(Service.name == service))
        integration = s.scalar(select(Integration).where(Integration.service_id == svc.id))
        [outcome] = intake.ingest(s, Source.of(integration),
                                  [parse_one(alert(summary=summary))], utcnow())
        return int(outcome.incident_id)


def add_service(factory: Any, name: str, policy: EscalationPolicy | None = None) -> None:
    with factory() as s, s.begin():
        service = Service(name=name, policy=policy)
        s.add(service)
        s.flush()
        s.add(Integration(service_id=service.id, kind="generic", name=f"{name}-hook",
                          token_hash=f"hash-{name}", prefix="oci_x"))


def add_admins(factory: Any, *emails: str) -> list[int]:
    with factory() as s, s.begin():
        admins = [User(email=e, name=e.split("@")[0], role="admin") for e in emails]
        s.add_all(admins)
        s.flush()
        return [a.id for a in admins]


def unpaged_events(factory: Any, incident_id: int) -> list[dict[str, Any]]:
    with factory() as s:
        return [e.detail for e in s.scalars(select(IncidentEvent).where(
            IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "unpaged"))]


@pytest.fixture
def cast(factory: Any) -> Cast:
    return make_cast(factory)


def test_an_incident_of_a_service_without_a_policy_pages_every_admin(
        factory: Any, cast: Cast, caplog: pytest.LogCaptureFixture) -> None:
    root, ops = add_admins(factory, "root@example.com", "ops@example.com")
    add_service(factory, "orphan")
    incident_id = trigger(factory, "orphan", summary="cron missed\nFAKE log line")
    with caplog.at_level(logging.WARNING, logger="oncall.paging.unpaged"):
        result = runs.escalate_incident(factory, incident_id)
    assert result is not None
    pages = pages_for(factory, incident_id)
    assert {(p.level, p.user_id) for p in pages} == {(0, root), (0, ops)}
    assert all("Nobody was paged for incident" in (p.message or "") for p in pages)
    assert "no escalation policy" in pages[0].message
    [detail] = unpaged_events(factory, incident_id)
    assert detail["admins_notified"] == ["root@example.com", "ops@example.com"]
    assert "no escalation policy" in detail["reason"]
    [line] = [r.getMessage() for r in caplog.records if r.name == "oncall.paging.unpaged"]
    assert f"incident #{incident_id}" in line and "pages nobody" in line
    assert "\n" not in line  # the summary's newline cannot forge a log line
    for page_id in result.page_ids:
        assert runs.deliver_page(factory, page_id) is True
    assert {p.status for p in pages_for(factory, incident_id)} == {"sent"}


def test_the_admins_are_paged_once_however_often_the_incident_is_stepped(
        factory: Any, cast: Cast) -> None:
    add_admins(factory, "root@example.com")
    add_service(factory, "orphan")
    incident_id = trigger(factory, "orphan")
    runs.escalate_incident(factory, incident_id)
    for _ in range(3):
        runs.escalate_incident(factory, incident_id)
        sweeper.sweep(factory)
    assert len(pages_for(factory, incident_id)) == 1
    assert len(unpaged_events(factory, incident_id)) == 1


def test_a_policy_whose_levels_name_nobody_also_pages_the_admins(factory: Any,
                                                                 cast: Cast) -> None:
    [root] = add_admins(factory, "root@example.com")
    add_service(factory, "ghosts", EscalationPolicy(name="ghosts", repeat=0, levels=[
        PolicyLevel(position=0, escalate_after=60,
                    targets=[{"type": "user", "ref": "nobody@example.com"}])]))
    incident_id = trigger(factory, "ghosts")
    runs.escalate_incident(factory, incident_id)
    assert [(p.level, p.user_id) for p in pages_for(factory, incident_id)] == [(0, root)]
    [detail] = unpaged_events(factory, incident_id)
    assert "named anyone who could be paged" in detail["reason"]


def test_an_incident_that_pages_someone_does_not_bother_the_admins(factory: Any,
                                                                   cast: Cast) -> None:
    add_admins(factory, "root@example.com")
    incident_id = trigger(factory, "billing-api")
    runs.escalate_incident(factory, incident_id)
    assert [p.user_id for p in pages_for(factory, incident_id)] == [cast.alice.id]
    assert unpaged_events(factory, incident_id) == []


def test_with_no_admin_the_timeline_and_the_log_still_say_so(
        factory: Any, cast: Cast, caplog: pytest.LogCaptureFixture) -> None:
    add_service(factory, "orphan")
    incident_id = trigger(factory, "orphan")
    with caplog.at_level(logging.WARNING, logger="oncall.paging.unpaged"):
        runs.escalate_incident(factory, incident_id)
    assert pages_for(factory, incident_id) == []
    assert unpaged_events(factory, incident_id)[0]["admins_notified"] == []
    assert any("notifying admins: none" in r.getMessage() for r in caplog.records)


def test_ready_and_metrics_count_open_incidents_nobody_was_paged_for(
        factory: Any, cast: Cast, client: Any) -> None:
    add_service(factory, "orphan")
    paged = trigger(factory, "billing-api")
    orphan = trigger(factory, "orphan")
    with factory() as s:
        assert unpaged.open_unpaged(s) == 0  # not stepped yet: not counted
    runs.escalate_incident(factory, paged)
    runs.escalate_incident(factory, orphan)
    with factory() as s:
        assert unpaged.open_unpaged(s) == 1
    body = client.get("/ready").get_json()
    assert any("1 open incident(s) paged nobody" in w for w in body["warnings"])
    assert "oncall_incidents_unpaged 1.0" in client.get("/metrics").get_data(as_text=True)
    with factory() as s, s.begin():
        s.get(Incident, orphan).status = "resolved"  # type: ignore[union-attr]
    with factory() as s:
        assert unpaged.open_unpaged(s) == 0


class _FakeSms:
    name = "sms"

    def send(self, page: Any) -> Receipt:
        return Receipt(provider_id="SM1")


def test_ready_warns_when_no_provider_would_reach_anyone(settings: Settings) -> None:
    production = Settings(database_url="postgresql+psycopg://x/y", broker_url="redis://x",
                          public_url="http://x", secret_key="k", data_dir=settings.data_dir)
    registry.unregister("sms")
    registry.unregister("voice")
    registry.unregister("slack")
    assert registry.NO_PROVIDER in operator_warnings(production, 0)
    embedded = Settings(database_url="sqlite:///x", broker_url="sqla+sqlite:///y",
                        public_url="http://x", secret_key="k", data_dir=settings.data_dir)
    assert operator_warnings(embedded, 0) == []  # oncall up prints pages by design
    registry.register(_FakeSms())
    try:
        assert operator_warnings(production, 0) == []
    finally:
        registry.unregister("sms")


def test_every_process_says_at_start_when_no_provider_is_configured(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    production = Settings(database_url="postgresql+psycopg://x/y", broker_url="redis://x",
                          public_url="http://x", secret_key="k", data_dir=settings.data_dir)
    with caplog.at_level(logging.WARNING, logger="oncall.channels.registry"):
        registry.setup(production)
    assert any(registry.NO_PROVIDER in r.getMessage() for r in caplog.records)
