"""Loading schedules from the database into the pure rotation model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.models import Override, Schedule, ScheduleLayer, ScheduleLayerVersion, User
from oncall.schedules.history import version_spec, versions_between
from oncall.schedules.rotation import Layer, RotationError, ScheduleSpec
from oncall.schedules.rotation import Override as OverrideSpec


def emails_by_id(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def layer_spec(layer: ScheduleLayer, emails: dict[int, str]) -> Layer:
    return version_spec(layer, emails)


def overrides_between(session: Session, schedule_id: int, start: datetime,
                      end: datetime) -> list[Override]:
    return list(session.scalars(
        select(Override).where(Override.schedule_id == schedule_id, Override.start < end,
                               Override.end > start).order_by(Override.start)))


_EVER = datetime.min.replace(tzinfo=UTC)


def spec_for(session: Session, schedule: Schedule, start: datetime,
             end: datetime | None = None) -> ScheduleSpec:
    """The schedule with the overrides that touch [start, end] (just ``start`` if no end),
    and every definition of its layers in force at some time within it (each clipped to the
    stretch it was in force: see ``oncall.schedules.history``)."""
    end = end or start + timedelta(microseconds=1)
    rows = _rows(schedule, end, versions_between(session, schedule.id, start, end))
    emails = emails_by_id(session, {m for row in rows for m in row.members})
    overrides = [(o, o.user.email) for o in overrides_between(session, schedule.id, start, end)]
    return _spec(schedule, rows, emails, overrides)


def specs_for(session: Session, schedules: list[Schedule], start: datetime,
              end: datetime) -> dict[int, ScheduleSpec]:
    """``spec_for`` of many schedules over one range, by id, in three queries in all rather
    than three per schedule (the schedules list: bench/console.py). A schedule whose layers
    cannot be read is left out: ``spec_for`` on it raises and says why."""
    ids = [s.id for s in schedules]
    if not ids:
        return {}
    versions: dict[int, list[ScheduleLayerVersion]] = {i: [] for i in ids}
    for version in session.scalars(select(ScheduleLayerVersion).where(
            ScheduleLayerVersion.schedule_id.in_(ids),
            ScheduleLayerVersion.effective_until > start,
            (ScheduleLayerVersion.effective_from.is_(None))
            | (ScheduleLayerVersion.effective_from < end))):
        versions[version.schedule_id].append(version)
    overrides: dict[int, list[tuple[Override, str]]] = {i: [] for i in ids}
    for override, email in session.execute(
            select(Override, User.email).join(User, User.id == Override.user_id)
            .where(Override.schedule_id.in_(ids), Override.start < end, Override.end > start)
            .order_by(Override.start)).all():
        overrides[override.schedule_id].append((override, email))
    rows = {s.id: _rows(s, end, versions[s.id]) for s in schedules}
    emails = emails_by_id(session, {m for r in rows.values() for row in r for m in row.members})
    out = {}
    for s in schedules:
        try:
            out[s.id] = _spec(s, rows[s.id], emails, overrides[s.id])
        except (RotationError, ValueError):
            continue
    return out


def _rows(schedule: Schedule, end: datetime, versions: list[ScheduleLayerVersion]
          ) -> list[ScheduleLayer | ScheduleLayerVersion]:
    rows: list[ScheduleLayer | ScheduleLayerVersion] = [
        layer for layer in schedule.layers
        if layer.effective_from is None or layer.effective_from < end]
    rows += versions
    rows.sort(key=lambda r: (r.position, r.effective_from or _EVER))
    return rows


def _spec(schedule: Schedule, rows: list[ScheduleLayer | ScheduleLayerVersion],
          emails: dict[int, str], overrides: list[tuple[Override, str]]) -> ScheduleSpec:
    return ScheduleSpec(
        name=schedule.name, timezone=schedule.timezone,
        layers=tuple(version_spec(row, emails) for row in rows),
        overrides=tuple(OverrideSpec(start=o.start, end=o.end, user=email,
                                     created_at=o.created_at, id=o.id)
                        for o, email in overrides),
    )


def by_name(session: Session, name: str) -> Schedule | None:
    return session.scalar(select(Schedule).where(Schedule.name == name))


def who_is_on_call(session: Session, schedule_name: str, at: datetime) -> str | None:
    from oncall.schedules.rotation import on_call

    schedule = by_name(session, schedule_name)
    if schedule is None:
        return None
    return on_call(spec_for(session, schedule, at), at)


def layer_json(layer: ScheduleLayer, emails: dict[int, str]) -> dict[str, Any]:
    since = layer.effective_from
    return {"id": layer.id, "name": layer.name, "position": layer.position,
            "version": layer.version, **layer.spec,
            "effective_from": since.isoformat() if since else None,
            "members": [emails.get(m, f"#{m}") for m in layer.members],
            "restrictions": layer.restrictions or []}


def schedule_json(session: Session, schedule: Schedule) -> dict[str, Any]:
    emails = emails_by_id(session, {m for layer in schedule.layers for m in layer.members})
    return {"id": schedule.id, "name": schedule.name, "timezone": schedule.timezone,
            "description": schedule.description, "managed_by": schedule.managed_by,
            "detached_from": schedule.detached_from,
            "layers": [layer_json(layer, emails) for layer in schedule.layers]}


def override_json(o: Override) -> dict[str, Any]:
    return {"id": o.id, "user": o.user.email, "start": o.start.isoformat(),
            "end": o.end.isoformat(), "kind": o.kind, "note": o.note,
            "created_at": o.created_at.isoformat(), "created_by": o.created_by}
