"""The bodies and queries of ``/api/v1/schedules``."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Integer, List, Raw, String
from apiflask.validators import Length, Range


class LayerIn(Schema):
    name = String(required=True, validate=Length(1, 200))
    rotation = Raw(metadata={"description": "daily | weekly | {days: N} | {weeks: N} | {hours: N}"})
    handoff = String(metadata={"description": '"HH:MM", or "Mon HH:MM" for weekly'})
    start = String(metadata={"description": "YYYY-MM-DD: turns count from here"})
    end = String(allow_none=True)
    members = List(String(), required=True, metadata={"description": "emails, in turn order"})
    restrictions = List(Raw(), metadata={"description": '[{days: [Sat, Sun], from: "09:00", '
                                                        'to: "21:00"}]'})


class LayerPatch(LayerIn):
    name = String(validate=Length(1, 200))
    members = List(String())
    position = Integer(validate=Range(min=0, max=10_000))


class ScheduleIn(Schema):
    name = String(required=True, validate=Length(1, 200))
    timezone = String(required=True, metadata={"description": "IANA zone"})
    description = String(allow_none=True)
    layers = List(Raw())


class SchedulePatch(Schema):
    name = String(validate=Length(1, 200))
    timezone = String()
    description = String(allow_none=True)


class OverrideIn(Schema):
    user = String(metadata={"description": "email; default: yourself"})
    start = String(required=True, metadata={"description": "ISO 8601 with offset"})
    end = String(required=True)
    note = String(allow_none=True)


class SwapIn(Schema):
    layer = String(required=True)
    at = String(required=True, metadata={"description": "any instant inside the shift"})
    to = String(required=True, metadata={"description": "email of who takes the shift"})


class MemberIn(Schema):
    user = String(required=True)
    position = Integer(validate=Range(min=0, max=10_000))


class AtQuery(Schema):
    at = String()


class RangeQuery(Schema):
    start = String()
    end = String()
    layer = String()
