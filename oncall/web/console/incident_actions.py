"""What a person does on an incident's console page (``/incidents/<id>/...``): acknowledge,
resolve, escalate, reassign and add a note; the pages themselves are ``incidents``.

The actions are the domain's (``oncall.incidents``, ``oncall.actions``), the same functions
the API, SMS, voice and Slack call, under the same role rule (``oncall.permissions``); their
after-commit work (Slack messages refreshed, the pages an escalation queued handed to a
worker now) is the one hook's, ``oncall.incidents.followups``."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for

from oncall import actions, incidents, permissions
from oncall.incidents import respond
from oncall.incidents.respond import Verb
from oncall.models import Incident, utcnow
from oncall.web import session as db_session
from oncall.web import transaction
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm
from oncall.web.console.incidents import NoteForm, actor, incident_view, person, reassign_form


def _allowed(action: str) -> None:
    """403 unless the role may ``action`` (reassign: no ``respond`` verb)."""
    refusal = permissions.act_refusal(person().role, action)
    if refusal is not None:
        abort(403, refusal)


def _button() -> None:
    if not ButtonForm().validate_on_submit():
        abort(400, "This form expired or did not come from this site.")


def _back(incident_id: int) -> Any:
    return redirect(url_for("console.incident_page", incident_id=incident_id))


def _respond(incident_id: int, verb: Verb) -> respond.Outcome:
    """``respond`` as the signed-in person, committed: refused is a 403 with the rule's
    sentence, an unknown incident a 404."""
    refused = respond.refusal(person(), verb)  # a refusal wins over a stale form, as before
    if refused is not None:
        abort(403, refused.message)
    _button()
    with transaction() as s:
        outcome = respond.respond(s, person(), incident_id, verb, utcnow(), via="console")
    if outcome.kind == respond.REFUSED:
        abort(403, outcome.message)
    if outcome.incident is None:
        abort(404, f"There is no incident {incident_id}.")
    return outcome


def _stop_or_close(incident_id: int, verb: Verb, done: str) -> Any:
    outcome = _respond(incident_id, verb)
    assert outcome.incident is not None
    status = outcome.incident.status
    flash(done if status == ("acknowledged" if verb is Verb.ACKNOWLEDGE else "resolved")
          else f"Incident #{incident_id} is {status}.", "info")
    return _back(incident_id)


@bp.post("/incidents/<int:incident_id>/ack")
@sessions.require("viewer")
def ack_incident(incident_id: int) -> Any:
    return _stop_or_close(incident_id, Verb.ACKNOWLEDGE,
                          "Acknowledged: nobody else will be paged.")


@bp.post("/incidents/<int:incident_id>/resolve")
@sessions.require("viewer")
def resolve_incident(incident_id: int) -> Any:
    return _stop_or_close(incident_id, Verb.RESOLVE, "Resolved.")


@bp.post("/incidents/<int:incident_id>/escalate")
@sessions.require("viewer")
def escalate_incident(incident_id: int) -> Any:
    outcome = _respond(incident_id, Verb.ESCALATE)
    if not outcome.done:  # only a resolved incident is not escalated
        abort(409, f"Incident #{incident_id} is resolved: nothing to escalate.")
    assert outcome.incident is not None
    flash(f"Escalated: level {outcome.incident.level} is being paged now.", "info")
    return _back(incident_id)


def _reassign(incident_id: int, kind: str, ref: str) -> None:
    """Reassign as the API does; a resolved incident is a 409."""
    with transaction() as s:
        found = s.get(Incident, incident_id)
        if found is None:
            abort(404, f"There is no incident {incident_id}.")
        if found.status == "resolved":
            abort(409, f"Incident #{incident_id} is resolved: nothing to escalate.")
        actions.reassign(s, incident_id, actor(), utcnow(),
                         users=[ref] if kind == "user" else None,
                         policy=ref if kind == "policy" else None,
                         schedule=ref if kind == "schedule" else None)


@bp.post("/incidents/<int:incident_id>/reassign")
@sessions.require("viewer")
def reassign_incident(incident_id: int) -> Any:
    _allowed("reassign")
    form = reassign_form(request.form)
    if not form.validate_on_submit():
        return incident_view(incident_id, reassign=form, status=400)
    kind, _, ref = (form.to.data or "").partition(":")
    if kind not in ("user", "schedule", "policy") or not ref:
        form.to.errors = ["Choose a person, a schedule or an escalation policy."]
        return incident_view(incident_id, reassign=form, status=400)
    try:
        _reassign(incident_id, kind, ref)
    except actions.ActionError as exc:
        db_session().rollback()
        form.to.errors = [exc.message]
        return incident_view(incident_id, reassign=form, status=400)
    flash("Reassigned: paged now.", "info")
    return _back(incident_id)


@bp.post("/incidents/<int:incident_id>/notes")
@sessions.require("responder")
def add_note(incident_id: int) -> Any:
    form = NoteForm(formdata=request.form)
    if not form.validate_on_submit():
        return incident_view(incident_id, note=form, status=400)
    try:
        with transaction() as s:
            incidents.add_note(s, incident_id, actor(), form.text.data or "", utcnow())
    except incidents.NotFound:
        abort(404, f"There is no incident {incident_id}.")
    except incidents.NoteError as exc:
        form.text.errors = [str(exc).capitalize() + "."]
        return incident_view(incident_id, note=form, status=400)
    flash("Note added.", "info")
    return redirect(url_for("console.incident_page", incident_id=incident_id) + "#timeline")
