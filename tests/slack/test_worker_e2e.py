"""Slack end to end with a real Celery worker process talking to the fake Slack:
page posted -> button pressed (a signed request) -> incident acknowledged -> every message
about it rewritten, and nothing else said."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import select

from oncall.models import EscalationPolicy, PolicyLevel
from tests.conftest import WorkerProcess, make_cast, wait_for
from tests.slack.conftest import ALICE, link, messages, open_incident, press, status
from tests.slack_fake import SECRET, TOKEN, FakeSlack, channel_id

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def test_a_button_press_acknowledges_and_every_message_is_updated(
        web: Any, factory: Any, fake_slack: FakeSlack, worker: WorkerProcess) -> None:
    cast = make_cast(factory, escalate_after=600)
    link(factory, alice=ALICE)
    with factory() as s, s.begin():
        level = s.scalar(select(PolicyLevel).join(EscalationPolicy)
                         .where(PolicyLevel.position == 0))
        level.targets = [{"type": "slack", "ref": "#billing-incidents"},
                         {"type": "slack", "ref": "#payments-oncall"},
                         {"type": "user", "ref": "alice@example.com"}]
    worker.extra_env.update(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET,
                            SLACK_API_BASE_URL=fake_slack.base_url)
    worker.start()
    incident = open_incident(web, cast)

    posts = fake_slack.take("chat.postMessage", 2)
    assert sorted(p.args["channel"] for p in posts) == ["#billing-incidents",
                                                        "#payments-oncall"]
    wait_for(lambda: len(messages(factory, incident)) == 2, 10, what="messages recorded")

    assert press(web, "ack", incident, ALICE).status_code == 200
    assert status(factory, incident) == "acknowledged"
    updates = fake_slack.take("chat.update", 2)
    assert sorted((u.args["channel"], u.args["ts"]) for u in updates) == sorted(
        (c, ts) for _, c, ts in messages(factory, incident))
    assert {u.args["channel"] for u in updates} == {channel_id("#billing-incidents"),
                                                   channel_id("#payments-oncall")}
    for u in updates:
        assert f"Acknowledged by <@{ALICE}>" in json.dumps(u.args["blocks"])
    time.sleep(3)  # long enough for a duplicate post or update to show up
    fake_slack.done()
