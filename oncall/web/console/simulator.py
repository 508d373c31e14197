"""``/simulate``: "What would happen if...": an alert and a time in, the simulator's answer
out (held or pages, by which rule or window, the open incident it joins, and the escalation
as a timeline), in the time zone asked for. The same ``oncall.simulate`` as the API and
``oncall simulate``; nothing is written.

The form is a GET: asking writes nothing, so it needs no CSRF token, and an answer is a link
that can be shared ("this is who a charge failure at 03:00 would wake")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateTimeLocalField, FloatField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from oncall import simulate as simulator
from oncall.ingest import SEVERITIES
from oncall.models import Service, utcnow
from oncall.web import session as db_session
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp

MAX_LABELS = 50


def _zone(text: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(text) if text else None
    except (ValueError, KeyError):
        return None


def parse_labels(text: str | None) -> dict[str, str]:
    """``key=value`` lines (blank lines ignored) as a dict; ValueError names the bad line."""
    labels: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        name, eq, value = line.partition("=")
        if not eq or not name.strip():
            raise ValueError(f"Line {number} is not key=value.")
        labels[name.strip()] = value.strip()
    if len(labels) > MAX_LABELS:
        raise ValueError(f"At most {MAX_LABELS} labels.")
    return labels


class SimulateForm(FlaskForm):
    class Meta:
        csrf = False  # a question, not a change: see the module's docstring

    service = SelectField("Service", validators=[DataRequired()])
    type = StringField("Alert type", default="generic",
                       validators=[DataRequired(), Length(max=100)],
                       description="As rules match it: charge_failure, cron_miss, "
                                   "api_error_rate...")
    severity = SelectField("Severity", choices=list(SEVERITIES), default="critical")
    summary = StringField("Summary", validators=[Optional(), Length(max=1024)])
    value = FloatField("Value", validators=[Optional()],
                       description="Optional: the number threshold rules compare.")
    labels = TextAreaField("Labels", validators=[Optional(), Length(max=10_000)],
                           description="One key=value a line, e.g. merchant_id=acme.",
                           render_kw={"rows": 3, "spellcheck": "false"})
    at = DateTimeLocalField("When", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                            validators=[Optional()],
                            description="Empty: now.")
    timezone = StringField("Time zone", validators=[DataRequired(), Length(max=64)],
                           description="The zone of When, and of the times in the answer.")

    def validate_labels(self, field: Any) -> None:
        try:
            parse_labels(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def validate_timezone(self, field: Any) -> None:
        if _zone(field.data) is None:
            raise ValidationError("Not an IANA time zone (e.g. America/New_York).")


@dataclass(frozen=True)
class Clock:
    """Formats the answer's UTC times in the zone asked for; the date only when it is not
    the day asked about."""

    zone: ZoneInfo
    start: datetime

    def __call__(self, value: datetime | None, always_date: bool = False) -> str:
        if value is None:
            return ""
        local = value.astimezone(self.zone)
        hm = local.strftime("%H:%M")
        if always_date or local.date() != self.start.astimezone(self.zone).date():
            return f"{local.strftime('%a')} {local.day} {local.strftime('%b %Y')}, {hm}"
        return hm


@bp.get("/simulate")
@sessions.require("viewer")
def simulate() -> Any:
    user = sessions.current()
    zone_name = user.timezone if user is not None and _zone(user.timezone) else "UTC"
    asked = "service" in request.args
    form = SimulateForm(request.args if asked else None, timezone=zone_name)
    s = db_session()
    names = list(s.scalars(select(Service.name).order_by(Service.name)))
    form.service.choices = names
    answer, problem, status = None, None, 200
    if asked and form.validate():
        answer, problem = _ask(form)
        status = 200 if answer is not None else 400
    elif asked:
        status = 400
    if form.at.data is None and not (asked and form.at.raw_data and form.at.raw_data[0]):
        form.at.data = utcnow().astimezone(_zone(form.timezone.data) or ZoneInfo(zone_name)) \
            .replace(second=0, microsecond=0, tzinfo=None)
    zone = _zone(form.timezone.data) or ZoneInfo(zone_name)
    clock = Clock(zone, answer.at if answer else utcnow())
    return render_template("simulate.html", form=form, answer=answer, problem=problem,
                           clock=clock, zone=zone.key, services=names), status


def _ask(form: SimulateForm) -> tuple[simulator.Answer | None, str | None]:
    """The simulator's answer, or (None, a message) with the field's error set."""
    zone = _zone(form.timezone.data)
    assert zone is not None  # validated
    at = form.at.data.replace(tzinfo=zone) if form.at.data else utcnow()
    s = db_session()
    try:
        return simulator.simulate(
            s, form.service.data or "", at, type_=(form.type.data or "generic").strip(),
            severity=form.severity.data or "critical", summary=form.summary.data or None,
            labels=parse_labels(form.labels.data), value=form.value.data), None
    except simulator.SimulationError as exc:
        name = exc.field.split(".")[0]
        if name in form._fields:
            form[name].errors = [*form[name].errors, exc.message]
            return None, ""
        return None, f"{exc.field}: {exc.message}"
    finally:
        s.rollback()  # read only; nothing to keep
