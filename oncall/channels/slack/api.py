"""The Slack Web API client and what its failures mean for a page.

Slack answers most failures with HTTP 200 and ``{"ok": false, "error": "<code>"}``
(https://docs.slack.dev/apis/web-api/#responses); slack-sdk raises ``SlackApiError`` for
them. Rate limits are HTTP 429 with ``Retry-After`` (https://docs.slack.dev/apis/web-api/
rate-limits): the client waits and retries a few times itself, up to ``MAX_WAIT`` seconds;
a longer wait is handed back to the caller as a transient failure with ``retry_after``.
"""

from __future__ import annotations

import logging
import socket
import urllib.error
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from oncall.channels import DeliveryError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://slack.com/api/"
MAX_WAIT = 10.0  # seconds a worker may sleep on one Retry-After before giving the page back
TIMEOUT = 10

# Errors that will not go away by asking again: the page falls back to the next channel.
# https://docs.slack.dev/reference/methods/chat.postMessage#errors and the methods below.
PERMANENT = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "channel_is_archived",
    "user_not_found", "users_not_found", "account_inactive", "user_disabled",
    "cannot_dm_bot", "restricted_action", "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel", "ekm_access_denied", "team_access_not_granted",
    "invalid_auth", "not_authed", "token_revoked", "token_expired", "missing_scope",
    "no_permission", "not_allowed_token_type", "access_denied", "org_login_required",
    "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "too_many_attachments",
    "invalid_arguments", "invalid_arg_name", "invalid_charset", "invalid_form_data",
    "message_not_found", "cant_update_message", "edit_window_closed", "user_is_bot",
    "method_deprecated", "deprecated_endpoint",
})
# Slack's own trouble: ask again later. Anything unknown is treated the same way (bounded
# by the outbox's attempt limit), since guessing "permanent" would skip a working channel.
TRANSIENT = frozenset({
    "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
    "team_added_to_org", "timeout",
})


class RateLimitRetry(RateLimitErrorRetryHandler):
    """slack-sdk's Retry-After handler, except that it will not sleep longer than MAX_WAIT."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest,
                   response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if response is None or response.status_code != 429:
            return False
        return retry_after(response.headers) <= MAX_WAIT


def retry_after(headers: Any) -> float:
    """Seconds from a ``Retry-After`` header (1 when absent or unreadable)."""
    value: Any = None
    for key in (headers or {}):
        if str(key).lower() == "retry-after":
            value = headers[key]
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0


def make_client(token: str, base_url: str | None = None, *, timeout: int = TIMEOUT,
                retries: bool = True) -> WebClient:
    """``retries=False`` for calls made while Slack waits for our answer (3 seconds)."""
    base = (base_url or DEFAULT_BASE_URL).rstrip("/") + "/"
    handlers = [ConnectionErrorRetryHandler(max_retry_count=1),
                RateLimitRetry(max_retry_count=2)] if retries else []
    return WebClient(token=token, base_url=base, timeout=timeout, retry_handlers=handlers)


def error_code(exc: SlackApiError) -> str:
    data = getattr(exc.response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error") or "unknown_error")
    return "unknown_error"


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, SlackApiError) and error_code(exc) in PERMANENT


def delivery_error(exc: BaseException, what: str) -> DeliveryError:
    """Turn a client failure into the DeliveryError the outbox understands."""
    if isinstance(exc, SlackApiError):
        code, status = error_code(exc), exc.response.status_code
        return DeliveryError(f"slack {what}: {code} (HTTP {status})",
                             permanent=code in PERMANENT,
                             retry_after=retry_after(exc.response.headers)
                             if status == 429 else None)
    # Connection refused, DNS, timeouts, 5xx without a JSON body: Slack or the path to it.
    return DeliveryError(f"slack {what}: {type(exc).__name__}: {exc}", permanent=False)


# What a call to Slack may raise besides SlackApiError: treated as transient.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    SlackClientError, urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError,
    OSError, ValueError,
)


def member_email(client: WebClient, slack_id: str) -> str | None:
    """A member's email from ``users.info`` (needs the users:read.email scope)."""
    found = client.users_info(user=slack_id)
    profile = (found.get("user") or {}).get("profile") or {}
    email = profile.get("email")
    return str(email) if email else None
