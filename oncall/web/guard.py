"""Hostile and malformed input, before any view reads it (see :mod:`oncall.hostile`).

* JSON bodies (``request.get_json``, so every ``@bp.input``) are parsed by
  :func:`oncall.hostile.loads`: too deep, huge integers, NaN are a 400 naming ``body``.
* Ids in paths are database integers: ``<int:...>`` matches only 0..2^31-1, so a larger id
  is a 404 (no such thing can exist) rather than a database error.
* People's requests (the API, Slack, Twilio) whose path, query, form or JSON body holds a
  NUL or a lone surrogate are refused with a 400 naming the field. Alert and ping intake
  is not refused: it stores such text with U+FFFD in place (``oncall.web.hooks``).
* A ``DataError`` the database raises for a value the request supplied (a NUL, a number out
  of range that validation did not catch) is a 400 naming that value's field; any other
  ``DataError`` stays a 500: it is a bug here, not bad input.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter

from oncall import hostile
from oncall.web.errors import BadRequest

ID_MAX = 2**31 - 1  # PostgreSQL's integer, the type of every id column
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # bigint: no integer column is wider
# Blueprints that take alerts and pings: machines retry a refusal forever, so what they send
# is stored cleaned instead (and the alert says which fields were cleaned).
CLEANING_BLUEPRINTS = ("hooks", "pagerduty", "opsgenie", "pings")
UNSTORABLE = "holds a NUL character or a lone surrogate, which cannot be stored"


class IdConverter(IntegerConverter):
    """``<int:...>`` for database ids: at most 2^31-1 (a larger one cannot exist: 404)."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = ID_MAX, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class JSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return hostile.loads(s)


class OncallRequest(Request):
    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:  # not JSON at all: the view asked for a JSON body
            raise BadRequest("body", "must be JSON (Content-Type: application/json)", 415)
        raise BadRequest("body", f"malformed JSON: {e}")


def bad_field() -> str | None:
    """The first field of this request that holds a NUL or a lone surrogate: a path
    parameter, a query parameter (``query.<name>``), a form field or a JSON body field."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and not hostile.storable(value):
            return name
    for source, values in (("query", request.args), ("form", _form())):
        for key, value in values.items(multi=True):
            if not (hostile.storable(key) and hostile.storable(value)):
                return f"{source}.{hostile.clean(key)}"
    if request.is_json:
        return hostile.unstorable(request.get_json(silent=True))
    return None


def _form() -> Any:
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return MultiDict()
    request.get_data(cache=True)  # keep the raw bytes for signature checks (Slack)
    return request.form


def out_of_range_field() -> str | None:
    """The first path or query parameter of this request that is an integer outside what
    the database holds (query values are text: those that read as such an integer)."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not INT_MIN <= value <= ID_MAX:
            return name
    for key, value in request.args.items(multi=True):
        text = value.strip()
        if text.lstrip("+-").isdigit() and len(text) < 4000 and not \
                -ID_MAX - 1 <= int(text) <= ID_MAX:
            return f"query.{key}"
    return None


def init_app(app: Flask) -> None:
    """Call before any blueprint is registered (the id converter applies to routes added
    after it) and after ``auth.init_app`` (nobody unauthenticated learns about fields)."""
    app.url_map.converters["int"] = IdConverter
    app.json = JSONProvider(app)
    app.request_class = OncallRequest

    @app.before_request
    def _refuse_unstorable() -> None:
        if request.blueprint in CLEANING_BLUEPRINTS:
            return
        if request.is_json and request.get_data(cache=True).strip():
            request.get_json()  # parsed here, so refused here (the view's parser is stdlib's)
        field = bad_field()
        if field is not None:
            raise BadRequest(field, UNSTORABLE)
