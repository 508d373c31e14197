"""Where escalation chooses the next level: which level comes next and when. Pure; ``now``
is explicit.

An incident carries its escalation state: ``level`` (the level last paged, 1-based; 0 means
none yet), ``loop`` (how many times the ladder has restarted) and ``next_action_at``. The
policy is a frozen snapshot taken when the incident triggered:

    {"name": "billing-critical", "repeat": 2,
     "levels": [{"escalate_after": 300, "targets": [{"type": "schedule", "ref": "primary"}]}]}

An escalation that restarts (an acknowledgement timed out, a reassignment) continues with a
new loop number, so that its pages never collide with earlier ones in the outbox; the
snapshot's ``loop_base`` is the loop it restarted at, and ``repeat`` counts from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oncall.models import EscalationPolicy

Policy = dict[str, Any]


@dataclass(frozen=True)
class Step:
    """Page ``level`` (1-based) of loop ``loop`` now; then act again at ``next_action_at``
    (None: the ladder is exhausted and nothing more will be paged)."""

    level: int
    loop: int
    targets: list[dict[str, Any]]
    next_action_at: datetime | None


def policy_snapshot(policy: EscalationPolicy | None) -> Policy:
    """The snapshot of ``policy`` an incident carries (the format above)."""
    if policy is None:
        return {"name": None, "repeat": 0, "levels": []}
    return {
        "id": policy.id, "name": policy.name, "repeat": policy.repeat,
        "ack_timeout": policy.ack_timeout,
        "levels": [{"escalate_after": lvl.escalate_after, "targets": lvl.targets}
                   for lvl in policy.levels],
    }


def levels(policy: Policy | None) -> list[dict[str, Any]]:
    if not policy:
        return []
    found = policy.get("levels") or []
    return list(found)


def following(policy: Policy | None, level: int, loop: int) -> tuple[int, int] | None:
    """The (level, loop) that comes after ``(level, loop)``, or None when there is none."""
    ladder = levels(policy)
    if not ladder:
        return None
    if level < len(ladder):
        return level + 1, loop
    repeat = int((policy or {}).get("repeat", 0))
    if loop < int((policy or {}).get("loop_base", 0)) + repeat:
        return 1, loop + 1
    return None


def restarted(policy: Policy | None, loop: int) -> tuple[Policy, int]:
    """The snapshot and loop for running ``policy`` again from level 1 after ``loop``."""
    return {**(policy or {}), "loop_base": loop + 1}, loop + 1


def next_step(policy: Policy | None, level: int, loop: int, now: datetime) -> Step | None:
    """What to do when an incident at ``(level, loop)`` is due at ``now``."""
    nxt = following(policy, level, loop)
    if nxt is None:
        return None
    new_level, new_loop = nxt
    rung = levels(policy)[new_level - 1]
    due: datetime | None = None
    if following(policy, new_level, new_loop) is not None:
        due = now + timedelta(seconds=int(rung.get("escalate_after", 300)))
    return Step(new_level, new_loop, list(rung.get("targets") or []), due)
