"""Our final schedule from an import's files, for ``--verify``: the layers as
``schedules/*.yaml`` define them (parsed exactly as ``oncall apply`` parses them) under the
overrides of ``overrides.json``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from oncall.schedules.rotation import (
    Layer,
    ScheduleSpec,
    make_override,
    parse_restriction,
    parse_rotation,
)

__all__ = ["schedule_specs", "spec_from_doc"]


def schedule_specs(folder: Path) -> dict[str, ScheduleSpec]:
    docs: list[dict[str, Any]] = []
    for path in sorted((folder / "schedules").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text()) or {}
        if "schedule" in doc:
            docs.append(doc)
        docs.extend(doc.get("schedules") or [])
    overrides: dict[str, list[dict[str, Any]]] = {}
    path = folder / "overrides.json"
    if path.exists():
        for o in json.loads(path.read_text()):
            overrides.setdefault(o["schedule"], []).append(o)
    return {doc["schedule"]: spec_from_doc(doc, overrides.get(doc["schedule"], []))
            for doc in docs}


def spec_from_doc(doc: dict[str, Any], overrides: list[dict[str, Any]]) -> ScheduleSpec:
    """One schedule as a file writes it, under ``overrides`` (dicts of user, start, end as
    in ``overrides.json``; a later one wins where they overlap, as if made in that order)."""
    base = datetime(2000, 1, 1, tzinfo=UTC)
    layers = []
    for raw in doc["layers"]:
        spec = {k: raw[k] for k in ("rotation", "handoff", "start", "end") if k in raw}
        layers.append(Layer(raw["name"], parse_rotation(spec), tuple(raw["members"]),
                            tuple(parse_restriction(r) for r in
                                  raw.get("restrictions") or [])))
    made = [make_override(datetime.fromisoformat(o["start"]), datetime.fromisoformat(o["end"]),
                          o["user"], base + timedelta(seconds=i))
            for i, o in enumerate(overrides)]
    return ScheduleSpec(doc["schedule"], doc["timezone"], tuple(layers), tuple(made))
