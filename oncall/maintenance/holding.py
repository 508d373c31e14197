"""Holding incidents during maintenance, at intake, in the caller's transaction.

An alert that matches a window in force is stored like any other. If it opens an incident,
that incident is held: still ``triggered`` and shown, but its first step is due when the
window ends (``next_action_at``), so the escalation engine pages level 1 then if nobody has
acknowledged or resolved it. A firing alert outside every window that joins a held incident
releases it at once (the incident is then not wholly inside maintenance).

The windows in force are cached per process for ``CACHE_SECONDS`` (and dropped on any change
made in this process), so intake pays nothing while no window is near.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from oncall.incidents import Outcome, record
from oncall.maintenance.window import Window, from_row
from oncall.models import Incident, MaintenanceSuppression, MaintenanceWindow

if TYPE_CHECKING:
    from oncall.incidents.intake import Source
    from oncall.ingest import NormalizedAlert

CACHE_SECONDS = 5.0
HORIZON = timedelta(minutes=5)  # windows starting this soon are loaded with the current ones

_lock = threading.Lock()
# database URL -> (loaded for `now`, monotonic expiry, windows ending after `now` and
# starting before `now + HORIZON`)
_cache: dict[str, tuple[datetime, float, tuple[Window, ...]]] = {}


def invalidate() -> None:
    with _lock:
        _cache.clear()


def _load(session: Session, now: datetime) -> tuple[Window, ...]:
    rows = session.execute(
        select(MaintenanceWindow.id, MaintenanceWindow.name, MaintenanceWindow.matchers,
               MaintenanceWindow.starts_at, MaintenanceWindow.ends_at)
        .where(MaintenanceWindow.ends_at > now, MaintenanceWindow.starts_at < now + HORIZON))
    return tuple(from_row(*row) for row in rows)


def active(session: Session, now: datetime) -> list[Window]:
    """The windows in force at ``now``."""
    key = str(session.get_bind().engine.url)
    with _lock:
        hit = _cache.get(key)
    if hit is None or hit[1] < time.monotonic() or not hit[0] <= now < hit[0] + HORIZON:
        windows = _load(session, now)
        with _lock:
            _cache[key] = (now, time.monotonic() + CACHE_SECONDS, windows)
    else:
        windows = hit[2]
    return [w for w in windows if w.active_at(now)]


JOINED_OUTSIDE = "an alert outside every maintenance window joined it"


def hold(session: Session, source: Source, alerts: Sequence[NormalizedAlert],
         outcomes: Sequence[Outcome], now: datetime, service_ids: dict[str, int]) -> None:
    """Hold the incidents that matching alerts opened; release held ones that an alert
    outside every window joined."""
    windows = active(session, now)
    for alert, outcome in zip(alerts, outcomes, strict=True):
        if alert.status != "firing" or outcome.incident_id is None:
            continue
        service = alert.service if alert.service in service_ids else source.service
        holding = holding_window(windows, service, alert.type, alert.labels)
        if outcome.new and holding is not None:
            _hold(session, outcome.incident_id, holding, now)
        elif holding is None and not outcome.new:
            release(session, [outcome.incident_id], now, JOINED_OUTSIDE)


def holding_window(windows: Iterable[Window], service: str | None, type_: str,
                   labels: Mapping[str, Any]) -> Window | None:
    """Of the windows in force, the one that holds a new incident opened by this alert (of
    those matching it, the one ending last); None: no window matches, the alert pages (and
    releases a held incident it joins). Pure: intake and the simulator ask the same."""
    matching = [w for w in windows if w.matches(service, type_, labels)]
    return max(matching, key=lambda w: w.ends_at) if matching else None


def hold_opened(session: Session, incident_id: int, service: str | None, type_: str,
                labels: Mapping[str, Any], now: datetime) -> None:
    """Hold an incident opened other than by an alert (a threshold rule's periodic
    re-evaluation) if a window in force matches what opened it."""
    holding = holding_window(active(session, now), service, type_, labels)
    if holding is not None:
        _hold(session, incident_id, holding, now)


def _hold(session: Session, incident_id: int, window: Window, now: datetime) -> None:
    conn = session.connection()
    # The cache may be seconds old: hold only if the window still exists and is in force
    # (another process may have ended or deleted it), and until its current end.
    ends_at = conn.execute(select(MaintenanceWindow.ends_at).where(
        MaintenanceWindow.id == window.id, MaintenanceWindow.starts_at <= now)).scalar()
    if ends_at is None or ends_at <= now:
        return
    window = replace(window, ends_at=ends_at)
    held = conn.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.status == "triggered",
               Incident.level == 0, Incident.loop == 0)
        .values(next_action_at=window.ends_at, updated_at=now)).rowcount
    if held != 1:
        return
    conn.execute(delete(MaintenanceSuppression)
                 .where(MaintenanceSuppression.incident_id == incident_id))
    session.add(MaintenanceSuppression(incident_id=incident_id, window_id=window.id))
    record(session, incident_id, "suppressed", "system", now, window=window.name,
           window_id=window.id, until=window.ends_at.isoformat(),
           note=f"suppressed by maintenance window {window.name} until "
                f"{window.ends_at.isoformat()}; pages then if still open")


def release(session: Session, incident_ids: Iterable[int], now: datetime, why: str) -> list[int]:
    """Page the held incidents now (those not yet paged and still triggered)."""
    released = []
    for incident_id in incident_ids:
        changed = session.connection().execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.status == "triggered",
                   Incident.level == 0, Incident.loop == 0, Incident.next_action_at > now)
            .values(next_action_at=now, updated_at=now)).rowcount
        if changed == 1:
            released.append(incident_id)
            record(session, incident_id, "suppression_lifted", "system", now, reason=why)
    if released:
        session.connection().execute(delete(MaintenanceSuppression).where(
            MaintenanceSuppression.incident_id.in_(released)))
    return released


def window_changed(session: Session, window: MaintenanceWindow | None, window_id: int,
                   now: datetime, actor: str) -> list[int]:
    """After a window was moved, ended early or deleted (``window`` None): its held
    incidents follow its new end, or page now. Returns the incidents released now."""
    held = list(session.scalars(select(MaintenanceSuppression.incident_id)
                                .where(MaintenanceSuppression.window_id == window_id)))
    invalidate()
    if not held:
        return []
    if window is not None and window.starts_at <= now < window.ends_at:
        for incident_id in held:
            moved = session.connection().execute(
                update(Incident)
                .where(Incident.id == incident_id, Incident.status == "triggered",
                       Incident.level == 0, Incident.loop == 0, Incident.next_action_at > now)
                .values(next_action_at=window.ends_at, updated_at=now)).rowcount
            if moved:
                record(session, incident_id, "suppression_moved", actor, now,
                       window=window.name, until=window.ends_at.isoformat())
        return []
    name = window.name if window is not None else f"#{window_id}"
    return release(session, held, now, f"maintenance window {name} ended early ({actor})")
