"""Opsgenie's own final schedule as entries ``--verify`` compares with ours."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

from oncall.importers.common import parse_time

Entry = tuple[datetime, datetime, str | None]


def timeline_entries(data: dict[str, Any]) -> list[Entry]:
    """Opsgenie's ``finalTimeline`` as (start, end, who) without overlaps: where rotations
    overlap, Opsgenie has all their participants on call, written "a + b" (ours can never
    say that, so --verify shows each such stretch)."""
    pieces: list[tuple[datetime, datetime, str]] = []
    for rot in (data.get("finalTimeline") or {}).get("rotations") or []:
        for p in rot.get("periods") or []:
            r = p.get("recipient") or {}
            if r.get("type") == "none":
                continue
            who = str(r.get("name") or r.get("id")) if r.get("type") == "user" else \
                f"{r.get('type')} {r.get('name') or r.get('id')}"
            pieces.append((parse_time(p["startDate"]), parse_time(p["endDate"]), who))
    points = sorted({x for a, b, _ in pieces for x in (a, b)})
    out: list[Entry] = []
    for lo, hi in pairwise(points):
        names = sorted({w for a, b, w in pieces if a <= lo < b})
        if not names:
            continue
        who = " + ".join(names)
        if out and out[-1][1] == lo and out[-1][2] == who:
            out[-1] = (out[-1][0], hi, who)
        else:
            out.append((lo, hi, who))
    return out
