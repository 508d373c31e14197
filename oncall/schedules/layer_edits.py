"""Editing a schedule's layers: each change takes effect at a time (by default the layer's
next handoff: shifts before it never change), is checked against the version the editor
saw, and can be previewed as a shift-level diff."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.audit import audit
from oncall.models import AuditEntry, Schedule, ScheduleLayer, User, utcnow
from oncall.schedules import history
from oncall.schedules.rotation import ShiftDiff, shift_diff
from oncall.schedules.service import ScheduleError, editable, layer_values
from oncall.schedules.store import layer_json, spec_for

PREVIEW_DAYS = 28


def _layer_audit(session: Session, layer: ScheduleLayer) -> dict[str, Any]:
    emails = dict(session.execute(select(User.id, User.email)).all())
    return layer_json(layer, emails)


def _when(session: Session, schedule: Schedule, layer: ScheduleLayer | None,
          values: dict[str, Any], effective: str | datetime, now: datetime) -> datetime:
    try:
        return history.resolve(session, history.parse_effective(effective), layer, values,
                               schedule.timezone, now)
    except history.EffectiveError as exc:
        raise ScheduleError("effective", exc.message) from None


def _renumber(session: Session, layers: list[ScheduleLayer], at: datetime) -> None:
    """Positions follow the list from ``at`` on (the order before ``at`` is kept)."""
    for i, x in enumerate(layers):
        if x.position != i:
            history.revise(session, x, {"position": i}, at)


def add_layer(session: Session, actor: str, schedule: Schedule, data: dict[str, Any], *,
              effective: str | datetime = history.NEXT_HANDOFF,
              now: datetime | None = None) -> ScheduleLayer:
    """A new layer on top, in force from ``effective`` (default: its first handoff after
    now, so whoever is on call keeps their shift; on a schedule without layers, where
    nobody's shift can be cut, now), so the shifts before then stay as they were."""
    editable(schedule)
    values = layer_values(session, data, "")
    if not schedule.layers and effective in (None, "", history.NEXT_HANDOFF):
        effective = history.NOW
    at = _when(session, schedule, None, values, effective, now or utcnow())
    layer = ScheduleLayer(position=len(schedule.layers), effective_from=at, **values)
    schedule.layers.append(layer)
    session.flush()
    audit(session, actor, "create", "layer", layer.id, f"{schedule.name}/{layer.name}", None,
          _layer_audit(session, layer))
    return layer


def check_version(session: Session, layer: ScheduleLayer, expected: int | None) -> None:
    """Refuse (409) an edit made from a view of the layer at ``expected`` when it has been
    changed since (None: the caller did not say, as a plain API call may)."""
    if expected is None or expected == layer.version:
        return
    last = session.scalar(select(AuditEntry).where(
        AuditEntry.object_type == "layer", AuditEntry.object_id == layer.id)
        .order_by(AuditEntry.id.desc()).limit(1))
    by = f" (by {last.actor.removeprefix('user:')}, {last.at:%Y-%m-%d %H:%M} UTC)" if last else ""
    raise ScheduleError("version", f"layer {layer.name!r} changed since you opened it{by}: "
                                   "nothing was saved; look at it again and redo your change",
                        409)


def update_layer(session: Session, actor: str, layer: ScheduleLayer,
                 data: dict[str, Any], *, effective: str | datetime = history.NEXT_HANDOFF,
                 now: datetime | None = None, version: int | None = None) -> ScheduleLayer:
    """Change some of a layer's fields (the result is validated whole), from ``effective``
    on: by default the layer's next handoff after now, so whoever is on call keeps their
    shift; ``now``; or a later time. Shifts before then are never rewritten. With
    ``version`` (the one the editor opened), refused if the layer changed since."""
    editable(layer.schedule)
    check_version(session, layer, version)
    before = _layer_audit(session, layer)
    merged = {**{k: v for k, v in before.items() if k not in ("id", "position", "version")},
              **data}
    values = layer_values(session, merged, "")
    order = list(layer.schedule.layers)
    if "position" in data:
        order.remove(layer)
        pos = data["position"]
        if not isinstance(pos, int) or not 0 <= pos <= len(order):
            raise ScheduleError("position", f"must be between 0 and {len(order)}")
        order.insert(pos, layer)
    at = _when(session, layer.schedule, layer, values, effective, now or utcnow())
    history.revise(session, layer, values, at, layer.schedule.timezone)
    _renumber(session, order, at)
    session.flush()
    audit(session, actor, "update", "layer", layer.id, f"{layer.schedule.name}/{layer.name}",
          before, _layer_audit(session, layer))
    return layer


def delete_layer(session: Session, actor: str, layer: ScheduleLayer, *,
                 effective: str | datetime = history.NEXT_HANDOFF,
                 now: datetime | None = None, version: int | None = None) -> datetime:
    """Remove a layer from ``effective`` on (default: its next handoff); its shifts before
    then are kept. Returns when it goes."""
    schedule = layer.schedule
    editable(schedule)
    check_version(session, layer, version)
    at = _when(session, schedule, layer, {}, effective, now or utcnow())
    audit(session, actor, "delete", "layer", layer.id, f"{schedule.name}/{layer.name}",
          _layer_audit(session, layer), None)
    history.retire(session, layer, at)
    schedule.layers.remove(layer)
    _renumber(session, list(schedule.layers), at)
    return at


def preview(session: Session, schedule: Schedule, change: Callable[[], Any], now: datetime,
            days: int = PREVIEW_DAYS) -> ShiftDiff:
    """What ``change`` (a function making an edit in ``session``) does to the final schedule
    over the next ``days``. The caller rolls the session back to save nothing."""
    start, end = now, now + timedelta(days=days)
    before = spec_for(session, schedule, start, end)
    change()
    session.flush()
    return shift_diff(before, spec_for(session, schedule, start, end), start, end)
