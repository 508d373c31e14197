"""Private answers to a Slack user through an interaction's ``response_url`` (an ephemeral
message; Slack allows 5 of them within 30 minutes of the interaction)."""

from __future__ import annotations

import logging

from oncall.channels import DeliveryError

log = logging.getLogger(__name__)


def ephemeral(response_url: str, text: str) -> DeliveryError | None:
    """Post ``text`` for the user's eyes only; the failure, if any (never raised)."""
    from slack_sdk.webhook import WebhookClient

    from oncall.channels.slack.api import NETWORK_ERRORS, TIMEOUT

    try:
        response = WebhookClient(response_url, timeout=TIMEOUT).send(
            text=text, response_type="ephemeral", replace_original=False)
    except NETWORK_ERRORS as exc:
        return DeliveryError(f"slack response_url: {exc}", permanent=False)
    if response.status_code == 429 or response.status_code >= 500:
        return DeliveryError(f"slack response_url: HTTP {response.status_code}",
                             permanent=False)
    if response.status_code >= 400:
        # Expired (older than 30 minutes) or used up: asking again will not help.
        log.warning("slack response_url refused: HTTP %s %s", response.status_code,
                    response.body)
        return DeliveryError(f"slack response_url: HTTP {response.status_code}",
                             permanent=True)
    return None


def backoff(retries: int, error: DeliveryError) -> float:
    """Seconds before the next try: Slack's Retry-After when it gave one, else exponential;
    never beyond a minute (longer Celery ETAs are not relied on)."""
    wait = getattr(error, "retry_after", None)
    return float(min(60.0, wait if wait is not None else 2 ** retries))
