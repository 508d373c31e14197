"""Layer history: a change to a layer takes effect at a chosen instant and leaves every shift
before it as it was. The ``schedule_layers`` row holds the layer's latest definition (in
force from its ``effective_from``); each definition it replaced is kept as a
``ScheduleLayerVersion`` for the stretch it was in force. Callers own the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from oncall.models import ScheduleLayer, ScheduleLayerVersion
from oncall.schedules.rotation import Layer, next_handoff, parse_restriction, parse_rotation
from oncall.schedules.rotation.shifts import utc
from oncall.schedules.rotation.turns import turn_at

EDITED = ("name", "spec", "members", "restrictions", "position")
NOW, NEXT_HANDOFF = "now", "next-handoff"


class EffectiveError(ValueError):
    """A refused effective time; ``field`` is always ``effective``."""

    field = "effective"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_effective(value: Any) -> str | datetime:
    """``now``, ``next-handoff`` (also None or empty) or an ISO 8601 time with an offset."""
    if value is None or value == "" or value == NEXT_HANDOFF:
        return NEXT_HANDOFF
    if value == NOW:
        return NOW
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise EffectiveError(f"{value!r} is not now, next-handoff or an ISO 8601 "
                                 "time") from None
    if parsed.tzinfo is None:
        raise EffectiveError("needs a UTC offset, e.g. 2026-12-07T09:00:00-05:00 or ...Z")
    return parsed


def version_spec(row: ScheduleLayer | ScheduleLayerVersion, emails: dict[int, str]) -> Layer:
    """One stored definition of a layer, for the rotation math, with its window in force."""
    until = row.effective_until if isinstance(row, ScheduleLayerVersion) else None
    return Layer(row.name, parse_rotation(row.spec),
                 tuple(emails[m] for m in row.members if m in emails),
                 tuple(parse_restriction(r) for r in row.restrictions or []),
                 active_from=row.effective_from, active_until=until, offset=row.turn_offset)


def versions_between(session: Session, schedule_id: int, start: datetime, end: datetime
                     ) -> list[ScheduleLayerVersion]:
    """Past (or superseded) definitions in force at some time within [start, end)."""
    if schedule_id is None:
        return []
    return list(session.scalars(select(ScheduleLayerVersion).where(
        ScheduleLayerVersion.schedule_id == schedule_id,
        ScheduleLayerVersion.effective_until > start,
        (ScheduleLayerVersion.effective_from.is_(None))
        | (ScheduleLayerVersion.effective_from < end))))


def in_force(session: Session, layer: ScheduleLayer, at: datetime
             ) -> ScheduleLayer | ScheduleLayerVersion:
    """The definition of ``layer`` in force at ``at`` (the latest one if none is yet)."""
    if layer.effective_from is None or layer.effective_from <= at or layer.id is None:
        return layer
    found = session.scalar(select(ScheduleLayerVersion).where(
        ScheduleLayerVersion.layer_id == layer.id,
        ScheduleLayerVersion.schedule_id == layer.schedule_id,
        ScheduleLayerVersion.effective_until > at,
        (ScheduleLayerVersion.effective_from.is_(None))
        | (ScheduleLayerVersion.effective_from <= at)))
    return found or layer


def resolve(session: Session, choice: str | datetime, layer: ScheduleLayer | None,
            values: dict[str, Any], timezone: str, now: datetime) -> datetime:
    """The instant a change to ``layer`` (None: a new layer defined by ``values``) takes
    effect: ``now``; an explicit time (not in the past); or by default the layer's next
    handoff after ``now`` (so the person on call keeps their shift)."""
    now = utc(now, "now")
    choice = parse_effective(choice)
    if choice == NOW:
        return now
    if isinstance(choice, datetime):
        at = choice.astimezone(now.tzinfo)
        if at < now:
            raise EffectiveError("is in the past: a change never rewrites past shifts "
                                 "(use now or a later time)")
        return at
    tz = ZoneInfo(timezone)
    if layer is not None:
        spec = version_spec(in_force(session, layer, now), {})
    else:
        spec = Layer(values["name"], parse_rotation(values["spec"]), ())
    return next_handoff(spec, tz, now)


def _archive(session: Session, layer: ScheduleLayer, at: datetime) -> None:
    """Keep what ``layer`` defines before ``at`` (versions after it are dropped)."""
    V = ScheduleLayerVersion
    mine = (V.layer_id == layer.id, V.schedule_id == layer.schedule_id)
    session.execute(delete(V).where(*mine, V.effective_from.is_not(None),
                                    V.effective_from >= at))
    session.execute(update(V).where(*mine, V.effective_until > at).values(effective_until=at))
    if layer.effective_from is None or layer.effective_from < at:
        session.add(V(schedule_id=layer.schedule_id, layer_id=layer.id,
                      position=layer.position, name=layer.name, spec=layer.spec,
                      members=list(layer.members), restrictions=list(layer.restrictions or []),
                      turn_offset=layer.turn_offset, effective_from=layer.effective_from,
                      effective_until=at))


def carry_on(session: Session, layer: ScheduleLayer, values: dict[str, Any], at: datetime,
             tz: ZoneInfo) -> int:
    """The turn offset that lets the rotation carry on at ``at`` from whoever's turn it was
    going to be then (or, if they are no longer a member, the next one in the old order who
    still is), in the new member order: adding someone from Monday does not hand anyone a
    second turn in a row. 0 when there is no turn to carry on."""
    old = in_force(session, layer, at)
    members = values.get("members", layer.members)
    old_turn = turn_at(parse_rotation(old.spec), tz, at)
    new_turn = turn_at(parse_rotation(values.get("spec", layer.spec)), tz, at)
    if old_turn is None or new_turn is None or not old.members or not members:
        return 0
    n = len(old.members)
    first = (old_turn.index + old.turn_offset) % n
    for step in range(n):
        who = old.members[(first + step) % n]
        if who in members:
            return (members.index(who) - new_turn.index) % len(members)
    return 0


def revise(session: Session, layer: ScheduleLayer, values: dict[str, Any], at: datetime,
           timezone: str | None = None) -> bool:
    """Make ``values`` (some of name, spec, members, restrictions, position) the layer's
    definition from ``at`` on. False, and nothing changed, if they are what it already is.
    With the schedule's ``timezone``, a change of members or rotation carries the order on
    from whoever's turn it was (``carry_on``), unless it moves the rotation's ``start``,
    which says where turns count from."""
    if all(getattr(layer, k) == v for k, v in values.items()):
        return False
    offset = layer.turn_offset
    spec = values.get("spec", layer.spec)
    if (timezone is not None and (values.get("members", layer.members) != layer.members
                                  or spec != layer.spec)):
        offset = (0 if spec.get("start") != layer.spec.get("start")
                  else carry_on(session, layer, values, at, ZoneInfo(timezone)))
    _archive(session, layer, at)
    for key, value in values.items():
        setattr(layer, key, value)
    layer.turn_offset = offset
    layer.effective_from = at
    return True


def retire(session: Session, layer: ScheduleLayer, at: datetime) -> None:
    """Keep the layer's shifts before ``at``; the caller removes the row. Its versions no
    longer name it: a later layer given the same id must not take them for its own."""
    _archive(session, layer, at)
    session.flush()
    session.execute(update(ScheduleLayerVersion).where(
        ScheduleLayerVersion.layer_id == layer.id,
        ScheduleLayerVersion.schedule_id == layer.schedule_id).values(layer_id=None))
