"""A cap on alerts per webhook request (ONCALL_MAX_ALERTS_PER_REQUEST): past it the whole
request is refused with 413 naming the field, and nothing of it is stored."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from oncall.config import ConfigError, Settings, load_settings
from oncall.models import Alert, Incident
from tests.conftest import Cast, alert, web_app
from tests.test_intake_formats import fixture, integration


@pytest.fixture
def capped(settings: Settings) -> Iterator[Any]:
    """The app with a cap of 5 alerts per request."""
    yield from web_app(dataclasses.replace(settings, max_alerts_per_request=5))


def stored(factory: Any) -> tuple[int, int]:
    with factory() as s:
        return (s.scalar(select(func.count()).select_from(Alert)) or 0,
                s.scalar(select(func.count()).select_from(Incident)) or 0)


def many(body: dict[str, Any], n: int) -> dict[str, Any]:
    """``body`` (an Alertmanager or Grafana notification) with ``n`` small distinct alerts
    (10,000 of them fit the 1 MiB body limit, as in the report: 789 KB)."""
    out = copy.deepcopy(body)
    out["alerts"] = [{"status": "firing", "labels": {"alertname": "X"}, "fingerprint": f"f{i}"}
                     for i in range(n)]
    return out


@pytest.mark.parametrize("kind,name", [("alertmanager", "alertmanager_webhook_firing.json"),
                                       ("grafana", "grafana_alerting_webhook.json")])
def test_the_default_cap_refuses_ten_thousand_alerts_whole(
        client: Any, cast: Cast, factory: Any, kind: str, name: str) -> None:
    token = integration(factory, kind)
    r = client.post(f"/integrations/{token}", json=many(fixture(name), 10_000))
    assert r.status_code == 413
    assert r.json["field"] == "alerts"
    assert "10000 alerts in one request; at most 1000" in r.json["error"]
    assert stored(factory) == (0, 0)


def test_a_configured_cap_applies_to_every_format(capped: Any, cast: Cast,
                                                  factory: Any) -> None:
    client = capped.test_client()
    am = integration(factory, "alertmanager")
    r = client.post(f"/integrations/{am}",
                    json=many(fixture("alertmanager_webhook_firing.json"), 6))
    assert (r.status_code, r.json["field"]) == (413, "alerts")
    r = client.post(f"/integrations/{cast.integration_token}",
                    json=[alert(dedup_key=f"k{i}") for i in range(6)])
    assert (r.status_code, r.json["field"]) == (413, "body")
    assert stored(factory) == (0, 0)
    r = client.post(f"/integrations/{cast.integration_token}",
                    json=[alert(dedup_key=f"k{i}") for i in range(5)])
    assert r.status_code == 202 and stored(factory) == (5, 5)


def test_the_cap_is_read_from_the_environment_and_must_be_positive(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().max_alerts_per_request == 1000
    monkeypatch.setenv("ONCALL_MAX_ALERTS_PER_REQUEST", "50")
    assert load_settings().max_alerts_per_request == 50
    monkeypatch.setenv("ONCALL_MAX_ALERTS_PER_REQUEST", "0")
    with pytest.raises(ConfigError, match="ONCALL_MAX_ALERTS_PER_REQUEST must be at least 1"):
        load_settings()


def test_the_openapi_document_states_the_cap(capped: Any) -> None:
    spec = capped.test_client().get("/api/v1/openapi.json").json
    body = spec["paths"]["/integrations/{token}"]["post"]["requestBody"]
    [_, array] = body["content"]["application/json"]["schema"]["oneOf"]
    assert array["maxItems"] == 5
