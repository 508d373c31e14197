"""The webhook's signature: HMAC-SHA256 with the shared secret over ``"<timestamp>.<body>"``,
sent as ``X-Oncall-Signature: t=<timestamp>,v1=<hex digest>`` (Stripe's scheme). Signing the
timestamp with the body lets a receiver refuse a replayed request (an old timestamp) as well
as a forged or altered one. :func:`verify` is what a receiver runs (docs/channels.md)."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Oncall-Signature"
TOLERANCE = 300  # seconds a receiver accepts between the timestamp and its own clock


def digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for this body sent at ``timestamp`` (Unix seconds)."""
    return f"t={timestamp},v1={digest(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: float,
           tolerance: int = TOLERANCE) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` at a time within ``tolerance``
    seconds of ``now``. Compares in constant time; any ``v1`` in the header may match (a
    sender rotating its secret may sign twice)."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [value for key, value in fields if key.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit():
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected, value.strip())
               for key, value in fields if key.strip() == "v1")
