"""Calendar feeds: ``/schedules/<id>.ics?token=`` (a schedule's final shifts) and
``/users/<id>.ics?token=`` (one person's shifts on every schedule). The token is the user's
read-only feed token (``POST /api/v1/users/me/feed-token``), never an API token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import String
from flask import Flask, Response
from sqlalchemy import select

from oncall.models import Schedule, User, utcnow
from oncall.schedules.calendar import feed
from oncall.schedules.rotation import final_shifts
from oncall.schedules.store import spec_for
from oncall.security import hash_token, new_token
from oncall.web import session, settings
from oncall.web.auth import current_user, require

bp = APIBlueprint("calendar", __name__, tag="Calendar feeds")
PAST, FUTURE = timedelta(days=30), timedelta(days=90)


class FeedQuery(Schema):
    token = String(required=True, metadata={"description": "your feed token"})


def _feed_user(token: str) -> User:
    found = session().scalar(select(User).where(User.feed_token_hash == hash_token(token)))
    if found is None:
        raise HTTPError(404, "unknown feed token")
    return found


def _ics(body: bytes, name: str) -> Response:
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": f'inline; filename="{name}.ics"'})


def _window() -> tuple[Any, Any]:
    now = utcnow()
    return now - PAST, now + FUTURE


@bp.get("/schedules/<int:schedule_id>.ics")
@bp.input(FeedQuery, location="query", arg_name="query")
@bp.doc(summary="A schedule's shifts as a calendar (30 days back, 90 ahead)",
        responses={200: "text/calendar", 404: "Unknown schedule or token"})
def schedule_feed(schedule_id: int, query: dict[str, Any]) -> Response:
    _feed_user(query["token"])
    schedule = session().get(Schedule, schedule_id)
    if schedule is None:
        raise HTTPError(404, f"schedule {schedule_id} not found")
    start, end = _window()
    shifts = final_shifts(spec_for(session(), schedule, start, end), start, end)
    return _ics(feed(f"On call: {schedule.name}", [(schedule.name, s) for s in shifts],
                     utcnow()), schedule.name)


@bp.get("/users/<int:user_id>.ics")
@bp.input(FeedQuery, location="query", arg_name="query")
@bp.doc(summary="Your shifts on every schedule as a calendar",
        responses={200: "text/calendar", 404: "Unknown token, or not yours"})
def user_feed(user_id: int, query: dict[str, Any]) -> Response:
    user = _feed_user(query["token"])
    if user.id != user_id:
        raise HTTPError(404, "unknown feed token")
    start, end = _window()
    entries = []
    for schedule in session().scalars(select(Schedule).order_by(Schedule.name)):
        for shift in final_shifts(spec_for(session(), schedule, start, end), start, end):
            if shift.user == user.email:
                entries.append((schedule.name, shift))
    entries.sort(key=lambda e: e[1].start)
    return _ics(feed(f"My on-call shifts ({user.email})", entries, utcnow()), "my-shifts")


@bp.post("/api/v1/users/me/feed-token")
@bp.doc(security="ApiToken", summary="Create (or replace) your calendar feed token",
        tags=["Calendar feeds"])
@require("viewer")
def rotate_feed_token() -> dict[str, Any]:
    """Returns a new read-only token and your feed URLs; the previous token stops working."""
    me = session().get(User, current_user().id)
    assert me is not None
    token = new_token("ocf")
    me.feed_token_hash = hash_token(token)
    session().commit()
    base = settings().public_url
    return {"token": token, "my_shifts": f"{base}/users/{me.id}.ics?token={token}",
            "schedules": {s.name: f"{base}/schedules/{s.id}.ics?token={token}"
                          for s in session().scalars(select(Schedule).order_by(Schedule.name))}}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
