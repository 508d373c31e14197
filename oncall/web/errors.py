"""Every error is JSON naming the problem: ``{"error": ..., "field": ...}``.

Storage trouble is a 503 with ``Retry-After``, never a 2xx and never a 500, so that senders
(Alertmanager, Grafana, PagerDuty clients) retry.
"""

from __future__ import annotations

import logging
from typing import Any

from apiflask import APIFlask, HTTPError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from oncall import metrics

log = logging.getLogger(__name__)


class BadRequest(HTTPError):
    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(status, message=f"{field}: {message}" if field else message,
                         extra_data={"field": field or None})


def _first_field(detail: Any, path: str = "") -> str | None:
    """The first field named in a marshmallow error tree, as ``a.b``."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key in ("json", "query", "form", "path"):
                return _first_field(value, path)
            return _first_field(value, f"{path}.{key}" if path else str(key))
    return path or None


def init_app(app: APIFlask) -> None:
    @app.error_processor
    def _json_error(error: HTTPError) -> tuple[dict[str, Any], int, Any]:
        body: dict[str, Any] = {"error": error.message, "status": error.status_code}
        body.update(error.extra_data)
        if error.detail:
            field = _first_field(error.detail)
            body["field"] = field
            body["detail"] = error.detail
            if field and error.message == "Validation error":
                body["error"] = f"{field}: {_first_message(error.detail)}"
        return body, error.status_code, error.headers

    def _unavailable(exc: Exception) -> tuple[dict[str, Any], int, dict[str, str]]:
        log.warning("storage unavailable: %s", exc)
        metrics.REJECTED.labels("503").inc()
        return ({"error": "storage unavailable; nothing was stored, retry later", "status": 503},
                503, {"Retry-After": "5"})

    app.register_error_handler(OperationalError, _unavailable)
    app.register_error_handler(PoolTimeout, _unavailable)

    def _dbapi(exc: DBAPIError) -> Any:
        if exc.connection_invalidated:
            return _unavailable(exc)
        raise exc

    app.register_error_handler(DBAPIError, _dbapi)

    def _data(exc: DataError) -> Any:
        """A value the database refused: a 400 naming it when the request supplied it (a
        NUL, an integer out of range that validation let through), else a bug: a 500."""
        from oncall.web import guard

        field = guard.bad_field() or guard.out_of_range_field()
        if field is None:
            raise exc
        log.warning("refused by the database, field %s: %s", field, exc.orig)
        return _json_error(BadRequest(field, "a value the database cannot hold"))

    app.register_error_handler(DataError, _data)


def _first_message(detail: Any) -> str:
    while isinstance(detail, dict) and detail:
        detail = next(iter(detail.values()))
    if isinstance(detail, list) and detail:
        return str(detail[0])
    return str(detail)
