"""``heartbeats:`` in config files: each heartbeat is created, updated or (when no file names
it any more) deleted. Its ping URL's uuid is generated once and kept across applies, unless
the file pins one with ``uuid:``. Runs after users, policies and services are applied, so a
heartbeat may name a service or policy defined in the same run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.apply.loader import Document
from oncall.heartbeats import service
from oncall.heartbeats.service import DEFAULT_SERVICE, HeartbeatError
from oncall.models import Heartbeat, utcnow

if TYPE_CHECKING:  # sync imports this module; Change comes in as an argument
    from oncall.apply.sync import Change

KIND = "heartbeat"


def _wanted(entry: dict[str, Any]) -> dict[str, Any]:
    """The full desired state (absent keys take their defaults, so deleting a line in the
    file resets the setting)."""
    data = {"name": entry["heartbeat"], "description": entry.get("description"),
            "service": entry.get("service", DEFAULT_SERVICE), "policy": entry.get("policy"),
            "timezone": entry.get("timezone", "UTC"), "grace": entry.get("grace", "1h"),
            "severity": entry.get("severity", "critical")}
    if "cron" in entry:
        data["cron"] = entry["cron"]
    if "period" in entry:
        data["period"] = entry["period"]
    if "uuid" in entry:
        data["uuid"] = entry["uuid"]
    return data


def sync_heartbeats(session: Session, docs: list[Document],
                    change: type[Change]) -> list[Change]:
    now = utcnow()
    changes: list[Change] = []
    seen: dict[str, str] = {}
    for doc in docs:
        for i, entry in enumerate(doc.data.get("heartbeats", [])):
            name, path = entry["heartbeat"], ("heartbeats", i)
            if name in seen:
                raise doc.error(path, f"heartbeat {name!r} is already defined in {seen[name]}")
            seen[name] = doc.file
            try:
                found = _apply_one(session, doc.file, change, _wanted(entry), now)
            except HeartbeatError as exc:
                raise doc.error((*path, exc.field or ""), exc.message) from None
            if found is not None:
                changes.append(found)
    for hb in session.scalars(select(Heartbeat).where(Heartbeat.managed_by.is_not(None))):
        if hb.name not in seen:
            service.remove(session, f"file:{hb.managed_by}", hb, from_file=True)
            changes.append(change("delete", KIND, hb.name))
    session.flush()
    return changes


def _apply_one(session: Session, file: str, change: type[Change], data: dict[str, Any],
               now: Any) -> Change | None:
    actor = f"file:{file}"
    hb = session.scalar(select(Heartbeat).where(Heartbeat.name == data["name"]))
    if hb is None:
        created = service.create(session, actor, data, now, managed_by=file)
        when = f"cron {created.cron} {created.timezone}" if created.cron else \
            f"every {created.period}s"
        return change("create", KIND, created.name, [f"{when}, grace {created.grace}s "
                                                     "(`oncall heartbeat list` prints its URL)"])
    if "cron" not in data and "period" not in data:
        raise HeartbeatError("period", "a heartbeat needs a period (e.g. 1h) or a cron "
                                       "expression")
    if "cron" not in data:
        data["cron"] = None
    if "period" not in data:
        data["period"] = None
    taken_over = hb.managed_by != file
    detail = service.update(session, actor, hb, data, now, managed_by=file, from_file=True)
    if taken_over:
        hb.managed_by = file
        detail.append(f"managed_by: now {file}")
    return change("update", KIND, hb.name, detail) if detail else None
