"""End to end with a real Celery worker process on the configured broker and database:
alert -> page -> no ack -> level 2 -> ack -> nothing more; crashes; a flushed broker; a storm.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from oncall.config import Settings
from oncall.models import Alert, Incident
from tests.conftest import Cast, WorkerProcess, alert, make_cast, pages_for, wait_for
from tests.servers import web_server

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def sent(factory: Any, incident_id: int) -> list[tuple[int, int, str]]:
    return [(p.level, p.loop, p.recipient) for p in pages_for(factory, incident_id)
            if p.status == "sent"]


def open_incident(client: Any, cast: Cast) -> int:
    r = client.post(f"/integrations/{cast.integration_token}", json=alert())
    assert r.status_code == 202
    return int(r.json["incidents"][0]["incident_id"])


def test_no_ack_escalates_and_ack_stops_everything(factory: Any, client: Any,
                                                   worker: WorkerProcess) -> None:
    cast = make_cast(factory, escalate_after=2, repeat=1)  # alice, bob, alice, bob
    worker.start()
    incident = open_incident(client, cast)
    alice, bob = f"user:{cast.alice.id}", f"user:{cast.bob.id}"
    wait_for(lambda: sent(factory, incident) == [(1, 0, alice)], 10, what="alice's page")
    wait_for(lambda: len(sent(factory, incident)) == 2, 10, what="level 2")
    assert sent(factory, incident) == [(1, 0, alice), (2, 0, bob)]
    r = client.post(f"/api/v1/incidents/{incident}/ack", headers=cast.auth("bob"))
    assert r.status_code == 200
    time.sleep(5)  # the ladder would have paged alice again (loop 1) by now
    assert sent(factory, incident) == [(1, 0, alice), (2, 0, bob)]
    assert len(pages_for(factory, incident)) == 2


def test_a_worker_killed_between_levels_escalates_exactly_once(factory: Any, client: Any,
                                                               worker: WorkerProcess) -> None:
    cast = make_cast(factory, escalate_after=4)
    worker.start()
    incident = open_incident(client, cast)
    wait_for(lambda: len(sent(factory, incident)) == 1, 10, what="level 1")
    worker.kill9()  # the level-2 countdown task dies with it (unacked, invisible for 1 h)
    worker.start()
    wait_for(lambda: len(sent(factory, incident)) == 2, 20, what="level 2 after the crash")
    time.sleep(3)
    assert sent(factory, incident) == [(1, 0, f"user:{cast.alice.id}"),
                                       (2, 0, f"user:{cast.bob.id}")]
    assert len(pages_for(factory, incident)) == 2


def test_a_flushed_redis_does_not_lose_the_escalation(factory: Any, client: Any,
                                                      worker: WorkerProcess,
                                                      settings: Settings) -> None:
    if not settings.broker_url.startswith("redis"):
        pytest.skip("needs Redis as the broker (ONCALL_TEST_BROKER_URL); CI requires it")
    import redis

    cast = make_cast(factory, escalate_after=3)
    worker.start()
    incident = open_incident(client, cast)
    wait_for(lambda: len(sent(factory, incident)) == 1, 10, what="level 1")
    redis.Redis.from_url(settings.broker_url).flushdb()  # the countdown task is gone
    wait_for(lambda: len(sent(factory, incident)) == 2, 20, what="level 2 after the flush")
    assert sent(factory, incident)[1] == (2, 0, f"user:{cast.bob.id}")


def test_the_same_webhook_a_thousand_times_at_once_is_one_incident_and_one_page(
        factory: Any, settings: Settings, worker: WorkerProcess, tmp_path: Path) -> None:
    cast = make_cast(factory, escalate_after=600)
    body = alert(dedup_key="storm")
    # This is about deduplication under concurrency; the rate limit has its own tests.
    with web_server(settings, tmp_path, extra_env={"ONCALL_INTAKE_RATE_LIMIT": "off"}) as url:
        hook = f"{url}/integrations/{cast.integration_token}"
        worker.start()
        with requests.Session() as http, ThreadPoolExecutor(32) as pool:
            codes = list(pool.map(lambda _: http.post(hook, json=body, timeout=60).status_code,
                                  range(1000)))
    assert codes.count(202) == 1000, {c: codes.count(c) for c in set(codes)}
    with factory() as s:
        [incident] = s.scalars(select(Incident)).all()
        assert s.scalar(select(func.count()).select_from(Alert)) == 1000
    wait_for(lambda: len(sent(factory, incident.id)) == 1, 15, what="the page")
    time.sleep(2)
    assert sent(factory, incident.id) == [(1, 0, f"user:{cast.alice.id}")]
