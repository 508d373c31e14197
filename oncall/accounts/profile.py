"""Self-service profile: a person changes their own contact details, proves a phone number
they entered themselves with a 6-digit code sent by SMS, sends themselves test pages through
the real providers, and reads their upcoming shifts.

Rules:
- A phone number a person sets **themselves** (``phone_source = "self"``) is never paged by
  SMS or voice until it is verified (``oncall.channels.preferences.blocked``); one set by an
  admin or a config file is trusted as set.
- Codes are random, 6 digits, stored only as an HMAC (keyed by the installation's secret),
  expire after ``CODE_TTL``, allow ``MAX_ATTEMPTS`` wrong tries, are used once, and a new one
  is sent at most once per ``RESEND_AFTER`` and ``MAX_SENDS_PER_HOUR`` times an hour.
- A test page goes through the channel's real provider, says it is a test, opens no incident
  and escalates nothing; one per channel per ``TEST_EVERY``.

Providers are called outside any transaction: callers commit what ``begin_*`` returns, call
``send_*``, then store the outcome with ``finish_*``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from oncall.audit import audit
from oncall.channels import DeliveryError, OutgoingPage, preferences, registry
from oncall.manage import Refused
from oncall.manage.users import _checked
from oncall.models import PhoneVerification, Schedule, TestPage, User

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
RESEND_AFTER = timedelta(seconds=60)
MAX_SENDS_PER_HOUR = 5
TEST_EVERY = timedelta(seconds=60)
TEST_TEXT = "TEST page from oncall — no incident. Your {channel} notifications reach you."


class ProfileError(ValueError):
    """Refused: ``field`` names the input at fault; ``status`` the HTTP status."""

    def __init__(self, field: str | None, message: str, status: int = 400) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field, self.message, self.status = field, message, status


# --- contact details ----------------------------------------------------------------------


def update_contacts(session: Session, user: User, phone: str | None, slack_id: str | None,
                    now: datetime) -> bool:
    """Set the user's own phone and Slack member ID. A changed phone becomes ``self`` and
    unverified (never paged until its code is entered). Returns whether the phone changed
    (then a code should be sent). File-managed people are refused (409)."""
    if user.managed_by:
        raise ProfileError(None, f"your details are managed by {user.managed_by}: ask for "
                                 "that file to be changed", 409)
    problems: dict[str, str] = {}
    checked: dict[str, str | None] = {}
    for field, value in (("phone", phone), ("slack_id", slack_id)):
        try:
            checked[field] = _checked(field, (value or "").strip() or None)
        except Refused as exc:
            problems[field] = exc.message
    if problems:
        field, message = next(iter(problems.items()))
        error = ProfileError(field, message)
        error.problems = problems  # type: ignore[attr-defined]
        raise error
    before = {"phone": user.phone, "slack_id": user.slack_id}
    changed_phone = checked["phone"] != user.phone
    if changed_phone:
        user.phone = checked["phone"]
        user.phone_source = "self" if user.phone else None
        user.phone_verified_at = None
        _supersede(session, user.id, now)
    user.slack_id = checked["slack_id"]
    after = {"phone": user.phone, "slack_id": user.slack_id}
    if after != before:
        session.flush()
        audit(session, f"user:{user.email}", "update", "user", user.id, user.email, before,
              {**after, "phone_source": user.phone_source})
    return changed_phone and user.phone is not None


# --- phone verification -------------------------------------------------------------------


def _digest(secret_key: str, user_id: int, phone: str, code: str) -> str:
    message = f"{user_id}:{phone}:{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def _supersede(session: Session, user_id: int, now: datetime) -> None:
    session.execute(update(PhoneVerification).where(
        PhoneVerification.user_id == user_id, PhoneVerification.used_at.is_(None),
        PhoneVerification.superseded_at.is_(None)).values(superseded_at=now))


def needs_verification(user: User) -> bool:
    return bool(user.phone) and not preferences.phone_verified(user)


def pending(session: Session, user: User) -> PhoneVerification | None:
    """The latest code for the user's current number still in play (not used, not replaced)."""
    return session.scalar(select(PhoneVerification).where(
        PhoneVerification.user_id == user.id, PhoneVerification.phone == user.phone,
        PhoneVerification.used_at.is_(None), PhoneVerification.superseded_at.is_(None))
        .order_by(PhoneVerification.id.desc()).limit(1))


def begin_code(session: Session, user: User, now: datetime, secret_key: str) -> str:
    """Make a new code for the user's (unverified, self-entered) phone; returns it, to be
    sent by ``send_code`` once committed. Refused (429) when one was sent under a minute ago
    or too many this hour."""
    if not user.phone:
        raise ProfileError("phone", "enter a phone number first")
    if not needs_verification(user):
        raise ProfileError(None, "this number is already verified", 409)
    if not registry.enabled("sms"):
        raise ProfileError(None, "SMS is not configured on this installation, so a code "
                                 "cannot be sent: ask an admin to set your number", 409)
    last = session.scalar(select(func.max(PhoneVerification.created_at)).where(
        PhoneVerification.user_id == user.id))
    if last is not None and now - last < RESEND_AFTER:
        wait = int((RESEND_AFTER - (now - last)).total_seconds()) + 1
        raise ProfileError(None, f"a code was sent less than a minute ago: wait {wait} s "
                                 "before asking for another", 429)
    sent = session.scalar(select(func.count()).select_from(PhoneVerification).where(
        PhoneVerification.user_id == user.id,
        PhoneVerification.created_at > now - timedelta(hours=1))) or 0
    if sent >= MAX_SENDS_PER_HOUR:
        raise ProfileError(None, f"{MAX_SENDS_PER_HOUR} codes were sent in the last hour: "
                                 "try again later", 429)
    _supersede(session, user.id, now)
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(PhoneVerification(user_id=user.id, phone=user.phone, created_at=now,
                                  expires_at=now + CODE_TTL, attempts=0,
                                  code_hash=_digest(secret_key, user.id, user.phone, code)))
    session.flush()
    return code


def code_text(code: str) -> str:
    return (f"Your oncall verification code is {code}. It expires in "
            f"{int(CODE_TTL.total_seconds() // 60)} minutes. If you did not ask for it, "
            "ignore this message.")


def send_code(user: User, code: str) -> str:
    """Send the code by SMS through the real channel (no transaction open). Returns the
    provider's id; raises ProfileError with the provider's reason."""
    outgoing = OutgoingPage(page_id=0, incident_id=None, channel="sms",
                            recipient=registry.recipient_of(user), severity="info",
                            summary="phone verification", service="oncall", level=0,
                            text=code_text(code), kind="notice")
    try:
        receipt = registry.channel("sms").send(outgoing)
    except DeliveryError as exc:
        raise ProfileError("phone", f"the code could not be sent: {exc}", 502) from None
    return receipt.provider_id or ""


def verify(session: Session, user: User, code: str, now: datetime, secret_key: str) -> None:
    """Check the code for the user's current number: right, it is verified (and the code
    used); wrong, the attempt counts. Raises ProfileError (400) saying what to do."""
    code = (code or "").strip()
    if not needs_verification(user):
        raise ProfileError("code", "this number is already verified")
    found = pending(session, user)
    if found is None:
        raise ProfileError("code", "no code is waiting for this number: send a new one")
    if found.expires_at <= now:
        raise ProfileError("code", "this code has expired: send a new one")
    if found.attempts >= MAX_ATTEMPTS:
        raise ProfileError("code", "too many wrong codes: send a new one")
    if not (len(code) == 6 and code.isdigit()):
        raise ProfileError("code", "the code is 6 digits")
    assert user.phone is not None
    if not hmac.compare_digest(found.code_hash, _digest(secret_key, user.id, user.phone, code)):
        found.attempts += 1
        left = MAX_ATTEMPTS - found.attempts
        raise ProfileError("code", "wrong code: " + (
            f"{left} attempt{'s' if left != 1 else ''} left" if left else
            "no attempts left, send a new one"))
    found.used_at = now
    user.phone_verified_at = now
    session.flush()
    audit(session, f"user:{user.email}", "update", "user", user.id, user.email,
          {"phone_verified": False}, {"phone": user.phone, "phone_verified": True})


# --- test pages ---------------------------------------------------------------------------


def test_channels(user: User) -> list[str]:
    """The channels a test page may be sent on now: every registered channel that has a
    contact for the user (the console only where it pages), SMS and voice only to a number
    that may be paged."""
    held = preferences.blocked(user)
    return [ch for ch in registry.channels_for(user) if ch not in held]


def begin_test(session: Session, user: User, channel: str, now: datetime) -> None:
    if channel not in test_channels(user):
        if channel in preferences.blocked(user):
            raise ProfileError("channel", "verify your phone number first: an unverified "
                                          "number is never paged")
        raise ProfileError("channel", f"{channel} cannot reach you (not configured here, or "
                                      "no contact for it)")
    last = session.scalar(select(func.max(TestPage.sent_at)).where(
        TestPage.user_id == user.id, TestPage.channel == channel))
    if last is not None and now - last < TEST_EVERY:
        wait = int((TEST_EVERY - (now - last)).total_seconds()) + 1
        raise ProfileError("channel", f"one test page per channel a minute: wait {wait} s",
                           429)
    # Claimed before sending, so a double click sends once.
    session.add(TestPage(user_id=user.id, channel=channel, sent_at=now, status="sending"))
    session.flush()


@dataclass
class TestResult:
    __test__ = False  # not a pytest class
    channel: str
    ok: bool
    provider_id: str | None
    detail: str


def send_test(user: User, channel: str) -> TestResult:
    """Send the test through the channel's real provider (no transaction open). Never an
    incident: the page carries no incident id and is a notice, so nothing can escalate."""
    text = TEST_TEXT.format(channel=channel)
    outgoing = OutgoingPage(page_id=0, incident_id=None, channel=channel,
                            recipient=registry.recipient_of(user), severity="info",
                            summary=text, service="oncall", level=0, text=text, kind="notice")
    try:
        receipt = registry.channel(channel).send(outgoing)
    except DeliveryError as exc:
        return TestResult(channel, False, None, str(exc))
    except Exception as exc:  # a channel broken some other way: said, not a 500
        return TestResult(channel, False, None, f"{channel} channel error: {exc!r}")
    return TestResult(channel, True, receipt.provider_id, receipt.detail or "sent")


def finish_test(session: Session, user: User, result: TestResult) -> None:
    row = session.scalar(select(TestPage).where(
        TestPage.user_id == user.id, TestPage.channel == result.channel,
        TestPage.status == "sending").order_by(TestPage.id.desc()).limit(1))
    if row is not None:
        row.status = "sent" if result.ok else "failed"
        row.provider_id = result.provider_id
        row.detail = result.detail[:2000]


def recent_tests(session: Session, user: User, limit: int = 10) -> list[TestPage]:
    return list(session.scalars(select(TestPage).where(TestPage.user_id == user.id)
                                .order_by(TestPage.id.desc()).limit(limit)))


# --- shifts -------------------------------------------------------------------------------


@dataclass
class MyShift:
    schedule: str
    schedule_id: int
    start: datetime
    end: datetime


def upcoming_shifts(session: Session, user: User, now: datetime,
                    days: int = 14) -> list[MyShift]:
    """The user's final shifts (overrides included) on every schedule over the next
    ``days``: a shift in progress counts from its start."""
    from oncall.schedules.rotation import final_shifts
    from oncall.schedules.store import spec_for

    end = now + timedelta(days=days)
    out: list[MyShift] = []
    for schedule in session.scalars(select(Schedule).order_by(Schedule.name)):
        for shift in final_shifts(spec_for(session, schedule, now, end), now, end):
            if shift.user == user.email:
                out.append(MyShift(schedule.name, schedule.id, shift.start, shift.end))
    out.sort(key=lambda s: (s.start, s.schedule))
    return out
