"""``/services``: every service with its policy, integrations and last alert; a service's
page lists its integrations. Managers create and edit services (not file-managed ones);
admins create integrations (the URL or routing key shown once, with a copy button), rename
them, rotate their secret and delete them. ``oncall.manage`` does the work, as for the API."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from oncall.manage import Refused, integrations, policies, services
from oncall.models import INTEGRATION_KINDS, Service
from oncall.web import session as db_session
from oncall.web import settings, transaction
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm
from oncall.web.hooks import _cache as integration_cache


class ServiceForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    policy = SelectField("Escalation policy", choices=[], validate_choice=False)


class IntegrationForm(FlaskForm):
    kind = SelectField("Sends", choices=[
        SelectChoice("generic", "Generic JSON webhook"),
        SelectChoice("alertmanager", "Prometheus Alertmanager"),
        SelectChoice("grafana", "Grafana alerting"),
        SelectChoice("pagerduty", "PagerDuty Events API v2"),
        SelectChoice("opsgenie", "Opsgenie Alert API v2")], default="generic")
    name = StringField("Name", validators=[Optional(), Length(max=200)],
                       description="Optional: defaults to SERVICE-KIND.")
    # A fresh value per page: the same form sent twice (a reload of the page that shows
    # the new URL) creates nothing the second time.
    once = HiddenField(default=lambda: secrets.token_urlsafe(12),
                       validators=[DataRequired(), Length(max=40)])


class RenameForm(FlaskForm):
    name = StringField("New name", validators=[DataRequired(), Length(max=200)])


@bp.app_template_filter("isotime")
def _isotime(value: str) -> datetime:
    """An ISO time from a domain listing, for ``|local``."""
    return datetime.fromisoformat(value)


def _actor() -> str:
    user = sessions.current()
    assert user is not None
    return f"user:{user.email}"


def _service_form(service: Service | None = None, formdata: Any = None) -> ServiceForm:
    form = ServiceForm(formdata=formdata) if formdata is not None else ServiceForm(
        formdata=None, data={"name": service.name if service else "",
                             "description": service.description if service else "",
                             "policy": service.policy.name if service and service.policy
                             else ""})
    form.policy.choices = [SelectChoice("", "(none)")] + [
        SelectChoice(p.name, p.name) for p in policies.listing(db_session())]
    return form


def _refuse_on(form: FlaskForm, exc: Refused) -> list[str]:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is None:
        return [exc.message]
    field.errors = [*field.errors, exc.message]
    return []


def _list_page(form: ServiceForm | None = None, problems: list[str] | None = None,
               status: int = 200) -> Any:
    return render_template("services.html", services=services.listing(db_session()),
                           form=form or _service_form(), problems=problems or []), status


@bp.get("/services")
@sessions.require("viewer")
def services_page() -> Any:
    return _list_page()


@bp.post("/services")
@sessions.require("manager")
def create_service() -> Any:
    form = _service_form(formdata=request.form)
    if not form.validate_on_submit():
        return _list_page(form, status=400)
    try:
        with transaction() as s:
            made = services.create(s, _actor(), name=form.name.data or "",
                                   description=form.description.data,
                                   policy=form.policy.data or None)
            made_id = made.id
    except Refused as exc:
        return _list_page(form, _refuse_on(form, exc), exc.status)
    flash("Service created. Add an integration to receive its alerts.", "info")
    return redirect(url_for("console.service_page", service_id=made_id))


def _service(service_id: int) -> Service:
    try:
        return services.get(db_session(), service_id)
    except Refused:
        abort(404, f"service {service_id} not found")


def _page(service: Service, *, form: ServiceForm | None = None,
          new: IntegrationForm | None = None, secret: Any = None,
          problems: list[str] | None = None, status: int = 200) -> Any:
    return render_template(
        "service.html", service=service, form=form or _service_form(service),
        integrations=integrations.listing(db_session(), service), new=new or IntegrationForm(
            formdata=None), rename=RenameForm(formdata=None), button=ButtonForm(),
        secret=secret, problems=problems or []), status


@bp.get("/services/<int:service_id>")
@sessions.require("viewer")
def service_page(service_id: int) -> Any:
    return _page(_service(service_id))


@bp.post("/services/<int:service_id>")
@sessions.require("manager")
def edit_service(service_id: int) -> Any:
    service = _service(service_id)
    form = _service_form(formdata=request.form)
    if not form.validate_on_submit():
        return _page(service, form=form, status=400)
    try:
        with transaction() as s:
            services.update(s, _actor(), service, {
                "name": form.name.data or "", "description": form.description.data,
                "policy": form.policy.data or None})
    except Refused as exc:
        db_session().expire_all()
        return _page(_service(service_id), form=form, problems=_refuse_on(form, exc),
                     status=exc.status)
    flash("Saved.", "info")
    return redirect(url_for("console.service_page", service_id=service_id))


@bp.post("/services/<int:service_id>/delete")
@sessions.require("manager")
def delete_service(service_id: int) -> Any:
    service = _service(service_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        with transaction() as s:
            services.delete(s, _actor(), service)
    except Refused as exc:
        db_session().expire_all()
        return _page(_service(service_id), problems=[exc.message], status=exc.status)
    flash(f"Deleted service {service.name}.", "info")
    return redirect(url_for("console.services_page"))


@bp.post("/services/<int:service_id>/integrations")
@sessions.require("admin")
def create_integration(service_id: int) -> Any:
    service = _service(service_id)
    form = IntegrationForm()
    if not form.validate_on_submit():
        return _page(service, new=form, status=400)
    used: list[str] = flask_session.get("integrations_made", [])
    if form.once.data in used:
        return _page(service, problems=[
            "This form was already sent and the integration created; its URL is shown only "
            "once. Rotate its secret below for a new URL."], status=409)
    if form.kind.data not in INTEGRATION_KINDS:
        form.kind.errors = [*form.kind.errors, "Choose one of the listed kinds."]
        return _page(service, new=form, status=400)
    try:
        with transaction() as s:
            secret = integrations.create(s, _actor(), service, kind=form.kind.data,
                                         name=form.name.data or None,
                                         public_url=settings().public_url)
            shown = {"name": secret.integration.name, "kind": secret.integration.kind,
                     "url": secret.url, "routing_key": secret.routing_key, "rotated": False}
    except Refused as exc:
        return _page(service, new=form, problems=_refuse_on(form, exc), status=exc.status)
    flask_session["integrations_made"] = [*used, form.once.data][-20:]
    return _page(service, secret=shown)


def _integration(service: Service, integration_id: int) -> Any:
    try:
        return integrations.get(db_session(), integration_id, service)
    except Refused:
        abort(404, f"integration {integration_id} not found")


@bp.post("/services/<int:service_id>/integrations/<int:integration_id>/rename")
@sessions.require("admin")
def rename_integration(service_id: int, integration_id: int) -> Any:
    service = _service(service_id)
    found = _integration(service, integration_id)
    form = RenameForm()
    problems: list[str] = []
    if form.validate_on_submit():
        try:
            with transaction() as s:
                integrations.rename(s, _actor(), found, form.name.data or "")
            flash("Renamed.", "info")
            return redirect(url_for("console.service_page", service_id=service_id))
        except Refused as exc:
            problems = [f"Rename: {exc.message}"]
            db_session().expire_all()
    else:
        problems = [f"Rename: {e}" for e in form.name.errors]
    return _page(_service(service_id), problems=problems, status=400)


@bp.post("/services/<int:service_id>/integrations/<int:integration_id>/rotate")
@sessions.require("admin")
def rotate_integration(service_id: int, integration_id: int) -> Any:
    service = _service(service_id)
    found = _integration(service, integration_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    old = found.token_hash
    with transaction() as s:
        secret = integrations.rotate(s, _actor(), found, settings().public_url)
        shown = {"name": found.name, "kind": found.kind, "url": secret.url,
                 "routing_key": secret.routing_key, "rotated": True}
    integration_cache.pop(old, None)  # this process at once; others within seconds
    return _page(service, secret=shown)


@bp.post("/services/<int:service_id>/integrations/<int:integration_id>/delete")
@sessions.require("admin")
def delete_integration(service_id: int, integration_id: int) -> Any:
    service = _service(service_id)
    found = _integration(service, integration_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    old, name = found.token_hash, found.name
    with transaction() as s:
        integrations.delete(s, _actor(), found)
    integration_cache.pop(old, None)
    flash(f"Deleted integration {name}; its URL no longer accepts alerts.", "info")
    return redirect(url_for("console.service_page", service_id=service_id))
