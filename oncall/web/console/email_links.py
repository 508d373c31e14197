"""The one-click links of email pages: ``/email/<token>``.

GET shows the incident and one button; only the POST acts (mail scanners open every link
of a message, and must not acknowledge anything). The token in the path is the capability:
no session is needed and none is read, so the console's CSRF check (a session cookie) does
not apply; a POST still cannot be made by a link click or an image, and the page's strict
CSP allows forms to post only to this site. Every answer is a page in the console's look;
a forged, garbled or cut-short link is a 404 page, never a 500.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apiflask import HTTPError
from flask import Blueprint, Response, render_template
from werkzeug.exceptions import HTTPException

from oncall.channels.email import links
from oncall.models import User, utcnow
from oncall.web import session as db_session
from oncall.web import settings, transaction
from oncall.web.headers import CONSOLE_CSP

# Its own blueprint: not the console's (whose every POST needs a session's CSRF token).
bp = Blueprint("email_links", __name__)
bp.enable_openapi = False  # type: ignore[attr-defined]

INVALID = ("This link is not valid: it may have been cut short or changed on the way. Open "
           "the whole link from the email, or act on the incident in the console.")


@bp.after_request
def _headers(response: Response) -> Response:
    # The console's strict policy; the Referer stays off (the token is in the URL).
    response.headers["Content-Security-Policy"] = CONSOLE_CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.errorhandler(HTTPException)
def _error(exc: HTTPException) -> Any:
    code = exc.code or 500
    return render_template("message.html", title="This link cannot be used",
                           message=exc.description or ""), code


@bp.errorhandler(HTTPError)
def _refused(exc: HTTPError) -> Any:
    """A request refused before the view (a NUL in the path, ``oncall.web.guard``): a page,
    not the API's JSON."""
    return render_template("message.html", title="Link not valid", message=INVALID), \
        exc.status_code


def _read(token: str) -> links.Claim | None:
    try:
        return links.read(settings().secret_key, token)
    except links.LinkInvalid:
        return None


@bp.get("/email/<path:token>")
def show(token: str) -> Any:
    claim = _read(token)
    if claim is None:
        return _invalid()
    verdict = links.check(db_session(), claim, utcnow())
    return _render(verdict, token)


@bp.post("/email/<path:token>")
def act(token: str) -> Any:
    claim = _read(token)
    if claim is None:
        return _invalid()
    try:
        with transaction() as s:
            verdict = links.act(s, claim, utcnow())
    except links.Raced:  # rolled back: say what the other request did
        verdict = links.check(db_session(), claim, utcnow())
    return _render(verdict, token)


def _invalid() -> Any:
    return render_template("message.html", title="Link not valid", message=INVALID), 404


def _render(verdict: links.Verdict, token: str) -> Any:
    return render_template("email_link.html", v=verdict, token=token,
                           when=lambda at: _when(at, verdict.user),
                           console_url=_console_url(verdict.claim.incident_id)), verdict.status


def _console_url(incident_id: int) -> str:
    return f"/incidents/{incident_id}"


def _when(at: datetime | None, user: User | None) -> str:
    """A time in the recipient's timezone, e.g. ``Thu 3 Dec 2026, 07:05 EST``."""
    if at is None:
        return ""
    try:
        zone = ZoneInfo(user.timezone if user else "UTC")
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    local = at.astimezone(zone)
    return f"{local.strftime('%a')} {local.day} {local.strftime('%b %Y, %H:%M')} {local.tzname()}"
