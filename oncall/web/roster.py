"""Roster changes in the API: every layer edit takes ``?effective=`` (``next-handoff``, the
default; ``now``; or an ISO time) and ``?dry_run=1`` (answer the shift-level diff for the
next four weeks and save nothing); a layer's versions over time; and
``GET /api/v1/schedules/<id>/gaps``, the stretches ahead when nobody is on call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import Boolean, Integer, List, Nested, Raw, String
from apiflask.validators import Range
from flask import Flask
from sqlalchemy import select

from oncall.models import Schedule, ScheduleLayer, ScheduleLayerVersion, utcnow
from oncall.schedules import coverage, layer_edits, service
from oncall.schedules.rotation import Piece, ShiftDiff
from oncall.schedules.store import emails_by_id
from oncall.web import commit, session
from oncall.web.auth import require
from oncall.web.errors import BadRequest

bp = APIBlueprint("roster", __name__, url_prefix="/api/v1/schedules", tag="Schedules")


class EditQuery(Schema):
    dry_run = Boolean(load_default=False, metadata={
        "description": "1: answer what the change would do (ShiftDiff) and save nothing"})
    effective = String(metadata={
        "description": "when the change takes effect: `next-handoff` (default: the layer's "
                       "next handoff, so whoever is on call keeps their shift), `now`, or "
                       "an ISO 8601 time with an offset (not in the past). Shifts before it "
                       "never change."})
    version = Integer(validate=Range(min=1), metadata={
        "description": "the layer's `version` as you last read it: if someone changed the "
                       "layer since, the edit is refused with 409 (\"changed since you "
                       "opened it\") and nothing is saved"})


class TimeRange(Schema):
    start = String(required=True)
    end = String(required=True)


class PieceOut(Schema):
    start = String(required=True)
    end = String(required=True)
    layer = String(allow_none=True, metadata={
        "description": "the layer that puts them on call, `override`, or null for a gap"})


class PersonChange(Schema):
    user = String(allow_none=True, metadata={"description": "email; null: nobody (a gap)"})
    gained = List(Nested(PieceOut), required=True)
    lost = List(Nested(PieceOut), required=True)


class OnCallNow(Schema):
    before = String(allow_none=True)
    after = String(allow_none=True)
    changes = Boolean(required=True)


class ShiftDiffOut(Schema):
    dry_run = Boolean(required=True)
    schedule = String(required=True)
    effective_from = String(allow_none=True, metadata={
        "description": "when the change takes effect (null: it changes nothing)"})
    window = Nested(TimeRange, required=True)
    on_call_now = Nested(OnCallNow, required=True)
    warnings = List(String(), required=True)
    people = List(Nested(PersonChange), required=True, metadata={
        "description": "per person (null: nobody), the final-schedule time gained and lost"})
    gaps = List(Nested(TimeRange), required=True, metadata={
        "description": "when nobody would be on call in the window after the change"})


class GapsQuery(Schema):
    days = Integer(load_default=coverage.HORIZON_DAYS, validate=Range(1, 366))


class GapsOut(Schema):
    schedule = String(required=True)
    timezone = String(required=True)
    used_by = List(String(), required=True, metadata={
        "description": "policies that page this schedule (gaps matter most there)"})
    window = Nested(TimeRange, required=True)
    gaps = List(Nested(TimeRange), required=True)


class LayerOut(Schema):
    id = Integer(required=True)
    name = String(required=True)
    position = Integer(required=True)
    version = Integer(required=True, metadata={
        "description": "bumped by every change; send it back as `?version=` to refuse an "
                       "edit over someone else's"})
    rotation = Raw(metadata={"description": "daily | weekly | {days: N} | {weeks: N} | "
                                            "{hours: N}"})
    handoff = String()
    start = String()
    end = String(allow_none=True)
    effective_from = String(allow_none=True, metadata={
        "description": "this definition is in force from here (null: since forever); a "
                       "time ahead is a change waiting for its time"})
    members = List(String(), required=True, metadata={"description": "emails, in turn order"})
    restrictions = List(Raw(), required=True)


class ScheduleOut(Schema):
    id = Integer(required=True)
    name = String(required=True)
    timezone = String(required=True)
    description = String(allow_none=True)
    managed_by = String(allow_none=True, metadata={"description": "the file, if any"})
    detached_from = String(allow_none=True, metadata={
        "description": "the file it was handed over from, if it was (`oncall apply` then "
                       "leaves it alone)"})
    layers = List(Nested(LayerOut), required=True)


def _json(schema: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


DRY_RUN_DOC: dict[str, Any] = {
    "description": "The schedule as saved; with `dry_run=1`, nothing is saved and the answer "
                   "is the ShiftDiff",
    "content": _json({"oneOf": [ScheduleOut, ShiftDiffOut]})}
PREVIEW_DOC: dict[str, Any] = {
    "description": "With `dry_run=1`: the ShiftDiff (nothing saved)",
    "content": _json(ShiftDiffOut)}
CREATED_DOC: dict[str, Any] = {"description": "Created: the schedule",
                               "content": _json(ScheduleOut)}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _piece(p: Piece) -> dict[str, Any]:
    return {"start": p.start.isoformat(), "end": p.end.isoformat(), "layer": p.source}


def warnings(diff: ShiftDiff) -> list[str]:
    """What a person should read before saving."""
    out = []
    if diff.changes_now:
        out.append(f"the person on call now changes: {diff.now_before or 'nobody'} -> "
                   f"{diff.now_after or 'nobody'} at once")
    opened = [p for p in diff.gained if p.user is None]
    if opened:
        out.append(f"opens {len(opened)} gap(s) with nobody on call, the first from "
                   f"{opened[0].start.isoformat()}")
    return out


def diff_json(schedule: Schedule, diff: ShiftDiff, effective: datetime | None,
              gaps: list[tuple[datetime, datetime]]) -> dict[str, Any]:
    people: dict[str | None, dict[str, Any]] = {}
    for kind, pieces in (("gained", diff.gained), ("lost", diff.lost)):
        for p in pieces:
            entry = people.setdefault(p.user, {"user": p.user, "gained": [], "lost": []})
            entry[kind].append(_piece(p))
    return {"dry_run": True, "schedule": schedule.name,
            "effective_from": _iso(effective),
            "window": {"start": diff.start.isoformat(), "end": diff.end.isoformat()},
            "on_call_now": {"before": diff.now_before, "after": diff.now_after,
                            "changes": diff.changes_now},
            "warnings": warnings(diff),
            "people": sorted(people.values(), key=lambda e: (e["user"] is None,
                                                             e["user"] or "")),
            "gaps": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in gaps]}


def _when(result: Any) -> datetime | None:
    if isinstance(result, datetime):
        return result
    return getattr(result, "effective_from", None)


def save_or_preview(schedule: Schedule, query: dict[str, Any],
                    work: Callable[[str | datetime, datetime], Any],
                    answer: Callable[[Any], Any]) -> Any:
    """Run ``work(effective, now)`` (a layer edit through the domain service) and commit it,
    answering ``answer(result)``; with ``dry_run``, answer its ShiftDiff and roll back."""
    effective = query.get("effective") or "next-handoff"
    now = utcnow()
    if not query.get("dry_run"):
        return answer(commit(lambda: work(effective, now), service.ScheduleError))
    s = session()
    result: list[Any] = []
    try:
        diff = layer_edits.preview(s, schedule, lambda: result.append(work(effective, now)), now)
        found = coverage.schedule_gaps(s, schedule, now, layer_edits.PREVIEW_DAYS)
        return diff_json(schedule, diff, _when(result[0]), found)
    except service.ScheduleError as exc:
        raise BadRequest(exc.field or "", exc.message, exc.status) from None
    finally:
        s.rollback()


class VersionOut(Schema):
    name = String(required=True)
    position = Integer(required=True)
    rotation = Raw()
    handoff = String()
    start = String()
    end = String(allow_none=True)
    members = List(String(), required=True)
    restrictions = List(Raw(), required=True)
    effective_from = String(allow_none=True, metadata={"description": "null: since forever"})
    effective_until = String(allow_none=True, metadata={"description": "null: still is"})


class VersionsOut(Schema):
    layer = Integer(required=True)
    versions = List(Nested(VersionOut), required=True, metadata={
        "description": "oldest first; the last is the layer's latest definition"})


@bp.get("/<int:schedule_id>/layers/<int:layer_id>/versions")
@bp.doc(security="ApiToken")
@bp.output(VersionsOut)
@require("viewer")
def layer_versions(schedule_id: int, layer_id: int) -> dict[str, Any]:
    """A layer's definitions over time: each edit took effect at an `effective_from`, and
    the shifts before it are those of the definition then in force."""
    layer = session().get(ScheduleLayer, layer_id)
    if layer is None or layer.schedule_id != schedule_id:
        raise HTTPError(404, f"schedule {schedule_id} has no layer {layer_id}")
    rows: list[Any] = list(session().scalars(
        select(ScheduleLayerVersion).where(ScheduleLayerVersion.layer_id == layer.id,
                                           ScheduleLayerVersion.schedule_id == schedule_id)
        .order_by(ScheduleLayerVersion.effective_until)))
    rows.append(layer)
    emails = emails_by_id(session(), {m for row in rows for m in row.members})
    return {"layer": layer.id, "versions": [
        {"name": row.name, "position": row.position, **row.spec,
         "members": [emails.get(m, f"#{m}") for m in row.members],
         "restrictions": row.restrictions or [], "effective_from": _iso(row.effective_from),
         "effective_until": _iso(getattr(row, "effective_until", None))} for row in rows]}


@bp.get("/<int:schedule_id>/gaps")
@bp.doc(security="ApiToken")
@bp.input(GapsQuery, location="query", arg_name="query")
@bp.output(GapsOut)
@require("viewer")
def schedule_gaps(schedule_id: int, query: dict[str, Any]) -> dict[str, Any]:
    """Coverage gaps: when nobody is on call (overrides included) in the next `days` (28).
    A page to this schedule then finds no one; `used_by` names the policies that page it."""
    found = session().get(Schedule, schedule_id)
    if found is None:
        raise HTTPError(404, f"schedule {schedule_id} not found")
    now = utcnow()
    end = now + timedelta(days=query["days"])
    return {"schedule": found.name, "timezone": found.timezone,
            "used_by": coverage.policies_using(session()).get(found.name, []),
            "window": {"start": now.isoformat(), "end": end.isoformat()},
            "gaps": [{"start": s.isoformat(), "end": e.isoformat()}
                     for s, e in coverage.schedule_gaps(session(), found, now,
                                                        query["days"])]}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
