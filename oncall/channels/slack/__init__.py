"""Slack: pages as direct messages or channel posts with Acknowledge / Resolve / Escalate
buttons, kept up to date as the incident changes, and the ``/oncall`` slash command.

Enabled by ``SLACK_BOT_TOKEN`` (``SLACK_API_BASE_URL`` points the client at a mock or proxy);
the buttons and the command also need ``SLACK_SIGNING_SECRET``. See docs/slack.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from oncall import db
from oncall.channels import ChannelInfo, Defaults
from oncall.config import Settings

if TYPE_CHECKING:  # slack_sdk is imported on first use (oncall.channels.slack.api), not here
    from flask import Flask
    from slack_sdk import WebClient

# The user's Slack id, else their email (looked up in Slack); first for warning and info.
INFO = ChannelInfo("slack", address=lambda r: r.slack_id or r.email,
                   defaults=Defaults(quiet_rank=1), rooms=True,
                   off_reason="Slack is not configured (no SLACK_BOT_TOKEN)")


@dataclass
class _State:
    settings: Settings | None = None
    client: WebClient | None = None


_state = _State()


def setup(settings: Settings) -> None:
    """Register the channel when a bot token is configured (and unregister it when not, so
    that a process set up twice ends as its last settings say)."""
    from oncall.channels import registry
    from oncall.channels.slack.channel import SlackChannel

    if not settings.slack_bot_token:
        _state.settings = _state.client = None
        registry.unregister("slack")
        return
    _state.settings, _state.client = settings, None
    registry.register(SlackChannel(client, factory))


def enabled() -> bool:
    return _state.settings is not None


def status(settings: Settings) -> str:
    """One line for ``/ready``: Slack's configuration never fails readiness."""
    if not settings.slack_bot_token:
        return "disabled (no SLACK_BOT_TOKEN)"
    if not settings.slack_signing_secret:
        return "enabled; buttons and /oncall disabled (no SLACK_SIGNING_SECRET)"
    return "enabled"


def client() -> WebClient:
    from oncall.channels.slack.api import make_client

    settings = _state.settings
    if settings is None or not settings.slack_bot_token:
        raise RuntimeError("Slack is not configured (SLACK_BOT_TOKEN)")
    if _state.client is None:
        _state.client = make_client(settings.slack_bot_token, settings.slack_api_base_url)
    return _state.client


def factory() -> sessionmaker[Session]:
    settings = _state.settings
    if settings is None:
        raise RuntimeError("Slack is not configured (SLACK_BOT_TOKEN)")
    return db.session_factory(settings.database_url)


def after_change(incident_id: int) -> None:
    """Once a change to an incident's state (acknowledged, resolved, escalated) is
    committed, every Slack message about it is rewritten. Called by the after-commit hook
    (``oncall.incidents.followups``) for what the code that changed it noted, and by the
    worker after its own steps."""
    if enabled():
        from oncall import jobs

        jobs.slack_refresh(incident_id)


def init_web(app: Flask) -> None:
    """The buttons' actions and the ``/oncall`` command (``/slack/...``)."""
    from oncall.web import slack as slack_web

    slack_web.init_app(app)
