"""The Flask application. ``create_app`` only wires; each blueprint attaches itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from apiflask import APIFlask
from flask import g
from sqlalchemy.orm import Session

from oncall import __version__, db, jobs, logsafe
from oncall.channels import registry
from oncall.config import Settings, load_settings

T = TypeVar("T")


def create_app(settings: Settings | None = None, **config: Any) -> APIFlask:
    settings = settings or load_settings()
    logsafe.install()  # no forged lines, no tokens: Flask's, werkzeug's, gunicorn's logs too
    app = APIFlask("oncall", title="oncall API", version=__version__,
                   spec_path="/api/v1/openapi.json", docs_path="/api/v1/docs",
                   static_folder=None)  # type: ignore[arg-type]  # console serves /static/
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        VALIDATION_ERROR_STATUS_CODE=400,
        SECRET_KEY=settings.secret_key,
        SECURITY_SCHEMES={"ApiToken": {"type": "http", "scheme": "bearer",
                                       "description": "An API token from `oncall token add`."},
                          "GenieKey": {"type": "apiKey", "in": "header", "name": "Authorization",
                                       "description": "`GenieKey <key>`: an opsgenie "
                                                      "integration's key."}},
        INFO={"description": "Alert intake, incidents and on-call for the oncall service."},
        SYNC_LOCAL_SPEC=False,
        **config,
    )
    app.extensions["oncall"] = settings
    db.get_engine(settings.database_url)
    jobs.init(settings.broker_url)
    registry.setup(settings)

    from oncall.web import (
        api,
        auth,
        calendar,
        console,
        errors,
        guard,
        headers,
        health,
        heartbeats,
        hooks,
        limits,
        login,
        maintenance,
        manage,
        openapi,
        opsgenie,
        pagerduty,
        people,
        roster,
        rules,
        schedules,
        shifts,
        simulate,
        users,
    )

    errors.init_app(app)
    auth.init_app(app)  # first of the request hooks: nothing reads a request unauthenticated
    guard.init_app(app)  # after auth (nothing read unauthenticated), before the routes (ids)
    headers.init_app(app)
    hooks.init_app(app)
    pagerduty.init_app(app)
    opsgenie.init_app(app)
    api.init_app(app)
    schedules.init_app(app)
    roster.init_app(app)
    rules.init_app(app)
    users.init_app(app)
    calendar.init_app(app)
    health.init_app(app)
    registry.init_web(app)  # each channel's inbound replies and status callbacks
    heartbeats.init_app(app)
    maintenance.init_app(app)
    simulate.init_app(app)
    manage.init_app(app)
    people.init_app(app)
    login.init_app(app)  # oncall login: a token for a password
    shifts.init_app(app)  # every schedule's shifts, or one person's
    limits.init_app(app, settings)
    console.init_app(app, settings, limits.storage_uri(settings))
    openapi.init_app(app)  # last: it completes what the blueprints documented

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    return app


def settings() -> Settings:
    from flask import current_app

    return current_app.extensions["oncall"]


@contextmanager
def transaction() -> Iterator[Session]:
    """The request's session, committed when the block ends, rolled back if it raises."""
    s = session()
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise


def commit(work: Callable[[], T], refusals: type[Exception]) -> T:
    """Run a change in the request's transaction and commit it; a domain refusal (an
    exception with ``field``, ``message`` and ``status``) becomes that 4xx, naming the field,
    and nothing is kept."""
    from sqlalchemy.orm.exc import StaleDataError

    from oncall.web.errors import BadRequest

    try:
        with transaction():
            return work()
    except refusals as exc:
        err: Any = exc
        raise BadRequest(err.field or "", err.message, err.status) from None
    except StaleDataError:  # another request saved the same row between our read and write
        raise BadRequest("version", "changed since you opened it (someone saved it at the "
                                    "same moment); nothing was saved: reload and redo your "
                                    "change", 409) from None


def session() -> Session:
    """The request's session (closed at teardown)."""
    if "db_session" not in g:
        g.db_session = db.session_factory(settings().database_url)()
    return g.db_session
