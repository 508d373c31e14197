"""PagerDuty Events API v2 (``POST /v2/enqueue``), so that anything that can page PagerDuty
can page us. Validation, limits and answers follow PagerDuty's documentation (FORMATS.md §3):

* ``routing_key`` (required, exactly 32 characters) and ``event_action`` (required:
  ``trigger``, ``acknowledge`` or ``resolve``).
* ``dedup_key``: at most 255 characters; required for ``acknowledge`` and ``resolve``.
  A ``trigger`` without one gets a generated key (a UUID as 32 hex digits), which the 202
  answer returns, so a trigger without a key always opens a new alert.
* ``trigger`` only: ``payload`` with ``summary`` (at most 1,024 characters, refused beyond
  that, as documented), ``source`` and ``severity`` (``critical``, ``error``, ``warning``
  or ``info``, exactly) required; ``timestamp`` (ISO 8601), ``component``, ``group``,
  ``class`` (strings) and ``custom_details`` (an object) optional; ``images[]`` (``src``
  required and HTTPS), ``links[]`` (``href`` required), ``client`` and ``client_url``
  optional. On ``acknowledge`` and ``resolve`` these fields are ignored, not checked.
* The event may be at most 512 KB (measured as compact UTF-8 JSON; the web layer should
  also refuse a larger raw body before parsing it).

Every problem found is reported, PagerDuty-style, as a string of ``errors`` such as
``'payload.summary' is missing``; :class:`PagerDutyError` carries them and
:func:`response_400` renders PagerDuty's 400 body.

The normalized alert: for ``trigger``, type = ``payload.class`` (else ``"pagerduty"``),
the summary and severity as sent, service None (``component`` is a part of the sender's
system, not one of our services), labels = ``custom_details`` flattened to scalars
(nested keys joined with ``.``, arrays as JSON text) overlaid with ``source``,
``component``, ``group`` and ``class``; raw = the whole event. For ``resolve``, a resolved
alert with the dedup_key (type ``"pagerduty"``, severity ``info``). For ``acknowledge``,
no alert: the caller acknowledges the open incident with that key.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oncall.ingest.alert import NormalizedAlert, PayloadError

ACTIONS = ("trigger", "acknowledge", "resolve")
# In the order PagerDuty's own error message lists them.
PD_SEVERITIES = ("critical", "warning", "error", "info")
ROUTING_KEY_LENGTH = 32
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
MAX_EVENT_BYTES = 512 * 1024
MAX_TYPE = 100

INVALID_STATUS = "invalid event"
INVALID_MESSAGE = "Event object is invalid"
UNRECOGNIZED_STATUS = "Unrecognized object"
UNRECOGNIZED_MESSAGE = "Event object format is unrecognized"


class PagerDutyError(PayloadError):
    """An event PagerDuty would refuse. ``errors`` are PagerDuty-style strings; ``field`` is
    the path of the first offending field (``""`` when it is the event as a whole)."""

    def __init__(self, message: str, errors: list[str], *, status: str = INVALID_STATUS,
                 field: str = "") -> None:
        super().__init__(field, message)
        self.errors = list(errors)
        self.status = status

    def __str__(self) -> str:
        return f"{self.message}: {'; '.join(self.errors)}" if self.errors else self.message


@dataclass(frozen=True)
class PagerDutyEvent:
    routing_key: str
    action: str
    dedup_key: str
    alert: NormalizedAlert | None


def parse_event(body: Any) -> PagerDutyEvent:
    """One Events API v2 event, checked as PagerDuty checks it."""
    if not isinstance(body, dict):
        raise PagerDutyError(UNRECOGNIZED_MESSAGE, ["Event object must be a JSON object"],
                             status=UNRECOGNIZED_STATUS)
    size = len(json.dumps(body, separators=(",", ":"), ensure_ascii=False,
                          default=str).encode())
    if size > MAX_EVENT_BYTES:
        raise PagerDutyError(INVALID_MESSAGE, [
            f"Event object is too large ({size} bytes; the limit is {MAX_EVENT_BYTES})"])
    check = _Checker()

    routing_key = body.get("routing_key")
    if check.present(routing_key, "routing_key") and (
            not isinstance(routing_key, str) or len(routing_key) != ROUTING_KEY_LENGTH):
        check.invalid("routing_key", f"must be a {ROUTING_KEY_LENGTH}-character integration key")

    action = body.get("event_action")
    if check.present(action, "event_action") and action not in ACTIONS:
        check.invalid("event_action", _one_of(ACTIONS))

    dedup_key = body.get("dedup_key")
    if dedup_key is not None:
        if not isinstance(dedup_key, str):
            check.invalid("dedup_key", "must be a string")
            dedup_key = None
        elif len(dedup_key) > MAX_DEDUP_KEY:
            check.invalid("dedup_key", f"must be at most {MAX_DEDUP_KEY} characters")
    if action in ("acknowledge", "resolve") and not dedup_key:
        check.missing("dedup_key")

    alert: NormalizedAlert | None = None
    if action == "trigger":
        alert = _trigger(body, check, dedup_key or "")
    check.raise_if_any()
    assert isinstance(routing_key, str) and isinstance(action, str)

    if action == "trigger":
        assert alert is not None
        if not dedup_key:
            dedup_key = uuid.uuid4().hex
            alert = NormalizedAlert(
                type=alert.type, summary=alert.summary, severity=alert.severity,
                dedup_key=dedup_key, labels=alert.labels, raw=alert.raw)
    assert isinstance(dedup_key, str)
    if action == "resolve":
        alert = NormalizedAlert(type="pagerduty", summary=f"Resolved by PagerDuty event: "
                                f"{dedup_key}"[:MAX_SUMMARY], severity="info",
                                status="resolved", dedup_key=dedup_key, raw=body)
    return PagerDutyEvent(routing_key=routing_key, action=action, dedup_key=dedup_key,
                          alert=alert)


def response_202(dedup_key: str) -> dict[str, Any]:
    """PagerDuty's answer to an accepted event."""
    return {"status": "success", "message": "Event processed", "dedup_key": dedup_key}


def response_400(exc: PagerDutyError) -> dict[str, Any]:
    """PagerDuty's answer to a refused event."""
    return {"status": exc.status, "message": exc.message, "errors": list(exc.errors)}


def _trigger(body: dict[str, Any], check: _Checker, dedup_key: str) -> NormalizedAlert | None:
    for name in ("client", "client_url"):
        if body.get(name) is not None and not isinstance(body[name], str):
            check.invalid(name, "must be a string")
    _images(body.get("images"), check)
    _links(body.get("links"), check)

    payload = body.get("payload")
    if not check.present(payload, "payload"):
        return None
    if not isinstance(payload, dict):
        check.invalid("payload", "must be an object")
        return None
    summary = check.string(payload, "summary", "payload.", required=True)
    if summary is not None and len(summary) > MAX_SUMMARY:
        check.invalid("payload.summary", f"must be at most {MAX_SUMMARY} characters")
    source = check.string(payload, "source", "payload.", required=True)
    severity = payload.get("severity")
    if check.present(severity, "payload.severity") and severity not in PD_SEVERITIES:
        check.invalid("payload.severity", _one_of(PD_SEVERITIES))
    timestamp = check.string(payload, "timestamp", "payload.")
    if timestamp is not None:
        try:
            datetime.fromisoformat(timestamp)
        except ValueError:
            check.invalid("payload.timestamp", "must be an ISO 8601 date and time")
    fixed = {name: check.string(payload, name, "payload.")
             for name in ("source", "component", "group", "class")}
    class_ = fixed["class"]
    if class_ is not None and len(class_) > MAX_TYPE:
        check.invalid("payload.class", f"must be at most {MAX_TYPE} characters")
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict):
        check.invalid("payload.custom_details", "must be an object")
        details = None
    if check.errors or summary is None or source is None or not isinstance(severity, str):
        return None
    labels = flatten(details or {})
    labels.update({name: value for name, value in fixed.items() if value is not None})
    return NormalizedAlert(type=class_ or "pagerduty", summary=summary, severity=severity,
                           status="firing", dedup_key=dedup_key, service=None, labels=labels,
                           value=None, raw=body)


def flatten(details: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``custom_details`` as scalar labels: nested objects' keys joined with ``.``, arrays
    (and anything else not scalar) as JSON text."""
    out: dict[str, Any] = {}
    for name, value in details.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{key}."))
        elif value is None or isinstance(value, str | int | float | bool):
            out[key] = value
        else:
            out[key] = json.dumps(value, sort_keys=True, default=str)
    return out


def _images(images: Any, check: _Checker) -> None:
    if images is None:
        return
    if not isinstance(images, list):
        check.invalid("images", "must be an array")
        return
    for i, image in enumerate(images):
        at = f"images[{i}]"
        if not isinstance(image, dict):
            check.invalid(at, "must be an object")
            continue
        src = check.string(image, "src", f"{at}.", required=True)
        if src is not None and not src.lower().startswith("https://"):
            check.invalid(f"{at}.src", "must be an HTTPS URL")
        check.string(image, "href", f"{at}.")
        check.string(image, "alt", f"{at}.")


def _links(links: Any, check: _Checker) -> None:
    if links is None:
        return
    if not isinstance(links, list):
        check.invalid("links", "must be an array")
        return
    for i, link in enumerate(links):
        at = f"links[{i}]"
        if not isinstance(link, dict):
            check.invalid(at, "must be an object")
            continue
        check.string(link, "href", f"{at}.", required=True)
        check.string(link, "text", f"{at}.")


def _one_of(choices: tuple[str, ...]) -> str:
    quoted = [f"'{c}'" for c in choices]
    return f"must be one of the following: {', '.join(quoted[:-1])} or {quoted[-1]}"


class _Checker:
    """Collects every error, as PagerDuty reports them all at once."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.fields: list[str] = []

    def missing(self, field: str) -> None:
        self._add(field, f"'{field}' is missing")

    def invalid(self, field: str, why: str) -> None:
        self._add(field, f"'{field}' is invalid ({why})")

    def present(self, value: Any, field: str) -> bool:
        if value is None or (isinstance(value, str) and not value.strip()):
            self.missing(field)
            return False
        return True

    def string(self, obj: dict[str, Any], name: str, at: str, *,
               required: bool = False) -> str | None:
        value = obj.get(name)
        if value is None or (required and isinstance(value, str) and not value.strip()):
            if required:
                self.missing(f"{at}{name}")
            return None
        if not isinstance(value, str):
            self.invalid(f"{at}{name}", "must be a string")
            return None
        return value

    def raise_if_any(self) -> None:
        if self.errors:
            raise PagerDutyError(INVALID_MESSAGE, self.errors, field=self.fields[0])

    def _add(self, field: str, text: str) -> None:
        if text not in self.errors:
            self.errors.append(text)
            self.fields.append(field)
