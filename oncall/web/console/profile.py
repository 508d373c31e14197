"""``/profile``: everyone's own page. Contact methods (a phone number entered here is
verified by a 6-digit SMS code before it is paged), personal notification rules per severity
with what would be sent now, "send me a test page" on each channel, upcoming shifts, the
calendar feed URL and a link to API tokens. The domain is ``oncall.accounts.profile`` and the
API's own rule code (``oncall.web.users``); every action is the signed-in user's own."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import available_timezones

from apiflask import HTTPError
from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional

from oncall.accounts import profile
from oncall.channels import preferences, registry
from oncall.manage import Refused, users
from oncall.models import User, utcnow
from oncall.scheduling.service import actor_of as service_actor
from oncall.security import hash_token, new_token
from oncall.web import session as db_session
from oncall.web import settings, transaction
from oncall.web import users as users_api
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm

SEVERITIES = preferences.SEVERITIES[:-1]  # critical, error, warning, info
SLOTS = 4  # channel steps offered per severity
_RULE_FIELD = re.compile(r"rules\.(\w+)\[(\d+)\]\.(channel|delay_seconds)")


class ContactForm(FlaskForm):
    phone = StringField("Phone number", validators=[Optional(), Length(max=32)],
                        description="E.164: + and the country code, e.g. +14155550100. A "
                                    "number you enter is sent a code by SMS, and is paged "
                                    "only once you enter that code.",
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    slack_id = StringField("Slack member ID", validators=[Optional(), Length(max=32)],
                           description="In Slack: your profile, ⋮, Copy member ID (U012AB3CD). "
                                       "Empty: found by your email.",
                           render_kw={"autocomplete": "off"})


class ZoneForm(FlaskForm):
    timezone = StringField("Your timezone", validators=[DataRequired(), Length(max=64)],
                           description="IANA name, e.g. America/New_York: the console shows "
                                       "times in it, and the calendar feed and shift "
                                       "reminders use it.",
                           render_kw={"list": "zones", "autocomplete": "off"})


class CodeForm(FlaskForm):
    code = StringField("Code from the SMS", validators=[Length(max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


def _me() -> User:
    me = sessions.current()
    assert me is not None
    return me


def _rule_choices() -> list[str]:
    """The channels a rule may name (as the API accepts them)."""
    named = [ch for ch in (*registry.names(), *registry._CHANNELS) if registry.enabled(ch)]
    if registry.providers_configured():
        named = [ch for ch in named if ch != registry.CONSOLE]
    return list(dict.fromkeys(named))


def _rows(me: User, typed: dict[str, list[dict[str, str]]] | None = None
          ) -> dict[str, list[dict[str, str]]]:
    """Each severity's slots as the form shows them: what was typed, else what is stored."""
    if typed is not None:
        return typed
    stored = preferences.load(db_session(), me.id)
    out: dict[str, list[dict[str, str]]] = {}
    for sev in SEVERITIES:
        steps = stored.get(sev) or []
        out[sev] = [{"channel": r.channel, "delay": str(r.delay // 60)} for r in steps]
        # One empty step to add (two when there are none): a short form on a phone.
        shown = min(SLOTS, max(2, len(out[sev]) + 1))
        out[sev] += [{"channel": "", "delay": "0"}] * (shown - len(out[sev]))
    return out


def _page(contact: ContactForm | None = None, code: CodeForm | None = None,
          zone: ZoneForm | None = None,
          typed: dict[str, list[dict[str, str]]] | None = None,
          rule_errors: dict[tuple[str, int, str], str] | None = None,
          tested: profile.TestResult | None = None, feed: str | None = None,
          problems: list[str] | None = None, status: int = 200) -> Any:
    me = _me()
    s = db_session()
    s.refresh(me)
    now = utcnow()
    waiting = profile.pending(s, me) if profile.needs_verification(me) else None
    return render_template(
        "profile.html", me=me, now=now,
        contact=contact or ContactForm(formdata=None, obj=me),
        zone=zone or ZoneForm(formdata=None, timezone=me.timezone or "UTC"),
        zones=sorted(available_timezones()),
        code=code or CodeForm(formdata=None), button=ButtonForm(),
        verified=preferences.phone_verified(me), needs_code=profile.needs_verification(me),
        waiting=waiting, sms_enabled=registry.enabled("sms"),
        rows=_rows(me, typed), severities=SEVERITIES, choices=_rule_choices(),
        rule_errors=rule_errors or {}, rules_file=preferences.managed_by(s, me.id),
        has_rules=bool(preferences.load(s, me.id)), plans=users_api.plans(me),
        contacts=preferences.contacts_json(s, me),
        test_channels=profile.test_channels(me), blocked=preferences.blocked(me),
        tested=tested, tests=profile.recent_tests(s, me),
        shifts=profile.upcoming_shifts(s, me, now), feed=feed,
        has_feed=me.feed_token_hash is not None, problems=problems or []), status


@bp.get("/profile")
@sessions.require("viewer")
def profile_page() -> Any:
    return _page()


def _send_code(me: User) -> str | None:
    """Make, commit and send a code; returns a problem to show, or None."""
    try:
        with transaction() as s:
            code = profile.begin_code(s, s.get(User, me.id) or me, utcnow(),
                                      settings().secret_key)
    except profile.ProfileError as exc:
        return exc.message
    try:
        profile.send_code(me, code)
    except profile.ProfileError as exc:
        return exc.message
    return None


@bp.post("/profile/contacts")
@sessions.require("viewer")
def save_contacts() -> Any:
    me = _me()
    form = ContactForm()
    if not form.validate_on_submit():
        return _page(contact=form, status=400)
    try:
        with transaction() as s:
            changed = profile.update_contacts(s, me, form.phone.data, form.slack_id.data,
                                              utcnow())
    except profile.ProfileError as exc:
        if exc.status != 400:
            abort(exc.status, exc.message)
        for field, message in getattr(exc, "problems", {exc.field: exc.message}).items():
            getattr(form, field).errors = [*getattr(form, field).errors, message]
        return _page(contact=form, problems=["Nothing was saved."], status=400)
    if changed:
        problem = _send_code(me)
        if problem:
            flash(f"Saved. Your number is not paged until it is verified, and {problem}",
                  "error")
        else:
            flash(f"Saved. A 6-digit code was sent by SMS to {me.phone}: enter it below. "
                  "Until then this number is not paged.", "info")
    else:
        flash("Your contact details were saved.", "info")
    return redirect(url_for("console.profile_page") + "#contacts")


@bp.post("/profile/timezone")
@sessions.require("viewer")
def save_timezone() -> Any:
    """Everyone sets their own timezone (file-managed people: in their file)."""
    me = _me()
    form = ZoneForm()
    if not form.validate_on_submit():
        return _page(zone=form, status=400)
    try:
        with transaction() as s:
            users.update(s, service_actor(me), me,
                         {"timezone": (form.timezone.data or "").strip()})
    except Refused as exc:
        form.timezone.errors = [*form.timezone.errors, exc.message]
        return _page(zone=form, status=exc.status)
    flash(f"Times are now shown in {me.timezone}.", "info")
    return redirect(url_for("console.profile_page"))


@bp.post("/profile/phone/code")
@sessions.require("viewer")
def send_phone_code() -> Any:
    me = _me()
    if not ButtonForm().validate_on_submit():
        abort(400)
    problem = _send_code(me)
    if problem:
        status = 429 if "wait" in problem or "later" in problem else 400
        return _page(problems=[problem], status=status)
    flash(f"A new code was sent by SMS to {me.phone}.", "info")
    return redirect(url_for("console.profile_page") + "#contacts")


@bp.post("/profile/phone/verify")
@sessions.require("viewer")
def verify_phone() -> Any:
    me = _me()
    form = CodeForm()
    if not form.validate_on_submit():
        return _page(code=form, status=400)
    s = db_session()
    try:
        profile.verify(s, me, form.code.data or "", utcnow(), settings().secret_key)
    except profile.ProfileError as exc:
        s.commit()  # a wrong attempt is counted, although the answer is an error
        form.code.errors = [*form.code.errors, exc.message]
        shown = profile.needs_verification(me)  # else the code form is not on the page
        return _page(code=form, problems=None if shown else [exc.message], status=400)
    s.commit()
    flash(f"{me.phone} is verified: it is paged from now on.", "info")
    return redirect(url_for("console.profile_page") + "#contacts")


def _typed_rules() -> tuple[dict[str, list[dict[str, str]]], dict[str, Any],
                            dict[tuple[str, int, str], str]]:
    """The rules form as typed, as the API's body, and delay errors found here."""
    typed: dict[str, list[dict[str, str]]] = {}
    body: dict[str, Any] = {}
    errors: dict[tuple[str, int, str], str] = {}
    for sev in SEVERITIES:
        typed[sev] = []
        steps = []
        for i in range(SLOTS):
            channel = request.form.get(f"{sev}-{i}-channel", "").strip()
            delay = request.form.get(f"{sev}-{i}-delay", "0").strip() or "0"
            typed[sev].append({"channel": channel, "delay": delay})
            if not channel:
                continue
            if not delay.isdigit() or int(delay) > 1440:
                errors[(sev, i, "delay_seconds")] = "minutes, a whole number from 0 to 1440"
                continue
            steps.append({"channel": channel, "delay_seconds": int(delay) * 60})
        if steps:
            body[sev] = steps
    return typed, body, errors


@bp.post("/profile/rules")
@sessions.require("responder")  # as the API: viewers are never paged
def save_rules() -> Any:
    me = _me()
    if not ButtonForm().validate_on_submit():
        abort(400)
    managed = preferences.managed_by(db_session(), me.id)
    if managed:
        abort(409, f"your notification rules are managed by {managed}: edit that file")
    typed, body, errors = _typed_rules()
    if request.form.get("defaults"):
        body, typed = {}, {sev: [{"channel": "", "delay": "0"}] * 2 for sev in SEVERITIES}
    if errors:
        return _page(typed=typed, rule_errors=errors,
                     problems=["Nothing was saved: see the marked fields."], status=400)
    try:
        users_api.save_rules(me, users_api.parse_rules(body), f"user:{me.email}")
    except HTTPError as exc:
        field = (exc.extra_data or {}).get("field") or ""
        message = str(exc.message).split(": ", 1)[-1]
        found = _RULE_FIELD.fullmatch(field)
        if found is None:
            return _page(typed=typed, problems=[str(exc.message)], status=exc.status_code)
        sev, step, what = found.group(1), int(found.group(2)), found.group(3)
        # The API counts steps among the filled slots: find that slot.
        filled = [i for i, row in enumerate(typed[sev]) if row["channel"]]
        slot = filled[step] if step < len(filled) else 0
        return _page(typed=typed, rule_errors={(sev, slot, what): message},
                     problems=["Nothing was saved: see the marked fields."], status=400)
    flash("Your notification rules were saved." if body else
          "Your notification rules were cleared: the built-in defaults apply.", "info")
    return redirect(url_for("console.profile_page") + "#rules")


@bp.post("/profile/test")
@sessions.require("viewer")
def send_test_page() -> Any:
    me = _me()
    if not ButtonForm().validate_on_submit():
        abort(400)
    channel = request.form.get("channel", "")
    try:
        with transaction() as s:
            profile.begin_test(s, me, channel, utcnow())
    except profile.ProfileError as exc:
        return _page(problems=[f"Test page on {channel or '?'} not sent: {exc.message}"],
                     status=exc.status)
    result = profile.send_test(me, channel)
    with transaction() as s:
        profile.finish_test(s, me, result)
    return _page(tested=result, status=200 if result.ok else 502)


@bp.post("/profile/feed")
@sessions.require("viewer")
def new_feed_url() -> Any:
    """A new personal calendar feed URL (the same token as ``POST /api/v1/users/me/feed-
    token``): shown once; the previous URL stops working."""
    me = _me()
    if not ButtonForm().validate_on_submit():
        abort(400)
    token = new_token("ocf")
    with transaction() as s:
        user = s.get(User, me.id)
        assert user is not None
        user.feed_token_hash = hash_token(token)
    base = settings().public_url.rstrip("/")
    return _page(feed=f"{base}/users/{me.id}.ics?token={token}")

