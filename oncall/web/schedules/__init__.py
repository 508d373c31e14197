"""``/api/v1/schedules``: schedules, layers, members, restrictions, overrides and swaps, and
the queries (who is on call, shifts). Managers edit; responders may add overrides for
themselves and swap shifts on schedules they are members of (``oncall.permissions``);
viewers read. Every change lands in the audit log.

One blueprint (``blueprint``), its routes by what they act on: ``crud`` (schedules),
``layers`` (layers and members), ``overrides`` (overrides and swaps), ``queries`` (on call,
shifts); ``schemas`` holds the bodies and queries."""

from __future__ import annotations

from flask import Flask

from oncall.web.schedules import crud, layers, overrides, queries
from oncall.web.schedules.blueprint import bp

# The route modules register their routes on ``bp`` when imported, in this order (the
# order of the rules and of the OpenAPI paths).
ROUTES = (crud, layers, overrides, queries)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
