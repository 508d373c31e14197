"""Slack fixtures: the fake Web API, settings pointing at it, the app with Slack on, a cast
whose people have Slack accounts, and a queue standing in for Celery that tests run by hand."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, update

from oncall import jobs
from oncall.channels import registry, slack
from oncall.channels.slack import respond, store
from oncall.config import Settings
from oncall.models import Incident, SlackMessage, User
from oncall.paging import runs
from tests.conftest import Cast, alert, make_cast, web_app
from tests.slack_fake import SECRET, TOKEN, FakeSlack, sign

ALICE, BOB, MARIA, VIC = "U0ALICE01", "U0BOB0002", "U0MARIA03", "U0VIC0004"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture
def slack_settings(settings: Settings, fake_slack: FakeSlack) -> Iterator[Settings]:
    configured = dataclasses.replace(settings, slack_bot_token=TOKEN,
                                     slack_signing_secret=SECRET,
                                     slack_api_base_url=fake_slack.base_url)
    yield configured
    registry.setup(settings)  # Slack off again for the tests that follow


@pytest.fixture
def slack_app(slack_settings: Settings) -> Iterator[Any]:
    yield from web_app(slack_settings)


@pytest.fixture
def web(slack_app: Any) -> Any:
    return slack_app.test_client()


@dataclasses.dataclass
class Queue:
    """Celery, by hand: what the code enqueued, run when the test says so."""

    items: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)

    def take(self) -> list[tuple[Any, ...]]:
        taken, self.items = self.items, []
        return taken

    def run(self, factory: Any) -> None:
        """Run everything queued (and whatever that queues) like a worker would."""
        while self.items:
            for item in self.take():
                if item[0] == "refresh":
                    report = store.refresh(slack.factory(), slack.client(), item[1])
                    assert report.retry is None, report.retry
                elif item[0] == "respond":
                    assert respond.ephemeral(item[1], item[2]) is None
                elif item[0] == "deliver":
                    runs.deliver_incident(factory, item[1])
                    slack.after_change(item[1])
                elif item[0] == "escalate":
                    result = runs.escalate_incident(factory, item[1], expect=item[2:4])
                    for page_id in result.page_ids if result else []:
                        runs.deliver_page(factory, page_id)
                    slack.after_change(item[1])


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Queue:
    q = Queue()
    monkeypatch.setattr(jobs, "slack_refresh", lambda i: q.items.append(("refresh", i)))
    monkeypatch.setattr(jobs, "slack_respond",
                        lambda url, text: q.items.append(("respond", url, text)))
    monkeypatch.setattr(jobs, "deliver", lambda i: q.items.append(("deliver", i)))
    monkeypatch.setattr(jobs, "escalate", lambda i, level=0, loop=0, at=None:
                        q.items.append(("escalate", i, level, loop)))
    # A new incident's first step, whether the commit woke the dispatcher or not.
    monkeypatch.setattr(jobs, "opened", lambda i, woken: q.items.append(("escalate", i, 0, 0)))
    return q


@pytest.fixture
def on_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    """Everyone is paged on Slack only (the default notification rules follow the channels
    that reach a user; this pins them to Slack)."""
    monkeypatch.setattr(registry, "channels_for", lambda user: ["slack"])


def link(factory: Any, **slack_ids: str | None) -> None:
    """Give cast members (by their email's local part) Slack member ids."""
    with factory() as s, s.begin():
        for who, slack_id in slack_ids.items():
            s.execute(update(User).where(User.email == f"{who}@example.com")
                      .values(slack_id=slack_id))


@pytest.fixture
def slack_cast(factory: Any) -> Cast:
    cast = make_cast(factory)
    link(factory, alice=ALICE, bob=BOB, manager=MARIA, viewer=VIC)
    return cast


def open_incident(web: Any, cast: Cast, **fields: Any) -> int:
    r = web.post(f"/integrations/{cast.integration_token}", json=alert(**fields))
    assert r.status_code == 202, r.json
    return int(r.json["incidents"][0]["incident_id"])


def press(web: Any, action: str, incident_id: int | str, user: str, *,
          response_url: str | None = None, **headers: str) -> Any:
    """A signed button press, as Slack sends it."""
    payload = {"type": "block_actions", "user": {"id": user, "username": "someone"},
               "container": {"type": "message"}, "channel": {"id": "D0", "name": "x"},
               "response_url": response_url or "https://hooks.slack.com/actions/T0/1/x",
               "actions": [{"action_id": action, "block_id": "incident_actions",
                            "type": "button", "value": str(incident_id),
                            "action_ts": "1741683779.218634"}]}
    body = urlencode({"payload": _json(payload)})
    return web.post("/slack/interactive", data=body, headers={**sign(body), **headers})


def command(web: Any, text: str, user: str, **fields: str) -> Any:
    body = urlencode({"team_id": "T0", "channel_id": "C0", "user_id": user,
                      "user_name": "someone", "command": "/oncall", "text": text,
                      "response_url": "https://hooks.slack.com/commands/T0/1/x", **fields})
    return web.post("/slack/commands", data=body, headers=sign(body))


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def status(factory: Any, incident_id: int) -> str:
    with factory() as s:
        return str(s.scalar(select(Incident.status).where(Incident.id == incident_id)))


def messages(factory: Any, incident_id: int) -> list[tuple[str, str, str]]:
    with factory() as s:
        return [(m.kind, m.channel_id, m.ts) for m in s.scalars(
            select(SlackMessage).where(SlackMessage.incident_id == incident_id)
            .order_by(SlackMessage.id))]


def deliver_all(factory: Any, queue: Queue) -> None:
    """Run the queued escalation steps and their deliveries (what the worker does)."""
    queue.run(factory)
