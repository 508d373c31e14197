"""Twilio webhooks: ``POST /twilio/sms`` (replies), ``/twilio/voice`` (what a paging call
says), ``/twilio/voice/gather`` (the key pressed) and ``/twilio/status`` (delivery status).

Every request must carry a valid ``X-Twilio-Signature`` for the URL Twilio was given, i.e.
``ONCALL_PUBLIC_URL`` + path + query (Twilio's ``RequestValidator``); otherwise 403 and
nothing changes. Replies are TwiML. A replayed SMS or key press (same MessageSid, or same
CallSid at the same step) is refused with 409 and changes nothing. Whether the person may
act at all is ``oncall.incidents.respond``' rule, as for every channel: a viewer's reply or key
press is answered "You are not allowed to ..." and changes nothing.
"""

from __future__ import annotations

import logging

from apiflask import APIBlueprint
from flask import Flask, Response, abort, request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from oncall import db
from oncall.channels import voice
from oncall.channels.sms import replies
from oncall.channels.twilio import status as twilio_status
from oncall.incidents import respond
from oncall.models import Incident, Page, ProviderSend, Service, TwilioInbound, User, utcnow
from oncall.web import settings, transaction

log = logging.getLogger(__name__)
bp = APIBlueprint("twilio", __name__, tag="Twilio webhooks", enable_openapi=False)


def _verified() -> None:
    """403 unless the request is signed by Twilio with our auth token for our public URL."""
    token = settings().twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        abort(403)
    from twilio.request_validator import RequestValidator  # on first use: twilio is big

    query = request.query_string.decode()
    url = settings().public_url.rstrip("/") + request.path + (f"?{query}" if query else "")
    if not RequestValidator(token).validate(url, request.form, signature):
        log.warning("twilio: bad signature for %s", url)
        abort(403)


def _twiml(xml: str, status: int = 200) -> Response:
    return Response(xml, status=status, mimetype="text/xml")


def _message(text: str | None = None, status: int = 200) -> Response:
    """A TwiML messaging answer: ``text`` as an SMS reply, or no reply at all."""
    from twilio.twiml.messaging_response import MessagingResponse

    reply = MessagingResponse()
    if text is not None:
        reply.message(text)
    return _twiml(str(reply), status)


def _first_time(session: Session, key: str) -> bool:
    """Note an inbound request as acted on; False when it already was (a replay)."""
    insert = db.insert_for(session)
    stmt = (insert(TwilioInbound).values(key=key[:100], received_at=utcnow())
            .on_conflict_do_nothing(index_elements=["key"]).returning(TwilioInbound.key))
    return session.connection().execute(stmt).scalar() is not None


@bp.post("/twilio/sms")
def sms() -> Response:
    _verified()
    sid = request.form.get("MessageSid") or request.form.get("SmsSid") or ""
    with transaction() as s:
        if sid and not _first_time(s, f"sms:{sid}"):
            return _message(status=409)
        text = replies.handle(s, request.form.get("From", ""), request.form.get("Body", ""),
                              utcnow())
    return _message(text)


@bp.post("/twilio/status")
def status() -> Response:
    _verified()
    form = request.form
    sid = form.get("MessageSid") or form.get("CallSid")
    state = form.get("MessageStatus") or form.get("SmsStatus") or form.get("CallStatus")
    if not sid or not state:
        abort(400)
    code = _number(form.get("ErrorCode"))
    channel = "sms" if form.get("MessageSid") else "voice"
    with transaction() as s:
        twilio_status.apply(s, sid, state, code, utcnow(),
                            channel=channel, destination=form.get("To"))
    return _message()


def _number(text: str | None) -> int | None:
    """A form or query value that is a plain number a database integer holds, else None
    (Unicode digits, thousands of digits and ids past 2^31 are nobody's)."""
    if not text or not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if value <= 2**31 - 1 else None


def _voice_page(session: Session) -> tuple[Page, Incident, User] | None:
    """The voice page this call is about, when the call is really that page's: the callee
    is the paged user's number and (once stored) the CallSid is the page's."""
    page_id = _number(request.args.get("page"))
    if page_id is None:
        return None
    row = session.execute(select(Page, Incident, User)
                          .join(Incident, Incident.id == Page.incident_id)
                          .join(User, User.id == Page.user_id)
                          .where(Page.id == page_id, Page.channel == "voice")).first()
    if row is None:
        return None
    page, incident, user = row
    if not user.phone or request.form.get("To") != user.phone:
        return None
    call_sid = request.form.get("CallSid", "")
    owned = session.scalar(select(ProviderSend.id).where(
        ProviderSend.channel == "voice", ProviderSend.provider_id == call_sid))
    if page.provider_id != call_sid and owned is None:
        # Twilio may fetch the script before our worker has stored the SID: accept a call
        # to the right number while the page's request is still in flight.
        in_flight = session.scalar(select(ProviderSend.id).where(
            ProviderSend.channel == "voice", ProviderSend.status == "requested",
            or_(ProviderSend.provider_id.is_(None), ProviderSend.provider_id == call_sid),
            ProviderSend.destination == user.phone))
        if request.path.endswith("/gather") or in_flight is None:
            return None
    return page, incident, user


@bp.post("/twilio/voice")
def voice_answer() -> Response:
    _verified()
    with transaction() as s:
        found = _voice_page(s)
        if found is None:
            return _twiml(voice.say_twiml("This call is not about a page. Goodbye."))
        page, incident, user = found
        if incident.status != "triggered":
            return _twiml(voice.say_twiml(
                f"Incident {incident.id} is already {incident.status}. Goodbye."))
        service = s.scalar(select(Service.name).where(Service.id == incident.service_id))
        script = voice.speakable(incident.severity, incident.id, service or "", incident.summary)
        refused = [respond.refusal(user, what) for what in voice.KEYS.values()]
        first = refused[0]
        if first is not None and all(refused):  # told, not offered keys only refused
            return _twiml(voice.say_twiml(f"{script}{first.message} Goodbye."))
    action = f"{settings().public_url.rstrip('/')}/twilio/voice/gather?page={page.id}"
    return _twiml(voice.gather_twiml(action, script))


@bp.post("/twilio/voice/test")
def voice_test() -> Response:
    """What a test call (the profile's "send me a test page") says: no incident, no keys."""
    _verified()
    return _twiml(voice.say_twiml(voice.TEST_CALL))


@bp.post("/twilio/voice/gather")
def voice_gather() -> Response:
    _verified()
    digits = request.form.get("Digits", "")
    with transaction() as s:
        found = _voice_page(s)
        if found is None:
            return _twiml(voice.say_twiml("This call cannot act on that incident. Goodbye."))
        _page, incident, user = found
        what = voice.KEYS.get(digits)
        refused = respond.refusal(user, what) if what else None
        if refused is not None:  # said, and nothing recorded: the rule of every channel
            return _twiml(voice.say_twiml(f"{refused.message} Goodbye."))
        if not _first_time(s, f"gather:{request.form.get('CallSid', '')}"):
            return _twiml(voice.say_twiml("Already done. Goodbye."), 409)
        if what is None:
            return _twiml(voice.say_twiml("No valid key pressed. The incident is not "
                                          "acknowledged. Goodbye."))
        outcome = respond.respond(s, user, incident.id, what, utcnow(), via="voice",
                                  escalate_acknowledged=False)
        if outcome.incident is None or outcome.kind == respond.REFUSED:
            return _twiml(voice.say_twiml("This call cannot act on that incident. Goodbye."))
        if not outcome.done:
            return _twiml(voice.say_twiml(
                f"Incident {incident.id} is already {outcome.incident.status}. Goodbye."))
    said = {"acknowledge": "acknowledged", "resolve": "resolved"}.get(what, "escalated")
    return _twiml(voice.say_twiml(f"Incident {incident.id} {said}. Goodbye."))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
