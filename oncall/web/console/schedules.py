"""``/schedules``: every schedule with who is on call now, until when, who is next, and the
gaps. The same view answers htmx's refresh with just the list."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from oncall.models import utcnow
from oncall.schedules.overview import summaries
from oncall.web import session as db_session
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp


@bp.get("/schedules")
@sessions.require("viewer")
def schedules() -> Any:
    now = utcnow()
    found = summaries(db_session(), now)
    template = "schedules_list.html" if request.headers.get("HX-Request") else "schedules.html"
    return render_template(template, schedules=found, now=now,
                           gaps=sum(1 for s in found if s.gap))
