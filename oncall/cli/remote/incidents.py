"""``oncall incidents``, ``ack``, ``resolve`` and ``escalate``: incidents through the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from oncall.cli import cli
from oncall.cli.client import remote
from oncall.cli.common import echo_json, json_option, table

STATUSES = ("open", "triggered", "acknowledged", "resolved", "all")


def _age(created: str | None, now: datetime) -> str:
    if not created:
        return ""
    seconds = max(0, int((now - datetime.fromisoformat(created)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _who(actor: str | None) -> str | None:
    return actor.removeprefix("user:") if actor else None


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


@cli.command()
@click.option("--mine", is_flag=True, help="Only incidents that paged you or that you "
                                           "acknowledged.")
@click.option("--status", type=click.Choice(STATUSES), default="open", show_default=True,
              help="open = triggered or acknowledged.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@json_option
def incidents(mine: bool, status: str, limit: int, as_json: bool) -> None:
    """Incidents on the service, newest first."""
    params: dict[str, Any] = {"limit": limit, "status": None if status == "all" else status}
    if mine:
        params["mine"] = "true"
    found = remote().request("GET", "/api/v1/incidents", params=params)["incidents"]
    if as_json:
        echo_json(found)
        return
    now = datetime.now(UTC)
    rows = [{"id": i["id"], "status": i["status"], "severity": i["severity"],
             "service": i["service"], "summary": _short(i["summary"]),
             "age": _age(i.get("created_at"), now), "acked_by": _who(i.get("acked_by"))}
            for i in found]
    table(rows, ["id", "status", "severity", "service", "summary", "age", "acked_by"], False)


def _act(incident_id: int, action: str) -> dict[str, Any]:
    r = remote()
    return dict(r.request("POST", f"/api/v1/incidents/{incident_id}/{action}",
                          not_found=f"no incident {incident_id} on {r.url}"))


@cli.command()
@click.argument("incident_id", type=int, metavar="ID")
@json_option
def ack(incident_id: int, as_json: bool) -> None:
    """Acknowledge incident ID: its escalation stops."""
    done = _act(incident_id, "ack")
    if as_json:
        return echo_json(done)
    click.echo(f"incident {done['id']} acknowledged by {_who(done['acked_by'])}: "
               f"{_short(done['summary'])}")


@cli.command()
@click.argument("incident_id", type=int, metavar="ID")
@json_option
def resolve(incident_id: int, as_json: bool) -> None:
    """Resolve incident ID: escalation stops; a new alert opens a new incident."""
    done = _act(incident_id, "resolve")
    if as_json:
        return echo_json(done)
    click.echo(f"incident {done['id']} resolved by {_who(done['resolved_by'])}: "
               f"{_short(done['summary'])}")


@cli.command()
@click.argument("incident_id", type=int, metavar="ID")
@json_option
def escalate(incident_id: int, as_json: bool) -> None:
    """Page the next escalation level of incident ID now."""
    done = _act(incident_id, "escalate")
    if as_json:
        return echo_json(done)
    click.echo(f"incident {done['id']} escalated: level {done['level']} paged: "
               f"{_short(done['summary'])}")
