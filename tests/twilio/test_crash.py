"""Crash: a real worker delivering SMS pages to a slowed fake Twilio is killed with SIGKILL
again and again. Afterwards every page has reached Twilio and is marked sent; a page that
reached Twilio twice is allowed only in the one at-least-once window (the request was made,
its result not yet stored: its ``provider_sends`` row is still ``requested``). The counts are
printed (docs/twilio.md quotes them)."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from oncall.config import Settings
from oncall.models import EscalationPolicy, Page, PolicyLevel, ProviderSend, Service, User, utcnow
from tests.conftest import ROOT, WorkerProcess, make_cast, wait_for
from tests.twilio.conftest import twilio_settings_for
from tests.twilio.fakes import FakeTwilio

pytestmark = [pytest.mark.worker, pytest.mark.slow]

USERS = 8
ROUNDS = 10
PER_ROUND = 3


class SmsWorker(WorkerProcess):
    """The real worker, started through tests/twilio/sms_worker.py (users paged by SMS)."""

    def start(self, wait: bool = True) -> SmsWorker:
        self.runs += 1
        log = open(self.log_dir / f"worker-{self.runs}.log", "wb")  # noqa: SIM115
        started = utcnow()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "twilio" / "sms_worker.py"), "-A",
             "worker.app", "worker", "-B", "-Q", "oncall,oncall.beat", "-l", "INFO",
             "--concurrency", "2", "-s", str(self.log_dir / f"beat-{self.runs}")],
            cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        if wait:
            self.wait_for_sweep(after=started)
        return self


def setup_people(factory: Any) -> list[tuple[int, str]]:
    """USERS responders with phones, all on level 1 of the billing policy."""
    make_cast(factory, escalate_after=3600)
    people = []
    with factory() as s, s.begin():
        service = s.scalars(select(Service)).one()
        for i in range(USERS):
            user = User(email=f"r{i}@example.com", name=f"R{i}", phone=f"+1415555{i:04d}")
            s.add(user)
            s.flush()
            people.append((user.id, user.phone or ""))
        policy = EscalationPolicy(name="everyone", levels=[PolicyLevel(
            position=0, escalate_after=3600,
            targets=[{"type": "user", "ref": f"r{i}@example.com"} for i in range(USERS)])])
        s.add(policy)
        s.flush()
        service.policy_id = policy.id
    return people


def test_kill9_during_delivery_loses_no_page(factory: Any, client: Any, settings: Settings,
                                            tmp_path: Path) -> None:
    from tests.conftest import _purge_broker

    _purge_broker(settings.broker_url)
    fake = FakeTwilio()
    fake.delay = 0.25  # each request takes a while: kills land inside it
    worker = SmsWorker(twilio_settings_for(settings, fake.url), tmp_path)
    worker.extra_env.update(
        TWILIO_ACCOUNT_SID="AC5e0f2a4c6b8d0e1f3a5c7b9d1e3f5a7c",
        TWILIO_AUTH_TOKEN="0123456789abcdef0123456789abcdef",
        TWILIO_FROM_NUMBER="+12125550147", TWILIO_API_BASE_URL=fake.url,
        ONCALL_PUBLIC_URL="https://oncall.example.com",
        ONCALL_PAGE_LEASE_SECONDS="2", ONCALL_TEST_NO_THROTTLE="1")
    people = setup_people(factory)
    token = make_token(factory)
    rng = random.Random(20261127)
    incidents: list[int] = []
    kills = 0
    try:
        for round_no in range(ROUNDS):
            worker.start()
            for k in range(PER_ROUND):
                r = client.post(f"/integrations/{token}",
                                json={"summary": f"crash round {round_no} alert {k}",
                                      "dedup_key": f"crash-{round_no}-{k}"})
                assert r.status_code == 202
                incidents.append(int(r.json["incidents"][0]["incident_id"]))
            # Kill while pages are going out (each takes >= 0.25 s at the fake).
            time.sleep(rng.uniform(0.2, 1.5))
            worker.kill9()
            kills += 1
        worker.start()
        expected = {(inc, uid) for inc in incidents for uid, _ in people}

        def all_sent() -> bool:
            with factory() as s:
                rows = s.execute(select(Page.incident_id, Page.user_id, Page.status)).all()
            return {(i, u) for i, u, st in rows if st == "sent"} == expected

        wait_for(all_sent, 120, interval=0.5, what="every page sent after the crashes")
    finally:
        worker.stop()
        fake.close()

    number_of = {uid: phone for uid, phone in people}
    reached: Counter[tuple[int, str]] = Counter()
    for req in fake.requests:
        for inc in map(int, re.findall(r"#(\d+) ", req.form.get("Body", ""))):
            reached[(inc, req.form["To"])] += 1
    with factory() as s:
        pages = s.execute(select(Page.incident_id, Page.user_id)).all()
        # Requests whose answer was never stored: still "requested", or "superseded" by a
        # later request for the same pages.
        in_flight = s.scalars(select(ProviderSend).where(
            ProviderSend.status.in_(["requested", "superseded"])))
        lost_results = Counter((inc, send.destination) for send in in_flight
                               for inc in page_incidents(s, send.page_ids))
    assert len(pages) == len(expected) == ROUNDS * PER_ROUND * USERS  # nobody paged twice
    missing = [p for p in pages if reached[(p.incident_id, number_of[p.user_id])] == 0]
    assert missing == [], "pages that never reached Twilio"
    duplicates = {key: n - 1 for key, n in reached.items() if n > 1}
    unexplained = {key: n for key, n in duplicates.items() if n > lost_results[key]}
    assert unexplained == {}, f"duplicates outside the at-least-once window: {unexplained}"
    total = sum(duplicates.values())
    print(f"\ncrash test: {kills} kill -9s, {len(pages)} pages, {len(fake.requests)} requests "
          f"to Twilio, {total} duplicate deliveries ({100 * total / len(pages):.1f}% of pages), "
          f"{sum(lost_results.values())} page sends whose result was lost, "
          f"{fake.lookups} lookups at Twilio")


def page_incidents(session: Any, page_ids: list[int]) -> list[int]:
    return list(session.scalars(select(Page.incident_id).where(Page.id.in_(page_ids))))


def make_token(factory: Any) -> str:
    from oncall.models import Integration
    from oncall.security import hash_token, new_token

    token = new_token("oci")
    with factory() as s, s.begin():
        service = s.scalars(select(Service)).one()
        s.add(Integration(service_id=service.id, kind="generic", name="crash",
                          token_hash=hash_token(token), prefix=token[:10]))
    return token
