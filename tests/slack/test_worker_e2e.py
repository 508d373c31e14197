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
from tests.slack_fake import SECRET, TOKEN, FakeSlack, channel_id, dm

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

    # Alice is linked, so her default notification rules page her on Slack too: people
    # first (a DM), then the level's channel posts.
    fake_slack.take("conversations.open", 1)
    posts = fake_slack.take("chat.postMessage", 3)
    assert sorted(p.args["channel"] for p in posts) == ["#billing-incidents",
                                                        "#payments-oncall", dm(ALICE)]
    wait_for(lambda: len(messages(factory, incident)) == 3, 10, what="messages recorded")

    # Updates that only add "paged <@alice>" to a message posted before her page was recorded
    # may come before the press; what matters is that every message ends acknowledged, once.
    assert press(web, "ack", incident, ALICE).status_code == 200
    assert status(factory, incident) == "acknowledged"
    recorded = {(c, ts) for _, c, ts in messages(factory, incident)}
    assert {c for c, _ in recorded} == {channel_id("#billing-incidents"),
                                        channel_id("#payments-oncall"), dm(ALICE)}

    def acked() -> list[tuple[str, str]]:
        return [(u.args["channel"], u.args["ts"]) for u in fake_slack.unread()
                if u.method == "chat.update"
                and f"Acknowledged by <@{ALICE}>" in json.dumps(u.args["blocks"])]

    wait_for(lambda: set(acked()) == recorded, 20, what="every message updated")
    time.sleep(3)  # long enough for a duplicate post or update to show up
    assert sorted(acked()) == sorted(recorded)  # each message once
    rest = fake_slack.unread()
    assert {c.method for c in rest} == {"chat.update"}, rest  # nothing posted again
    fake_slack.take("chat.update", len(rest))
    fake_slack.done()
