"""Request signing: FORMATS.md §5.2 test vectors, and what /slack/* does with bad signatures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.conftest import Cast
from tests.slack.conftest import ALICE, Queue, open_incident, status
from tests.slack_fake import SECRET, FakeSlack, sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TIMESTAMP = 1741683780
VECTORS = {
    "slack_block_actions.form":
        "v0=0433dbe3e3307848925dc246bcf2886df2e98317a23a7b44f18da777d1bcb12b",
    "slack_slash_command_oncall_who.form":
        "v0=cd8329c1b88085e2ecd3546c79ae8e754a2cf0ad7e4b357aec3ab2e1150612ed",
}


class Clock:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_the_documented_vectors_verify_with_slack_sdk(name: str) -> None:
    body = (FIXTURES / name).read_bytes()
    verifier = SignatureVerifier(SECRET, clock=Clock(TIMESTAMP + 10))  # type: ignore[arg-type]
    assert verifier.is_valid(body, str(TIMESTAMP), VECTORS[name])
    assert sign(body, timestamp=TIMESTAMP)["X-Slack-Signature"] == VECTORS[name]


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_a_clock_301_seconds_later_rejects_them(name: str) -> None:
    body = (FIXTURES / name).read_bytes()
    late = SignatureVerifier(SECRET, clock=Clock(TIMESTAMP + 301))  # type: ignore[arg-type]
    assert not late.is_valid(body, str(TIMESTAMP), VECTORS[name])


def test_one_changed_byte_fails_the_vector() -> None:
    body = (FIXTURES / "slack_block_actions.form").read_bytes().replace(b"ack", b"acK", 1)
    verifier = SignatureVerifier(SECRET, clock=Clock(TIMESTAMP))  # type: ignore[arg-type]
    assert not verifier.is_valid(body, str(TIMESTAMP), VECTORS["slack_block_actions.form"])


def _fixture_press(incident: int) -> bytes:
    """The fixture's raw body with its incident id swapped for ours (same encoding)."""
    raw = (FIXTURES / "slack_block_actions.form").read_bytes()
    return raw.replace(b"%22INC-4821%22", f"%22INC-{incident}%22".encode())


@pytest.mark.parametrize("headers", [
    pytest.param(lambda body: sign(body, timestamp=TIMESTAMP), id="stale (the 2025 vector)"),
    pytest.param(lambda body: sign(body, secret="not-the-secret"), id="wrong secret"),
    pytest.param(lambda body: {**sign(body), "X-Slack-Signature": "v0=00"}, id="forged"),
    pytest.param(lambda body: {"Content-Type": "application/x-www-form-urlencoded"},
                 id="unsigned"),
])
def test_a_bad_or_stale_signature_is_403_and_changes_nothing(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        headers: Any) -> None:
    from tests.slack.conftest import link

    link(factory, alice="U04MRTZ7Q2K")  # the fixture's user
    incident = open_incident(web, slack_cast)
    queue.take()
    body = _fixture_press(incident)
    r = web.post("/slack/interactive", data=body, headers=headers(body))
    assert r.status_code == 403 and "signature" in r.json["error"]
    r = web.post("/slack/commands", data=b"user_id=U04MRTZ7Q2K&text=ack+1",
                 headers=headers(b"user_id=U04MRTZ7Q2K&text=ack+1"))
    assert r.status_code == 403
    assert status(factory, incident) == "triggered" and queue.items == []
    fake_slack.done()
    # The same bytes freshly signed are taken (the fixture's ack of "INC-<id>").
    assert web.post("/slack/interactive", data=body, headers=sign(body)).status_code == 200
    assert status(factory, incident) == "acknowledged"


def test_a_body_changed_after_signing_is_403(web: Any, slack_cast: Cast, factory: Any,
                                             queue: Queue) -> None:
    incident = open_incident(web, slack_cast)
    body = _fixture_press(incident)
    headers = sign(body)
    r = web.post("/slack/interactive", data=body.replace(b"ack", b"acK"), headers=headers)
    assert r.status_code == 403
    assert status(factory, incident) == "triggered"


@pytest.mark.parametrize(("body", "field"), [
    (b"nothing=here", "payload"),
    (b"payload=%7Bnot+json", "payload"),
    (b"payload=%5B1%2C2%5D", "payload"),
    (b"payload=%7B%22type%22%3A%22block_actions%22%7D", "payload.user.id"),
    (b"payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22U1%22%7D"
     b"%2C%22actions%22%3A%5B%5D%7D", "payload.actions"),
    (b"payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22U1%22%7D"
     b"%2C%22actions%22%3A%5B%7B%22action_id%22%3A%22ack%22%2C%22value%22%3A%22x%22%7D%5D%7D",
     "payload.actions[0].value"),
])
def test_a_malformed_payload_is_400_naming_the_field(web: Any, slack_cast: Cast, body: bytes,
                                                     field: str, queue: Queue) -> None:
    r = web.post("/slack/interactive", data=body, headers=sign(body))
    assert r.status_code == 400 and r.json["field"] == field
    assert queue.items == []


def test_without_a_signing_secret_the_endpoints_are_not_there(client: Any) -> None:
    body = b"payload=%7B%7D"
    assert client.post("/slack/interactive", data=body, headers=sign(body)).status_code == 404
    assert client.post("/slack/commands", data=b"x=1", headers=sign(b"x=1")).status_code == 404


def test_a_press_on_someone_elses_button_type_is_ignored(web: Any, slack_cast: Cast,
                                                         queue: Queue) -> None:
    body = (b"payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22"
            + ALICE.encode() + b"%22%7D%2C%22actions%22%3A%5B%7B%22action_id%22%3A%22"
            b"runbook%22%7D%5D%7D")
    assert web.post("/slack/interactive", data=body, headers=sign(body)).status_code == 200
    assert queue.items == []
