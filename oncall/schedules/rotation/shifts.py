"""Expanding layers into shifts and merging layers and overrides into the final schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from oncall.schedules.rotation.model import Layer, ScheduleSpec, Shift
from oncall.schedules.rotation.restrictions import windows
from oncall.schedules.rotation.turns import turns_between

__all__ = ["final_shifts", "layer_shifts", "versions_shifts"]

_Key = tuple[str | None, str | None, int | None]  # (user, layer, override id)
_Piece = tuple[datetime, datetime, _Key]


def utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def layer_shifts(layer: Layer, tz: ZoneInfo, start: datetime, end: datetime) -> list[Shift]:
    """Where ``layer`` has someone within [start, end): shifts clipped to the range, sorted,
    disjoint, adjacent ones with the same member merged; nothing for the stretches where the
    layer has nobody (before its start, after its end, outside its restrictions, outside
    the version's [active_from, active_until))."""
    start, end = utc(start, "start"), utc(end, "end")
    return [Shift(s, e, key[0], key[1]) for s, e, key in _layer_pieces(layer, tz, start, end)]


def versions_shifts(versions: list[Layer], tz: ZoneInfo, start: datetime, end: datetime
                    ) -> list[Shift]:
    """``layer_shifts`` of one layer given as its versions (which do not overlap): joined in
    order, a shift running on across a version boundary with the same member kept whole."""
    start, end = utc(start, "start"), utc(end, "end")
    pieces = sorted((p for v in versions for p in _layer_pieces(v, tz, start, end)),
                    key=lambda p: p[0])
    out: list[Shift] = []
    for s, e, key in pieces:
        if out and out[-1].end == s and out[-1].user == key[0]:
            out[-1] = Shift(out[-1].start, e, key[0], out[-1].layer)
        else:
            out.append(Shift(s, e, key[0], key[1]))
    return out


def _layer_pieces(layer: Layer, tz: ZoneInfo, start: datetime, end: datetime) -> list[_Piece]:
    if layer.active_from is not None and layer.active_from > start:
        start = layer.active_from
    if layer.active_until is not None and layer.active_until < end:
        end = layer.active_until
    if start >= end or not layer.members:
        return []
    turns = turns_between(layer.rotation, tz, start, end)
    if not turns:
        return []
    open_ = windows(layer.restrictions, tz, max(start, turns[0].start), min(end, turns[-1].end))
    out: list[_Piece] = []
    i = 0
    for turn in turns:
        key: _Key = (layer.member(turn.index), layer.name, None)
        lo, hi = max(turn.start, start), min(turn.end, end)
        while i < len(open_) and open_[i][1] <= lo:
            i += 1
        j = i
        while j < len(open_) and open_[j][0] < hi:
            s, e = max(open_[j][0], lo), min(open_[j][1], hi)
            if out and out[-1][2] == key and out[-1][1] == s:
                out[-1] = (out[-1][0], e, key)
            else:
                out.append((s, e, key))
            j += 1
    return out


def final_shifts(schedule: ScheduleSpec, start: datetime, end: datetime) -> list[Shift]:
    """The schedule as it will be: shifts tiling [start, end) exactly, in order, without
    overlap; each from the newest override in effect, else the last layer with someone, else
    a gap (user None). Adjacent pieces with the same user and source are merged."""
    start, end = utc(start, "start"), utc(end, "end")
    if start >= end:
        return []
    tz = ZoneInfo(schedule.timezone)
    sources: list[list[_Piece]] = [
        [(s, e, (o.user, None, o.id)) for s, e, o in
         schedule.override_index().segments(start, end)]]
    sources += [_layer_pieces(layer, tz, start, end) for layer in reversed(schedule.layers)]
    sources = [src for src in sources if src]
    points = sorted({start, end}.union(*({s for s, _, _ in src} | {e for _, e, _ in src}
                                         for src in sources)))
    gap: _Key = (None, None, None)
    ptr = [0] * len(sources)
    sizes = [len(src) for src in sources]
    order = range(len(sources))
    out: list[Shift] = []
    run_start, run_key = start, gap
    for a in points[:-1]:  # each elementary piece [a, next point) has a single source
        key = gap
        for si in order:  # highest priority first
            src, i, n = sources[si], ptr[si], sizes[si]
            while i < n and src[i][1] <= a:
                i += 1
            ptr[si] = i
            if i < n and src[i][0] <= a:
                key = src[i][2]
                break
        if key != run_key:
            if a > run_start:
                out.append(Shift(run_start, a, *run_key))
            run_start, run_key = a, key
    out.append(Shift(run_start, end, *run_key))
    return out
