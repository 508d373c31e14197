"""The layer editor's form: a rotation (name, length, handoff, start, end), its members in
turn order, its restrictions, and when the change takes effect. The fixed fields are a
Flask-WTF form (CSRF included); members and restriction rows are repeated inputs read in
order (``member``, ``r-days-N``/``r-from-N``/``r-to-N``), moved and removed by buttons that
re-render the form without saving."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from oncall.schedules.rotation.restrictions import _parse_days
from oncall.schedules.rotation.spec import WEEKDAYS

LOCAL = "%Y-%m-%dT%H:%M"
KINDS = [SelectChoice("daily", "Every day"), SelectChoice("weekly", "Every week"),
         SelectChoice("days", "Every N days"), SelectChoice("weeks", "Every N weeks"),
         SelectChoice("hours", "Every N hours")]
WEEKLY_KINDS = ("weekly", "weeks")


class LayerForm(FlaskForm):
    name = StringField("Layer name", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Rotation", choices=KINDS, default="weekly")
    count = IntegerField("N", default=1, validators=[Optional(), NumberRange(1, 1000)],
                         description="For every N days, weeks or hours.")
    handoff_day = SelectField("Handoff day", choices=[SelectChoice(d) for d in WEEKDAYS],
                              default="Mon",
                              description="Weekly rotations only.")
    handoff_time = StringField("Handoff time", default="09:00",
                               validators=[InputRequired(), Regexp(
                                   r"^([01]?\d|2[0-3]):[0-5]\d$",
                                   message="A time of day as HH:MM, 00:00 to 23:59.")],
                               description="HH:MM, in the schedule's timezone.",
                               render_kw={"inputmode": "numeric", "placeholder": "09:00"})
    start = DateField("Turns count from", validators=[InputRequired("Give a date.")],
                      description="The first turn starts at the handoff on this date. "
                                  "Changing members keeps the rotation going from whoever's "
                                  "turn it is; changing this date restarts the count.")
    end = DateField("Ends", validators=[Optional()],
                    description="Optional: the layer has nobody on call after this date.")
    effective = RadioField("Takes effect", default="next-handoff", choices=[
        SelectChoice("next-handoff", "At the next handoff"), SelectChoice("now", "Now"),
        SelectChoice("at", "At a time I choose")])
    effective_at = DateTimeLocalField("Takes effect at", format=LOCAL, validators=[Optional()],
                                      description="In the schedule's timezone.")
    version = HiddenField()
    previewed = HiddenField()


@dataclass
class Draft:
    """What the editor holds between requests: the form's fields plus the member list and
    restriction rows, as typed."""

    members: list[str] = field(default_factory=list)
    restrictions: list[dict[str, Any]] = field(default_factory=list)


def rotation_fields(spec: dict[str, Any]) -> dict[str, Any]:
    """A stored rotation as the form's fields."""
    rotation = spec.get("rotation", "weekly")
    kind, count = (rotation, 1) if isinstance(rotation, str) else next(iter(rotation.items()))
    handoff = str(spec.get("handoff", "Mon 09:00" if kind in WEEKLY_KINDS else "09:00"))
    day, _, clock = handoff.rpartition(" ")
    return {"kind": kind, "count": count, "handoff_day": (day or "Mon").capitalize()[:3],
            "handoff_time": clock, "start": date.fromisoformat(spec["start"]),
            "end": date.fromisoformat(spec["end"]) if spec.get("end") else None}


def restriction_rows(stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for raw in stored:
        try:
            days = [WEEKDAYS[i] for i in _parse_days(raw["days"])] if raw.get("days") else []
        except ValueError:
            days = []
        rows.append({"days": days, "from": str(raw.get("from", "")),
                     "to": str(raw.get("to", ""))})
    return rows


def read_draft(form: MultiDict[str, str]) -> Draft:
    """The members and restriction rows as submitted (blank ones dropped)."""
    members = [m.strip() for m in form.getlist("member") if m.strip()]
    added = (form.get("add_member") or "").strip()
    rows = []
    for i in range(min(int(form.get("r-count", "0") or 0), 50)):
        row = {"days": [d for d in form.getlist(f"r-days-{i}") if d in WEEKDAYS],
               "from": (form.get(f"r-from-{i}") or "").strip(),
               "to": (form.get(f"r-to-{i}") or "").strip()}
        if row["days"] or row["from"] or row["to"]:
            rows.append(row)
    draft = Draft(members, rows)
    if added:
        draft.members.append(added)
    return draft


def apply_op(draft: Draft, op: str) -> bool:
    """Carry out a row button (``up:2``, ``down:0``, ``remove:1``, ``add-restriction``,
    ``remove-restriction:0``); True if ``op`` was one (the form is shown again, unsaved)."""
    name, _, arg = op.partition(":")
    try:
        i = int(arg) if arg else -1
    except ValueError:
        return False
    members = draft.members
    if name == "up" and 0 < i < len(members):
        members[i - 1], members[i] = members[i], members[i - 1]
    elif name == "down" and 0 <= i < len(members) - 1:
        members[i + 1], members[i] = members[i], members[i + 1]
    elif name == "remove" and 0 <= i < len(members):
        del members[i]
    elif name == "add-restriction":
        draft.restrictions.append({"days": [], "from": "", "to": ""})
    elif name == "remove-restriction" and 0 <= i < len(draft.restrictions):
        del draft.restrictions[i]
    elif name != "add-member":
        return False
    return True


def layer_data(form: LayerForm, draft: Draft) -> dict[str, Any]:
    """The API's layer input (``oncall.schedules.service.layer_values`` validates it)."""
    kind = form.kind.data or "weekly"
    rotation: Any = kind if kind in ("daily", "weekly") else {kind: form.count.data or 1}
    clock = (form.handoff_time.data or "").strip()
    handoff = f"{form.handoff_day.data} {clock}" if kind in WEEKLY_KINDS else clock
    return {"name": (form.name.data or "").strip(), "rotation": rotation, "handoff": handoff,
            "start": form.start.data.isoformat() if form.start.data else None,
            "end": form.end.data.isoformat() if form.end.data else None,
            "members": list(draft.members),
            "restrictions": [{k: v for k, v in (("days", r["days"] or None),
                                                ("from", r["from"]), ("to", r["to"])) if v}
                             for r in draft.restrictions]}


def fingerprint(data: dict[str, Any], effective: str) -> str:
    """What a preview showed, so that a save of anything else is previewed first."""
    text = json.dumps([data, effective], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ScheduleForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)],
                       description="For example billing-primary: policies name it.")
    timezone = StringField("Timezone", validators=[DataRequired(), Length(max=64)],
                           description="IANA name, e.g. America/New_York: handoffs and "
                                       "restrictions are in this zone.",
                           render_kw={"list": "zones", "autocomplete": "off"})
    description = StringField("Description", validators=[Optional(), Length(max=500)])
