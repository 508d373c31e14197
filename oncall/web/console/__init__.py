"""The web console at ``/``: server-rendered pages (Jinja2, autoescaped) with htmx for small
partial updates, signed in with a password and a cookie session. Every page and every
action checks the role on the server (``sessions.require``); templates show a control only
when ``can(role)`` says the same rule allows it. Pages call the domain, never the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from oncall.config import Settings
from oncall.web import session as db_session
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.throttle import Throttle

csrf = CSRFProtect()

TITLES = {400: "The form could not be used", 401: "Sign in first", 403: "Not allowed",
          404: "Not found", 405: "Not allowed", 410: "Gone", 429: "Too many attempts"}


@bp.before_request
def _signed_in_user() -> None:
    if request.endpoint == "console.static":
        return  # files: nobody needs to be signed in, and no database round trip
    g.console_user = sessions.load(db_session())


@bp.before_request
def _csrf() -> None:
    csrf.protect()  # every POST of every console form; the API and webhooks are not here


@bp.errorhandler(HTTPException)
def _error_page(exc: HTTPException) -> Any:
    code = exc.code or 500
    message = exc.description or ""
    if code == 400 and "CSRF" in message:
        message = ("This form expired or did not come from this site. Go back, reload the "
                   "page and try again.")
    return render_template("message.html", title=TITLES.get(code, "Error"), message=message,
                           signin=code == 401), code


@bp.app_template_filter("local")
def _local(value: datetime | None, fmt: str = "%a {day} %b, %H:%M") -> str:
    """A UTC time in the signed-in user's timezone, e.g. ``Mon 7 Dec, 09:00 EST``."""
    if value is None:
        return ""
    user = sessions.current()
    try:
        zone = ZoneInfo(user.timezone if user else "UTC")
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    local = value.astimezone(zone)
    return f"{local.strftime(fmt).replace('{day}', str(local.day))} {local.tzname()}"


@bp.context_processor
def _template_context() -> dict[str, Any]:
    return {"current_user": sessions.current(), "can": sessions.can}


def init_app(app: Flask, settings: Settings, storage_uri: str) -> None:
    import oncall.web.console.layer_editor  # layer editing
    import oncall.web.console.ops_board  # heartbeats and maintenance pages
    import oncall.web.console.profile  # the self-service profile
    import oncall.web.console.profile_phone  # its phone verification
    import oncall.web.console.profile_rules  # its notification rules
    import oncall.web.console.schedule_editor  # a new schedule, detach
    import oncall.web.console.simulator  # noqa: F401 - the simulator page
    from oncall.web.console import (  # noqa: F401 - they add views
        api_tokens,
        incident_actions,  # acknowledge, resolve, escalate, reassign, notes
        incidents,  # home and incidents
        people,
        policies,
        schedule_page,
        schedules,
        services,
        signin,
        user_admin,
    )

    sessions.configure(app, settings)
    app.config.update(WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None)
    csrf.init_app(app)
    app.extensions["oncall.signin_throttle"] = Throttle.create(settings.signin_rate_limit,
                                                               storage_uri)
    app.register_blueprint(bp)
    from oncall.web.console import email_links  # email pages' one-click links: no session

    app.register_blueprint(email_links.bp)
    # Swagger UI from the package, not a CDN: /api/v1/docs works without internet.
    vendor = "/static/vendor/swagger-ui/"
    app.config.update(SWAGGER_UI_CSS=vendor + "swagger-ui.css",
                      SWAGGER_UI_BUNDLE_JS=vendor + "swagger-ui-bundle.js",
                      SWAGGER_UI_STANDALONE_PRESET_JS=vendor + "swagger-ui-standalone-preset.js",
                      DOCS_FAVICON=vendor + "favicon-32x32.png")
