"""``/profile``: everyone's own page. Contact methods (a phone number entered here is
verified by a 6-digit SMS code before it is paged), personal notification rules per severity
with what would be sent now, "send me a test page" on each channel, upcoming shifts, the
calendar feed URL and a link to API tokens. The domain is ``oncall.accounts.profile`` and the
API's own rule code (``oncall.web.users``); every action is the signed-in user's own.

Here: the page and its simple forms (contacts, zone, test page, feed URL);
``profile_phone`` verifies a phone number, ``profile_rules`` saves notification rules,
``profile_forms`` holds the forms."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from flask import abort, flash, redirect, render_template, request, url_for

from oncall.accounts import profile
from oncall.channels import preferences, registry
from oncall.manage import Refused, users
from oncall.models import User, utcnow
from oncall.schedules.service import actor_of as service_actor
from oncall.security import hash_token, new_token
from oncall.web import session as db_session
from oncall.web import settings, transaction
from oncall.web import users as users_api
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm
from oncall.web.console.profile_forms import CodeForm, ContactForm, ZoneForm

SEVERITIES = preferences.SEVERITIES[:-1]  # critical, error, warning, info
SLOTS = 4  # channel steps offered per severity


def signed_in_user() -> User:
    me = sessions.current()
    assert me is not None
    return me


def _rule_choices() -> list[str]:
    """The channels a rule may name (as the API accepts them)."""
    named = [ch for ch in (*registry.names(), *registry.registered()) if registry.enabled(ch)]
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


def render_profile(contact: ContactForm | None = None, code: CodeForm | None = None,
          zone: ZoneForm | None = None,
          typed: dict[str, list[dict[str, str]]] | None = None,
          rule_errors: dict[tuple[str, int, str], str] | None = None,
          tested: profile.TestResult | None = None, feed: str | None = None,
          problems: list[str] | None = None, status: int = 200) -> Any:
    me = signed_in_user()
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
    return render_profile()


def send_code(me: User) -> str | None:
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
    me = signed_in_user()
    form = ContactForm()
    if not form.validate_on_submit():
        return render_profile(contact=form, status=400)
    try:
        with transaction() as s:
            changed = profile.update_contacts(s, me, form.phone.data, form.slack_id.data,
                                              utcnow())
    except profile.ProfileError as exc:
        if exc.status != 400:
            abort(exc.status, exc.message)
        for field, message in getattr(exc, "problems", {exc.field: exc.message}).items():
            getattr(form, field).errors = [*getattr(form, field).errors, message]
        return render_profile(contact=form, problems=["Nothing was saved."], status=400)
    if changed:
        problem = send_code(me)
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
    me = signed_in_user()
    form = ZoneForm()
    if not form.validate_on_submit():
        return render_profile(zone=form, status=400)
    try:
        with transaction() as s:
            users.update(s, service_actor(me), me,
                         {"timezone": (form.timezone.data or "").strip()})
    except Refused as exc:
        form.timezone.errors = [*form.timezone.errors, exc.message]
        return render_profile(zone=form, status=exc.status)
    flash(f"Times are now shown in {me.timezone}.", "info")
    return redirect(url_for("console.profile_page"))


@bp.post("/profile/test")
@sessions.require("viewer")
def send_test_page() -> Any:
    me = signed_in_user()
    if not ButtonForm().validate_on_submit():
        abort(400)
    channel = request.form.get("channel", "")
    try:
        with transaction() as s:
            profile.begin_test(s, me, channel, utcnow())
    except profile.ProfileError as exc:
        return render_profile(problems=[f"Test page on {channel or '?'} not sent: {exc.message}"],
                     status=exc.status)
    result = profile.send_test(me, channel)
    with transaction() as s:
        profile.finish_test(s, me, result)
    return render_profile(tested=result, status=200 if result.ok else 502)


@bp.post("/profile/feed")
@sessions.require("viewer")
def new_feed_url() -> Any:
    """A new personal calendar feed URL (the same token as ``POST /api/v1/users/me/feed-
    token``): shown once; the previous URL stops working."""
    me = signed_in_user()
    if not ButtonForm().validate_on_submit():
        abort(400)
    token = new_token("ocf")
    with transaction() as s:
        user = s.get(User, me.id)
        assert user is not None
        user.feed_token_hash = hash_token(token)
    base = settings().public_url.rstrip("/")
    return render_profile(feed=f"{base}/users/{me.id}.ics?token={token}")
