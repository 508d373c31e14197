"""Alert data reaches Slack as text, never as markup: ``&``, ``<`` and ``>`` are escaped in
every ``text`` and mrkdwn block we build from it, so a summary cannot ping ``@channel`` or
disguise a link (https://docs.slack.dev/messaging/formatting-message-text)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

from oncall.channels.slack import blocks
from oncall.models import Schedule
from tests.conftest import Cast
from tests.slack.conftest import VIC, command

HOSTILE = "<!channel> disk full <https://evil.example/|click here> & <@U0BOSS>"
SAFE = "&lt;!channel&gt; disk full &lt;https://evil.example/|click here&gt; &amp; &lt;@U0BOSS&gt;"
AT = datetime(2026, 3, 11, 2, 14, tzinfo=UTC)


def view(**changes: Any) -> blocks.IncidentView:
    base = blocks.IncidentView(id=7, status="triggered", severity="critical", summary=HOSTILE,
                               service="<!here>", alert_count=1, level=1, levels=2,
                               created_at=AT)
    return dataclasses.replace(base, **changes)


def no_markup_from_the_alert(message: dict[str, Any]) -> None:
    sent = json.dumps(message)
    for markup in ("<!channel>", "<!here>", "<https://evil", "<@U0BOSS>", "& <"):
        assert markup not in sent, markup


def test_the_fallback_text_and_the_blocks_escape_the_summary_and_service() -> None:
    for status in ("triggered", "acknowledged", "resolved"):
        msg = blocks.message(view(status=status, acked_by="<@U1>", acked_at=AT,
                                  resolved_by="<@U1>", resolved_at=AT))
        no_markup_from_the_alert(msg)
        assert SAFE in msg["text"] and SAFE in json.dumps(msg["blocks"])
    assert "(&lt;!here&gt;)" in blocks.message(view())["text"]


def test_a_notice_escapes_its_text_and_its_block() -> None:
    msg = blocks.notice(f"Heartbeat {HOSTILE} is late")
    no_markup_from_the_alert(msg)
    assert msg["text"] == f"Heartbeat {SAFE} is late"


def test_a_runbook_link_from_an_alert_escapes_its_ampersands() -> None:
    assert blocks.runbook("https://rb.example/x?a=1&b=2") == \
        "<https://rb.example/x?a=1&amp;b=2|Runbook>"


def test_who_escapes_the_schedule_names_it_lists(web: Any, factory: Any,
                                                 slack_cast: Cast) -> None:
    with factory() as s, s.begin():
        s.add(Schedule(name="<!channel>", timezone="UTC"))
    text = command(web, "who nope", VIC).json["text"]
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
