"""The mapping loops every source shares: schedules (names, documents, overrides) and
policies (our names, the source's id -> ours)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from oncall.importers.common import slug, unique, valid_zone
from oncall.importers.output import yaml_text
from oncall.importers.report import Report


@dataclass
class Schedules:
    """The imported schedules: their files, our name -> the source's id and the reverse,
    our name -> zone, and their overrides."""

    files: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    timezones: dict[str, str] = field(default_factory=dict)
    overrides: list[dict[str, Any]] = field(default_factory=list)


def map_schedules(schedules: list[dict[str, Any]], source: str,
                  make: Callable[[dict[str, Any], str], dict[str, Any] | None],
                  extra: Callable[[dict[str, Any], str, dict[str, Any], list[dict[str, Any]]],
                                  None]) -> Schedules:
    """Each schedule through ``make`` (the source schedule, our name -> its document or
    None), then ``extra`` (the schedule, name, document, a list for its overrides)."""
    out = Schedules()
    for s in schedules:
        name = unique(slug(s["name"]), set(out.ids))
        doc = make(s, name)
        if doc is None:
            continue
        out.names[s["id"]] = name
        out.ids[name] = s["id"]
        out.timezones[name] = doc["timezone"]
        mine: list[dict[str, Any]] = []
        extra(s, name, doc, mine)
        out.overrides += mine
        out.files[f"schedules/{name}.yaml"] = yaml_text(
            doc, f"{source} schedule {s['name']!r} ({s['id']})", source.lower())
    return out


def map_policies(items: list[dict[str, Any]],
                 make: Callable[[dict[str, Any], set[str]], dict[str, Any] | None]
                 ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Each policy through ``make`` (the source policy, our names taken -> ours or None):
    ours, and the source's id -> our name."""
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for p in items:
        mapped = make(p, set(names.values()))
        if mapped is not None:
            names[p["id"]] = mapped["policy"]
            out.append(mapped)
    return out, names


def schedule_doc(s: dict[str, Any], name: str, tz_name: str | None, raws: list[dict[str, Any]],
                 make: Callable[[dict[str, Any], ZoneInfo, str], dict[str, Any] | None],
                 report: Report, what: str = "layer") -> dict[str, Any] | None:
    """A schedule's document: ``make`` maps each of ``raws`` (the source's layers) to one
    of ours or None (having said why in the report)."""
    tz = valid_zone(tz_name, f"schedule {s['name']}", report)
    zone = ZoneInfo(tz)
    layers: list[dict[str, Any]] = []
    taken: set[str] = set()
    for raw in raws:
        label = f"{s['name']} / {raw.get('name') or raw.get('id')}"
        layer = make(raw, zone, label)
        if layer is not None:
            layer["name"] = unique(str(raw.get("name") or what), taken)
            taken.add(layer["name"])
            layers.append(layer)
    if not layers:
        report.not_mapped("schedule", s["name"], f"no {what} left that is in force now or "
                          f"later (see the {what}s' entries)")
        return None
    report.mapped("schedule", s["name"], f"schedule {name}: {len(layers)} layer(s), {tz}")
    return {"schedule": name, "timezone": tz, "layers": layers}
