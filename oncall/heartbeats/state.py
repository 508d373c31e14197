"""The heartbeat state machine, in the manner of healthchecks.io. Pure: every function takes
the heartbeat's schedule, its current status and an explicit ``now``.

States: ``new`` (created, never pinged), ``up`` (the last success came on time), ``late``
(the success is due but the grace time has not run out: shown, pages nobody), ``down`` (it
has: an incident is open), ``paused`` (not checked).

* A success ping makes it ``up``; the next success is due a ``period`` later, or at the
  next cron time after this one.
* It is ``late`` from the due time, and ``down`` once ``grace`` has also passed.
* ``/start`` begins a run that must send its success within ``grace``, or it is ``down``.
* ``/fail`` (or a non-zero exit status) makes it ``down`` at once.
* A new heartbeat is due one period (or at the first cron time) after its creation: one that
  is never pinged goes down then plus grace, like any other.
* While down, every further run that is missed is reported again (it joins the open
  incident, or opens a new one if someone resolved it by hand).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from oncall.heartbeats.schedule import next_due, next_run

# A cron job's clock may run a little ahead of ours: a success this much before its due time
# (at most half the gap to the following run) counts for that run, not for the previous one.
EARLY = timedelta(seconds=60)

STATES = ("new", "up", "late", "down", "paused")
REASONS = ("missed", "run_timeout", "failed")


@dataclass(frozen=True)
class Spec:
    """A heartbeat's schedule: ``period`` seconds, or ``cron`` in ``timezone``; ``grace``
    seconds of tolerance."""

    period: int | None
    cron: str | None
    timezone: str
    grace: int

    @property
    def grace_delta(self) -> timedelta:
        return timedelta(seconds=self.grace)


@dataclass(frozen=True)
class Status:
    state: str
    next_due_at: datetime | None
    last_start_at: datetime | None = None
    down_reason: str | None = None


@dataclass(frozen=True)
class Event:
    """A transition the world must hear about: ``down`` (open or join the incident) or
    ``up`` (resolve it). ``due`` is the run that was missed, ``started`` the run that timed
    out."""

    kind: str
    reason: str | None = None
    due: datetime | None = None
    started: datetime | None = None
    exit_status: int | None = None


def created(spec: Spec, now: datetime) -> Status:
    """A new heartbeat (or one resumed after a pause): due as if it had just run."""
    return Status("new", next_due(spec.period, spec.cron, spec.timezone, now))


def paused() -> Status:
    return Status("paused", None)


def _after_run(spec: Spec, at: datetime, due: datetime | None) -> datetime:
    """When the run after one that reported at ``at`` is due (``due``: the one expected)."""
    if spec.cron and due is not None and at < due:
        gap = next_run(spec.cron, spec.timezone, due) - due
        if due - min(EARLY, gap / 2) <= at:
            at = due  # a little early: it is that run, not an extra one
    return next_due(spec.period, spec.cron, spec.timezone, at)


def ping(spec: Spec, status: Status, kind: str, now: datetime,
         exit_status: int | None = None) -> tuple[Status, Event | None]:
    """A ping of ``kind`` (start | success | fail) arrived at ``now``."""
    if status.state == "paused":  # a ping un-pauses, as on healthchecks.io
        status = created(spec, now)
    if kind == "start":
        return replace(status, last_start_at=now), None
    after = _after_run(spec, now, status.next_due_at)
    if kind == "success":
        event = Event("up") if status.state == "down" else None
        return Status("up", after), event
    if kind == "fail":
        return (Status("down", after, down_reason="failed"),
                Event("down", "failed", exit_status=exit_status))
    raise ValueError(f"unknown ping kind {kind!r}")


def check(spec: Spec, status: Status, now: datetime) -> tuple[Status, Event | None]:
    """What time alone does: late, then down (a missed run, or a started run that never
    finished)."""
    if status.state == "paused" or status.next_due_at is None:
        return status, None
    grace = spec.grace_delta
    event: Event | None = None
    started = status.last_start_at
    if started is not None and now >= started + grace:
        event = Event("down", "run_timeout", started=started)
        status = replace(status, last_start_at=None)
    due = status.next_due_at
    assert due is not None
    if now >= due + grace:
        if event is None:
            event = Event("down", "missed", due=due)
        while due + grace <= now:  # every run already missed is covered by this one event
            due = next_due(spec.period, spec.cron, spec.timezone, due)
    if event is not None:
        return Status("down", due, status.last_start_at, event.reason), event
    if status.state in ("new", "up") and now >= due:
        return replace(status, state="late"), None
    return status, None


def check_at(spec: Spec, status: Status) -> datetime | None:
    """The next time ``check`` could change something (None: only a ping can)."""
    if status.state == "paused" or status.next_due_at is None:
        return None
    times = [status.next_due_at + spec.grace_delta]
    if status.state in ("new", "up"):
        times.append(status.next_due_at)
    if status.last_start_at is not None:
        times.append(status.last_start_at + spec.grace_delta)
    return min(times)
