"""Webhook pages: each page POSTed as JSON to ``ONCALL_WEBHOOK_URL``, signed with
``ONCALL_WEBHOOK_SECRET`` (HMAC-SHA256, see ``signing``), for a receiver of your own (a chat
bot, a pager app, a ticket system). ``ONCALL_WEBHOOK_TIMEOUT`` (seconds, default 10).

Not in the built-in notification rules: it pages a user only when their rules name
``webhook``. Everything about it lives in this package; the core knows it from its ``INFO``
and its line in ``oncall.channels.registry.PACKAGES``. See docs/channels.md.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from oncall.channels import ChannelInfo
from oncall.config import ConfigError, env_float, env_str

INFO = ChannelInfo("webhook", address=lambda recipient: recipient.email, defaults=None)


def configured() -> tuple[str, str, float] | None:
    """URL, secret and timeout from the environment; None when no URL is set. A URL without
    a secret, or not http(s), is refused: unsigned pages would be forgeable."""
    url = env_str("ONCALL_WEBHOOK_URL")
    if not url:
        return None
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ConfigError(f"ONCALL_WEBHOOK_URL must be an http(s) URL, not {url!r}")
    secret = env_str("ONCALL_WEBHOOK_SECRET")
    if not secret:
        raise ConfigError("ONCALL_WEBHOOK_URL is set but ONCALL_WEBHOOK_SECRET is not: "
                         "webhook pages are always signed")
    return url, secret, env_float("ONCALL_WEBHOOK_TIMEOUT", 10.0)


def setup(settings: Any) -> None:
    """Register the channel when a URL is configured (and unregister it when not, so that a
    process set up twice ends as its last environment says). ``settings`` is not read: the
    channel's configuration is its own."""
    from oncall.channels import registry
    from oncall.channels.webhook.channel import WebhookChannel

    found = configured()
    if found is None:
        registry.unregister(INFO.name)
        return
    url, secret, timeout = found
    registry.register(WebhookChannel(url, secret, timeout))


def status(settings: Any) -> str:
    """One line for ``/ready`` (the host only: a URL may carry a token)."""
    try:
        found = configured()
    except ConfigError as exc:
        return f"misconfigured ({exc})"
    if found is None:
        return "disabled (no ONCALL_WEBHOOK_URL)"
    return f"enabled ({urlsplit(found[0]).scheme}://{urlsplit(found[0]).hostname})"
