"""Slack on and off: registration, /ready details, and channel targets without Slack."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from oncall.channels import registry, slack
from oncall.channels.slack import blocks
from oncall.config import Settings, load_settings
from oncall.models import EscalationPolicy, IncidentEvent, Page, PolicyLevel
from oncall.paging import runs
from tests.conftest import Cast, make_cast
from tests.slack.conftest import open_incident


def test_without_a_bot_token_slack_is_disabled_and_ready_says_so(
        client: Any, admin_auth: dict[str, str]) -> None:
    assert not registry.enabled("slack") and not slack.enabled()
    body = client.get("/ready", headers=admin_auth).json
    assert body["details"]["slack"] == "disabled (no SLACK_BOT_TOKEN)"


def test_with_a_bot_token_slack_is_registered_and_ready_says_enabled(
        web: Any, admin_auth: dict[str, str]) -> None:
    assert registry.enabled("slack") and slack.enabled()
    assert web.get("/ready", headers=admin_auth).json["details"]["slack"] == "enabled"


def test_a_token_without_a_signing_secret_is_enabled_without_buttons(
        slack_settings: Settings) -> None:
    half = dataclasses.replace(slack_settings, slack_signing_secret=None)
    assert "no SLACK_SIGNING_SECRET" in slack.status(half)
    registry.setup(half)
    assert registry.enabled("slack")
    registry.setup(dataclasses.replace(half, slack_bot_token=None))
    assert not registry.enabled("slack")


def test_settings_read_slack_from_the_environment_and_files(monkeypatch: Any,
                                                            tmp_path: Any) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET_FILE", str(secret))
    monkeypatch.setenv("SLACK_API_BASE_URL", "http://mock.test/api/")
    s = load_settings(tmp_path)
    assert (s.slack_bot_token, s.slack_signing_secret, s.slack_api_base_url) == (
        "xoxb-1", "s3cret", "http://mock.test/api/")


def test_a_slack_target_without_slack_is_on_the_timeline_not_lost(
        factory: Any, client: Any, monkeypatch: Any) -> None:
    from oncall import jobs

    monkeypatch.setattr(jobs, "escalate", lambda *a, **k: None)
    cast: Cast = make_cast(factory)
    with factory() as s, s.begin():
        level = s.scalar(select(PolicyLevel).join(EscalationPolicy)
                         .where(PolicyLevel.position == 0))
        level.targets = [{"type": "slack", "ref": "#billing-incidents"},
                         {"type": "user", "ref": "alice@example.com"}]
    incident = open_incident(client, cast)
    runs.escalate_incident(factory, incident)
    with factory() as s:
        assert [p.recipient for p in s.scalars(select(Page))] == [f"user:{cast.alice.id}"]
        [event] = s.scalars(select(IncidentEvent).where(
            IncidentEvent.kind == "target_unsupported")).all()
        assert "SLACK_BOT_TOKEN" in event.detail["reason"]


AT = datetime(2026, 3, 11, 2, 14, tzinfo=UTC)


def view(**changes: Any) -> blocks.IncidentView:
    base = blocks.IncidentView(id=7, status="triggered", severity="critical",
                               summary="Charge <failures> & more", service="billing-api",
                               alert_count=3, level=1, levels=2,
                               created_at=AT - timedelta(minutes=5))
    return dataclasses.replace(base, **changes)


def test_a_triggered_message_shows_everything_and_escapes_the_summary() -> None:
    msg = blocks.message(view(runbook="https://rb.example.com/x"), paged="<@U1>")
    text = str(msg["blocks"])
    assert "Charge &lt;failures&gt; &amp; more" in text
    assert "*Alerts:* 3" in text and "escalation level 1 of 2" in text and "paged <@U1>" in text
    assert "<https://rb.example.com/x|Runbook>" in text
    assert [b["action_id"] for b in msg["blocks"][-1]["elements"]] == ["ack", "resolve",
                                                                       "escalate"]


def test_an_acknowledged_message_says_who_and_when_and_keeps_only_resolve() -> None:
    msg = blocks.message(view(status="acknowledged", acked_by="<@U1>", acked_at=AT))
    text = str(msg["blocks"])
    assert f"Acknowledged by <@U1> at <!date^{int(AT.timestamp())}^{{time}}|02:14 UTC>" in text
    assert [b["action_id"] for b in msg["blocks"][-1]["elements"]] == ["resolve"]


def test_a_resolved_message_has_no_buttons() -> None:
    msg = blocks.message(view(status="resolved", resolved_by="Bob", resolved_at=AT))
    assert all(b["type"] != "actions" for b in msg["blocks"])
    assert "resolved by Bob" in msg["text"]


def test_the_version_follows_state_but_not_the_alert_count() -> None:
    assert view().version() == view(alert_count=99).version()
    assert view().version() != view(level=2).version()
    assert view().version() != view(status="acknowledged", acked_by="x", acked_at=AT).version()


def test_a_runbook_path_from_a_rule_is_shown_as_text_not_a_link() -> None:
    text = str(blocks.message(view(runbook="docs/runbooks/charge-failures.md"))["blocks"])
    assert "Runbook: `docs/runbooks/charge-failures.md`" in text and "<docs" not in text
