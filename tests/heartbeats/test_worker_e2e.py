"""End to end with a real Celery worker (beat embedded): a heartbeat that missed its run goes
down on the beat's check and its incident pages the person on call, once."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from oncall.heartbeats import service
from oncall.models import Heartbeat, Incident, utcnow
from tests.conftest import Cast, WorkerProcess, pages_for, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def test_a_missed_heartbeat_pages_through_the_real_worker(factory: Any, cast: Cast,
                                                          worker: WorkerProcess) -> None:
    with factory() as s, s.begin():
        # Created two hours ago with an hourly period and 10 minutes' grace: overdue now.
        hb = service.create(s, "user:manager@example.com",
                            {"name": "nightly-charge-run", "period": "1h", "grace": "10m",
                             "service": cast.service.name}, utcnow() - timedelta(hours=2))
    worker.extra_env["ONCALL_HEARTBEAT_INTERVAL"] = "1"
    worker.start()

    def sent() -> list[tuple[int, str]]:
        with factory() as s:
            found = s.scalar(select(Incident).where(
                Incident.dedup_key == "heartbeat:nightly-charge-run"))
        if found is None:
            return []
        return [(p.level, p.recipient) for p in pages_for(factory, found.id)
                if p.status == "sent"]

    wait_for(sent, 20, what="the heartbeat's page")
    time.sleep(3)  # a few more checks: the down is reported once
    assert sent() == [(1, f"user:{cast.alice.id}")]
    with factory() as s:
        assert len(s.scalars(select(Incident)).all()) == 1
        assert s.get(Heartbeat, hb.id).state == "down"  # type: ignore[union-attr]
