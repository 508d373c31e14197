"""Fixtures for the Twilio channels: a fake Twilio, settings pointing the real SDK at it,
phones for the cast, and a pager that drives the engine on a virtual clock."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from oncall.channels import registry
from oncall.config import Settings
from oncall.incidents import intake
from oncall.incidents.intake import Source
from oncall.ingest.generic import parse_one
from oncall.models import Integration, User, utcnow
from oncall.paging import sweeper
from tests.conftest import REQUIRED, ROOT, Cast, alert, make_cast, wait_for, web_app
from tests.servers import free_port
from tests.twilio.fakes import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    PUBLIC_URL,
    FakeTwilio,
    Phone,
)

ALICE, BOB = "+14155550101", "+14155550102"


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    yield fake
    fake.close()


def twilio_settings_for(settings: Settings, base_url: str) -> Settings:
    return dataclasses.replace(
        settings, public_url=PUBLIC_URL, twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN, twilio_from_number=FROM_NUMBER,
        twilio_api_base_url=base_url, twilio_timeout=5.0)


@pytest.fixture
def twilio_settings(settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    return twilio_settings_for(settings, fake_twilio.url)


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``channels("sms")``: page every user on these channels only (the default notification
    rules follow ``registry.channels_for``). Registered channels are restored after the
    test."""
    monkeypatch.setattr(registry, "_CHANNELS", dict(registry._CHANNELS))

    def use(*names: str) -> None:
        monkeypatch.setattr(registry, "channels_for", lambda user: list(names))

    use("sms")
    return use


@pytest.fixture
def twilio_app(twilio_settings: Settings, channels: Any) -> Iterator[Any]:
    yield from web_app(twilio_settings)


@pytest.fixture
def tclient(twilio_app: Any) -> Any:
    return twilio_app.test_client()


@pytest.fixture
def cast(factory: Any) -> Cast:
    cast = make_cast(factory, escalate_after=300)
    with factory() as s, s.begin():
        s.execute(update(User).where(User.id == cast.alice.id).values(phone=ALICE))
        s.execute(update(User).where(User.id == cast.bob.id).values(phone=BOB))
    return cast


@pytest.fixture
def alice(fake_twilio: FakeTwilio, tclient: Any, cast: Cast) -> Phone:
    return Phone(ALICE, fake_twilio, tclient)


@pytest.fixture
def bob(fake_twilio: FakeTwilio, tclient: Any, cast: Cast) -> Phone:
    return Phone(BOB, fake_twilio, tclient)


class Pager:
    """The worker's loop on a virtual clock: ``trigger`` opens an incident, ``tick`` moves
    time on and runs the sweeper (escalations due, pages due)."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.now: datetime = utcnow()

    def trigger(self, **fields: Any) -> int:
        with self.factory() as s, s.begin():
            integration = s.scalar(select(Integration))
            [outcome] = intake.ingest(s, Source.of(integration),
                                      [parse_one(alert(**fields))], self.now)
            return int(outcome.incident_id)

    def tick(self, seconds: float = 0.0) -> sweeper.SweepReport:
        self.now += timedelta(seconds=seconds)
        return sweeper.sweep(self.factory, self.now)


@pytest.fixture
def pager(factory: Any, twilio_app: Any) -> Pager:
    return Pager(factory)


PRISM = ROOT / "tests" / "tools" / "node_modules" / ".bin" / "prism"
TWILIO_SPEC = ROOT / "tests" / "fixtures" / "twilio_api_v2010.json"


@pytest.fixture(scope="session")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prism mocking the Twilio REST API from Twilio's OpenAPI document, validating every
    request against it (an invalid one is answered 422, which the SDK raises). Install it
    with ``npm ci`` in tests/tools. Missing it is a failure when ONCALL_TEST_REQUIRE is set
    (CI), else a skip."""
    if not PRISM.exists():
        message = f"Prism is not installed: run `npm ci` in {PRISM.parents[2]}"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    log_path = tmp_path_factory.mktemp("prism") / "prism.log"
    log = open(log_path, "wb")  # noqa: SIM115
    # -d: a generated response per request (unique SIDs), validated against the spec.
    proc = subprocess.Popen([str(PRISM), "mock", "-d", "-h", "127.0.0.1", "-p", str(port),
                             str(TWILIO_SPEC)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    log.close()
    url = f"http://127.0.0.1:{port}"

    def listening() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"Prism exited: {log_path.read_text()[-2000:]}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, 90, interval=0.3, what="Prism")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
