"""What a responder looks at: incidents listed with filters, one incident's pages with their
delivery status told honestly, and the home page's "right now" (on call, open incidents,
heartbeats late or down, maintenance in force, my next shift). Read only: acting on an
incident is ``oncall.incidents`` and ``oncall.actions``, as for every other channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from oncall.incidents import OPEN, alert_counts
from oncall.models import (
    Heartbeat,
    Incident,
    IncidentEvent,
    MaintenanceWindow,
    Page,
    Schedule,
    Service,
    User,
)
from oncall.schedules.overview import HORIZON, Summary, summarize
from oncall.schedules.rotation import final_shifts
from oncall.schedules.rotation.spec import RotationError
from oncall.schedules.store import specs_for

STATUS_FILTERS = ("open", "triggered", "acknowledged", "resolved", "all")
PER_PAGE = 25


@dataclass(frozen=True)
class Filters:
    """``status``: one of ``STATUS_FILTERS``; ``service``: a service name ("" any);
    ``severity`` ("" any); ``mine``: paged to me, or acknowledged by me."""

    status: str = "open"
    service: str = ""
    severity: str = ""
    mine: bool = False


@dataclass(frozen=True)
class Row:
    id: int
    status: str
    severity: str
    summary: str
    service: str
    created_at: datetime
    updated_at: datetime
    acked_by: str | None
    resolved_by: str | None
    level: int
    alert_count: int


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    total: int
    page: int
    pages: int


def _row(r: Any, counts: dict[int, int]) -> Row:
    return Row(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
               alert_count=counts.get(r[0], 0))


def _where(stmt: Any, filters: Filters, me: User) -> Any:
    if filters.status == "open":
        stmt = stmt.where(Incident.status.in_(OPEN))
    elif filters.status in ("triggered", "acknowledged", "resolved"):
        stmt = stmt.where(Incident.status == filters.status)
    if filters.service:
        stmt = stmt.where(Incident.service_id == select(Service.id).where(
            Service.name == filters.service).scalar_subquery())
    if filters.severity:
        stmt = stmt.where(Incident.severity == filters.severity)
    if filters.mine:
        paged_me = exists().where(Page.incident_id == Incident.id, Page.user_id == me.id)
        stmt = stmt.where(or_(Incident.acked_by == f"user:{me.email}", paged_me))
    return stmt


def listing(session: Session, filters: Filters, me: User, page: int = 1,
            per_page: int = PER_PAGE) -> Listing:
    """One page of incidents matching ``filters``, newest first, with how many match."""
    total = session.scalar(_where(select(func.count()).select_from(Incident), filters, me)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    stmt = _where(select(Incident.id, Incident.status, Incident.severity, Incident.summary,
                         Service.name, Incident.created_at, Incident.updated_at,
                         Incident.acked_by, Incident.resolved_by, Incident.level)
                  .join(Service, Service.id == Incident.service_id), filters, me)
    found = session.execute(stmt.order_by(Incident.id.desc())
                            .offset((page - 1) * per_page).limit(per_page)).all()
    counts = alert_counts(session, [r[0] for r in found])
    return Listing([_row(r, counts) for r in found], total, page, pages)


def open_incidents(session: Session, limit: int = 20) -> tuple[list[Row], int]:
    """Open incidents, triggered first then acknowledged, newest first within each; and how
    many are open in all."""
    total = session.scalar(select(func.count()).select_from(Incident)
                           .where(Incident.status.in_(OPEN))) or 0
    found = session.execute(
        select(Incident.id, Incident.status, Incident.severity, Incident.summary,
               Service.name, Incident.created_at, Incident.updated_at, Incident.acked_by,
               Incident.resolved_by, Incident.level)
        .join(Service, Service.id == Incident.service_id)
        .where(Incident.status.in_(OPEN))
        .order_by(case((Incident.status == "triggered", 0), else_=1), Incident.id.desc())
        .limit(limit)).all()
    counts = alert_counts(session, [r[0] for r in found])
    return [_row(r, counts) for r in found], total


# One incident's pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """A page as a person reads it: ``state`` is one of queued, scheduled, sending,
    retrying, sent, delivered, failed, cancelled; ``detail`` says more (the error, the
    provider's word, the time it is due); ``fell_back_to``: the channel tried next after
    this one failed."""

    id: int
    level: int
    loop: int
    user_id: int | None
    recipient: str
    channel: str
    state: str
    detail: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    due_at: datetime | None = None
    fell_back_to: str | None = None


PROVIDER_DELIVERED = ("delivered", "read", "completed", "answered")


def deliveries(session: Session, incident_id: int, now: datetime,
               names: dict[int, str] | None = None) -> list[Delivery]:
    """Every page of the incident, oldest first, with its delivery status. A page's status
    comes from the outbox row (``oncall.paging.delivery``): pending is queued (or scheduled,
    when due later, as a call two minutes after an SMS; or retrying after a transient failure),
    sending, sent (delivered once the provider's status callback says so), failed (and the
    channel the fallback moved on to, from the timeline's ``fallback`` entries) or
    cancelled (the incident was acknowledged or resolved before it went out)."""
    pages = session.scalars(select(Page).where(Page.incident_id == incident_id)
                            .order_by(Page.id)).all()
    fallbacks: dict[tuple[int, int, str, str], str] = {}
    for detail in session.scalars(select(IncidentEvent.detail).where(
            IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "fallback")):
        if isinstance(detail, dict):
            key = (int(detail.get("level", 0)), int(detail.get("loop", 0)),
                   str(detail.get("user")), str(detail.get("from_channel")))
            fallbacks.setdefault(key, str(detail.get("to_channel")))
    emails: dict[int, str] = {}
    if pages:
        emails = {uid: email for uid, email in session.execute(select(User.id, User.email).where(
            User.id.in_({p.user_id for p in pages if p.user_id is not None})))}
    out = []
    for p in pages:
        due: datetime | None = None
        provider = (p.provider_status or "").lower()
        if p.status == "pending":
            if p.attempts:
                state, detail = "retrying", f"attempt {p.attempts} failed: {p.error or ''}"
                due = p.next_attempt_at
            elif p.next_attempt_at > now:
                state, detail, due = "scheduled", "", p.next_attempt_at
            else:
                state, detail = "queued", ""
        elif p.status == "sending":
            state, detail = "sending", ""
        elif p.status == "sent":
            if provider in PROVIDER_DELIVERED:
                state, detail = "delivered", ""
            else:
                state = "sent"
                detail = f"provider says {provider}" if provider else ""
        elif p.status == "failed":
            state, detail = "failed", p.error or ""
        else:
            state, detail = "cancelled", p.error or ""
        fell = None
        if p.status == "failed" and p.user_id is not None:
            fell = fallbacks.get((p.level, p.loop, emails.get(p.user_id, ""), p.channel))
        recipient = p.recipient
        if p.user_id is not None and names is not None:
            recipient = names.get(p.user_id, recipient)
        out.append(Delivery(p.id, p.level, p.loop, p.user_id, recipient, p.channel, state, detail,
                            p.attempts, p.created_at, p.sent_at, due, fell))
    return out


def timeline(session: Session, incident_id: int) -> list[tuple[datetime, str, str, Any]]:
    """The incident's timeline, newest first: (at, kind, actor, detail) rows, no ORM objects
    (an incident of a long outage has hundreds)."""
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(
        select(IncidentEvent.at, IncidentEvent.kind, IncidentEvent.actor, IncidentEvent.detail)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.at.desc(), IncidentEvent.id.desc()))]


# Home -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MyShift:
    schedule: str
    schedule_id: int
    start: datetime
    end: datetime
    override: bool

    def now(self, at: datetime) -> bool:
        return self.start <= at


@dataclass
class Home:
    on_call: list[Summary]
    my_shift: MyShift | None
    open_incidents: list[Row]
    open_total: int
    heartbeats: list[Heartbeat]
    maintenance: list[MaintenanceWindow]
    notes: list[str] = field(default_factory=list)


def _may_hold(spec: Any, email: str) -> bool:
    """Whether ``email`` is in a layer or an override of the schedule (else it has no shift
    of theirs, and its shifts need not be expanded)."""
    return any(email in layer.members for layer in spec.layers) or any(
        o.user == email for o in spec.overrides)


def _my_next_shift(schedules: list[Schedule], specs: dict[int, Any], email: str,
                   now: datetime) -> MyShift | None:
    """``email``'s shift going on now, else their next one, on any schedule (final shifts:
    overrides and swaps included), looked for over a week, then a month, then 90 days."""
    for span in (timedelta(days=7), timedelta(days=31), HORIZON):
        best: MyShift | None = None
        for schedule in schedules:
            spec = specs.get(schedule.id)
            if spec is None or not _may_hold(spec, email):
                continue
            try:
                shifts = final_shifts(spec, now, now + span)
            except (RotationError, ValueError):
                continue
            for s in shifts:
                if s.user == email and s.end > now:
                    if best is None or s.start < best.start:
                        best = MyShift(schedule.name, schedule.id, s.start, s.end,
                                       s.override_id is not None or s.layer is None)
                    break
        if best is not None:
            return best
    return None


def home(session: Session, me: User, now: datetime) -> Home:
    names = {email: name for email, name in session.execute(select(User.email, User.name))}
    schedules = list(session.scalars(select(Schedule).options(selectinload(Schedule.layers))
                                     .order_by(Schedule.name)))
    specs = specs_for(session, schedules, now, now + HORIZON)
    on_call = [summarize(session, s, now, names, specs.get(s.id)) for s in schedules]
    mine = _my_next_shift(schedules, specs, me.email, now)
    rows, total = open_incidents(session)
    heartbeats = list(session.scalars(select(Heartbeat).where(
        Heartbeat.state.in_(("late", "down")))
        .order_by(case((Heartbeat.state == "down", 0), else_=1), Heartbeat.name)))
    windows = list(session.scalars(select(MaintenanceWindow).where(
        MaintenanceWindow.starts_at <= now, MaintenanceWindow.ends_at > now)
        .order_by(MaintenanceWindow.ends_at)))
    return Home(on_call, mine, rows, total, heartbeats, windows)
