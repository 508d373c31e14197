"""Per-integration rate limits on intake: 429 with Retry-After, nothing stored for a refused
request, other integrations unaffected, counters shared by every web worker (Redis), and a
limiter whose Redis is down never refuses an alert."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from oncall.config import Settings
from oncall.models import Alert, Integration
from oncall.security import hash_token, new_token
from tests.conftest import Cast, alert
from tests.servers import web_server


def make_app(settings: Settings, limit: str, storage: str | None = None) -> Any:
    from oncall.web import create_app

    return create_app(dataclasses.replace(settings, intake_rate_limit=limit,
                                          ratelimit_storage_url=storage), TESTING=True)


def alerts_stored(factory: Any) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(Alert)) or 0)


def second_integration(factory: Any, cast: Cast, kind: str = "generic") -> str:
    token = new_token("oci") if kind != "pagerduty" else "f" * 32
    with factory() as s, s.begin():
        s.add(Integration(service_id=cast.service.id, kind=kind, name=f"other-{kind}",
                          token_hash=hash_token(token), prefix=token[:10]))
    return token


def test_over_the_limit_is_429_with_retry_after_and_stores_nothing(
        settings: Settings, factory: Any, cast: Cast) -> None:
    client = make_app(settings, "3/minute", "memory://").test_client()
    hook = f"/integrations/{cast.integration_token}"
    codes = [client.post(hook, json=alert(dedup_key=f"k{i}")).status_code for i in range(5)]
    assert codes == [202, 202, 202, 429, 429]
    refused = client.post(hook, json=alert())
    assert refused.status_code == 429
    assert refused.json["error"].startswith("rate limit exceeded for this integration")
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert alerts_stored(factory) == 3  # the refused requests left nothing behind
    # Accepted answers carry no Retry-After (it would tell a sender to back off).
    other = second_integration(factory, cast)
    ok = client.post(f"/integrations/{other}", json=alert())
    assert ok.status_code == 202 and "Retry-After" not in ok.headers


def test_the_limit_is_per_integration_and_covers_every_intake_path(
        settings: Settings, factory: Any, cast: Cast) -> None:
    client = make_app(settings, "2/minute", "memory://").test_client()
    token = cast.integration_token
    assert client.post(f"/integrations/{token}", json=alert()).status_code == 202
    # The same integration through the Bearer form shares its bucket.
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.post("/integrations", json=alert(), headers=bearer).status_code == 202
    assert client.put(f"/integrations/{token}", json=alert()).status_code == 429
    # PagerDuty events are counted by routing_key.
    key = second_integration(factory, cast, "pagerduty")
    event = {"routing_key": key, "event_action": "trigger",
             "payload": {"summary": "s", "source": "x", "severity": "critical"}}
    assert [client.post("/v2/enqueue", json=event).status_code for _ in range(3)] == \
        [202, 202, 429]


def test_off_disables_and_a_bad_value_fails_at_start(settings: Settings, cast: Cast) -> None:
    client = make_app(settings, "off").test_client()
    hook = f"/integrations/{cast.integration_token}"
    assert all(client.post(hook, json=alert()).status_code == 202 for _ in range(20))
    with pytest.raises(ValueError, match="ONCALL_INTAKE_RATE_LIMIT"):
        make_app(settings, "lots per fortnight")


def test_an_unreachable_limiter_store_never_refuses_an_alert(
        settings: Settings, factory: Any, cast: Cast) -> None:
    # Nothing listens on port 1: the limiter falls back to memory and keeps accepting.
    client = make_app(settings, "100/minute", "redis://127.0.0.1:1/0").test_client()
    r = client.post(f"/integrations/{cast.integration_token}", json=alert())
    assert r.status_code == 202
    assert alerts_stored(factory) == 1


def test_gunicorn_workers_share_one_counter_in_redis(
        settings: Settings, factory: Any, cast: Cast, tmp_path: Path) -> None:
    if not settings.broker_url.startswith("redis"):
        pytest.skip("needs Redis as the broker (ONCALL_TEST_BROKER_URL); CI requires it")
    with web_server(settings, tmp_path, workers=4,
                    extra_env={"ONCALL_INTAKE_RATE_LIMIT": "10/minute"}) as url:
        hook = f"{url}/integrations/{cast.integration_token}"
        with requests.Session() as http:
            codes = [http.post(hook, json=alert(), timeout=10).status_code for _ in range(16)]
    assert codes.count(202) == 10 and codes.count(429) == 6, codes
    assert alerts_stored(factory) == 10
