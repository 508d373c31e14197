"""The one role rule (``oncall.permissions``): who may act on incidents, and who may change
who is on call. Pure: no database, an explicit ``now``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oncall import permissions
from oncall.permissions import (
    DEFAULT_LIMITS,
    OverrideLimits,
    delete_override_refusal,
    override_refusal,
    swap_refusal,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ACTIONS = ("acknowledge", "resolve", "escalate", "reassign")


@pytest.mark.parametrize(("role", "allowed"), [
    ("viewer", set()),
    ("responder", set(ACTIONS)),
    ("manager", set(ACTIONS)),
    ("admin", set(ACTIONS)),
    ("owner", set()),  # a role nobody defined may do nothing
    ("", set()),
])
def test_the_incident_rule_table(role: str, allowed: set[str]) -> None:
    assert {a for a in ACTIONS if permissions.may_act(role, a)} == allowed


def test_the_channels_words_for_an_action_are_the_same_action() -> None:
    for word in ("ack", "ack_all", "acknowledge"):
        assert permissions.incident_action(word) == "acknowledge"
    assert not permissions.may_act("viewer", "ack") and permissions.may_act("responder", "ack")
    with pytest.raises(ValueError, match="not an incident action"):
        permissions.may_act("admin", "delete")


def test_a_refusal_says_what_was_refused_and_what_it_needs() -> None:
    assert permissions.act_refusal("viewer", "ack") == (
        "You are not allowed to acknowledge incidents: you are a viewer, and it needs the "
        "responder role.")
    assert permissions.act_refusal("viewer", "escalate").startswith(
        "You are not allowed to escalate incidents")
    assert permissions.act_refusal("owner", "resolve").startswith(
        "You are not allowed to resolve incidents: you are an owner")
    assert permissions.act_refusal("responder", "reassign") is None


def override(role: str, *, for_self: bool = True, member: bool = True,
             start: datetime = NOW, length: timedelta = DAY,
             limits: OverrideLimits = DEFAULT_LIMITS) -> tuple[str | None, int] | None:
    refusal = override_refusal(role, for_self=for_self, member=member, start=start,
                               end=start + length, now=NOW, limits=limits)
    return None if refusal is None else (refusal.field, refusal.status)


def test_a_responder_overrides_only_themselves_on_their_schedules_briefly_from_now_on(
        ) -> None:
    assert override("responder") is None
    assert override("responder", start=NOW - 3 * DAY, length=4 * DAY) is None  # covers now
    assert override("responder", length=14 * DAY) is None
    assert override("responder", for_self=False) == ("user", 403)
    assert override("responder", member=False) == (None, 403)
    assert override("responder", length=14 * DAY + timedelta(seconds=1)) == ("end", 400)
    assert override("responder", start=NOW - 2 * DAY, length=DAY) == ("end", 400)  # past
    assert override("responder", start=NOW + DAY, length=3650 * DAY) == ("end", 400)  # 2036
    assert override("responder", length=3 * DAY,
                    limits=OverrideLimits.from_days(2, 366)) == ("end", 400)


def test_a_manager_overrides_anyone_anywhere_within_the_larger_bound() -> None:
    for role in ("manager", "admin"):
        assert override(role, for_self=False, member=False, length=366 * DAY) is None
        assert override(role, start=NOW - 30 * DAY, length=DAY) is None  # correcting history
        assert override(role, length=367 * DAY) == ("end", 400)
    assert override("viewer") == (None, 403)


def swap(role: str, *, member: bool = True, to_self: bool = True, to_member: bool = True,
         holds_shift: bool = False, shift_end: datetime = NOW + DAY) -> tuple[str | None,
                                                                               int] | None:
    refusal = swap_refusal(role, member=member, to_self=to_self, to_member=to_member,
                           holds_shift=holds_shift, shift_end=shift_end, now=NOW)
    return None if refusal is None else (refusal.field, refusal.status)


def test_a_responder_swaps_only_within_the_schedules_members() -> None:
    assert swap("responder") is None  # takes a colleague's shift
    assert swap("responder", to_self=False, holds_shift=True) is None  # gives theirs away
    assert swap("responder", member=False) == (None, 403)  # an outsider takes a shift
    assert swap("responder", to_self=False) == ("to", 403)  # hands on someone else's
    assert swap("responder", to_self=False, holds_shift=True, to_member=False) == ("to", 403)
    assert swap("responder", shift_end=NOW) == ("at", 400)
    assert swap("manager", member=False, to_self=False, to_member=False,
                shift_end=NOW - DAY) is None
    assert swap("viewer") == (None, 403)


@pytest.mark.parametrize(("role", "created_it", "allowed"), [
    ("responder", True, True), ("responder", False, False),
    ("manager", False, True), ("admin", False, True),
    ("viewer", True, False), ("viewer", False, False),
])
def test_only_the_creator_or_a_manager_deletes_an_override(role: str, created_it: bool,
                                                           allowed: bool) -> None:
    assert (delete_override_refusal(role, created_it=created_it) is None) is allowed
