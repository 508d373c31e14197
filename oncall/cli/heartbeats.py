"""``oncall heartbeat list`` and ``oncall maintenance list``."""

from __future__ import annotations

import click
from sqlalchemy import select

from oncall.cli import cli
from oncall.cli.common import json_option, public_url, session, table
from oncall.maintenance.service import state as window_state
from oncall.maintenance.window import describe
from oncall.models import Heartbeat, MaintenanceWindow, utcnow


@cli.group()
def heartbeat() -> None:
    """Cron jobs that check in at /ping/<uuid>."""


@heartbeat.command("list")
@json_option
def heartbeat_list(as_json: bool) -> None:
    """Every heartbeat with its state and its ping URL (ONCALL_PUBLIC_URL)."""
    with session() as s:
        base = public_url()
        rows = [{"name": hb.name, "state": hb.state,
                 "schedule": f"cron {hb.cron} {hb.timezone}" if hb.cron
                 else f"every {hb.period}s",
                 "grace": hb.grace, "service": hb.service.name,
                 "last_ping_at": hb.last_ping_at.isoformat() if hb.last_ping_at else None,
                 "next_due_at": hb.next_due_at.isoformat() if hb.next_due_at else None,
                 "ping_url": f"{base}/ping/{hb.uuid}", "managed_by": hb.managed_by}
                for hb in s.scalars(select(Heartbeat).order_by(Heartbeat.name))]
    table(rows, ["name", "state", "schedule", "grace", "service", "last_ping_at",
                 "ping_url"], as_json)


@cli.group()
def maintenance() -> None:
    """Maintenance windows (create them with the API or under maintenance: in rules/)."""


@maintenance.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include windows that have ended.")
@json_option
def maintenance_list(show_all: bool, as_json: bool) -> None:
    now = utcnow()
    with session() as s:
        query = select(MaintenanceWindow).order_by(MaintenanceWindow.starts_at)
        if not show_all:
            query = query.where(MaintenanceWindow.ends_at > now)
        rows = [{"name": w.name, "state": window_state(w, now), "matches": describe(w.matchers),
                 "starts_at": w.starts_at.isoformat(), "ends_at": w.ends_at.isoformat(),
                 "reason": w.reason, "managed_by": w.managed_by}
                for w in s.scalars(query)]
    table(rows, ["name", "state", "matches", "starts_at", "ends_at", "reason"], as_json)
