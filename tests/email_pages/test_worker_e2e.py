"""Email end to end with a real Celery worker process: an alert comes in through the web,
the worker pages alice by email through the real SMTP server, her link acknowledges, and the
ladder (bob after 2 s) never goes on."""

from __future__ import annotations

import time
from typing import Any

import pytest

from oncall.models import Incident
from tests.conftest import WorkerProcess, alert, make_cast, pages_for
from tests.email_pages.conftest import FROM, PUBLIC, SmtpServer, tokens

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def test_a_worker_pages_by_email_and_the_link_stops_the_ladder(
        web: Any, factory: Any, smtp: SmtpServer, worker: WorkerProcess,
        email_settings: Any) -> None:
    cast = make_cast(factory, escalate_after=3)
    worker.extra_env.update(ONCALL_SMTP_URL=smtp.url, ONCALL_SMTP_FROM=FROM,
                            ONCALL_PUBLIC_URL=PUBLIC,
                            # The worker signs the links the web checks: one key for both.
                            ONCALL_SECRET_KEY=email_settings.secret_key)
    worker.start()
    r = web.post(f"/integrations/{cast.integration_token}", json=alert())
    assert r.status_code == 202
    incident = int(r.json["incidents"][0]["incident_id"])
    [msg] = smtp.mailbox.wait(1, timeout=15)
    assert msg["X-Envelope-To"] == "alice@example.com"
    r = web.post(f"/email/{tokens(msg)['ack']}")
    assert r.status_code == 200, r.text
    with factory() as s:
        assert s.get(Incident, incident).status == "acknowledged"
    time.sleep(6)  # bob would have been paged 3 s after alice
    assert len(smtp.mailbox.messages) == 1
    assert {(p.level, p.channel, p.status) for p in pages_for(factory, incident)
            if p.channel == "email"} == {(1, "email", "sent")}
