"""``/heartbeats`` (every heartbeat: state, last ping, next expected, its ping URL and a
crontab line; managers pause and resume) and ``/maintenance`` (windows in force, upcoming
and recently ended; managers create and end them). Through ``oncall.heartbeats.service`` and
``oncall.maintenance.service``, as the API; what a window lets go is escalated once committed
(``oncall.incidents.followups``), as the API does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from oncall.heartbeats import service as heartbeats
from oncall.incidents import followups
from oncall.maintenance import service as maintenance
from oncall.maintenance.window import WindowError
from oncall.models import Heartbeat, MaintenanceWindow, Service, utcnow
from oncall.web import session as db_session
from oncall.web import settings, transaction
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm

RECENT = timedelta(days=7)  # ended windows listed this long
STATE_LABELS = {"up": "ok", "new": "waiting for the first ping", "late": "late",
                "down": "down", "paused": "paused"}


def crontab_line(hb: Heartbeat, ping_url: str) -> str:
    """A crontab line that runs the job on the heartbeat's schedule and pings on success."""
    return f"{_cron_fields(hb)} /path/to/job && curl -fsS -m 10 --retry 3 {ping_url}"


def _cron_fields(hb: Heartbeat) -> str:
    if hb.cron:
        return hb.cron
    period = hb.period or 0
    if period and period % 86400 == 0 and period // 86400 == 1:
        return "0 2 * * *"
    if period and period % 604800 == 0 and period // 604800 == 1:
        return "0 2 * * 1"
    if period and period % 3600 == 0 and 24 % (period // 3600) == 0:
        hours = period // 3600
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    if period and period % 60 == 0 and 60 % (period // 60) == 0:
        minutes = period // 60
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    return "0 2 * * *"


def _heartbeat(heartbeat_id: int) -> Heartbeat:
    hb = db_session().get(Heartbeat, heartbeat_id)
    if hb is None:
        abort(404, f"heartbeat {heartbeat_id} not found")
    return hb


@bp.get("/heartbeats")
@sessions.require("viewer")
def heartbeats_page() -> Any:
    base = settings().public_url.rstrip("/")
    order = {"down": 0, "late": 1, "new": 2, "up": 3, "paused": 4}
    found = sorted(db_session().scalars(select(Heartbeat)),
                   key=lambda h: (order.get(h.state, 5), h.name))
    # Ping URLs are secrets (whoever holds one can make a broken job look healthy): only
    # managers see them, as in the API.
    secret = sessions.at_least(sessions.current(), "manager")
    rows = [{"hb": hb, "label": STATE_LABELS.get(hb.state, hb.state),
             "url": f"{base}/ping/{hb.uuid}" if secret else None,
             "crontab": crontab_line(hb, f"{base}/ping/{hb.uuid}") if secret else None}
            for hb in found]
    return render_template("heartbeats.html", rows=rows, button=ButtonForm(), now=utcnow())


def _pause_or_resume(heartbeat_id: int, pause: bool) -> Any:
    me = sessions.current()
    assert me is not None
    if not ButtonForm().validate_on_submit():
        abort(400)
    hb = _heartbeat(heartbeat_id)
    with transaction() as s:
        (heartbeats.pause if pause else heartbeats.resume)(s, f"user:{me.email}", hb, utcnow())
    flash(f"Heartbeat {hb.name} {'paused: it is not checked until resumed or pinged' if pause else 'resumed: checked again from now'}.",  # noqa: E501
          "info")
    return redirect(url_for("console.heartbeats_page"))


@bp.post("/heartbeats/<int:heartbeat_id>/pause")
@sessions.require("manager")
def pause_heartbeat(heartbeat_id: int) -> Any:
    return _pause_or_resume(heartbeat_id, True)


@bp.post("/heartbeats/<int:heartbeat_id>/resume")
@sessions.require("manager")
def resume_heartbeat(heartbeat_id: int) -> Any:
    return _pause_or_resume(heartbeat_id, False)


# --- maintenance --------------------------------------------------------------------------


class WindowForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)],
                       description="e.g. “db upgrade 3 Dec”.")
    service = SelectField("Service", choices=[], validate_choice=False,
                          description="Alerts of this service are held; “Every service” "
                                      "holds every alert.")
    starts_at = StringField("From", validators=[Optional(), Length(max=40)],
                            description="Empty: now. In your timezone, e.g. 2026-12-03 22:00.",
                            render_kw={"type": "datetime-local"})
    ends_at = StringField("To", validators=[DataRequired(), Length(max=40)],
                          description="In your timezone. At most 90 days after the start.",
                          render_kw={"type": "datetime-local"})
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)],
                           render_kw={"rows": 2})


def _local_time(value: str, zone: ZoneInfo, field: str) -> datetime:
    text = value.strip().replace("T", " ")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise WindowError(field, f"{value!r} is not a date and time, e.g. 2026-12-03 22:00") \
            from None
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def _zone() -> ZoneInfo:
    me = sessions.current()
    try:
        return ZoneInfo(me.timezone if me else "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _maintenance_page(form: WindowForm | None = None, status: int = 200,
                      problems: list[str] | None = None) -> Any:
    s = db_session()
    now = utcnow()
    windows = list(s.scalars(select(MaintenanceWindow).where(
        MaintenanceWindow.ends_at > now - RECENT).order_by(MaintenanceWindow.starts_at)))
    groups = {"active": [], "scheduled": [], "ended": []}  # type: dict[str, list[Any]]
    for w in windows:
        groups[maintenance.state(w, now)].append(maintenance.window_json(s, w, now) | {
            "starts": w.starts_at, "ends": w.ends_at})
    groups["ended"].reverse()
    form = form or WindowForm(formdata=None)
    form.service.choices = [("", "Every service")] + [
        (n, n) for n in s.scalars(select(Service.name).order_by(Service.name))]
    return render_template("maintenance.html", groups=groups, form=form, button=ButtonForm(),
                           problems=problems or [], zone=str(_zone())), status


@bp.get("/maintenance")
@sessions.require("viewer")
def maintenance_page() -> Any:
    return _maintenance_page()


@bp.post("/maintenance")
@sessions.require("manager")
def create_window() -> Any:
    me = sessions.current()
    assert me is not None
    form = WindowForm()
    form.service.choices = [("", "")]
    if not form.validate_on_submit():
        return _maintenance_page(form, 400)
    now = utcnow()
    zone = _zone()
    data: dict[str, Any] = {"name": (form.name.data or "").strip(),
                            "reason": (form.reason.data or "").strip() or None}
    try:
        if form.service.data:
            if db_session().scalar(select(Service.id).where(
                    Service.name == form.service.data)) is None:
                raise WindowError("service", f"no service named {form.service.data!r}")
            data["matchers"] = {"service": form.service.data}
        if form.starts_at.data:
            data["starts_at"] = _local_time(form.starts_at.data, zone, "starts_at")
        data["ends_at"] = _local_time(form.ends_at.data or "", zone, "ends_at")
        with transaction() as s:
            made = maintenance.create(s, f"user:{me.email}", data, now)
            name = made.name
    except WindowError as exc:
        field = getattr(form, (exc.field or "").split(".")[0], None) \
            if exc.field != "matchers" else form.service
        if field is None:
            return _maintenance_page(form, exc.status, [exc.message])
        field.errors = [*field.errors, exc.message]
        return _maintenance_page(form, exc.status)
    flash(f"Maintenance window {name} created.", "info")
    return redirect(url_for("console.maintenance_page"))


@bp.post("/maintenance/<int:window_id>/end")
@sessions.require("manager")
def end_window(window_id: int) -> Any:
    me = sessions.current()
    assert me is not None
    if not ButtonForm().validate_on_submit():
        abort(400)
    window = db_session().get(MaintenanceWindow, window_id)
    if window is None:
        abort(404, f"maintenance window {window_id} not found")
    try:
        with transaction() as s:
            released = maintenance.end(s, f"user:{me.email}", window, utcnow())
            for incident_id in released:  # what it held pages now (else the sweeper does)
                followups.due(s, incident_id)
    except WindowError as exc:
        abort(exc.status, exc.message)
    flash(f"Maintenance window {window.name} ended"
          f"{f': {len(released)} held incident(s) page now' if released else ''}.", "info")
    return redirect(url_for("console.maintenance_page"))
