"""The webhook channel: each page POSTed as signed JSON to one URL, its failures classed
like the other channels' (a timeout, a 5xx, a 408 or a 429: transient, retried with backoff;
any other 4xx: permanent, so the user's next channel is tried at once).

The standard library does the request (``urllib``): no SDK, nothing to import at start."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from oncall.channels import DeliveryError, OutgoingPage, Receipt, Recipient
from oncall.channels.webhook import signing

USER_AGENT = "oncall-webhook/1"
TRANSIENT_STATUSES = {408, 425, 429}


def payload(page: OutgoingPage) -> dict[str, Any]:
    """The JSON a receiver gets. ``page_id`` (also the ``Idempotency-Key`` header) is the
    same on every retry of one page: a receiver that saw it already answers 2xx again."""
    return {
        "type": page.kind,
        "page_id": page.page_id,
        "idempotency_key": idempotency_key(page),
        "incident": None if page.incident_id is None else {
            "id": page.incident_id, "severity": page.severity, "service": page.service,
            "summary": page.summary},
        "recipient": {"email": page.recipient.email, "name": page.recipient.name},
        "level": page.level,
        "loop": page.loop,
        "text": page.text,
    }


def idempotency_key(page: OutgoingPage) -> str:
    return f"oncall-page-{page.page_id}"


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header in seconds (an HTTP date is not waited on)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def classify(status: int, reason: str, retry: str | None) -> DeliveryError:
    """A non-2xx answer as a delivery error: transient for 5xx, 408, 425 and 429."""
    message = f"webhook answered HTTP {status} {reason}".strip()
    if status >= 500 or status in TRANSIENT_STATUSES:
        return DeliveryError(message, permanent=False, retry_after=retry_after(retry))
    return DeliveryError(message, permanent=True)


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str, secret: str, timeout: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.url, self.secret, self.timeout, self.clock = url, secret, timeout, clock

    def reaches(self, recipient: Recipient) -> bool:
        """Anyone with an email: the receiver tells people apart by it."""
        return bool(recipient.email)

    def request(self, page: OutgoingPage) -> urllib.request.Request:
        body = json.dumps(payload(page), separators=(",", ":")).encode()
        stamp = int(self.clock())
        return urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT,
            "Idempotency-Key": idempotency_key(page),
            signing.HEADER: signing.sign(self.secret, stamp, body)})

    def send(self, page: OutgoingPage) -> Receipt:
        try:
            with urllib.request.urlopen(self.request(page), timeout=self.timeout) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            with exc:  # the answer's connection is closed, not left to the collector
                raise classify(exc.code, str(exc.reason or ""),
                               exc.headers.get("Retry-After") if exc.headers else None
                               ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            # Refused, unreachable, timed out: maybe a restart; the page id keeps a resend
            # that arrives twice one page for the receiver.
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"webhook unreachable: {reason}", permanent=False) from None
        return Receipt(provider_id=f"webhook-{page.page_id}-{int(self.clock() * 1000)}",
                       detail=f"HTTP {status}")
