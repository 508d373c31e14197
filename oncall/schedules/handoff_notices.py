"""Handoff notices: whoever's on-call shift has just started is told, once, through their
channels. Run by beat every minute; a shift that started more than ``WINDOW`` ago (e.g. at
deploy time) is not announced late. Notices are informational and sent at most once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from oncall import db
from oncall.channels import DeliveryError, OutgoingPage, Recipient, preferences
from oncall.channels.registry import channel
from oncall.models import Notice, Schedule, User
from oncall.schedules.rotation import final_shifts
from oncall.schedules.store import spec_for

log = logging.getLogger(__name__)
WINDOW = timedelta(minutes=15)
LOOKAHEAD = timedelta(days=14)


def _when(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%a %d %b %H:%M")


def create_notices(session: Session, now: datetime) -> list[int]:
    """Record a notice for every shift that started within the last WINDOW."""
    insert = db.insert_for(session)
    created: list[int] = []
    for schedule in session.scalars(select(Schedule)):
        start, end = now - WINDOW, now + LOOKAHEAD
        shifts = final_shifts(spec_for(session, schedule, start, end), start, end)
        current = next((s for s in shifts if s.start <= now < s.end), None)
        if current is None or current.user is None or current.start <= start:
            continue
        user = session.scalar(select(User).where(User.email == current.user))
        if user is None:
            continue
        tz = ZoneInfo(schedule.timezone)
        text = (f"You are on call for {schedule.name} from {_when(current.start, tz)} "
                f"until {_when(current.end, tz)} ({schedule.timezone}).")
        # The user's rules for informational messages (Slack, else SMS): never a call.
        for name in [r.channel for r in preferences.plan(session, user, "info").rules]:
            notice_id = session.execute(
                insert(Notice).values(schedule_id=schedule.id, user_id=user.id,
                                      shift_start=current.start, shift_end=current.end,
                                      channel=name, status="pending", message=text,
                                      created_at=now)
                .on_conflict_do_nothing(index_elements=["schedule_id", "user_id",
                                                        "shift_start", "channel"])
                .returning(Notice.id)).scalar()
            if notice_id is not None:
                created.append(notice_id)
    return created


def send_notice(factory: sessionmaker[Session], notice_id: int, now: datetime) -> bool:
    with factory() as session, session.begin():
        claimed = session.execute(update(Notice).where(Notice.id == notice_id,
                                                       Notice.status == "pending")
                                  .values(status="sending")).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            return False
        notice = session.get(Notice, notice_id)
        assert notice is not None
        user = session.get(User, notice.user_id)
        schedule = session.get(Schedule, notice.schedule_id)
        assert user is not None and schedule is not None
        outgoing = OutgoingPage(
            page_id=notice.id, incident_id=None, channel=notice.channel,
            recipient=Recipient(user.email, user.name, user.phone, user.slack_id),
            severity="info", summary=notice.message, service=schedule.name, level=0,
            text=notice.message, kind="notice")
    try:
        channel(outgoing.channel).send(outgoing)
        status, error = "sent", None
    except DeliveryError as exc:
        status, error = "failed", str(exc)
        log.warning("handoff notice %s failed: %s", notice_id, exc)
    with factory() as session, session.begin():
        session.execute(update(Notice).where(Notice.id == notice_id)
                        .values(status=status, error=error, sent_at=now))
    return status == "sent"


def announce(factory: sessionmaker[Session], now: datetime) -> int:
    with factory() as session, session.begin():
        created = create_notices(session, now)
    return sum(send_notice(factory, notice_id, now) for notice_id in created)
