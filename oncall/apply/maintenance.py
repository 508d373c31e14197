"""``maintenance:`` in config files: planned windows (a deploy, a processor migration).
Windows no file names any more are deleted, and whatever they held pages then."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.apply.loader import Document
from oncall.maintenance import service
from oncall.maintenance.window import WindowError
from oncall.models import MaintenanceWindow, utcnow

if TYPE_CHECKING:  # sync imports this module; Change comes in as an argument
    from oncall.apply.sync import Change

KIND = "maintenance"


def sync_maintenance(session: Session, docs: list[Document],
                     change: type[Change]) -> list[Change]:
    now = utcnow()
    changes: list[Change] = []
    seen: dict[str, str] = {}
    for doc in docs:
        for i, entry in enumerate(doc.data.get("maintenance", [])):
            name, path = entry["maintenance"], ("maintenance", i)
            if name in seen:
                raise doc.error(path, f"maintenance window {name!r} is already defined in "
                                      f"{seen[name]}")
            seen[name] = doc.file
            data = {"name": name, "matchers": entry.get("match") or {},
                    "starts_at": entry.get("starts_at"), "ends_at": entry["ends_at"],
                    "reason": entry.get("reason")}
            try:
                found = _apply_one(session, doc.file, change, data, now)
            except WindowError as exc:
                field = {"matchers": "match"}.get(exc.field or "", exc.field or "")
                raise doc.error((*path, *field.replace("matchers.", "match.").split(".")),
                                exc.message) from None
            if found is not None:
                changes.append(found)
    for window in session.scalars(select(MaintenanceWindow)
                                  .where(MaintenanceWindow.managed_by.is_not(None))):
        if window.name not in seen:
            service.remove(session, f"file:{window.managed_by}", window, now, from_file=True)
            changes.append(change("delete", KIND, window.name))
    session.flush()
    return changes


def _apply_one(session: Session, file: str, change: type[Change], data: dict[str, Any],
               now: Any) -> Change | None:
    actor = f"file:{file}"
    window = session.scalar(select(MaintenanceWindow)
                            .where(MaintenanceWindow.name == data["name"]))
    if window is None:
        created = service.create(session, actor, data, now, managed_by=file)
        return change("create", KIND, created.name,
                      [f"{created.starts_at.isoformat()} to {created.ends_at.isoformat()}"])
    if data["starts_at"] is None:
        data.pop("starts_at")  # keep when it started
    checked = service.values(data, now, window)
    if window.managed_by == file and all(getattr(window, k) == v for k, v in checked.items()):
        return None
    before = service.snapshot(window)
    service.update(session, actor, window, data, now, from_file=True)
    window.managed_by = file
    after = service.snapshot(window)
    return change("update", KIND, window.name,
                  [f"{k}: {before[k]!r} -> {after[k]!r}" for k in after if before[k] != after[k]]
                  or [f"managed_by: now {file}"])
