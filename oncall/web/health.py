"""``/health`` (the process answers), ``/ready`` (database, broker and beat all fresh) and
``/metrics`` (Prometheus).

``/ready`` is for load balancers and probes, which carry no credentials: they get the
verdict and which check failed. What would help an attacker (host names, driver errors,
which providers are configured) goes to the log, and to callers with an admin API token."""

from __future__ import annotations

import logging
import os
from typing import Any

from apiflask import APIBlueprint
from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text

from oncall import db
from oncall.channels import registry
from oncall.channels.registry import NO_PROVIDER
from oncall.config import Settings
from oncall.models import (
    HEARTBEAT_STATES,
    INCIDENT_STATUSES,
    Heartbeat,
    Incident,
    Page,
    SystemState,
    utcnow,
)
from oncall.paging import unpaged
from oncall.web import settings
from oncall.web.auth import bearer_token, token_user

bp = APIBlueprint("health", __name__, tag="Health")
log = logging.getLogger(__name__)
# The last error each check logged in this process: a failure is logged when it starts or
# changes, not on every probe.
_logged: dict[str, str | None] = {}


@bp.get("/health")
@bp.doc(summary="Liveness: the process answers")
def health() -> dict[str, Any]:
    return {"status": "ok"}


def _check_database() -> dict[str, Any]:
    try:
        with db.session_factory(settings().database_url)() as s:
            s.execute(text("SELECT 1"))
            row = s.get(SystemState, "sweeper")
            unpaged_open = unpaged.open_unpaged(s)
    except Exception as exc:  # any failure means not ready
        return {"ok": False, "error": str(exc).splitlines()[0]}
    age = (utcnow() - row.updated_at).total_seconds() if row else None
    return {"ok": True, "sweeper_age": age, "unpaged": unpaged_open}


def _check_broker() -> dict[str, Any]:
    from kombu.connection import Connection

    try:
        with Connection(settings().broker_url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "error": str(exc).splitlines()[0] if str(exc) else repr(exc)}


@bp.get("/ready")
@bp.doc(summary="Readiness: database, broker and beat (the sweeper) are all fresh",
        responses={200: "Ready", 503: "Not ready; `checks` names what is wrong (the "
                                          "details with an admin API token, and in the log)"})
def ready() -> tuple[dict[str, Any], int]:
    body, status = _readiness()
    _log_failures(body["checks"])
    if not _admin():
        # Warnings name no host and no error text: a probe without a token may alert on them.
        body = {"status": body["status"],
                "checks": {name: {"ok": c["ok"]} for name, c in body["checks"].items()},
                "warnings": body["warnings"]}
    return body, status


def _admin() -> bool:
    """An admin's API token came with the request (a probe's missing or bad one is no error:
    it gets the short answer). The database may be the thing that is down."""
    token = bearer_token()
    if token is None:
        return False
    try:
        user = token_user(token)
    except Exception:
        return False
    return user is not None and user.role == "admin"


def _log_failures(checks: dict[str, dict[str, Any]]) -> None:
    for name, check in checks.items():
        error = None if check["ok"] else str(check.get("error") or "failing")
        if error != _logged.get(name):
            if error is not None:
                log.warning("ready: the %s check fails: %s", name, error)
            elif _logged.get(name) is not None:
                log.warning("ready: the %s check passes again", name)
            _logged[name] = error


def _readiness() -> tuple[dict[str, Any], int]:
    database = _check_database()
    broker = _check_broker()
    age = database.get("sweeper_age")
    limit = settings().ready_max_sweep_age
    beat = {"ok": age is not None and age <= limit, "last_sweep_seconds_ago": age,
            "max_seconds": limit}
    if age is None and database["ok"]:
        beat["error"] = "the sweeper has never run: are beat and a worker running?"
    elif age is not None and age > limit:  # the same words on every probe: logged once
        beat["error"] = f"the sweeper has not run for over {limit:g} s: are beat and a " \
                        "worker running?"
    checks = {"database": database, "broker": broker, "beat": beat}
    ok = all(c["ok"] for c in checks.values())
    # Optional integrations: how they are configured, never a reason to be "not ready".
    details = registry.statuses(settings())
    # Things an operator must fix that are no reason to take the web out of rotation (that
    # would refuse alerts): pages that reach nobody but a log, incidents nobody was paged for.
    warnings = operator_warnings(settings(), database.get("unpaged"))
    return ({"status": "ready" if ok else "not ready", "checks": checks, "details": details,
             "warnings": warnings}, 200 if ok else 503)


def operator_warnings(s: Settings, unpaged_open: int | None) -> list[str]:
    out = []
    if not s.embedded and not registry.providers_configured():
        out.append(NO_PROVIDER)
    if unpaged_open:
        out.append(f"{unpaged_open} open incident(s) paged nobody (no escalation policy, or "
                   "nobody to page on any level): see the timeline entry 'unpaged'")
    return out


class DatabaseCollector:
    """Gauges read from the database at scrape time: right whichever process serves them."""

    def collect(self) -> Any:
        incidents = GaugeMetricFamily("oncall_incidents", "Incidents by state.",
                                      labels=["state"])
        pages = GaugeMetricFamily("oncall_pages_by_status",
                                  "Pages in the outbox by channel and status.",
                                  labels=["channel", "status"])
        sweep = GaugeMetricFamily("oncall_sweeper_last_run_age_seconds",
                                  "Seconds since the sweeper last ran.")
        heartbeats = GaugeMetricFamily("oncall_heartbeats", "Heartbeats by state.",
                                       labels=["state"])
        unpaged_gauge = GaugeMetricFamily(
            "oncall_incidents_unpaged",
            "Open incidents that paged nobody (no escalation policy or nobody to page).")
        try:
            with db.session_factory(settings().database_url)() as s:
                counts = dict(s.execute(select(Incident.status, func.count())
                                        .group_by(Incident.status)).all())
                for state in INCIDENT_STATUSES:
                    incidents.add_metric([state], counts.get(state, 0))
                for channel, status, n in s.execute(
                        select(Page.channel, Page.status, func.count())
                        .group_by(Page.channel, Page.status)).all():
                    pages.add_metric([channel, status], n)
                states = dict(s.execute(select(Heartbeat.state, func.count())
                                        .group_by(Heartbeat.state)).all())
                for state in HEARTBEAT_STATES:
                    heartbeats.add_metric([state], states.get(state, 0))
                row = s.get(SystemState, "sweeper")
                if row is not None:
                    sweep.add_metric([], (utcnow() - row.updated_at).total_seconds())
                unpaged_gauge.add_metric([], unpaged.open_unpaged(s))
        except Exception:
            return
        yield unpaged_gauge
        yield incidents
        yield pages
        yield sweep
        yield heartbeats


@bp.get("/metrics")
@bp.doc(summary="Prometheus metrics", hide=True)
def metrics_view() -> Response:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    body = generate_latest(registry) + generate_latest(_db_registry)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


_db_registry = CollectorRegistry()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    if not getattr(_db_registry, "_oncall_registered", False):
        _db_registry.register(DatabaseCollector())
        _db_registry._oncall_registered = True  # type: ignore[attr-defined]
