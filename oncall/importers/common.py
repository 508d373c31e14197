"""What every importer shares: our names for the source's (unique, within our character set),
the source's times and zones read strictly, the config schema's limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from oncall.importers.http import SourceError
from oncall.importers.report import Report

MAX_REPEAT = 20  # the config schema's limit for ``repeat``
ORDER_CHECK = timedelta(weeks=4)  # how far PagerDuty's final schedule decides layer order
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def slug(name: str) -> str:
    """A PagerDuty name as one of ours (letters, digits, ``_.-``)."""
    out = _NAME.sub("-", name.strip().lower()).strip("-._")
    return out[:200] or "unnamed"


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``...: two source objects may share a name, ours not."""
    out, n = name, 2
    while out in taken:
        out = f"{name}-{n}"
        n += 1
    return out


def named(listed: list[dict[str, Any]], names: tuple[str, ...], source: str,
          kind: str = "schedule") -> list[dict[str, Any]]:
    """The objects (schedules, teams) called ``names`` (all without names); an unknown name
    is an error naming the known ones: a typo must not give a silently smaller import."""
    if not names:
        return listed
    known = {s.get("name") for s in listed}
    missing = [n for n in names if n not in known]
    if missing:
        raise SourceError(f"{source} has no {kind} named {', '.join(map(repr, missing))}"
                          f" (there are: {', '.join(sorted(map(str, known))) or 'none'})")
    return [s for s in listed if s.get("name") in names]


def iso(at: datetime) -> str:
    """``at`` as the sources' APIs take a time in a query (UTC, whole seconds, ``Z``)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    """A source's time in UTC; one without an offset is an error (its zone would be a guess)."""
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if at.tzinfo is None:
        raise SourceError(f"PagerDuty sent a time without an offset: {value!r}")
    return at.astimezone(UTC)


def valid_zone(name: str | None, what: str, report: Report) -> str:
    """``name`` when it is an IANA zone, else UTC, reported for ``what`` ("kind name")."""
    try:
        ZoneInfo(str(name))
        return str(name)
    except (ZoneInfoNotFoundError, ValueError):
        report.approximated(what.split(" ", 1)[0], what.split(" ", 1)[1],
                            f"time zone {name!r} is not an IANA zone name; UTC used")
        return "UTC"
