"""Hostile Slack requests: a malformed timestamp, text the database cannot hold, JSON that
would crash the parser. Each is a 4xx naming the problem, and nothing changes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import Cast
from tests.slack.conftest import ALICE, Queue, open_incident, status
from tests.slack_fake import sign


@pytest.mark.parametrize("stamp", ["abc", "1.5", "-1", "\u0661\u0662", "9" * 5000])
def test_a_timestamp_that_is_no_unix_time_is_a_400_naming_the_header(
        web: Any, slack_cast: Cast, queue: Queue, stamp: str) -> None:
    body = b"user_id=U1&text=who"
    for path in ("/slack/commands", "/slack/interactive"):
        r = web.post(path, data=body, headers={**sign(body), "X-Slack-Request-Timestamp": stamp})
        assert r.status_code == 400, r.data
        assert r.json["field"] == "X-Slack-Request-Timestamp"
    assert queue.items == []


def _press(incident: int, **user: str) -> bytes:
    payload = {"type": "block_actions", "user": {"id": ALICE, **user},
               "actions": [{"action_id": "ack", "value": f"INC-{incident}"}]}
    return b"payload=" + quote(json.dumps(payload)).encode()


def test_a_nul_in_a_signed_form_field_is_a_400_and_changes_nothing(
        web: Any, slack_cast: Cast, factory: Any, queue: Queue) -> None:
    incident = open_incident(web, slack_cast)
    queue.take()
    body = b"user_id=U1%00&text=ack+" + str(incident).encode()
    r = web.post("/slack/commands", data=body, headers=sign(body))
    assert r.status_code == 400 and r.json["field"] == "form.user_id"
    assert status(factory, incident) == "triggered" and queue.items == []


@pytest.mark.parametrize("name", ["al\u0000ice", "al\ud800ice"])
def test_a_nul_or_surrogate_inside_the_payload_json_is_a_400_naming_it(
        web: Any, slack_cast: Cast, factory: Any, queue: Queue, name: str) -> None:
    incident = open_incident(web, slack_cast)
    queue.take()
    body = _press(incident, name=name)
    r = web.post("/slack/interactive", data=body, headers=sign(body))
    assert r.status_code == 400 and r.json["field"] == "payload.user.name"
    assert status(factory, incident) == "triggered" and queue.items == []


@pytest.mark.parametrize("payload", ["[" * 50_000 + "]" * 50_000, '{"n": ' + "9" * 5000 + "}"])
def test_a_payload_that_would_crash_the_parser_is_a_400(
        web: Any, slack_cast: Cast, queue: Queue, payload: str) -> None:
    body = b"payload=" + quote(payload).encode()
    r = web.post("/slack/interactive", data=body, headers=sign(body))
    assert r.status_code == 400 and r.json["field"] == "payload"
    assert queue.items == []
