"""A schedule's layers and their members (``?effective=`` and ``?dry_run=1``:
``oncall.web.roster``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apiflask import HTTPError

from oncall.schedules import layer_edits
from oncall.schedules.store import schedule_json
from oncall.web import roster, session
from oncall.web.auth import actor, require
from oncall.web.schedules.blueprint import EDIT_DOC, bp, find_layer, find_schedule
from oncall.web.schedules.schemas import LayerIn, LayerPatch, MemberIn


@bp.post("/<int:schedule_id>/layers")
@bp.doc(security="ApiToken", responses={**EDIT_DOC, 200: roster.PREVIEW_DOC,
                                        201: roster.CREATED_DOC})
@bp.input(LayerIn, arg_name="data")
@bp.input(roster.EditQuery, location="query", arg_name="query")
@require("manager")
def add_layer(schedule_id: int, data: dict[str, Any], query: dict[str, Any]) -> Any:
    """Add a layer on top, in force from `effective` (default: its first handoff)."""
    sched = find_schedule(schedule_id)
    return roster.save_or_preview(
        sched, query, lambda eff, now: layer_edits.add_layer(session(), actor(), sched, data,
                                                         effective=eff, now=now),
        lambda _: (schedule_json(session(), sched), 201))


@bp.patch("/<int:schedule_id>/layers/<int:layer_id>")
@bp.doc(security="ApiToken", responses=EDIT_DOC)
@bp.input(LayerPatch, arg_name="data")
@bp.input(roster.EditQuery, location="query", arg_name="query")
@require("manager")
def update_layer(schedule_id: int, layer_id: int, data: dict[str, Any],
                 query: dict[str, Any]) -> Any:
    """Change a layer: its rotation, members (in order), restrictions, name or position,
    from `effective` on (default: the layer's next handoff, so whoever is on call keeps
    their shift). Shifts before then stay as they were."""
    sched = find_schedule(schedule_id)
    layer = find_layer(sched, layer_id)
    return roster.save_or_preview(
        sched, query, lambda eff, now: layer_edits.update_layer(
            session(), actor(), layer, data, effective=eff, now=now,
            version=query.get("version")),
        lambda _: schedule_json(session(), sched))


@bp.delete("/<int:schedule_id>/layers/<int:layer_id>")
@bp.doc(security="ApiToken", responses={**EDIT_DOC, 200: roster.PREVIEW_DOC,
                                        204: {"description": "Deleted"}})
@bp.input(roster.EditQuery, location="query", arg_name="query")
@require("manager")
def delete_layer(schedule_id: int, layer_id: int, query: dict[str, Any]) -> Any:
    """Remove a layer from `effective` on (default: its next handoff); its earlier shifts
    stay."""
    sched = find_schedule(schedule_id)
    layer = find_layer(sched, layer_id)
    return roster.save_or_preview(
        sched, query, lambda eff, now: layer_edits.delete_layer(
            session(), actor(), layer, effective=eff, now=now, version=query.get("version")),
        lambda _: ("", 204))


def _edit_members(schedule_id: int, layer_id: int, query: dict[str, Any],
                  edit: Callable[[list[str]], None]) -> Any:
    """Change a layer's member list (emails, in turn order) through the validated update."""
    sched = find_schedule(schedule_id)
    layer = find_layer(sched, layer_id)
    members = list(schedule_json(session(), sched)["layers"][layer.position]["members"])
    edit(members)
    return roster.save_or_preview(
        sched, query, lambda eff, now: layer_edits.update_layer(
            session(), actor(), layer, {"members": members}, effective=eff, now=now,
            version=query.get("version")),
        lambda _: schedule_json(session(), sched))


@bp.post("/<int:schedule_id>/layers/<int:layer_id>/members")
@bp.doc(security="ApiToken", responses=EDIT_DOC)
@bp.input(MemberIn, arg_name="data")
@bp.input(roster.EditQuery, location="query", arg_name="query")
@require("manager")
def add_member(schedule_id: int, layer_id: int, data: dict[str, Any],
               query: dict[str, Any]) -> Any:
    """Add a member to the rotation (at the end, or at `position`), from `effective` on."""
    return _edit_members(schedule_id, layer_id, query, lambda members: members.insert(
        data.get("position", len(members)), data["user"]))


@bp.delete("/<int:schedule_id>/layers/<int:layer_id>/members/<string:email>")
@bp.doc(security="ApiToken", responses={404: {"description": "Not a member"}, **EDIT_DOC})
@bp.input(roster.EditQuery, location="query", arg_name="query")
@require("manager")
def remove_member(schedule_id: int, layer_id: int, email: str, query: dict[str, Any]) -> Any:
    """Remove a member from the rotation, from `effective` on."""
    def remove(members: list[str]) -> None:
        if email not in members:
            raise HTTPError(404, f"{email} is not a member of layer {layer_id}")
        members.remove(email)

    return _edit_members(schedule_id, layer_id, query, remove)
