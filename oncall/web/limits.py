"""Per-integration rate limits on alert intake (flask-limiter): 429 with ``Retry-After``.

The key is the integration (a hash of its token, the ``routing_key`` of a PagerDuty event, or
the ``GenieKey`` of an Opsgenie request), so one runaway sender cannot starve the others.
Counters live in Redis when the broker is Redis (shared by every gunicorn worker), else in this
process's memory (the embedded mode).

A limiter must never lose alerts: when its Redis is unreachable it falls back to in-memory
counters and keeps accepting (``swallow_errors``), rather than failing the request.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many

from oncall import hostile, metrics
from oncall.config import Settings
from oncall.security import hash_token
from oncall.web.auth import bearer_token

# The endpoints that take alerts, and how each finds its integration's token.
INTAKE_ENDPOINTS = ("hooks.receive", "hooks.receive_put", "hooks.receive_bearer",
                    "pagerduty.enqueue", "opsgenie.create", "opsgenie.close",
                    "opsgenie.acknowledge")


def _token() -> str:
    if request.view_args and "token" in request.view_args:
        return str(request.view_args["token"])
    if request.endpoint == "pagerduty.enqueue":
        try:
            body = hostile.loads(request.get_data(cache=True) or b"null")
        except ValueError:  # the view answers it
            body = None
        if isinstance(body, dict) and isinstance(body.get("routing_key"), str):
            return str(body["routing_key"])
    if request.blueprint == "opsgenie":
        from oncall.web.opsgenie import genie_key

        return genie_key() or ""
    return bearer_token() or ""


def integration_key() -> str:
    """The limiter's bucket: the integration, never the raw token."""
    return "integration:" + hash_token(_token())[:32]


def storage_uri(settings: Settings) -> str:
    if settings.ratelimit_storage_url:
        return settings.ratelimit_storage_url
    if settings.broker_url.startswith(("redis://", "rediss://")):
        return settings.broker_url
    return "memory://"


def _refused(exc: RateLimitExceeded) -> Any:
    if request.blueprint == "opsgenie":  # Opsgenie's clients read Opsgenie's error body
        from oncall.web.opsgenie import refused

        return refused(f"You are making too many requests: the rate limit for this "
                       f"integration is {exc.description}; nothing from this request was "
                       "stored, retry after the Retry-After seconds", 429)
    metrics.REJECTED.labels("429").inc()
    return {"error": f"rate limit exceeded for this integration ({exc.description}); nothing "
                     "from this request was stored: retry after the Retry-After seconds",
            "status": 429}, 429


def _retry_after_only_on_refusals(response: Response) -> Response:
    """flask-limiter sends Retry-After on every response; a 2xx that says retry confuses."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def validate(value: str) -> str:
    """The limit string, checked now (at start) rather than on the first alert."""
    if value.strip().lower() in ("off", "none", "0", ""):
        return "off"
    try:
        parse_many(value)
    except ValueError as exc:
        raise ValueError(f"ONCALL_INTAKE_RATE_LIMIT={value!r}: {exc}") from exc
    return value


def init_app(app: Flask, settings: Settings) -> Limiter | None:
    value = validate(settings.intake_rate_limit)
    if value == "off":
        return None
    # Registered before the limiter's own after_request, so that it runs after it.
    app.after_request(_retry_after_only_on_refusals)
    app.register_error_handler(RateLimitExceeded, _refused)
    limiter = Limiter(
        key_func=integration_key,
        app=app,
        storage_uri=storage_uri(settings),
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 1}
        if storage_uri(settings).startswith("redis") else {},
        headers_enabled=True,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        key_prefix="oncall-ratelimit",
        strategy="sliding-window-counter",
    )
    # One bucket per integration across every intake path (URL token, Bearer, PUT, /v2).
    limit = limiter.shared_limit(value, scope="intake", key_func=integration_key)
    for endpoint in INTAKE_ENDPOINTS:
        view: Any = app.view_functions[endpoint]
        app.view_functions[endpoint] = limit(view)
    return limiter
