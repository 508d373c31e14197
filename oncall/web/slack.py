"""``POST /slack/interactive`` (button presses) and ``POST /slack/commands`` (``/oncall``).

Every request is checked against ``SLACK_SIGNING_SECRET`` on its raw body with slack-sdk's
``SignatureVerifier`` (5-minute replay window): a bad or stale signature is a 403 and changes
nothing. Slack wants an answer within 3 seconds, so the state change (one small transaction)
is committed here and everything that talks to Slack (rewriting the messages, private
answers through ``response_url``, paging the next level) is left to Celery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from apiflask import APIBlueprint, HTTPError
from flask import Flask, request
from werkzeug.datastructures import MultiDict

from oncall import hostile, jobs
from oncall.channels.slack import actions, commands
from oncall.models import utcnow
from oncall.permissions import OverrideLimits
from oncall.web import guard, settings, transaction
from oncall.web.errors import BadRequest

log = logging.getLogger(__name__)
bp = APIBlueprint("slack", __name__, url_prefix="/slack", tag="Slack")
SLACK_HOOKS = "hooks.slack.com"


def verified_form() -> MultiDict[str, str]:
    """The form fields of a request Slack signed, or 404 (not configured) / 403."""
    secret = settings().slack_signing_secret
    if not secret:
        raise HTTPError(404, "Slack is not configured here (SLACK_SIGNING_SECRET)")
    from slack_sdk.signature import SignatureVerifier  # on first use: slack_sdk is big

    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if stamp and not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise BadRequest("X-Slack-Request-Timestamp", "must be a Unix time in seconds")
    raw = request.get_data(cache=True)  # the exact bytes Slack signed, before the form parser
    if not SignatureVerifier(secret).is_valid_request(raw, dict(request.headers)):
        raise HTTPError(403, "invalid or stale Slack signature (X-Slack-Signature, "
                             "X-Slack-Request-Timestamp)")
    return request.form


def _allowed_response_url(url: Any) -> str | None:
    """Slack's ``response_url``, if it points at Slack (or at the configured API base, for a
    mock): never post to wherever a payload says."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname == SLACK_HOOKS:
        return url
    base = settings().slack_api_base_url
    if base and urlsplit(base).netloc == parts.netloc and parts.scheme in ("http", "https"):
        return url
    return None


def _payload(form: MultiDict[str, str]) -> dict[str, Any]:
    raw = form.get("payload")
    if raw is None:
        raise BadRequest("payload", "missing: Slack sends the interaction as a form field")
    try:
        payload = hostile.loads(raw)
    except ValueError as exc:  # malformed, too deep, a huge number
        raise BadRequest("payload", f"malformed JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise BadRequest("payload", "must be a JSON object")
    field = hostile.unstorable(payload, "payload")
    if field is not None:
        raise BadRequest(field, guard.UNSTORABLE)
    return payload


def _field(data: Any, path: str) -> Any:
    for key in path.split("."):
        data = data.get(key) if isinstance(data, dict) else None
    return data


@bp.post("/interactive")
@bp.doc(summary="Slack interactivity: Acknowledge / Resolve / Escalate buttons",
        responses={200: "Taken (the answer arrives in Slack)", 400: "Malformed payload",
                   403: "Bad or stale signature", 404: "Slack is not configured"})
def interactive() -> tuple[str, int]:
    payload = _payload(verified_form())
    if payload.get("type") != "block_actions":
        return "", 200  # other interactions (shortcuts, modals) are not ours to answer
    user_id = _field(payload, "user.id")
    acts = payload.get("actions")
    if not isinstance(user_id, str) or not user_id:
        raise BadRequest("payload.user.id", "missing")
    if not isinstance(acts, list) or not acts or not isinstance(acts[0], dict):
        raise BadRequest("payload.actions", "must list the action taken")
    action = acts[0].get("action_id")
    if action not in actions.VERBS:
        return "", 200  # e.g. a link button: nothing to do
    incident_id = actions.incident_ref(acts[0].get("value"))
    if incident_id is None:
        raise BadRequest("payload.actions[0].value", "must be an incident id")
    response_url = _allowed_response_url(payload.get("response_url"))
    with transaction() as s:
        user = actions.user_for(s, user_id)
        if user is None:
            outcome = actions.Outcome(actions.link_help(user_id))
        else:
            outcome = actions.perform(s, user, action, incident_id, utcnow())
    # Committed: its follow-ups are enqueued (``oncall.incidents.followups``).
    if not outcome.changed and response_url:  # nothing changed: say why, to this user only
        jobs.slack_respond(response_url, outcome.text)
    return "", 200


@bp.post("/commands")
@bp.doc(summary="The /oncall slash command: who, ack, resolve, override, help",
        responses={200: "The answer (ephemeral unless asked otherwise)",
                   400: "Malformed command", 403: "Bad or stale signature",
                   404: "Slack is not configured"})
def command() -> dict[str, Any]:
    form = verified_form()
    user_id = form.get("user_id")
    if not user_id:
        raise BadRequest("user_id", "missing")
    with transaction() as s:
        reply = commands.run(s, user_id, form.get("text", ""), utcnow(), _email_of(),
                             OverrideLimits.from_days(settings().max_override_days,
                                                      settings().manager_max_override_days))
    return reply.body()


def _email_of() -> Callable[[str], str | None] | None:
    """Ask Slack for a member's email, quickly (Slack waits 3 seconds for our answer)."""
    s = settings()
    if not s.slack_bot_token:
        return None
    from oncall.channels.slack.api import make_client, member_email  # slack_sdk, on first use

    client = make_client(s.slack_bot_token, s.slack_api_base_url, timeout=2, retries=False)
    return lambda slack_id: member_email(client, slack_id)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
