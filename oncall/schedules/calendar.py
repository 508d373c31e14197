"""Calendar feeds (RFC 5545, via ``icalendar``) of final shifts, so people see their on-call
time in their own calendar."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from oncall.schedules.rotation import Shift


def feed(title: str, entries: Iterable[tuple[str, Shift]], stamp: datetime) -> bytes:
    """``entries`` are (schedule name, shift); gaps (no user) are left out."""
    from icalendar import Calendar, Event  # on first use: a web process rarely serves feeds

    cal = Calendar()
    cal.add("prodid", "-//oncall//schedules//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", title)
    cal.add("method", "PUBLISH")
    for schedule, shift in entries:
        if shift.user is None:
            continue
        event = Event()
        # Stable across refreshes, so calendar apps update events instead of duplicating them.
        event.add("uid", f"{schedule}-{int(shift.start.timestamp())}-{shift.user}@oncall")
        event.add("dtstamp", stamp)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("summary", f"On call: {schedule} ({shift.user})")
        event.add("description", f"{shift.user} is on call for {schedule}"
                                 + (f" (layer {shift.layer})" if shift.layer else "")
                                 + (" by override" if shift.override_id else ""))
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()
