"""When a job is expected to run: every ``period`` seconds, or at the times of a cron
expression in an IANA time zone. Pure; times in and out are aware UTC datetimes.

Cron expressions are evaluated as cron itself runs them across DST changes (Vixie cron and
cronie, which most Linux hosts run):

* a fixed time that does not exist on a spring-forward day (``0 2 * * *`` in
  America/New_York on the second Sunday of March) runs as soon as the clock has jumped, at
  03:00 local time;
* a fixed time that happens twice on a fall-back day (``30 1 * * *``) runs once, the first
  time. A job whose minute or hour field starts with ``*`` follows real time and runs in
  both hours.

``croniter`` is imported on first use: only a heartbeat with a cron expression needs it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ScheduleError(ValueError):
    """An invalid schedule; ``field`` names the setting (``cron``, ``timezone``, ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError("timezone", f"unknown timezone {name!r} (use an IANA name such "
                                        "as America/New_York)") from None


def check_cron(expr: str) -> str:
    """The expression, if it is a valid five-field cron expression."""
    fields = expr.split()
    if len(fields) != 5:
        raise ScheduleError("cron", f"{expr!r} must have five fields: minute hour "
                                    "day-of-month month day-of-week")
    from croniter import croniter
    from croniter.croniter import CroniterError

    try:
        croniter(expr)
    except (CroniterError, ValueError, KeyError) as exc:
        raise ScheduleError("cron", f"{expr!r} is not a valid cron expression: {exc}") from None
    return " ".join(fields)


def _follows_real_time(expr: str) -> bool:
    minute, hour = expr.split()[:2]
    return minute.startswith("*") or hour.startswith("*")


def next_run(expr: str, timezone: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` at which cron runs ``expr`` in ``timezone``."""
    from croniter import croniter

    tz = zone(timezone)
    it = croniter(expr, after.astimezone(tz))
    skip_repeats = not _follows_real_time(expr)
    while True:
        found: datetime = it.get_next(datetime)
        if skip_repeats and found.fold == 1 and \
                found.replace(fold=0).utcoffset() != found.utcoffset():
            continue  # the second pass through a repeated hour: cron already ran this
        return found.astimezone(UTC)


def next_due(period: int | None, cron: str | None, timezone: str,
             after: datetime) -> datetime:
    """When a job that last ran at ``after`` is next expected."""
    if cron:
        return next_run(cron, timezone, after)
    if not period or period <= 0:
        raise ScheduleError("period", "a heartbeat needs a period or a cron expression")
    return after + timedelta(seconds=period)
